//! `bench --plot FILE.svg`: the benchmark as a bar chart, for readers who
//! would rather look than read a table. Each backend gets a bar for one
//! thread and one for all threads; the `sha2-loop` baseline's two rates
//! are drawn across the chart as lines, so every bar's ratio to it shows
//! at a glance. SVG only (the `plotters` crate's SVG backend): text stays
//! text, and the file is small and diffable.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::bench::{BenchReport, BenchResult, BASELINE};

/// A chart that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("nothing to plot: the benchmark has no results")]
    Empty,
    #[error("cannot draw the chart {path}: {message}")]
    Draw { path: String, message: String },
}

const ONE: RGBColor = RGBColor(66, 133, 244);
const ALL: RGBColor = RGBColor(234, 120, 30);
/// The baseline lines: darker shades of the bars' colours.
const BASE_ONE: RGBColor = RGBColor(20, 50, 130);
const BASE_ALL: RGBColor = RGBColor(130, 55, 0);

/// A configuration's rate on one thread and on all threads (when measured).
type Row = (String, Option<f64>, Option<f64>);

/// The configurations in the report's order, and the "all threads" count.
fn rows(report: &BenchReport) -> (Vec<Row>, usize) {
    let max_threads = report.results.iter().map(|r| r.threads).max().unwrap_or(1);
    let mut rows: Vec<Row> = Vec::new();
    for r in &report.results {
        let label = r.label();
        let i = match rows.iter().position(|(n, _, _)| *n == label) {
            Some(i) => i,
            None => {
                rows.push((label, None, None));
                rows.len() - 1
            }
        };
        if r.threads == 1 {
            rows[i].1 = Some(r.hashrate);
        }
        if r.threads == max_threads && max_threads > 1 {
            rows[i].2 = Some(r.hashrate);
        }
    }
    (rows, max_threads)
}

fn baseline(report: &BenchReport, threads: usize) -> Option<&BenchResult> {
    report
        .results
        .iter()
        .find(|r| r.backend == BASELINE && r.threads == threads)
}

/// Write `report` as an SVG bar chart to `path`.
pub fn write_svg(report: &BenchReport, path: &Path) -> Result<(), PlotError> {
    if report.results.is_empty() {
        return Err(PlotError::Empty);
    }
    let draw_err = |e: &dyn std::fmt::Display| PlotError::Draw {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let (rows, max_threads) = rows(report);
    let top = report
        .results
        .iter()
        .map(|r| r.hashrate / 1e6)
        .fold(0.0, f64::max)
        * 1.18;
    let slots = 3 * rows.len() as i32;
    let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_err(&e))?;
    let lanes = if report.version_rolling {
        "version rolling on"
    } else {
        "nonce lanes only"
    };
    let title = format!(
        "noncesweep bench: {} ({} logical CPUs), {lanes}",
        report.cpu.model, report.cpu.logical_cpus
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 19))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0..slots, 0.0..top.max(1e-3))
        .map_err(|e| draw_err(&e))?;
    let names: Vec<String> = rows.iter().map(|(n, _, _)| n.to_string()).collect();
    let label = move |x: &i32| {
        if x.rem_euclid(3) == 1 {
            names.get((*x / 3) as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(slots as usize + 1)
        .x_label_formatter(&label)
        .x_desc("backend")
        .y_desc("hashrate (MH/s)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(|e| draw_err(&e))?;
    // Bars: one thread on the left of each backend's slot, all threads on
    // the right, each with its rate written above it.
    let mut values = Vec::new();
    for (dx, colour, threads) in [(0, ONE, 1), (1, ALL, max_threads)] {
        let mut bars = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let Some(r) = (if dx == 0 { row.1 } else { row.2 }) else {
                continue;
            };
            let x = 3 * i as i32 + dx;
            let mhs = r / 1e6;
            bars.push(Rectangle::new([(x, 0.0), (x + 1, mhs)], colour.filled()));
            // Centred over the bar: half a bar's width in pixels.
            let half =
                (chart.backend_coord(&(x + 1, 0.0)).0 - chart.backend_coord(&(x, 0.0)).0) / 2;
            let font = ("sans-serif", 13)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            values.push(
                EmptyElement::at((x, mhs)) + Text::new(format!("{mhs:.1}"), (half, -3), font),
            );
        }
        if bars.is_empty() {
            continue;
        }
        chart
            .draw_series(bars)
            .map_err(|e| draw_err(&e))?
            .label(format!(
                "{threads} thread{}",
                if threads == 1 { "" } else { "s" }
            ))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled()));
    }
    chart.draw_series(values).map_err(|e| draw_err(&e))?;
    // The baseline: sha2-loop's rates as lines across the whole chart.
    let mut counts = vec![1];
    if max_threads > 1 {
        counts.push(max_threads);
    }
    for threads in counts {
        let Some(b) = baseline(report, threads) else {
            continue;
        };
        let y = b.hashrate / 1e6;
        let colour = if threads == 1 { BASE_ONE } else { BASE_ALL };
        let line = PathElement::new(vec![(0, y), (slots, y)], colour.stroke_width(2));
        chart
            .draw_series(std::iter::once(line))
            .map_err(|e| draw_err(&e))?
            .label(format!(
                "{BASELINE} baseline, {threads} thread{}: {y:.1} MH/s",
                if threads == 1 { "" } else { "s" }
            ))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| draw_err(&e))?;
    root.present().map_err(|e| draw_err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::CpuInfo;

    fn result(backend: &str, threads: usize, rate: f64) -> BenchResult {
        BenchResult {
            backend: backend.into(),
            threads,
            hashes: 0,
            seconds: 1.0,
            hashrate: rate,
            per_thread: vec![rate / threads as f64; threads],
            ratio: 1.0,
            lanes: "nonces",
            kernel: "-",
            chosen: false,
        }
    }

    #[test]
    fn chart_names_every_backend_and_the_baseline() {
        let report = BenchReport {
            cpu: CpuInfo {
                model: "Test CPU 9000".into(),
                logical_cpus: 2,
                features: vec![],
            },
            selection: None,
            version_rolling: true,
            results: vec![
                result(BASELINE, 1, 11e6),
                result("avx512", 1, 41e6),
                result(BASELINE, 2, 22e6),
                result("avx512", 2, 82e6),
            ],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.svg");
        write_svg(&report, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for want in [
            "Test CPU 9000",
            "avx512",
            "hashrate (MH/s)",
            "sha2-loop baseline, 1 thread: 11.0 MH/s",
            "sha2-loop baseline, 2 threads: 22.0 MH/s",
            "82.0",
        ] {
            assert!(svg.contains(want), "missing {want:?}");
        }
        let empty = BenchReport {
            results: vec![],
            ..report
        };
        assert!(matches!(write_svg(&empty, &path), Err(PlotError::Empty)));
    }
}
