//! The `permafrost-bench` CLI: see `permafrost-bench --help`.

fn main() {
    if let Err(e) = permafrost_bench::cli::run_cli(std::env::args_os()) {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
