//! SVG plots with plotters' SVG backend (text is written as SVG `<text>`
//! elements; no font files are read): Table 1 and transfer as grouped bars
//! on a log scale, Figure 1 as throughput against workers.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::csv::Row;
use crate::report::median;
use crate::shapes::Shape;
use crate::table1::{OPS, PY_OPS};

type PlotResult = Result<(), String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// One bar series: a label and a value per group (`None`: no bar).
pub struct Series {
    /// Legend text.
    pub label: String,
    /// One value per group.
    pub values: Vec<Option<f64>>,
}

/// Grouped bars on a log-scale y axis.
pub fn grouped_bars(
    path: &Path,
    title: &str,
    y_desc: &str,
    groups: &[String],
    series: &[Series],
) -> PlotResult {
    let (lo, hi) = log_range(series);
    let per_group = series.len() as i32 + 1; // one gap bar
    let width = (groups.len().max(1) as i32) * per_group;
    let w = (300 + 12 * width as u32).clamp(900, 2000);
    let root = SVGBackend::new(path, (w + 190, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (plot_area, legend_area) = root.split_horizontally(w);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0..width, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2)
        .x_label_formatter(&|_| String::new())
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(err)?;
    for (k, s) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(bars(s, k, per_group, lo, color))
            .map_err(err)?;
        legend_entry(&legend_area, k, &s.label, color)?;
    }
    // Group names under the axis, centred on each group.
    let style = ("sans-serif", 14)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (g, name) in groups.iter().enumerate() {
        let first = g as i32 * per_group;
        let (x0, py) = chart.backend_coord(&(first, lo));
        let (x1, _) = chart.backend_coord(&(first + series.len() as i32, lo));
        plot_area
            .draw(&Text::new(
                name.clone(),
                ((x0 + x1) / 2, py + 8),
                style.clone(),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// The log-scale y range covering every positive value, whole decades
/// (with headroom at the top).
fn log_range(series: &[Series]) -> (f64, f64) {
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    if vals.is_empty() {
        (1e-3, 1.0)
    } else {
        let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let max = vals.iter().copied().fold(0.0, f64::max);
        (
            10f64.powf(min.log10().floor()),
            10f64.powf(max.log10().ceil() + 0.3),
        )
    }
}

/// Series `k`'s legend entry, right of the plot.
fn legend_entry(
    legend_area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    k: usize,
    label: &str,
    color: RGBAColor,
) -> PlotResult {
    let y = 60 + 22 * k as i32;
    legend_area
        .draw(&Rectangle::new([(10, y), (24, y + 14)], color.filled()))
        .map_err(err)?;
    legend_area
        .draw(&Text::new(
            label.to_string(),
            (32, y + 1),
            ("sans-serif", 13).into_font().color(&BLACK),
        ))
        .map_err(err)?;
    Ok(())
}

/// Series `k`'s bars, one in each group where it has a positive value.
fn bars(
    s: &Series,
    k: usize,
    per_group: i32,
    lo: f64,
    color: RGBAColor,
) -> Vec<Rectangle<(i32, f64)>> {
    s.values
        .iter()
        .enumerate()
        .filter_map(|(g, v)| {
            let v = (*v)?;
            (v > 0.0).then(|| {
                let x = g as i32 * per_group + k as i32;
                Rectangle::new([(x, lo), (x + 1, v)], color.filled())
            })
        })
        .collect()
}

/// Table 1 as grouped bars: one group per shape, one bar per operation
/// (this runtime's seven, CPython's three), medians in ms.
pub fn table1(path: &Path, rows: &[Row], shapes: &[Shape]) -> PlotResult {
    let groups: Vec<String> = shapes.iter().map(|s| s.name().to_string()).collect();
    let mut series = Vec::new();
    for op in OPS {
        series.push(Series {
            label: op.to_string(),
            values: shapes
                .iter()
                .map(|s| median(rows, "table1", s.name(), op, "rust").map(|ns| ns / 1e6))
                .collect(),
        });
    }
    for op in PY_OPS {
        series.push(Series {
            label: format!("CPython {op}"),
            values: shapes
                .iter()
                .map(|s| median(rows, "table1", s.name(), op, "cpython").map(|ns| ns / 1e6))
                .collect(),
        });
    }
    grouped_bars(
        path,
        "Table 1: freeze vs pickle (median, ms, log scale)",
        "ms",
        &groups,
        &series,
    )
}

/// Transfer as grouped bars: one group per graph, one bar per mode (µs).
pub fn transfer(path: &Path, rows: &[Row]) -> PlotResult {
    let mut keys: Vec<(String, u64)> = Vec::new();
    for r in rows.iter().filter(|r| r.suite == "transfer") {
        let k = (r.workload.clone(), r.n.unwrap_or(0));
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let groups: Vec<String> = keys.iter().map(|(w, n)| format!("{w} n={n}")).collect();
    let series: Vec<Series> = crate::transfer::MODES
        .iter()
        .map(|mode| Series {
            label: mode.to_string(),
            values: keys
                .iter()
                .map(|(w, n)| {
                    rows.iter()
                        .find(|r| {
                            r.suite == "transfer"
                                && &r.workload == w
                                && r.n == Some(*n)
                                && r.op == *mode
                        })
                        .and_then(|r| r.median_ns)
                        .map(|ns| ns / 1e3)
                })
                .collect(),
        })
        .collect();
    grouped_bars(
        path,
        "Transfer to another worker: send + receive + first read (median, µs, log scale)",
        "µs",
        &groups,
        &series,
    )
}

/// Figure 1: inversions per second (millions) against workers, shared and
/// pickled, with the single-worker baseline as a dashed line.
pub fn figure1(path: &Path, rows: &[Row]) -> PlotResult {
    let shared = sharing_points(rows, "shared");
    let pickled = sharing_points(rows, "pickled");
    let baseline = sharing_points(rows, "baseline").first().map(|p| p.1);
    let (max_w, max_y) = figure1_extent(&shared, &pickled, baseline);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Figure 1: sharing matrices, inversions per second",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.5..max_w + 0.5, 0.0..max_y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("workers")
        .y_desc("million inversions / s")
        .x_label_formatter(&|x| {
            if (x.fract()).abs() < 1e-9 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(err)?;
    for (label, data, color) in [("shared", &shared, BLUE), ("pickled", &pickled, RED)] {
        chart
            .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(data.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(err)?;
    }
    if let Some(b) = baseline {
        chart
            .draw_series(dashes(b, max_w))
            .map_err(err)?
            .label("baseline (1 thread, no messaging)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// (workers, million inversions per second) of the sharing rows in
/// `mode`, by worker count.
fn sharing_points(rows: &[Row], mode: &str) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.suite == "sharing" && r.mode == mode && r.op == "throughput")
        .filter_map(|r| Some((r.workers? as f64, 1e3 / r.median_ns?)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Figure 1's largest worker count and its y range (15% headroom).
fn figure1_extent(
    shared: &[(f64, f64)],
    pickled: &[(f64, f64)],
    baseline: Option<f64>,
) -> (f64, f64) {
    let max_w = shared
        .iter()
        .chain(pickled)
        .map(|p| p.0)
        .fold(1.0, f64::max);
    let max_y = shared
        .iter()
        .chain(pickled)
        .map(|p| p.1)
        .chain(baseline)
        .fold(0.0, f64::max)
        .max(1e-6)
        * 1.15;
    (max_w, max_y)
}

/// A dashed horizontal line at `y` across the x range.
fn dashes(y: f64, max_w: f64) -> Vec<PathElement<(f64, f64)>> {
    let mut v = Vec::new();
    let step = (max_w / 40.0).max(0.05);
    let mut x = 0.5;
    while x < max_w + 0.5 {
        let x2 = (x + step * 0.6).min(max_w + 0.5);
        v.push(PathElement::new(
            vec![(x, y), (x2, y)],
            BLACK.stroke_width(1),
        ));
        x += step;
    }
    v
}

/// Revisions: one group per shape, one bar per route (ms).
pub fn revisions(path: &Path, rows: &[Row]) -> PlotResult {
    let mut groups: Vec<String> = Vec::new();
    for r in rows
        .iter()
        .filter(|r| r.suite == "revisions" && r.op == "update")
    {
        if !groups.contains(&r.workload) {
            groups.push(r.workload.clone());
        }
    }
    let series: Vec<Series> = crate::revisions::ROUTES
        .iter()
        .map(|route| Series {
            label: route.to_string(),
            values: groups
                .iter()
                .map(|g| {
                    crate::report::median(rows, "revisions", g, "update", route).map(|ns| ns / 1e6)
                })
                .collect(),
        })
        .collect();
    grouped_bars(
        path,
        "One-leaf change of a frozen graph: draft vs deep copy vs pickle (median, ms, log scale)",
        "ms",
        &groups,
        &series,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_text() {
        let dir = std::env::temp_dir().join(format!("pf-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bars.svg");
        grouped_bars(
            &path,
            "A caption",
            "ms",
            &["alpha".into(), "beta".into()],
            &[
                Series {
                    label: "one".into(),
                    values: vec![Some(1.0), Some(20.0)],
                },
                Series {
                    label: "two".into(),
                    values: vec![None, Some(0.5)],
                },
            ],
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("A caption"));
        assert!(svg.contains("alpha") && svg.contains("beta"));
        assert!(svg.contains("<rect"));
        let rows = vec![Row {
            workers: Some(1),
            median_ns: Some(100.0),
            ..Row::new("sharing", "matrices", "throughput", "shared")
        }];
        let p = dir.join("fig.svg");
        figure1(&p, &rows).unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().contains("Figure 1"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
