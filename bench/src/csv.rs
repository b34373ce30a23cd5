//! `results.csv`: one row per measurement.
//!
//! Header: `suite,workload,op,mode,n,workers,runs,median_ns,min_ns,max_ns,bytes`.
//! `suite` is `table1`, `codec`, `transfer`, `sharing`, `store`,
//! `cluster`, `shapes` or `bytes` (see `bench/README.md`); a column that
//! does not apply is left empty. The Python script prints rows in this format too.

use std::fmt::Write as _;

/// The header line of `results.csv`.
pub const HEADER: &str = "suite,workload,op,mode,n,workers,runs,median_ns,min_ns,max_ns,bytes";

/// One measurement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// `table1`, `transfer` or `sharing`.
    pub suite: String,
    /// Shape name (or the transferred graph, or `matrices`).
    pub workload: String,
    /// Operation: `build`, `traverse`, `freeze`, `pickle`, `unpickle`,
    /// `deepcopy`, `drop` (table1); `share`, `pickle`, `copy` (transfer);
    /// `throughput` (sharing).
    pub op: String,
    /// `rust` or `cpython` (table1); `shared`, `pickled` or `baseline`
    /// (sharing); empty for transfer.
    pub mode: String,
    /// Size parameter.
    pub n: Option<u64>,
    /// Consumer workers (sharing, transfer).
    pub workers: Option<u64>,
    /// Repetitions summarised.
    pub runs: Option<u64>,
    /// Median ns (per inversion for sharing).
    pub median_ns: Option<f64>,
    /// Fastest run, ns.
    pub min_ns: Option<f64>,
    /// Slowest run, ns.
    pub max_ns: Option<f64>,
    /// Bytes (pickles) where relevant.
    pub bytes: Option<u64>,
}

impl Row {
    /// A row with the first four columns set.
    pub fn new(suite: &str, workload: &str, op: &str, mode: &str) -> Row {
        Row {
            suite: suite.into(),
            workload: workload.into(),
            op: op.into(),
            mode: mode.into(),
            ..Row::default()
        }
    }

    /// Fills the timing columns from `stats`.
    pub fn with_stats(mut self, stats: &crate::measure::Stats) -> Row {
        self.runs = Some(stats.runs as u64);
        self.median_ns = Some(stats.median_ns);
        self.min_ns = Some(stats.min_ns);
        self.max_ns = Some(stats.max_ns);
        self
    }

    /// The row as one CSV line (no newline).
    pub fn to_line(&self) -> String {
        fn int(x: Option<u64>) -> String {
            x.map(|v| v.to_string()).unwrap_or_default()
        }
        fn float(x: Option<f64>) -> String {
            match x {
                None => String::new(),
                Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
                Some(v) => format!("{v:.3}"),
            }
        }
        let mut s = String::new();
        let _ = write!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{}",
            self.suite,
            self.workload,
            self.op,
            self.mode,
            int(self.n),
            int(self.workers),
            int(self.runs),
            float(self.median_ns),
            float(self.min_ns),
            float(self.max_ns),
            int(self.bytes)
        );
        s
    }

    /// Parses one CSV line (as written by [`Row::to_line`]).
    pub fn parse(line: &str) -> Result<Row, String> {
        let f: Vec<&str> = line.trim_end().split(',').collect();
        if f.len() != 11 {
            return Err(format!("expected 11 fields, got {}: {line:?}", f.len()));
        }
        fn int(s: &str) -> Result<Option<u64>, String> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse().map(Some).map_err(|e| format!("{s:?}: {e}"))
            }
        }
        fn float(s: &str) -> Result<Option<f64>, String> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse().map(Some).map_err(|e| format!("{s:?}: {e}"))
            }
        }
        Ok(Row {
            suite: f[0].into(),
            workload: f[1].into(),
            op: f[2].into(),
            mode: f[3].into(),
            n: int(f[4])?,
            workers: int(f[5])?,
            runs: int(f[6])?,
            median_ns: float(f[7])?,
            min_ns: float(f[8])?,
            max_ns: float(f[9])?,
            bytes: int(f[10])?,
        })
    }
}

/// The whole file: header and rows, newline-terminated.
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    for r in rows {
        s.push_str(&r.to_line());
        s.push('\n');
    }
    s
}

/// Parses a whole file (header first).
pub fn parse_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h.trim_end() == HEADER => {}
        other => return Err(format!("bad header {other:?}")),
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(Row::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Stats;

    #[test]
    fn writes_header_and_empty_fields() {
        let mut r = Row::new("table1", "dict-int", "freeze", "rust")
            .with_stats(&Stats::from_samples(&[1.0, 2.0, 4.0]).unwrap());
        r.n = Some(1000);
        let t = Row {
            bytes: Some(12),
            n: Some(1),
            median_ns: Some(1.5),
            ..Row::new("transfer", "list-str", "pickle", "")
        };
        let text = to_csv(&[r.clone(), t.clone()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines[1], "table1,dict-int,freeze,rust,1000,,3,2,1,4,");
        assert_eq!(lines[2], "transfer,list-str,pickle,,1,,,1.500,,,12");
        assert_eq!(parse_csv(&text).unwrap(), vec![r, t]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse_csv("nope\n").is_err());
        assert!(Row::parse("a,b,c").is_err());
    }
}
