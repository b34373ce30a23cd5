//! permafrost-bench: the workloads of `WORKLOADS.md` as a library (shape
//! builders, suites, CSV, report, plots), used by the `permafrost-bench` CLI
//! (`src/main.rs`) and the criterion benches (`benches/workloads.rs`).
//!
//! * [`prng`] and [`shapes`]: the deterministic generator and the shape
//!   builders, mirrored by `bench/cpython_bench.py` for CPython.
//! * [`table1`]: every shape x {build, traverse, freeze, pickle, unpickle,
//!   deepcopy, drop}; [`python`] runs the CPython side.
//! * [`transfer`]: graphs sent to another worker by share, pickle and copy.
//! * [`sharing`]: Figure 1, matrices shared vs pickled across workers.
//! * [`revisions`]: one-leaf changes by draft against deep copy and
//!   pickle, and the memory of many revisions.
//! * [`store`]: the object store's put, get, get throughput over workers,
//!   and spill / restore against a pickle round trip.
//! * [`verona`]: the `shapes` suite, verona-rt's immutablescc shapes
//!   (alloc / freeze / dispose per object) and chain freeze vs traversal.
//! * [`bytes`]: bytes per object of every shape, against CPython.
//! * [`measure`], [`csv`], [`report`], [`plot`]: timing, `results.csv`,
//!   `report.md` and the SVG plots; [`cli`] ties them together.
//!
//! Run everything (release build, a few minutes on 2 cores):
//!
//! ```text
//! cargo run --release -p permafrost-bench            # = all
//! cargo run --release -p permafrost-bench -- table1 --n 100000 --runs 5
//! ```

pub mod bytes;
pub mod cli;
pub mod cluster;
pub mod csv;
pub mod measure;
pub mod plot;
pub mod prng;
pub mod python;
pub mod report;
pub mod revisions;
pub mod shapes;
pub mod sharing;
pub mod store;
pub mod table1;
pub mod transfer;
pub mod verona;
