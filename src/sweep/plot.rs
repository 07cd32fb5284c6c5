//! `simnet sweep report --format svg`: one metric against the parameter
//! combinations, as a median line in a band from the 10th to the 90th
//! percentile, with each combination's maximum marked. Drawn with plotters
//! into a string, with nothing that depends on the machine (the fonts are
//! named, not measured), so the same lines give the same bytes.

use super::report::{Report, percentile};
use plotters::prelude::*;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 480;

/// The chart of `metric` (one of [`METRICS`](super::METRICS)).
pub fn svg(report: &Report, metric: &str) -> Result<String, String> {
    let series = report.series(metric).ok_or_else(|| {
        format!(
            "error: no metric `{metric}`\nhelp: one of {}",
            super::METRICS.join(", ")
        )
    })?;
    let nanos = metric.ends_with("_ns");
    let scale = |v: u64| if nanos { v as f64 / 1e6 } else { v as f64 };
    let rows: Vec<(String, [f64; 4])> = series
        .iter()
        .map(|(label, values)| {
            let p = |q| scale(percentile(values, q));
            (label.clone(), [p(10), p(50), p(90), p(100)])
        })
        .collect();
    let top = rows
        .iter()
        .map(|(_, v)| v[3])
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;
    let n = rows.len();
    let unit = if nanos { " (ms)" } else { "" };
    let name = metric
        .strip_suffix("_ns")
        .unwrap_or(metric)
        .replace('_', " ");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let labels: Vec<String> = rows.iter().map(|(l, _)| l.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{name}{unit}: median, 10th to 90th percentile, maximum ({} runs)",
                    report.runs()
                ),
                ("sans-serif", 15),
            )
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(n.max(2))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.1}"))
            .x_desc("parameter combination")
            .y_desc(format!("{name}{unit}"))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.12))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;
        let band: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, v))| (i as f64, v[2]))
            .chain(
                rows.iter()
                    .enumerate()
                    .rev()
                    .map(|(i, (_, v))| (i as f64, v[0])),
            )
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.18).filled())))
            .map_err(|e| e.to_string())?;
        let median: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, v))| (i as f64, v[1]))
            .collect();
        chart
            .draw_series(LineSeries::new(median.clone(), BLUE.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(median.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                rows.iter()
                    .enumerate()
                    .map(|(i, (_, v))| Cross::new((i as f64, v[3]), 4, RED.stroke_width(2))),
            )
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
