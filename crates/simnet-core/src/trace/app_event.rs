//! What an application reports about itself: [`AppEvent`], its
//! [`FieldValue`]s, and its one line for people, [`Summary`], which the
//! events a run makes by the million write only when something reads it.

use crate::socket::SocketId;
use crate::time::SimDuration;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// An application-level event: a line in the trace and data for expectations.
#[derive(Clone, Debug, PartialEq)]
pub struct AppEvent {
    /// A dotted kind, e.g. `http.response`; expectations match on it.
    /// (Kinds and field names are almost always literals: a `Cow` keeps
    /// them unallocated, which matters at millions of events a run.)
    pub kind: Cow<'static, str>,
    /// The socket it concerns, if any.
    pub socket: Option<SocketId>,
    /// One line for humans, e.g. `GET /index.html HTTP/1.1`.
    pub summary: Summary,
    /// Named values, e.g. `status = 200`, `latency = 20ms`.
    pub fields: Vec<(Cow<'static, str>, FieldValue)>,
}

/// The kind of the events that carry an SSLKEYLOGFILE line (field
/// `line`): TLS secrets, for tools (`--keylog PATH`, JSON Lines), which the
/// renderers meant for people leave out ([`AppEvent::is_secret`]).
pub const KEYLOG_KIND: &str = "tls.keylog";

impl AppEvent {
    /// Whether this event carries a secret for tools rather than something
    /// for people to read (a key log line).
    pub fn is_secret(&self) -> bool {
        self.kind == KEYLOG_KIND
    }

    /// An event with a kind and a summary.
    pub fn new(kind: impl Into<Cow<'static, str>>, summary: impl Into<String>) -> AppEvent {
        AppEvent::with_summary(kind, Summary::from(summary.into()))
    }

    /// An event whose summary is written only if something reads it
    /// ([`Summary::deferred`]): for the events a run makes by the million.
    pub fn deferred(
        kind: impl Into<Cow<'static, str>>,
        write: impl Fn(&mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync + 'static,
    ) -> AppEvent {
        AppEvent::with_summary(kind, Summary::deferred(write))
    }

    fn with_summary(kind: impl Into<Cow<'static, str>>, summary: Summary) -> AppEvent {
        AppEvent {
            kind: kind.into(),
            socket: None,
            summary,
            // Most events carry a few fields (a WebSocket frame's five):
            // one allocation, not one per doubling.
            fields: Vec::with_capacity(6),
        }
    }

    /// Attaches the socket.
    pub fn on(mut self, socket: SocketId) -> AppEvent {
        self.socket = Some(socket);
        self
    }

    /// Adds a field.
    pub fn with(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<FieldValue>,
    ) -> AppEvent {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A value attached to an application event.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// Text.
    Text(Cow<'static, str>),
    /// A signed integer (counts, bytes, status codes).
    Int(i64),
    /// A span of simulated time (latencies).
    Duration(SimDuration),
    /// A yes/no.
    Bool(bool),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Text(s) => f.write_str(s),
            FieldValue::Int(i) => write!(f, "{i}"),
            FieldValue::Duration(d) => write!(f, "{d}"),
            FieldValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl FieldValue {
    /// Text that is a literal (an opcode's name, a mode): kept without a
    /// copy, which matters at millions of events a run.
    pub const fn name(s: &'static str) -> FieldValue {
        FieldValue::Text(Cow::Borrowed(s))
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Text(Cow::Owned(s.to_string()))
    }
}
impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Text(Cow::Owned(s))
    }
}
impl From<i64> for FieldValue {
    fn from(i: i64) -> Self {
        FieldValue::Int(i)
    }
}
impl From<u64> for FieldValue {
    fn from(i: u64) -> Self {
        FieldValue::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<usize> for FieldValue {
    fn from(i: usize) -> Self {
        FieldValue::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<u16> for FieldValue {
    fn from(i: u16) -> Self {
        FieldValue::Int(i64::from(i))
    }
}
impl From<u32> for FieldValue {
    fn from(i: u32) -> Self {
        FieldValue::Int(i64::from(i))
    }
}
impl From<SimDuration> for FieldValue {
    fn from(d: SimDuration) -> Self {
        FieldValue::Duration(d)
    }
}
impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}

/// An application event's one line for people, e.g. `GET /index.html
/// HTTP/1.1`.
///
/// Most events write it when they are made. The events a load test makes
/// by the million (a WebSocket frame, a Pong) defer it instead: it is
/// written when something reads it ([`Summary::text`], `Display`), which a
/// run whose outputs are all aggregates (`--format summary`, csv) never
/// does, and once when a stored trace keeps the event ([`Summary::settle`]).
/// Either way the text is the same, so no output can tell them apart.
#[derive(Clone)]
pub struct Summary(Repr);

#[derive(Clone)]
enum Repr {
    Text(String),
    Deferred(Arc<dyn Fn(&mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync>),
}

impl Summary {
    /// A summary written by `write` whenever it is read. `write` must give
    /// the same text every time: it owns what it shows.
    pub fn deferred(
        write: impl Fn(&mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync + 'static,
    ) -> Summary {
        Summary(Repr::Deferred(Arc::new(write)))
    }

    /// The text: borrowed when it is written already.
    pub fn text(&self) -> Cow<'_, str> {
        match &self.0 {
            Repr::Text(t) => Cow::Borrowed(t),
            Repr::Deferred(_) => Cow::Owned(self.to_string()),
        }
    }

    /// Writes a deferred summary once and keeps the text (what a stored
    /// trace does with every event it keeps); nothing for a written one.
    pub fn settle(&mut self) {
        if let Repr::Deferred(_) = self.0 {
            self.0 = Repr::Text(self.to_string());
        }
    }

    /// Whether it is empty. (A deferred summary is written to find out.)
    pub fn is_empty(&self) -> bool {
        self.text().is_empty()
    }

    /// Its length in bytes. (A deferred summary is written to find out.)
    pub fn len(&self) -> usize {
        self.text().len()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Text(t) => f.write_str(t),
            Repr::Deferred(write) => write(f),
        }
    }
}

impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text(), f)
    }
}

impl PartialEq for Summary {
    fn eq(&self, other: &Summary) -> bool {
        self.text() == other.text()
    }
}

impl PartialEq<str> for Summary {
    fn eq(&self, other: &str) -> bool {
        self.text() == other
    }
}

impl PartialEq<&str> for Summary {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}

impl From<String> for Summary {
    fn from(text: String) -> Summary {
        Summary(Repr::Text(text))
    }
}

impl From<&str> for Summary {
    fn from(text: &str) -> Summary {
        Summary(Repr::Text(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimTime;
    use crate::trace::{Records, TraceEvent, TraceRecord};
    use std::cell::Cell;

    thread_local! {
        static WRITES: Cell<u32> = const { Cell::new(0) };
    }

    fn counted() -> AppEvent {
        let (verb, len) = ("sent", 42);
        AppEvent::deferred("test.deferred", move |f| {
            WRITES.with(|w| w.set(w.get() + 1));
            write!(f, "frame {verb}: {len}")
        })
    }

    #[test]
    fn a_deferred_summary_is_written_only_when_read_and_reads_like_a_written_one() {
        WRITES.with(|w| w.set(0));
        let event = counted();
        assert_eq!(WRITES.with(Cell::get), 0, "making the event writes nothing");
        let written = AppEvent::new("test.deferred", "frame sent: 42");
        assert_eq!(event.summary.text(), "frame sent: 42");
        assert_eq!(event.summary.to_string(), "frame sent: 42");
        assert_eq!(event, written);
        assert_eq!(format!("{event:?}"), format!("{written:?}"));
        assert_eq!(event.summary.len(), 14);
        assert!(WRITES.with(Cell::get) >= 4);
    }

    #[test]
    fn a_stored_trace_keeps_the_text_of_a_deferred_summary() {
        WRITES.with(|w| w.set(0));
        let mut records = Records::default();
        let event = TraceEvent::App {
            host: crate::socket::HostId(0),
            app: crate::socket::AppId(0),
            event: Box::new(counted()),
        };
        records.push(TraceRecord {
            time: SimTime::ZERO,
            event,
        });
        assert_eq!(WRITES.with(Cell::get), 1, "written once, when kept");
        let Some(TraceEvent::App { event, .. }) = records.iter().next().map(|r| &r.event) else {
            panic!("the record is kept");
        };
        assert_eq!(event.summary, "frame sent: 42");
        assert!(matches!(event.summary.text(), Cow::Borrowed(_)));
        assert_eq!(WRITES.with(Cell::get), 1, "and never again");
    }
}
