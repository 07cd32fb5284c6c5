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
//! When the topology has a router or an active queue
//! ([`simnet_core::analysis::Analysis::show_bottlenecks`]; runs of hosts
//! over drop-tail links draw what they always drew): **goodput per flow**
//! over time, one line per plotted connection's busier direction (bytes of
//! data first acknowledged per bucket, as a rate; see
//! [`simnet_core::analysis::goodput`]), and for each link direction where
//! frames waited, the **queueing delay** of every frame at the time it
//! entered the queue, with drops marked (see
//! [`simnet_core::analysis::Bottleneck`]).
//!
//! When several connections of similar size are plotted (a side-by-side
//! comparison), an **overlay** comes first: every connection's data
//! segments on one time-sequence chart, one colour per connection.
//!
//! All charts of a run are stacked in one SVG and share one time axis (the
//! span of data transfer of all plotted connections: from the first SYN to
//! the last data acknowledged or window reopened), so that they can be
//! compared by eye; time-sequence charts share one y range, as do window charts, and
//! queue charts whose peaks are within a factor of four. Legends sit above
//! the plotting area, never over the data. Every number comes from
//! [`simnet_core::analysis`]; nothing is interpolated or smoothed.

use crate::mermaid::ConnectionSelector;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use simnet_core::analysis::{Bottleneck, Connection, Flow, LinkSeries, SegmentKind, analyze};
use simnet_core::trace::{Topology, Trace};
use simnet_core::{HostId, SimDuration, SimTime};
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
/// Height of a chart's plotting area with its axes.
const BODY_HEIGHT: u32 = 300;
/// Height of the caption line above each chart.
const CAPTION_HEIGHT: u32 = 30;
/// Height of one row of legend entries.
const LEGEND_ROW: u32 = 20;
/// Where the plotting area starts (margin + y label area): legends line up with it.
const PLOT_LEFT: i32 = 90;
const LEGEND_FONT: u32 = 13;

const DATA: RGBColor = RGBColor(31, 119, 180);
const RETRANSMIT: RGBColor = RGBColor(214, 39, 40);
const PROBE: RGBColor = RGBColor(255, 127, 14);
const ACK: RGBColor = RGBColor(44, 160, 44);
const WINDOW: RGBColor = RGBColor(188, 150, 0);
const FLIGHT: RGBColor = RGBColor(148, 103, 189);
const SHADE: RGBColor = RGBColor(255, 200, 200);
/// One colour per connection in the overlay chart.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

enum Kind<'a> {
    /// Every plotted connection's data segments on one chart.
    Overlay(Vec<(&'a Connection, &'a Flow)>),
    TimeSequence(&'a Connection, &'a Flow),
    Window(&'a Connection, &'a Flow),
    /// A link direction, and the top of its y range (shared with links of
    /// similar peak occupancy).
    Queue(&'a LinkSeries, f64),
    /// The plotted flows' goodput, with the bucket width.
    Goodput(Vec<&'a Flow>, SimDuration),
    /// Each frame's queueing delay at a bottleneck.
    Delay(&'a Bottleneck),
}

/// One chart: its caption, its legend (drawn above the plotting area, so it
/// never covers data) and what it shows.
struct Chart<'a> {
    title: String,
    legend: Vec<Entry>,
    kind: Kind<'a>,
}

/// How a legend entry's sample is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    Bar(RGBColor),
    Line(RGBColor, u32),
    Block(RGBColor),
    Cross(RGBColor),
    Dot(RGBColor),
}

struct Entry {
    label: String,
    swatch: Swatch,
}

fn entry(label: impl Into<String>, swatch: Swatch) -> Entry {
    Entry {
        label: label.into(),
        swatch,
    }
}

/// The axes every chart of one SVG shares, so that charts can be compared by eye.
struct Scales {
    /// Time (ms): the span of all plotted connections and queues.
    x: std::ops::Range<f64>,
    /// Top of the time-sequence charts (bytes of sequence space).
    seq_top: f64,
    /// Top of the window and bytes-in-flight charts.
    window_top: f64,
}

/// Renders the charts of a trace as one SVG document. With nothing to draw,
/// the SVG says so.
pub fn render_svg(trace: &Trace, options: &PlotOptions) -> String {
    let analysis = analyze(trace);
    let topo = &trace.topology;
    let plotted: Vec<&Connection> = analysis
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
        .collect();
    let links: Vec<&LinkSeries> = if options.connection.is_none() {
        analysis
            .links
            .iter()
            .filter(|l| l.queue.len() > 1)
            .collect()
    } else {
        Vec::new()
    };
    let bottlenecks: Vec<&Bottleneck> = if analysis.show_bottlenecks && options.connection.is_none()
    {
        analysis
            .bottlenecks
            .iter()
            .filter(|b| !b.delays.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    let scales = scales(&plotted, &links, &bottlenecks);
    let mut charts = Vec::new();
    if let Some(overlay) = overlay(topo, &plotted) {
        charts.push(overlay);
    }
    for c in &plotted {
        let f = c.main_flow();
        charts.push(time_sequence_chart(topo, c, f));
        charts.push(window_chart(topo, c, f));
    }
    if analysis.show_bottlenecks
        && let Some(chart) = goodput_chart(topo, &plotted, analysis.goodput_bucket)
    {
        charts.push(chart);
    }
    for (l, top) in links.iter().zip(queue_tops(&links)) {
        charts.push(queue_chart(topo, l, top));
    }
    for b in &bottlenecks {
        charts.push(delay_chart(topo, b));
    }
    let rows: Vec<usize> = charts
        .iter()
        .map(|c| legend_rows(&c.legend).len())
        .collect();
    let heights: Vec<u32> = rows.iter().map(|r| slot_height(*r)).collect();
    let height = heights.iter().sum::<u32>().max(BODY_HEIGHT);
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
        let mut rest = root.clone();
        for (chart, h) in charts.iter().zip(&heights) {
            let (slot, below) = rest.split_vertically(*h);
            rest = below;
            let (head, body) = slot.split_vertically(h - BODY_HEIGHT);
            let _ = header(&head, &chart.title, &chart.legend);
            let _ = match &chart.kind {
                Kind::Overlay(flows) => overlay_body(&body, &scales, flows),
                Kind::TimeSequence(c, f) => time_sequence(&body, &scales, c, f),
                Kind::Window(c, f) => window(&body, &scales, c, f),
                Kind::Queue(l, top) => queue(&body, &scales, l, *top),
                Kind::Goodput(flows, bucket) => goodput(&body, &scales, flows, *bucket),
                Kind::Delay(b) => delay(&body, &scales, b),
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

/// The endpoints of the direction plotted, `from -> to`.
fn endpoints(topo: &Topology, c: &Connection, flow: &Flow) -> String {
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
    format!("{from} -> {to}")
}

/// The title's description of a connection and the direction plotted.
fn describe(topo: &Topology, c: &Connection, flow: &Flow) -> String {
    format!("connection {}: {}", c.number, endpoints(topo, c, flow))
}

/// Highest sequence number a time-sequence chart shows: the last segment or
/// the furthest receive-window edge.
fn seq_top(f: &Flow) -> u64 {
    f.segments
        .iter()
        .map(|s| u64::from(s.end))
        .chain(
            f.acks
                .iter()
                .map(|a| u64::from(a.ack) + u64::from(a.window)),
        )
        .max()
        .unwrap_or(0)
}

/// Highest window or bytes in flight.
fn window_top(f: &Flow) -> u64 {
    f.acks
        .iter()
        .map(|a| u64::from(a.window))
        .chain(f.in_flight.iter().map(|(_, b)| *b))
        .max()
        .unwrap_or(0)
}

fn queue_peak(l: &LinkSeries) -> u64 {
    l.queue.iter().map(|(_, b)| *b).max().unwrap_or(0)
}

/// When a flow's data transfer ended: its last data segment, the first ACK
/// of all its data, or the end of its last zero-window period (the window
/// reopening is part of the transfer's story), whichever came last. Idle
/// time after that (keep-alive, closing) is left out of the time axis.
fn data_end(f: &Flow, c: &Connection) -> Option<SimTime> {
    let data = || f.segments.iter().filter(|s| s.len > 0);
    let last = data().map(|s| s.time).max()?;
    // Payload only: a FIN riding on the last segment is not data.
    let end = data().map(|s| s.start + s.len).max()?;
    let acked = f.acks.iter().find(|a| a.ack >= end).map(|a| a.time);
    let reopened = f.zero_windows.iter().map(|(_, to)| to.unwrap_or(c.end));
    Some(acked.into_iter().chain(reopened).fold(last, SimTime::max))
}

/// One time axis for every chart, and one y range per kind of connection chart.
fn scales(conns: &[&Connection], links: &[&LinkSeries], bottlenecks: &[&Bottleneck]) -> Scales {
    let conn_times = conns.iter().flat_map(|c| {
        let end = data_end(c.main_flow(), c).unwrap_or(c.end);
        [ms(c.start), ms(end)]
    });
    // Queues set the time axis only when no connection is plotted.
    let queue_times = links
        .iter()
        .filter(|_| conns.is_empty())
        .flat_map(|l| l.queue.iter().map(|(t, _)| ms(*t)));
    let delay_times = bottlenecks
        .iter()
        .filter(|_| conns.is_empty())
        .flat_map(|b| b.delays.iter().map(|(t, _)| ms(*t)));
    let times = conn_times.chain(queue_times).chain(delay_times);
    let (mut a, mut b) = (f64::INFINITY, f64::NEG_INFINITY);
    for t in times {
        a = a.min(t);
        b = b.max(t);
    }
    if a > b {
        (a, b) = (0.0, 1.0);
    }
    let b = b.max(a + 1.0);
    let pad = ((b - a) * 0.02).max(0.5);
    let top = |v: u64| v.max(1) as f64;
    Scales {
        x: (a - pad).max(0.0)..b + pad,
        seq_top: top(conns
            .iter()
            .map(|c| seq_top(c.main_flow()))
            .max()
            .unwrap_or(0)),
        window_top: top(conns
            .iter()
            .map(|c| window_top(c.main_flow()))
            .max()
            .unwrap_or(0)),
    }
}

/// The top of each queue chart's y range. Queues whose peaks are within a
/// factor of four of each other share one (the data directions of a
/// comparison); a queue that only ever holds an ACK or two keeps its own
/// rather than being flattened against a full one.
fn queue_tops(links: &[&LinkSeries]) -> Vec<f64> {
    let mut peaks: Vec<u64> = links.iter().map(|l| queue_peak(l).max(1)).collect();
    peaks.sort_unstable_by(|a, b| b.cmp(a));
    // Group maxima, largest first.
    let mut groups: Vec<u64> = Vec::new();
    for p in peaks {
        if groups.last().is_none_or(|g| p * 4 < *g) {
            groups.push(p);
        }
    }
    links
        .iter()
        .map(|l| {
            let p = queue_peak(l).max(1);
            // The smallest group maximum that is at least p, i.e. p's group.
            let g = groups.iter().rev().find(|g| **g >= p).copied().unwrap_or(p);
            g as f64
        })
        .collect()
}

/// Bytes a connection must carry to count as a bulk transfer for the overlay.
const BULK_BYTES: u64 = 16 * 1024;

/// An overlay of the connections' sequence numbers, for runs that compare
/// bulk transfers of similar size (every plotted connection carries at least
/// [`BULK_BYTES`] and a quarter of the busiest one's bytes). A handful of
/// small HTTP exchanges would only draw a few dots in a corner.
fn overlay<'a>(topo: &Topology, conns: &[&'a Connection]) -> Option<Chart<'a>> {
    let busiest = conns.iter().map(|c| c.main_flow().bytes).max()?;
    let bulk = |c: &&Connection| {
        let b = c.main_flow().bytes;
        b >= BULK_BYTES && b * 4 >= busiest
    };
    if conns.len() < 2 || !conns.iter().all(bulk) {
        return None;
    }
    let legend = conns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            entry(
                describe(topo, c, c.main_flow()),
                Swatch::Dot(PALETTE[i % PALETTE.len()]),
            )
        })
        .collect();
    Some(Chart {
        title: "Time-sequence graphs overlaid: every data segment, one colour per connection"
            .to_string(),
        legend,
        kind: Kind::Overlay(conns.iter().map(|c| (*c, c.main_flow())).collect()),
    })
}

const SEGMENT_KINDS: [(SegmentKind, RGBColor, &str); 4] = [
    (SegmentKind::New, DATA, "data segment"),
    (SegmentKind::Retransmission, RETRANSMIT, "retransmission"),
    (SegmentKind::WindowProbe, PROBE, "window probe"),
    (SegmentKind::KeepAlive, PROBE, "keepalive probe"),
];

fn time_sequence_chart<'a>(topo: &Topology, c: &'a Connection, f: &'a Flow) -> Chart<'a> {
    let mut legend = Vec::new();
    for (kind, color, label) in SEGMENT_KINDS {
        if f.segments.iter().any(|s| s.kind == kind && s.len > 0) {
            legend.push(entry(label, Swatch::Bar(color)));
        }
    }
    if !f.acks.is_empty() {
        legend.push(entry("ACK", Swatch::Line(ACK, 1)));
        legend.push(entry(
            "receive window edge (ACK + window)",
            Swatch::Line(WINDOW, 2),
        ));
    }
    Chart {
        title: format!("Time-sequence graph, {}", describe(topo, c, f)),
        legend,
        kind: Kind::TimeSequence(c, f),
    }
}

fn window_chart<'a>(topo: &Topology, c: &'a Connection, f: &'a Flow) -> Chart<'a> {
    let mut legend = Vec::new();
    if !f.zero_windows.is_empty() {
        legend.push(entry("zero window", Swatch::Block(SHADE)));
    }
    if !f.acks.is_empty() {
        legend.push(entry("advertised receive window", Swatch::Line(WINDOW, 2)));
    }
    if !f.in_flight.is_empty() {
        legend.push(entry(
            "bytes in flight (sent, not yet acknowledged)",
            Swatch::Line(FLIGHT, 2),
        ));
    }
    Chart {
        title: format!(
            "Receive window and bytes in flight, {}",
            describe(topo, c, f)
        ),
        legend,
        kind: Kind::Window(c, f),
    }
}

fn queue_chart<'a>(topo: &Topology, l: &'a LinkSeries, top: f64) -> Chart<'a> {
    let to =
        l.to.map_or("?".to_string(), |h| topo.host_name(h).to_string());
    let mut legend = vec![entry("bytes waiting or being sent", Swatch::Line(DATA, 1))];
    if !l.drops.is_empty() {
        legend.push(entry("dropped frame", Swatch::Cross(RETRANSMIT)));
    }
    Chart {
        title: format!("Queue occupancy, link {} -> {to}", topo.host_name(l.from)),
        legend,
        kind: Kind::Queue(l, top),
    }
}

/// The goodput chart: one line per plotted connection's busier direction
/// that got data acknowledged (`None` if none did).
fn goodput_chart<'a>(
    topo: &Topology,
    conns: &[&'a Connection],
    bucket: SimDuration,
) -> Option<Chart<'a>> {
    let flows: Vec<(&Connection, &Flow)> = conns
        .iter()
        .map(|c| (*c, c.main_flow()))
        .filter(|(_, f)| !f.goodput.is_empty())
        .collect();
    if flows.is_empty() {
        return None;
    }
    let legend = flows
        .iter()
        .enumerate()
        .map(|(i, (c, f))| {
            entry(
                describe(topo, c, f),
                Swatch::Line(PALETTE[i % PALETTE.len()], 2),
            )
        })
        .collect();
    Some(Chart {
        title: format!("Goodput per flow over time (data acknowledged per {bucket})"),
        legend,
        kind: Kind::Goodput(flows.into_iter().map(|(_, f)| f).collect(), bucket),
    })
}

fn delay_chart<'a>(topo: &Topology, b: &'a Bottleneck) -> Chart<'a> {
    let mut legend = vec![entry(
        "queueing delay of each frame, when it entered the queue",
        Swatch::Line(FLIGHT, 1),
    )];
    if !b.drop_times.is_empty() {
        legend.push(entry("dropped frame", Swatch::Cross(RETRANSMIT)));
    }
    Chart {
        title: format!(
            "Queueing delay at link {} -> {} ({})",
            topo.host_name(b.from),
            topo.host_name(b.to),
            b.qdisc
        ),
        legend,
        kind: Kind::Delay(b),
    }
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Outcome = Result<(), Box<dyn std::error::Error>>;

/// A chart's slot: caption, legend rows, plotting area.
fn slot_height(legend_rows: usize) -> u32 {
    CAPTION_HEIGHT + LEGEND_ROW * legend_rows as u32 + 4 + BODY_HEIGHT
}

/// A generous estimate of a legend label's width in pixels (no font metrics:
/// the layout must not depend on the fonts installed). plotters writes font
/// sizes to the SVG divided by 1.24, so a 13 px legend font is 10.5 px, and
/// 0.6 em per character is wider than the average of common sans-serif fonts.
fn label_width(label: &str) -> i32 {
    (label.chars().count() as f64 * f64::from(LEGEND_FONT) / 1.24 * 0.6).ceil() as i32
}

/// Legend entries laid out left to right above the plotting area, wrapping
/// to a new row when one is full: the indices of each row's entries.
fn legend_rows(entries: &[Entry]) -> Vec<Vec<usize>> {
    let right = WIDTH as i32 - 10;
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut x = PLOT_LEFT;
    for (i, e) in entries.iter().enumerate() {
        let w = 28 + label_width(&e.label);
        match rows.last_mut() {
            Some(row) if x + w <= right => row.push(i),
            _ => {
                rows.push(vec![i]);
                x = PLOT_LEFT;
            }
        }
        x += w + 24;
    }
    rows
}

/// The caption and the legend, above the plotting area.
fn header(area: &Area<'_>, title: &str, entries: &[Entry]) -> Outcome {
    area.draw(&Text::new(
        title.to_string(),
        (WIDTH as i32 / 2, 8),
        TextStyle::from(("sans-serif", 17).into_font()).pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    let font = TextStyle::from(("sans-serif", LEGEND_FONT).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in legend_rows(entries).iter().enumerate() {
        let y = (CAPTION_HEIGHT + LEGEND_ROW * r as u32 + LEGEND_ROW / 2) as i32;
        let mut x = PLOT_LEFT;
        for &i in row {
            let e = &entries[i];
            match e.swatch {
                Swatch::Bar(c) => area.draw(&PathElement::new(
                    vec![(x + 10, y - 6), (x + 10, y + 6)],
                    c.stroke_width(2),
                ))?,
                Swatch::Line(c, w) => area.draw(&PathElement::new(
                    vec![(x, y), (x + 20, y)],
                    c.stroke_width(w.max(2)),
                ))?,
                Swatch::Block(c) => {
                    area.draw(&Rectangle::new([(x, y - 6), (x + 20, y + 6)], c.filled()))?
                }
                Swatch::Cross(c) => area.draw(&Cross::new((x + 10, y), 4, c.stroke_width(2)))?,
                Swatch::Dot(c) => area.draw(&Circle::new((x + 10, y), 4, c.filled()))?,
            }
            area.draw(&Text::new(e.label.clone(), (x + 28, y), font.clone()))?;
            x += 28 + label_width(&e.label) + 24;
        }
    }
    Ok(())
}

fn build<'a, 'b>(
    area: &'a Area<'b>,
    scales: &Scales,
    top: f64,
) -> Result<Chart2d<'a, SVGBackend<'b>>, Box<dyn std::error::Error>> {
    Ok(ChartBuilder::on(area)
        .margin(10)
        .margin_top(4)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(scales.x.clone(), 0.0..top)?)
}

fn overlay_body(area: &Area<'_>, scales: &Scales, flows: &[(&Connection, &Flow)]) -> Outcome {
    let top = flows
        .iter()
        .map(|(_, f)| f.segments.iter().map(|s| s.end).max().unwrap_or(0))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut chart = build(area, scales, top * 1.05)?;
    mesh(&mut chart, "sequence number (bytes, relative)")?;
    for (i, (_, f)) in flows.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart.draw_series(
            f.segments
                .iter()
                .filter(|s| s.len > 0 && ms(s.time) <= scales.x.end)
                .map(|s| Circle::new((ms(s.time), f64::from(s.end)), 2, color.filled())),
        )?;
    }
    Ok(())
}

fn time_sequence(area: &Area<'_>, scales: &Scales, c: &Connection, f: &Flow) -> Outcome {
    let mut chart = build(area, scales, scales.seq_top * 1.05)?;
    mesh(&mut chart, "sequence number (bytes, relative)")?;
    for (kind, color, _) in SEGMENT_KINDS {
        chart.draw_series(
            f.segments
                .iter()
                .filter(|s| s.kind == kind && s.len > 0 && ms(s.time) <= scales.x.end)
                .map(|s| {
                    let x = ms(s.time);
                    PathElement::new(
                        vec![(x, f64::from(s.start)), (x, f64::from(s.end))],
                        color.stroke_width(2),
                    )
                }),
        )?;
    }
    if !f.acks.is_empty() {
        let acks = step(
            f.acks.iter().map(|a| (ms(a.time), f64::from(a.ack))),
            ms(c.end).min(scales.x.end),
        );
        chart.draw_series(LineSeries::new(acks, ACK.stroke_width(1)))?;
        let edge = step(
            f.acks
                .iter()
                .map(|a| (ms(a.time), (u64::from(a.ack) + u64::from(a.window)) as f64)),
            ms(c.end).min(scales.x.end),
        );
        chart.draw_series(DashedLineSeries::new(edge, 6, 4, WINDOW.stroke_width(2)))?;
    }
    Ok(())
}

fn window(area: &Area<'_>, scales: &Scales, c: &Connection, f: &Flow) -> Outcome {
    let top = scales.window_top * 1.1;
    let mut chart = build(area, scales, top)?;
    mesh(&mut chart, "bytes")?;
    chart.draw_series(f.zero_windows.iter().map(|(from, to)| {
        let end = to.map_or(ms(c.end), ms).min(scales.x.end);
        Rectangle::new([(ms(*from).min(end), 0.0), (end, top)], SHADE.filled())
    }))?;
    if !f.acks.is_empty() {
        let w = step(
            f.acks.iter().map(|a| (ms(a.time), f64::from(a.window))),
            ms(c.end).min(scales.x.end),
        );
        chart.draw_series(LineSeries::new(w, WINDOW.stroke_width(2)))?;
    }
    if !f.in_flight.is_empty() {
        let fl = step(
            f.in_flight.iter().map(|(t, b)| (ms(*t), *b as f64)),
            ms(c.end).min(scales.x.end),
        );
        chart.draw_series(LineSeries::new(fl, FLIGHT.stroke_width(2)))?;
    }
    Ok(())
}

fn queue(area: &Area<'_>, scales: &Scales, l: &LinkSeries, top: f64) -> Outcome {
    let mut chart = build(area, scales, top * 1.1)?;
    mesh(&mut chart, "bytes queued")?;
    let last = l.queue.last().map_or(0.0, |(t, _)| ms(*t));
    let q = step(
        l.queue.iter().map(|(t, b)| (ms(*t), *b as f64)),
        last.min(scales.x.end),
    );
    chart.draw_series(LineSeries::new(q, DATA.stroke_width(1)))?;
    let peak = queue_peak(l) as f64;
    chart.draw_series(
        l.drops
            .iter()
            .filter(|(t, _)| ms(*t) <= scales.x.end)
            .map(|(t, _)| Cross::new((ms(*t), peak), 4, RETRANSMIT.stroke_width(2))),
    )?;
    Ok(())
}

/// The decimals y labels need to tell apart steps of about a tenth of `top`.
fn decimals(top: f64) -> usize {
    if top >= 10.0 {
        0
    } else if top >= 1.0 {
        1
    } else {
        // 0.05 → 2, 0.005 → 3...
        (1.0 - top.log10().floor()).clamp(1.0, 6.0) as usize
    }
}

fn goodput(area: &Area<'_>, scales: &Scales, flows: &[&Flow], bucket: SimDuration) -> Outcome {
    let width = bucket.as_nanos().max(1);
    let rate = |bytes: u64| bytes as f64 * 8.0 / bucket.as_secs_f64().max(1e-9);
    let peak = flows
        .iter()
        .flat_map(|f| f.goodput.iter().map(|(_, b)| rate(*b)))
        .fold(0.0, f64::max);
    let (unit, scale) = if peak >= 1e6 {
        ("Mbit/s", 1e6)
    } else if peak >= 1e3 {
        ("kbit/s", 1e3)
    } else {
        ("bit/s", 1.0)
    };
    let top = (peak / scale).max(1e-6) * 1.1;
    let mut chart = build(area, scales, top)?;
    mesh_with(&mut chart, &format!("goodput ({unit})"), decimals(top))?;
    for (i, f) in flows.iter().enumerate() {
        // A step per bucket, from the first with data acknowledged to the
        // last, empty ones at 0.
        let mut points: Vec<(f64, f64)> = Vec::new();
        let mut next: Option<u64> = None;
        let hold = |points: &mut Vec<(f64, f64)>, start: u64, value: f64| {
            let (a, b) = (start as f64 / 1e6, (start + width) as f64 / 1e6);
            if a <= scales.x.end && b >= scales.x.start {
                points.push((a.max(scales.x.start), value));
                points.push((b.min(scales.x.end), value));
            }
        };
        for (t, bytes) in &f.goodput {
            let start = t.as_nanos();
            if let Some(mut gap) = next {
                while gap < start {
                    hold(&mut points, gap, 0.0);
                    gap += width;
                }
            }
            hold(&mut points, start, rate(*bytes) / scale);
            next = Some(start + width);
        }
        let color = PALETTE[i % PALETTE.len()];
        chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
    }
    Ok(())
}

fn delay(area: &Area<'_>, scales: &Scales, b: &Bottleneck) -> Outcome {
    let peak = ms_of(b.delay.max).max(1e-6);
    let top = peak * 1.1;
    let mut chart = build(area, scales, top)?;
    mesh_with(&mut chart, "queueing delay (ms)", decimals(top))?;
    chart.draw_series(LineSeries::new(
        b.delays
            .iter()
            .map(|(t, d)| (ms(*t), ms_of(*d)))
            .filter(|(t, _)| scales.x.contains(t)),
        FLIGHT.stroke_width(1),
    ))?;
    chart.draw_series(
        b.drop_times
            .iter()
            .filter(|(t, _)| ms(*t) <= scales.x.end)
            .map(|(t, _)| Cross::new((ms(*t), peak), 4, RETRANSMIT.stroke_width(2))),
    )?;
    Ok(())
}

fn ms_of(d: SimDuration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Axes with whole-number labels and a quiet grid.
fn mesh<'a, DB: DrawingBackend + 'a>(chart: &mut Chart2d<'a, DB>, y_desc: &str) -> Outcome
where
    DB::ErrorType: 'static,
{
    mesh_with(chart, y_desc, 0)
}

/// Axes whose y labels have `decimals` decimals, and a quiet grid.
fn mesh_with<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart2d<'a, DB>,
    y_desc: &str,
    decimals: usize,
) -> Outcome
where
    DB::ErrorType: 'static,
{
    chart
        .configure_mesh()
        .x_desc("time (ms)")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.decimals$}"))
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

/// A step function through the points, held until `until` and cut there
/// (points are in time order).
fn step(points: impl Iterator<Item = (f64, f64)>, until: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        if x > until {
            break;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::bottleneck_fixture::two_flows;

    #[test]
    fn routed_runs_add_goodput_and_queueing_delay_charts() {
        let svg = render_svg(&two_flows(true), &PlotOptions::default());
        assert!(svg.contains("Goodput per flow over time (data acknowledged per 100ms)"));
        assert!(svg.contains("connection 1: a1:40000 -&gt; b:9000"), "{svg}");
        assert!(svg.contains("connection 2: a2:40000 -&gt; b:9000"), "{svg}");
        // One line per flow in its colour, besides its legend's swatch.
        let start = svg.find("Goodput per flow").unwrap_or(0);
        let chart = &svg[start
            ..svg[start..]
                .find("Queue occupancy")
                .map_or(svg.len(), |i| start + i)];
        for colour in ["#1F77B4", "#FF7F0E"] {
            let lines = chart
                .matches(&format!(
                    "<polyline fill=\"none\" opacity=\"1\" stroke=\"{colour}\""
                ))
                .count();
            assert_eq!(lines, 2, "{colour} in {chart}");
        }
        assert!(svg.contains("Queueing delay at link r -"), "{svg}");
        assert!(svg.contains("dropped frame"));
        assert!(svg.contains("goodput (kbit/s)"));
        assert!(svg.contains("queueing delay (ms)"));
        // Without routers or active queues: neither.
        let plain = render_svg(&two_flows(false), &PlotOptions::default());
        assert!(!plain.contains("Goodput per flow") && !plain.contains("Queueing delay"));
        // A chosen connection draws no link's chart.
        let one = PlotOptions {
            connection: Some(ConnectionSelector::port(9000)),
            ..PlotOptions::default()
        };
        let svg = render_svg(&two_flows(true), &one);
        assert!(svg.contains("Goodput per flow") && !svg.contains("Queueing delay"));
    }

    #[test]
    fn labels_have_the_decimals_their_range_needs() {
        assert_eq!(decimals(250.0), 0);
        assert_eq!(decimals(3.5), 1);
        assert_eq!(decimals(0.5), 2);
        assert_eq!(decimals(0.05), 3);
    }
}
