//! `--keylog PATH`: the run's TLS secrets as an SSLKEYLOGFILE, so that
//! Wireshark or tshark decrypt the capture of the same run
//! (`tshark -r run.pcap -o tls.keylog_file:PATH`).
//!
//! The secrets travel in the trace as `tls.keylog` events, one NSS key log
//! line each (the client's TLS layer reports them as its session derives
//! them; see `simnet_tls::layer`). [`KeyLogWriter`] is a [`TraceSink`] that
//! writes those lines as the run goes and keeps nothing else.

use crate::{Topology, TraceEvent, TraceRecord, TraceSink};
use simnet_core::trace::FieldValue;
use std::io::{self, Write};

/// Writes every key log line of a run to `out`.
pub struct KeyLogWriter<W: Write> {
    out: W,
    lines: u64,
    error: Option<io::Error>,
}

impl<W: Write> KeyLogWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> KeyLogWriter<W> {
        KeyLogWriter {
            out,
            lines: 0,
            error: None,
        }
    }

    /// Flushes, and returns how many lines were written or the first write
    /// error.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.lines)
    }
}

impl<W: Write> TraceSink for KeyLogWriter<W> {
    fn record(&mut self, _topology: &Topology, record: &TraceRecord) {
        let TraceEvent::App { event, .. } = &record.event else {
            return;
        };
        if !event.is_secret() || self.error.is_some() {
            return;
        }
        if let Some(FieldValue::Text(line)) = event.field("line") {
            match writeln!(self.out, "{line}") {
                Ok(()) => self.lines += 1,
                Err(e) => self.error = Some(e),
            }
        }
    }
}
