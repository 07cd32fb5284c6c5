//! The time series behind the plots, as CSV.
//!
//! One row per data point, in a long format that spreadsheets, pandas and
//! `awk` all read: `kind,connection,flow,time_ns,v1,v2,v3`.
//!
//! | kind | flow | v1 | v2 | v3 |
//! |---|---|---|---|---|
//! | `segment` | sender->receiver | first relative seq | one past the last | `new`, `retransmission`, `window-probe`, `keepalive` |
//! | `ack` | sender->receiver (the data acknowledged) | relative ack | window (bytes) | `dup` or empty |
//! | `in_flight` | sender->receiver | bytes sent, not acknowledged | | |
//! | `zero_window` | sender->receiver | end time (ns) or empty if still shut | | |
//! | `queue` | link from->to | bytes queued | | |
//! | `drop` | link from->to | reason | | |
//! | `goodput` | sender->receiver | bytes of data first acknowledged in the bucket starting at `time_ns` | bucket width (ns) | |
//! | `queue_delay` | link from->to | the queueing delay (ns) of the frame that entered the queue at `time_ns` | | |
//!
//! `connection` is the connection's number (as in the summary), empty for link rows.
//! `goodput` rows (every bucket from a flow's first with acknowledged data
//! to its last, empty ones as 0; see [`simnet_core::analysis::goodput`])
//! and `queue_delay` rows (every frame through the queue of a link
//! direction where frames waited; see
//! [`simnet_core::analysis::Bottleneck`]) are written only when the
//! topology has a router or an active queue
//! ([`simnet_core::analysis::Analysis::show_bottlenecks`]), so the CSV of a
//! run of hosts over drop-tail links is as it always was.
//! `dup` marks a duplicate ACK in RFC 5681's sense, which includes the
//! answers to 1-byte window probes while the window stays shut (the probe's
//! byte is outstanding); see [`simnet_core::analysis::AckPoint::duplicate`].

use simnet_core::SimDuration;
use simnet_core::analysis::{Analysis, Analyzer, Connection, Flow, SegmentKind};
use simnet_core::trace::{Topology, Trace, TraceRecord, TraceSink};
use std::fmt::Write;

/// Renders every series of a trace as CSV, header first: a [`SeriesCsv`]
/// fed every record.
pub fn render_series_csv(trace: &Trace) -> String {
    let mut sink = SeriesCsv::new();
    trace.replay(&mut sink);
    sink.finish(&trace.topology)
}

/// The CSV export as a [`TraceSink`]: a run streamed to it
/// ([`simnet_core::World::stream_to`]) gives [`render_series_csv`]'s bytes.
///
/// Its rows are grouped by connection and flow (every segment of a flow,
/// then its ACKs...), not in event order, so nothing can be written before
/// the run ends. It keeps the series themselves ([`Analyzer::new`]: about
/// 24 to 32 bytes per segment, ACK, in-flight point, queue point or drop,
/// less than the 40 to 70 bytes of the row each becomes) and no trace
/// record: its memory is of the order of its output's size, and grows with
/// the packets (the one streamed format that does).
#[derive(Default)]
pub struct SeriesCsv {
    analyzer: Analyzer,
}

impl SeriesCsv {
    /// An empty export.
    pub fn new() -> SeriesCsv {
        SeriesCsv {
            analyzer: Analyzer::new(),
        }
    }

    /// The CSV of everything recorded so far.
    pub fn finish(self, topology: &Topology) -> String {
        render(&self.analyzer.finish(), topology)
    }
}

impl TraceSink for SeriesCsv {
    fn record(&mut self, topology: &Topology, record: &TraceRecord) {
        self.analyzer.record(topology, record);
    }
}

fn render(analysis: &Analysis, topo: &Topology) -> String {
    let mut out = String::from("kind,connection,flow,time_ns,v1,v2,v3\n");
    for c in &analysis.connections {
        for (flow, name) in [
            (&c.to_server, flow_name(topo, c, true)),
            (&c.to_client, flow_name(topo, c, false)),
        ] {
            write_flow(&mut out, c.number, &name, flow);
            if analysis.show_bottlenecks {
                write_goodput(&mut out, c.number, &name, flow, analysis.goodput_bucket);
            }
        }
    }
    for l in &analysis.links {
        let name = format!(
            "{}->{}",
            topo.host_name(l.from),
            l.to.map_or("?", |h| topo.host_name(h))
        );
        for (t, b) in &l.queue {
            let _ = writeln!(out, "queue,,{name},{},{b},,", t.as_nanos());
        }
        for (t, r) in &l.drops {
            let _ = writeln!(out, "drop,,{name},{},{r},,", t.as_nanos());
        }
    }
    if analysis.show_bottlenecks {
        for b in &analysis.bottlenecks {
            let name = format!("{}->{}", topo.host_name(b.from), topo.host_name(b.to));
            for (t, d) in &b.delays {
                let _ = writeln!(
                    out,
                    "queue_delay,,{name},{},{},,",
                    t.as_nanos(),
                    d.as_nanos()
                );
            }
        }
    }
    out
}

/// A flow's goodput buckets, from its first with data acknowledged to its
/// last, those between without any as 0.
fn write_goodput(out: &mut String, n: usize, name: &str, f: &Flow, bucket: SimDuration) {
    let width = bucket.as_nanos().max(1);
    let mut next: Option<u64> = None;
    for (t, bytes) in &f.goodput {
        let start = t.as_nanos();
        if let Some(mut gap) = next {
            while gap < start {
                let _ = writeln!(out, "goodput,{n},{name},{gap},0,{width},");
                gap += width;
            }
        }
        let _ = writeln!(out, "goodput,{n},{name},{start},{bytes},{width},");
        next = Some(start + width);
    }
}

fn flow_name(topo: &Topology, c: &Connection, to_server: bool) -> String {
    let name = |h: Option<simnet_core::HostId>, a: std::net::SocketAddrV4| {
        format!(
            "{}:{}",
            h.map_or(a.ip().to_string(), |h| topo.host_name(h).to_string()),
            a.port()
        )
    };
    let (a, b) = (name(c.client_host, c.client), name(c.server_host, c.server));
    if to_server {
        format!("{a}->{b}")
    } else {
        format!("{b}->{a}")
    }
}

fn write_flow(out: &mut String, n: usize, name: &str, f: &Flow) {
    for s in &f.segments {
        let kind = match s.kind {
            SegmentKind::New => "new",
            SegmentKind::Retransmission => "retransmission",
            SegmentKind::WindowProbe => "window-probe",
            SegmentKind::KeepAlive => "keepalive",
        };
        let _ = writeln!(
            out,
            "segment,{n},{name},{},{},{},{kind}",
            s.time.as_nanos(),
            s.start,
            s.end
        );
    }
    for a in &f.acks {
        let dup = if a.duplicate { "dup" } else { "" };
        let _ = writeln!(
            out,
            "ack,{n},{name},{},{},{},{dup}",
            a.time.as_nanos(),
            a.ack,
            a.window
        );
    }
    for (t, b) in &f.in_flight {
        let _ = writeln!(out, "in_flight,{n},{name},{},{b},,", t.as_nanos());
    }
    for (from, to) in &f.zero_windows {
        let end = to.map_or(String::new(), |t| t.as_nanos().to_string());
        let _ = writeln!(out, "zero_window,{n},{name},{},{end},,", from.as_nanos());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::bottleneck_fixture::two_flows;

    #[test]
    fn routed_runs_add_goodput_and_queue_delay_rows() {
        let csv = render_series_csv(&two_flows(true));
        let rows: Vec<&str> = csv
            .lines()
            .filter(|l| l.starts_with("goodput") || l.starts_with("queue_delay"))
            .collect();
        assert_eq!(
            rows,
            [
                "goodput,1,a1:40000->b:9000,100000000,3000,100000000,",
                "goodput,2,a2:40000->b:9000,100000000,1000,100000000,",
                "queue_delay,,r->b,101000000,0,,",
                "queue_delay,,r->b,101000000,1040000,,",
                "queue_delay,,r->b,101000000,2080000,,",
                "queue_delay,,r->b,101000000,3120000,,",
            ]
        );
        // Without a router (nor an active queue), the CSV is as before.
        let plain = render_series_csv(&two_flows(false));
        assert!(!plain.contains("goodput") && !plain.contains("queue_delay"));
        let others: Vec<&str> = csv.lines().filter(|l| !rows.contains(l)).collect();
        assert_eq!(others.len(), plain.lines().count());
    }

    #[test]
    fn goodput_rows_fill_the_buckets_between_with_zeros() {
        let mut flow = Flow::default();
        flow.goodput = vec![
            (simnet_core::SimTime::from_millis(100), 5),
            (simnet_core::SimTime::from_millis(400), 7),
        ];
        let mut out = String::new();
        write_goodput(&mut out, 3, "x->y", &flow, SimDuration::from_millis(100));
        assert_eq!(
            out,
            "goodput,3,x->y,100000000,5,100000000,\n\
             goodput,3,x->y,200000000,0,100000000,\n\
             goodput,3,x->y,300000000,0,100000000,\n\
             goodput,3,x->y,400000000,7,100000000,\n"
        );
    }
}
