//! Pictures of flow control and loss: SVG charts drawn with plotters.
//!
//! For each TCP connection that carried data (its busier direction):
//!
//! - a **time-sequence graph** in the style of tcptrace and Wireshark's
//!   "TCP Stream Graph": every data segment a vertical bar from its first to
//!   its last sequence number at the time it was sent (retransmissions in
//!   red, window and keepalive probes in orange), the ACK line, and the
//!   receive-window line (ACK + advertised window: how far the sender may go);
//! - **window and bytes in flight** over time, with zero-window periods shaded.
//!
//! For each bandwidth-limited link direction: **queue occupancy** over time,
//! with drops marked.
//!
//! All charts of a run are stacked in one SVG. Every number comes from
//! [`simnet_core::analysis`]; nothing is interpolated or smoothed.

use crate::mermaid::ConnectionSelector;
use plotters::prelude::*;
use simnet_core::analysis::{Connection, Flow, LinkSeries, SegmentKind, analyze};
use simnet_core::trace::{Topology, Trace};
use simnet_core::{HostId, SimTime};
use std::net::SocketAddrV4;

/// Which charts to draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotOptions {
    /// Only connections with this endpoint.
    pub connection: Option<ConnectionSelector>,
    /// At most this many connections (the first ones that carried data).
    pub max_connections: usize,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            connection: None,
            max_connections: 4,
        }
    }
}

const WIDTH: u32 = 900;
const CHART_HEIGHT: u32 = 320;

const DATA: RGBColor = RGBColor(31, 119, 180);
const RETRANSMIT: RGBColor = RGBColor(214, 39, 40);
const PROBE: RGBColor = RGBColor(255, 127, 14);
const ACK: RGBColor = RGBColor(44, 160, 44);
const WINDOW: RGBColor = RGBColor(188, 150, 0);
const FLIGHT: RGBColor = RGBColor(148, 103, 189);
const SHADE: RGBColor = RGBColor(255, 200, 200);

enum Chart<'a> {
    TimeSequence(&'a Connection, &'a Flow),
    Window(&'a Connection, &'a Flow),
    Queue(&'a LinkSeries),
}

/// Renders the charts of a trace as one SVG document. With nothing to draw,
/// the SVG says so.
pub fn render_svg(trace: &Trace, options: &PlotOptions) -> String {
    let analysis = analyze(trace);
    let topo = &trace.topology;
    let mut charts = Vec::new();
    for c in analysis
        .connections
        .iter()
        .filter(|c| c.main_flow().bytes > 0)
        .filter(|c| {
            options
                .connection
                .as_ref()
                .is_none_or(|s| selects(s, topo, c))
        })
        .take(options.max_connections)
    {
        charts.push(Chart::TimeSequence(c, c.main_flow()));
        charts.push(Chart::Window(c, c.main_flow()));
    }
    if options.connection.is_none() {
        for l in analysis.links.iter().filter(|l| l.queue.len() > 1) {
            charts.push(Chart::Queue(l));
        }
    }
    let end = trace.records.last().map_or(SimTime::ZERO, |r| r.time);
    let height = CHART_HEIGHT * charts.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        if charts.is_empty() {
            let _ = root.draw(&Text::new(
                "no TCP data and no bandwidth-limited link to plot",
                (20, 30),
                ("sans-serif", 16).into_font(),
            ));
        }
        let areas = root.split_evenly((charts.len().max(1), 1));
        for (chart, area) in charts.iter().zip(areas.iter()) {
            let _ = match chart {
                Chart::TimeSequence(c, f) => time_sequence(area, topo, c, f),
                Chart::Window(c, f) => window(area, topo, c, f),
                Chart::Queue(l) => queue(area, topo, l, end),
            };
        }
        let _ = root.present();
    }
    svg
}

fn selects(s: &ConnectionSelector, topo: &Topology, c: &Connection) -> bool {
    s.matches(topo, c.client) || s.matches(topo, c.server)
}

fn ms(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e6
}

/// The title's description of a connection and the direction plotted.
fn describe(topo: &Topology, c: &Connection, flow: &Flow) -> String {
    let name = |h: Option<HostId>, a: SocketAddrV4| {
        format!(
            "{}:{}",
            h.map_or(a.ip().to_string(), |h| topo.host_name(h).to_string()),
            a.port()
        )
    };
    let (from, to) = if std::ptr::eq(flow, &c.to_server) {
        (name(c.client_host, c.client), name(c.server_host, c.server))
    } else {
        (name(c.server_host, c.server), name(c.client_host, c.client))
    };
    format!("connection {}: {from} -> {to}", c.number)
}

/// x range covering the flow, with a little room either side.
fn x_range(c: &Connection) -> std::ops::Range<f64> {
    let (a, b) = (ms(c.start), ms(c.end));
    let pad = ((b - a) * 0.02).max(0.5);
    (a - pad).max(0.0)..b + pad
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Outcome = Result<(), Box<dyn std::error::Error>>;

fn time_sequence(area: &Area<'_>, topo: &Topology, c: &Connection, f: &Flow) -> Outcome {
    let top = f
        .segments
        .iter()
        .map(|s| s.end)
        .chain(f.acks.iter().map(|a| a.ack.saturating_add(a.window)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Time-sequence graph, {}", describe(topo, c, f)),
            ("sans-serif", 17),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range(c), 0.0..top * 1.05)?;
    mesh(&mut chart, "sequence number (bytes, relative)")?;
    for (kind, color, label) in [
        (SegmentKind::New, DATA, "data segment"),
        (SegmentKind::Retransmission, RETRANSMIT, "retransmission"),
        (SegmentKind::WindowProbe, PROBE, "window probe"),
        (SegmentKind::KeepAlive, PROBE, "keepalive probe"),
    ] {
        let segs: Vec<_> = f
            .segments
            .iter()
            .filter(|s| s.kind == kind && s.len > 0)
            .collect();
        if segs.is_empty() {
            continue;
        }
        chart
            .draw_series(segs.iter().map(|s| {
                let x = ms(s.time);
                PathElement::new(
                    vec![(x, s.start as f64), (x, s.end as f64)],
                    color.stroke_width(2),
                )
            }))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y - 6), (x, y + 6)], color.stroke_width(2))
            });
    }
    if !f.acks.is_empty() {
        let acks = step(f.acks.iter().map(|a| (ms(a.time), a.ack as f64)), ms(c.end));
        chart
            .draw_series(LineSeries::new(acks, ACK.stroke_width(1)))?
            .label("ACK")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], ACK));
        let edge = step(
            f.acks
                .iter()
                .map(|a| (ms(a.time), a.ack.saturating_add(a.window) as f64)),
            ms(c.end),
        );
        chart
            .draw_series(DashedLineSeries::new(edge, 6, 4, WINDOW.stroke_width(2)))?
            .label("receive window edge (ACK + window)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], WINDOW.stroke_width(2)));
    }
    legend(&mut chart)
}

fn window(area: &Area<'_>, topo: &Topology, c: &Connection, f: &Flow) -> Outcome {
    let top = f
        .acks
        .iter()
        .map(|a| a.window as u64)
        .chain(f.in_flight.iter().map(|(_, b)| *b))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Receive window and bytes in flight, {}",
                describe(topo, c, f)
            ),
            ("sans-serif", 17),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range(c), 0.0..top * 1.1)?;
    mesh(&mut chart, "bytes")?;
    if !f.zero_windows.is_empty() {
        chart
            .draw_series(f.zero_windows.iter().map(|(from, to)| {
                let end = to.map_or(ms(c.end), ms);
                Rectangle::new([(ms(*from), 0.0), (end, top * 1.1)], SHADE.filled())
            }))?
            .label("zero window")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], SHADE.filled()));
    }
    if !f.acks.is_empty() {
        let w = step(
            f.acks.iter().map(|a| (ms(a.time), a.window as f64)),
            ms(c.end),
        );
        chart
            .draw_series(LineSeries::new(w, WINDOW.stroke_width(2)))?
            .label("advertised receive window")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], WINDOW.stroke_width(2)));
    }
    if !f.in_flight.is_empty() {
        let fl = step(
            f.in_flight.iter().map(|(t, b)| (ms(*t), *b as f64)),
            ms(c.end),
        );
        chart
            .draw_series(LineSeries::new(fl, FLIGHT.stroke_width(2)))?
            .label("bytes in flight (sent, not yet acknowledged)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], FLIGHT.stroke_width(2)));
    }
    legend(&mut chart)
}

fn queue(area: &Area<'_>, topo: &Topology, l: &LinkSeries, end: SimTime) -> Outcome {
    let to =
        l.to.map_or("?".to_string(), |h| topo.host_name(h).to_string());
    let top = l.queue.iter().map(|(_, b)| *b).max().unwrap_or(1).max(1) as f64;
    let first = l.queue.first().map_or(0.0, |(t, _)| ms(*t));
    let last = l
        .queue
        .last()
        .map_or(ms(end), |(t, _)| ms(*t))
        .max(first + 1.0);
    let pad = (last - first) * 0.02;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Queue occupancy, link {} -> {to}", topo.host_name(l.from)),
            ("sans-serif", 17),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d((first - pad).max(0.0)..last + pad, 0.0..top * 1.1)?;
    mesh(&mut chart, "bytes queued")?;
    let q = step(l.queue.iter().map(|(t, b)| (ms(*t), *b as f64)), last);
    chart
        .draw_series(LineSeries::new(q, DATA.stroke_width(1)))?
        .label("bytes waiting or being sent")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], DATA));
    if !l.drops.is_empty() {
        chart
            .draw_series(
                l.drops
                    .iter()
                    .map(|(t, _)| Cross::new((ms(*t), top), 4, RETRANSMIT.stroke_width(2))),
            )?
            .label("dropped frame")
            .legend(|(x, y)| Cross::new((x + 10, y), 4, RETRANSMIT.stroke_width(2)));
    }
    legend(&mut chart)
}

/// Axes with whole-number labels and a quiet grid.
fn mesh<'a, DB: DrawingBackend + 'a>(chart: &mut Chart2d<'a, DB>, y_desc: &str) -> Outcome
where
    DB::ErrorType: 'static,
{
    chart
        .configure_mesh()
        .x_desc("time (ms)")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.12))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()?;
    Ok(())
}

type Chart2d<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Chart2d<'a, DB>) -> Outcome
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// A step function through the points, held until `until`.
fn step(points: impl Iterator<Item = (f64, f64)>, until: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        if let Some(&(_, prev)) = out.last() {
            out.push((x, prev));
        }
        out.push((x, y));
    }
    if let Some(&(x, y)) = out.last()
        && until > x
    {
        out.push((until, y));
    }
    out
}
