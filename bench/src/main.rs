//! The `permafrost-bench` CLI: see `permafrost-bench --help`.

/// The benchmark binary allocates with mimalloc (the library itself does not
/// choose an allocator). Objects are small and many: glibc's malloc is a
/// large share of build, unpickle and drop time, as pymalloc's absence would
/// be for CPython. `report.md` says which allocator was used.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // The cluster suite runs its remote node as this binary.
    permafrost_bench::cluster::node_main_if_asked();
    // The bytes suite measures each shape in a fresh child of this binary.
    permafrost_bench::bytes::child_main_if_asked();
    if let Err(e) = permafrost_bench::cli::run_cli(std::env::args_os()) {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
