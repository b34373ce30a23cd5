//! The `permafrost-bench` command line: `table1`, `transfer`, `sharing`,
//! `store`, `shapes`, `bytes`, `revisions` and `all` (the default), writing `results.csv`, `report.md` and SVG plots
//! into `--out`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::csv::{to_csv, Row};
use crate::report::{render, targets, RunInfo};
use crate::shapes::{Shape, Sizes};
use crate::{bytes, cluster, plot, python, revisions, sharing, store, table1, transfer, verona};

/// Benchmarks of permafrost (PEP 795 deep immutability) against pickling,
/// with CPython side by side.
#[derive(Parser, Debug)]
#[command(name = "permafrost-bench", version, about, long_about = None)]
pub struct Cli {
    /// What to run (default: all).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for every command.
    #[command(flatten)]
    pub opts: Opts,
}

/// The suites.
#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Every shape x {build, traverse, freeze, pickle, unpickle, deepcopy,
    /// drop}, with CPython's pickle, unpickle and deepcopy beside them.
    /// Defaults: n = 1,000,000, graph 100,000, chain 10,000,000, 5 runs.
    Table1,
    /// Graphs of 1, 1,000 and n (default 1,000,000) objects sent to another
    /// worker by share, pickle and copy.
    Transfer,
    /// Figure 1: matrices shared vs pickled, and a single-thread baseline.
    /// Default setup (`--figure1 queue`, the PEP artifact's): 200,000
    /// matrices per worker as 4 batches on one shared work queue, 1, 2,
    /// 3, ... workers up to twice the cores; `--figure1 inboxes`: every
    /// batch to every worker's inbox, 1, 2, 4, ... workers.
    Sharing,
    /// The object store: put and get of 1- and n-object graphs (default
    /// 1,000,000), get + release throughput over 1, 2, 4, ... workers, and
    /// spill / restore of an n-object graph against pickle / unpickle.
    Store,
    /// verona-rt's immutablescc shapes (16 with the reversed field order):
    /// alloc / freeze / dispose in ns per object at 64K, 256K and 1M
    /// objects; and the chain's freeze against a bare traversal at 1M and
    /// 10M links (`--small`: 4K and 16K objects, 100K links).
    Shapes,
    /// Bytes per object of every Table 1 shape (deep ones up to 1,000,000)
    /// and verona-rt's shapes (at the largest `--shape-sizes`, default
    /// 1,048,576), against CPython (`--small` and `all`: 200,000 and
    /// 262,144).
    Bytes,
    /// A one-leaf change of every shape by draft + commit, deep copy +
    /// freeze and pickle + unpickle + freeze; `--revisions` (1,000)
    /// one-leaf revisions of the binary tree against one copy. Sizes as
    /// table1's, but chain n (not 10 x n).
    Revisions,
    /// An n-object graph (default 1,000,000) to a worker on another node
    /// process: sent once (then by id) vs pickled every time. Not in `all`.
    Cluster,
    /// The four at sizes that finish within a few minutes on 2 cores:
    /// n = 1,000,000, graph 100,000, chain 1,000,000, 3 runs.
    All,
}

/// Options shared by every command; unset ones take the command's default.
#[derive(Args, Debug, Clone)]
pub struct Opts {
    /// Strings per Table 1 shape (and ints); the largest transfer graph.
    #[arg(long, global = true)]
    pub n: Option<usize>,
    /// Vertices of the `graph` shape (default n / 10).
    #[arg(long, global = true)]
    pub graph_n: Option<usize>,
    /// Links of the `chain` shape (default 10 x n for table1, n for all).
    #[arg(long, global = true)]
    pub chain_n: Option<usize>,
    /// Repetitions per measurement (min / median / max over them).
    #[arg(long, global = true)]
    pub runs: Option<usize>,
    /// Largest worker count for sharing (default twice the cores).
    #[arg(long, global = true)]
    pub workers: Option<usize>,
    /// Matrices each sharing worker receives.
    #[arg(long, global = true, default_value_t = 200_000)]
    pub matrices: usize,
    /// Matrices per message (sharing, `--figure1 inboxes`).
    #[arg(long, global = true, default_value_t = 1000)]
    pub batch: usize,
    /// Figure 1's setup.
    #[arg(long, global = true, value_enum, default_value_t = sharing::Setup::Queue)]
    pub figure1: sharing::Setup,
    /// Batches per worker on the shared queue (`--figure1 queue`).
    #[arg(long, global = true, default_value_t = 4)]
    pub queue_batches: usize,
    /// Repetitions of share and of small graphs (transfer); timed batches
    /// of gets and puts of small graphs (store).
    #[arg(long, global = true, default_value_t = 200)]
    pub transfer_reps: usize,
    /// Get + release pairs per worker in the store's throughput runs.
    #[arg(long, global = true, default_value_t = 100_000)]
    pub store_gets: usize,
    /// Revisions of the binary tree held for the revisions suite's memory
    /// measurement.
    #[arg(long, global = true, default_value_t = 1000)]
    pub revisions: usize,
    /// Only these Table 1 shapes (comma-separated names).
    #[arg(long, global = true, value_delimiter = ',')]
    pub shapes: Vec<String>,
    /// Output directory.
    #[arg(long, global = true, default_value = "target/permafrost-report")]
    pub out: PathBuf,
    /// Short runs for CI: small sizes for the `shapes` suite.
    #[arg(long, global = true)]
    pub small: bool,
    /// Size parameters of the `shapes` suite (default 65536,262144,1048576).
    #[arg(long, global = true, value_delimiter = ',')]
    pub shape_sizes: Vec<usize>,
    /// Chain lengths of the `shapes` suite's freeze-vs-traversal rows
    /// (default 1000000,10000000).
    #[arg(long, global = true, value_delimiter = ',')]
    pub chain_links: Vec<usize>,
    /// Skip the CPython side.
    #[arg(long, global = true)]
    pub no_python: bool,
    /// The Python interpreter.
    #[arg(long, global = true, default_value = "python3")]
    pub python: String,
    /// Keep CPython's cyclic GC enabled inside timed regions.
    #[arg(long, global = true)]
    pub python_gc: bool,
    /// Repetitions on the CPython side (default --runs).
    #[arg(long, global = true)]
    pub py_runs: Option<usize>,
    /// Largest graph / chain CPython is asked to pickle and deep-copy (its
    /// pickle and deepcopy recurse once per level; default 1,000,000 for
    /// table1, 200,000 for all).
    #[arg(long, global = true)]
    pub py_max_deep: Option<usize>,
}

/// A resolved run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Suites to run, in order.
    pub suites: Vec<Command>,
    /// Table 1 sizes.
    pub sizes: Sizes,
    /// Table 1 shapes.
    pub shapes: Vec<Shape>,
    /// Repetitions.
    pub runs: usize,
    /// CPython repetitions.
    pub py_runs: usize,
    /// CPython deep-shape cap.
    pub py_max_deep: usize,
    /// Transfer configuration.
    pub transfer: transfer::Config,
    /// Sharing configuration.
    pub sharing: sharing::Config,
    /// Object store configuration.
    pub store: store::Config,
    /// Cluster configuration.
    pub cluster: cluster::Config,
    /// verona-rt shapes configuration.
    pub shapes_cfg: verona::Config,
    /// Bytes-per-object configuration.
    pub bytes: bytes::Config,
    /// Revisions configuration.
    pub revisions: revisions::Config,
}

impl Plan {
    /// Applies the command's defaults to the options.
    pub fn new(command: Command, o: &Opts) -> Result<Plan, String> {
        let all = command == Command::All;
        let n = o.n.unwrap_or(1_000_000).max(1);
        let runs = o.runs.unwrap_or(if all { 3 } else { 5 }).max(1);
        let sizes = Sizes {
            n,
            graph_n: o.graph_n.unwrap_or((n / 10).max(1)),
            chain_n: o
                .chain_n
                .unwrap_or(if all { n } else { n.saturating_mul(10) }),
        };
        let shapes = if o.shapes.is_empty() {
            Shape::ALL.to_vec()
        } else {
            o.shapes
                .iter()
                .map(|s| Shape::from_name(s).ok_or_else(|| format!("unknown shape {s:?}")))
                .collect::<Result<_, _>>()?
        };
        let mut tsizes = vec![1, n.min(1000), n];
        tsizes.dedup();
        let max_workers = o.workers.unwrap_or(2 * sharing::cores()).max(1);
        Ok(Plan {
            suites: match command {
                Command::All => vec![
                    Command::Table1,
                    Command::Transfer,
                    Command::Sharing,
                    Command::Store,
                    Command::Shapes,
                    Command::Bytes,
                    Command::Revisions,
                ],
                c => vec![c],
            },
            sizes,
            shapes: shapes.clone(),
            runs,
            py_runs: o.py_runs.unwrap_or(runs).max(1),
            py_max_deep: o
                .py_max_deep
                .unwrap_or(if all { 200_000 } else { 1_000_000 }),
            store: store::Config {
                sizes: {
                    let mut v = vec![1, n];
                    v.dedup();
                    v
                },
                spill_n: n,
                runs,
                small_reps: o.transfer_reps.max(1),
                get_batch: 1000,
                workers: sharing::worker_counts(max_workers),
                gets_per_worker: o.store_gets.max(1),
                ids: 64,
            },
            bytes: bytes::Config::new(
                &sizes,
                // `all` keeps the CPython side of this suite short.
                if o.small || all { 200_000 } else { 1_000_000 },
                match o.shape_sizes.iter().max() {
                    Some(&n) => n,
                    None if o.small || all => 262_144,
                    None => 1_048_576,
                },
            ),
            shapes_cfg: verona::Config {
                sizes: pick(
                    &o.shape_sizes,
                    o.small,
                    &verona::SIZES,
                    &verona::SMALL_SIZES,
                ),
                chain_links: pick(
                    &o.chain_links,
                    o.small,
                    &verona::CHAIN_LINKS,
                    &verona::SMALL_CHAIN_LINKS,
                ),
                runs,
            },
            revisions: revisions::Config {
                sizes: Sizes {
                    chain_n: o.chain_n.unwrap_or(n),
                    ..sizes
                },
                shapes,
                runs,
                revisions: o.revisions.max(1),
            },
            cluster: cluster::Config {
                n,
                runs,
                requests: 5,
            },
            transfer: transfer::Config {
                sizes: tsizes,
                runs,
                small_reps: o.transfer_reps.max(1),
            },
            sharing: sharing::Config {
                setup: o.figure1,
                per_worker: o.matrices.max(1),
                batch: match o.figure1 {
                    sharing::Setup::Queue => o.matrices.max(1).div_ceil(o.queue_batches.max(1)),
                    sharing::Setup::Inboxes => o.batch.max(1),
                },
                workers: match o.figure1 {
                    sharing::Setup::Queue => sharing::every_count(max_workers),
                    sharing::Setup::Inboxes => sharing::worker_counts(max_workers),
                },
                runs,
            },
        })
    }
}

/// The given list, else the small or the full default.
fn pick(given: &[usize], small: bool, full: &[usize], short: &[usize]) -> Vec<usize> {
    if !given.is_empty() {
        given.to_vec()
    } else if small {
        short.to_vec()
    } else {
        full.to_vec()
    }
}

fn bar(len: u64, prefix: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>16.bold} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb
}

/// Runs the CLI with these arguments (the first is the program name).
pub fn run_cli<I, T>(args: I) -> Result<PathBuf, String>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => return Err(e.to_string()),
    };
    let command = cli.command.unwrap_or(Command::All);
    let plan = Plan::new(command, &cli.opts)?;
    let cmdline = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    execute(&plan, &cli.opts, &cmdline)
}

/// Runs a plan and writes the report; returns the output directory.
pub fn execute(plan: &Plan, o: &Opts, cmdline: &str) -> Result<PathBuf, String> {
    let out = o.out.clone();
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut rows: Vec<Row> = Vec::new();
    let mut info = RunInfo {
        command: cmdline.to_string(),
        suites: plan
            .suites
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect(),
        cores: sharing::cores(),
        runs: plan.runs,
        load: (crate::report::load_average(), None),
        ..RunInfo::default()
    };

    for suite in &plan.suites {
        let t0 = Instant::now();
        match suite {
            Command::Table1 => run_table1(plan, o, &out, &mut rows, &mut info),
            Command::Transfer => {
                let cfg = &plan.transfer;
                let pb = bar(transfer::total_steps(cfg), "transfer");
                let (r, notes) = transfer::run(cfg, &mut || pb.inc(1));
                pb.finish_and_clear();
                rows.extend(r);
                info.notes.extend(notes);
                info.transfer = Some(cfg.clone());
            }
            Command::Sharing => run_sharing(plan, &mut rows, &mut info),
            Command::Store => {
                let cfg = &plan.store;
                let pb = bar(store::total_steps(cfg), "store");
                let (r, notes) = store::run(cfg, &mut |op| {
                    pb.set_message(op.to_string());
                    pb.inc(1)
                });
                pb.finish_and_clear();
                rows.extend(r);
                info.notes.extend(notes);
                info.store = Some(cfg.clone());
            }
            Command::Shapes => {
                let cfg = &plan.shapes_cfg;
                let pb = bar(verona::total_steps(cfg), "shapes");
                let (r, notes) = verona::run(cfg, &mut |m| {
                    pb.set_message(m.to_string());
                    pb.inc(1)
                });
                pb.finish_and_clear();
                rows.extend(r);
                info.notes.extend(notes);
            }
            Command::Bytes => {
                let cfg = &plan.bytes;
                let py = (!o.no_python && python::version(&o.python).is_some())
                    .then_some(o.python.as_str());
                let pb = bar(bytes::total_steps(cfg), "bytes");
                let (r, notes) = bytes::run(cfg, py, &out, &mut |m| {
                    pb.set_message(m.to_string());
                    pb.inc(1)
                });
                pb.finish_and_clear();
                rows.extend(r);
                info.notes.extend(notes);
            }
            Command::Revisions => run_revisions(plan, &mut rows, &mut info),
            Command::Cluster => {
                let pb = bar(cluster::total_steps(&plan.cluster), "cluster");
                let (r, notes) = cluster::run(&plan.cluster, &mut || pb.inc(1));
                pb.finish_and_clear();
                rows.extend(r);
                info.notes.extend(notes);
            }
            Command::All => unreachable!("expanded by Plan::new"),
        }
        info.timings.push((
            format!("{suite:?}").to_lowercase(),
            t0.elapsed().as_secs_f64(),
        ));
    }

    info.load.1 = crate::report::load_average();
    write_outputs(&out, &rows, &mut info, plan)?;
    println!("{}", summary(&rows, &info, &out));
    Ok(out)
}

/// Figure 1's throughput runs, then the memory check at the largest
/// worker count.
fn run_sharing(plan: &Plan, rows: &mut Vec<Row>, info: &mut RunInfo) {
    let cfg = &plan.sharing;
    let pb = bar(sharing::total_steps(cfg) + 2, "sharing");
    let (r, notes) = sharing::run(cfg, &mut |m| {
        pb.set_message(m.to_string());
        pb.inc(1)
    });
    rows.extend(r);
    info.notes.extend(notes);
    pb.set_message("memory");
    let m = sharing::Matrices::new(cfg.per_worker, cfg.batch);
    let w = *cfg.workers.last().unwrap_or(&1);
    for mode in ["shared", "pickled"] {
        match sharing::resident(&m, mode, w) {
            Ok(r) => info.resident.push(r),
            Err(e) => info.notes.push(format!("memory {mode}: {e}")),
        }
        pb.inc(1);
    }
    drop(m);
    pb.finish_and_clear();
    info.sharing = Some(cfg.clone());
}

/// The revisions suite: timed routes per shape, then the memory of many
/// revisions of the binary tree.
fn run_revisions(plan: &Plan, rows: &mut Vec<Row>, info: &mut RunInfo) {
    let cfg = &plan.revisions;
    let pb = bar(revisions::total_steps(cfg), "revisions");
    let (r, notes) = revisions::run(cfg, &mut |m| {
        pb.set_message(m.to_string());
        pb.inc(1)
    });
    rows.extend(r);
    info.notes.extend(notes);
    pb.set_message("memory");
    match revisions::memory(cfg.sizes.n, cfg.revisions) {
        Ok(m) => info.revisions = Some(m),
        Err(e) => info.notes.push(format!("revisions memory: {e}")),
    }
    pb.finish_and_clear();
}

fn run_table1(plan: &Plan, o: &Opts, out: &Path, rows: &mut Vec<Row>, info: &mut RunInfo) {
    info.sizes = Some(plan.sizes);
    info.shapes = plan.shapes.clone();
    let py = python_script(plan, o, out, info);
    let py_shapes = if py.is_some() {
        python_shapes(plan, info)
    } else {
        Vec::new()
    };
    let total = plan.shapes.len() as u64 * table1::steps_per_shape(plan.runs)
        + py_shapes.len() as u64 * (3 * plan.py_runs) as u64;
    let pb = bar(total, "table1");
    let first = crate::prng::strings(1).pop().unwrap_or_default();
    for shape in &plan.shapes {
        pb.set_message(format!("{shape} (rust)"));
        let (r, notes) = table1::run_shape(*shape, &plan.sizes, plan.runs, &mut |op| {
            pb.set_message(format!("{shape} {op} (rust)"));
            pb.inc(1)
        });
        rows.extend(r);
        info.notes.extend(notes);
        if let (Some(script), true) = (&py, py_shapes.contains(shape)) {
            pb.set_message(format!("{shape} (CPython)"));
            let outcome = python::run_shape(
                &o.python,
                script,
                shape.name(),
                shape.size(&plan.sizes),
                plan.py_runs,
                o.python_gc,
                &mut |op| {
                    pb.set_message(format!("{shape} {op} (CPython)"));
                    pb.inc(1)
                },
            );
            if let Some(f) = &outcome.first {
                if *f != first {
                    info.notes.push(format!(
                        "{shape}: CPython's first string {f:?} differs from Rust's {first:?}: the shapes are NOT the same"
                    ));
                }
            }
            let got = outcome.rows.len();
            rows.extend(outcome.rows);
            info.notes.extend(outcome.errors);
            // Keep the bar's count right when CPython stopped early.
            pb.inc(((3 - got.min(3)) * plan.py_runs) as u64);
        }
    }
    pb.finish_and_clear();
    if py.is_some() {
        info.notes.push(format!(
            "CPython and Rust shapes checked identical by their first random string ({first:?})"
        ));
    }
}

/// Writes the CPython script if CPython is to run and is found, and says
/// which Python ran (or why none did) in `info.python`.
fn python_script(plan: &Plan, o: &Opts, out: &Path, info: &mut RunInfo) -> Option<PathBuf> {
    if o.no_python {
        info.python = "skipped (--no-python)".into();
        None
    } else {
        match python::version(&o.python) {
            Some(v) => match python::install(out) {
                Ok(script) => {
                    info.python = format!(
                        "{v} (`{}`), pickle protocol 5 (HIGHEST), cyclic GC {} inside timed regions, {} runs, deep shapes (graph, chain) up to {} objects",
                        o.python,
                        if o.python_gc { "enabled" } else { "disabled" },
                        plan.py_runs,
                        plan.py_max_deep
                    );
                    Some(script)
                }
                Err(e) => {
                    info.python = format!("not run: cannot write the script: {e}");
                    None
                }
            },
            None => {
                info.python = format!("not run: `{}` not found", o.python);
                None
            }
        }
    }
}

/// The shapes CPython runs: deep ones only up to `--py-max-deep` (a note
/// for each one skipped).
fn python_shapes(plan: &Plan, info: &mut RunInfo) -> Vec<Shape> {
    plan.shapes
        .iter()
        .copied()
        .filter(|s| {
            let deep = matches!(s, Shape::Graph | Shape::Chain);
            let ok = !deep || s.size(&plan.sizes) <= plan.py_max_deep;
            if !ok {
                info.notes.push(format!(
                    "CPython {s} skipped: {} > --py-max-deep {} (pickle and deepcopy recurse once per level; raise the cap to run it)",
                    s.size(&plan.sizes),
                    plan.py_max_deep
                ));
            }
            ok
        })
        .collect()
}

type PlotFn<'a> = &'a dyn Fn(&Path) -> Result<(), String>;

fn write_outputs(out: &Path, rows: &[Row], info: &mut RunInfo, plan: &Plan) -> Result<(), String> {
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let csv_path = out.join("results.csv");
    std::fs::write(&csv_path, to_csv(rows)).map_err(|e| io(&csv_path, e))?;
    let shapes = if info.shapes.is_empty() {
        plan.shapes.clone()
    } else {
        info.shapes.clone()
    };
    let plots: [(&str, &str, PlotFn<'_>); 5] = [
        ("table1.svg", "table1", &|p| plot::table1(p, rows, &shapes)),
        ("transfer.svg", "transfer", &|p| plot::transfer(p, rows)),
        ("figure1.svg", "sharing", &|p| plot::figure1(p, rows)),
        ("shapes.svg", "shapes", &|p| verona::plot(p, rows)),
        ("revisions.svg", "revisions", &|p| plot::revisions(p, rows)),
    ];
    for (name, suite, f) in plots {
        if rows.iter().any(|r| r.suite == suite) {
            if let Err(e) = f(&out.join(name)) {
                info.notes.push(format!("{name}: plot failed: {e}"));
            }
        }
    }
    let md = out.join("report.md");
    std::fs::write(&md, render(rows, info)).map_err(|e| io(&md, e))?;
    Ok(())
}

fn summary(rows: &[Row], info: &RunInfo, out: &Path) -> String {
    let mut s = format!(
        "wrote {} rows to {}/results.csv, report.md and SVG plots\n",
        rows.len(),
        out.display()
    );
    for t in targets(rows, info) {
        let v = match t.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "not measured",
        };
        s.push_str(&format!("[{v}] {}\n    {}\n", t.text, t.measured));
    }
    s
}
