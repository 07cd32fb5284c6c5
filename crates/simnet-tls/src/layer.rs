//! A TLS session as a socket's stream layer ([`simnet_core::layer`]): an
//! application connects (or accepts), installs a [`TlsLayer`] with
//! `AppContext::set_layer`, and reads and writes plaintext as before, while
//! the packets carry TLS records.
//!
//! Every record in either direction is reported as a `tls.record` event of
//! the socket's owner, at the instant the layer handled it: sent records
//! when the session produced them, received ones when the application's
//! read handed them to the session. With a key log
//! ([`TlsLayer::with_key_log`]), TLS 1.3's encrypted handshake
//! (EncryptedExtensions, Certificate, CertificateVerify, Finished,
//! NewSessionTicket) is shown opened, as Wireshark shows it with an
//! SSLKEYLOGFILE. An alert's record also carries its name and level as
//! fields (`alert = "CertificateExpired"`, `level = "fatal"`).
//!
//! Once the handshake is over at this end the layer reports how it went
//! as a `tls.handshake` event ([`EVENT_FIELDS`] lists the fields): the
//! version and suite, whether a session was resumed and whether a
//! Certificate message crossed, what became of 0-RTT early data, how many
//! round trips this end waited for its peer and for how long, and how
//! many bytes of handshake records crossed each way. A handshake that
//! fails is reported as `tls.failed`, with the fatal alert sent or
//! received.
//!
//! A client that resumes a TLS 1.3 session allowing early data sends what
//! the application writes during the handshake as 0-RTT data, up to the
//! server's limit; what does not fit waits in the layer until the
//! handshake is over. If the server turns the early data down, the layer
//! sends it again after the handshake, so the application sees an
//! ordinary stream either way. A server layer hands the application the
//! early data first, then the rest.
//!
//! The client's layer also reports each secret its session derives as a
//! `tls.keylog` event (one SSLKEYLOGFILE line, in the field `line`), which
//! the command line's `--keylog PATH` writes to a file; the renderers for
//! people leave these events out.

use crate::TlsVersion;
use crate::keylog::KeyLogLines;
use crate::session::{TlsClient, TlsServer};
use crate::wire::{AlertLevel, Direction, Record, RecordContent, TlsObserver};
use rustls::{ContentType, HandshakeType};
use simnet_core::layer::{LayerError, StreamLayer};
use simnet_core::{AppEvent, SimTime};
use std::sync::Arc;

/// The application events a [`TlsLayer`] reports (and `layer.failed`,
/// which the host reports when a layer fails), for an application
/// registry.
pub const EVENT_KINDS: &[&str] = &[
    "layer.failed",
    "tls.failed",
    "tls.handshake",
    "tls.keylog",
    "tls.record",
];

/// The fields of [`EVENT_KINDS`]:
///
/// - `tls.record`: `direction` (`sent` or `received`); an alert's `alert`
///   (its name, e.g. `CertificateExpired`) and `level` (`fatal`,
///   `warning`).
/// - `tls.handshake`: `version` (`1.3`, `1.2`), `suite`, `alpn` (the
///   application protocol agreed, e.g. `http/1.1`, when one was), `resumed`,
///   `certificate` (whether a Certificate message crossed), `early_data`
///   (`accepted`, `rejected` or `none`), `round_trips` (the times this end
///   waited for its peer's next flight), `duration` (from the session's
///   start, the ClientHello for a client, to the end of the handshake),
///   `bytes_sent` and `bytes_received` (handshake records, headers
///   included, up to and with the flight that ended the handshake here:
///   not application data nor TLS 1.3's session tickets, which come
///   after the handshake).
/// - `tls.failed`: `reason`, and the fatal `alert` with its `direction`.
/// - `tls.keylog` (a client's only): `label` and `line`, one SSLKEYLOGFILE
///   line.
pub const EVENT_FIELDS: &[&str] = &[
    "alert",
    "alpn",
    "bytes_received",
    "bytes_sent",
    "certificate",
    "direction",
    "duration",
    "early_data",
    "label",
    "level",
    "line",
    "reason",
    "resumed",
    "round_trips",
    "suite",
    "version",
];

/// The fields of [`EVENT_KINDS`] that are durations.
pub const DURATION_FIELDS: &[&str] = &["duration"];

/// The most plaintext a client holds back while its 0-RTT data is in
/// flight (what rustls itself holds before a handshake ends).
const HELD_MAX: usize = 64 * 1024;

/// Either end of a TLS connection.
#[derive(Debug)]
enum Session {
    Client(TlsClient),
    Server(TlsServer),
}

impl Session {
    fn is_handshaking(&self) -> bool {
        match self {
            Session::Client(c) => c.is_handshaking(),
            Session::Server(s) => s.is_handshaking(),
        }
    }
}

/// What the layer has seen of the handshake so far.
#[derive(Debug, Default)]
struct Progress {
    /// When the handshake ended at this end (reported at the next
    /// `take_wire`, once this end's last flight is counted).
    completed_at: Option<SimTime>,
    /// `tls.handshake` (or `tls.failed`) has been reported: stop counting.
    reported: bool,
    /// The last handshake record crossed from this end.
    awaiting_peer: bool,
    round_trips: u64,
    bytes_sent: u64,
    bytes_received: u64,
    certificate: bool,
    /// The last fatal alert, and which way it went.
    fatal_alert: Option<(String, &'static str)>,
    /// Why the session failed, once it has.
    failure: Option<String>,
}

/// A client's 0-RTT data: what went as early data, and what the
/// application wrote after it, held until the handshake ends.
#[derive(Debug, Default)]
struct Early {
    /// Some early data went out.
    offered: bool,
    sent: Vec<u8>,
    held: Vec<u8>,
    /// The handshake ended: `held` (and `sent`, if turned down) are
    /// written as ordinary data.
    settled: bool,
}

/// A TLS session driven by the socket it is installed on.
#[derive(Debug)]
pub struct TlsLayer {
    session: Session,
    observer: TlsObserver,
    key_log: Option<Arc<KeyLogLines>>,
    events: Vec<AppEvent>,
    progress: Progress,
    early: Early,
}

impl TlsLayer {
    /// The client end: its ClientHello goes out as soon as it is installed.
    pub fn client(session: TlsClient) -> TlsLayer {
        TlsLayer::new(Session::Client(session), TlsObserver::new())
    }

    /// The server end.
    pub fn server(session: TlsServer) -> TlsLayer {
        TlsLayer::new(Session::Server(session), TlsObserver::new())
    }

    /// Decrypts TLS 1.3 records for the trace with the secrets in `log`
    /// (the key log the session's configuration writes to).
    pub fn with_key_log(mut self, log: Arc<KeyLogLines>) -> TlsLayer {
        self.observer = TlsObserver::with_key_log(log.clone());
        self.key_log = Some(log);
        self
    }

    fn new(session: Session, observer: TlsObserver) -> TlsLayer {
        TlsLayer {
            session,
            observer,
            key_log: None,
            events: Vec::new(),
            progress: Progress::default(),
            early: Early::default(),
        }
    }

    fn is_client(&self) -> bool {
        matches!(self.session, Session::Client(_))
    }

    /// Reports the records in `bytes`, which went `sent` (or came) over
    /// the wire, and counts the handshake's.
    fn observe(&mut self, sent: bool, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let direction = if sent == self.is_client() {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let way = if sent { "sent" } else { "received" };
        for record in self.observer.feed(direction, bytes) {
            let mut event = match &record {
                Ok(r) => AppEvent::new("tls.record", format!("TLS {way}: {r}")),
                Err(e) => AppEvent::new("tls.record", format!("TLS {way}: undecodable: {e}")),
            }
            .with("direction", way);
            if let Ok(r) = &record {
                if let RecordContent::Alert { level, description } = &r.content {
                    let level = match level {
                        AlertLevel::Warning => "warning".to_string(),
                        AlertLevel::Fatal => "fatal".to_string(),
                        AlertLevel::Unknown(n) => format!("level {n}"),
                    };
                    let name = format!("{description:?}");
                    if level == "fatal" {
                        self.progress.fatal_alert = Some((name.clone(), way));
                    }
                    event = event.with("alert", name).with("level", level);
                }
                self.count(sent, r);
            }
            self.events.push(event);
        }
    }

    /// Counts `record` towards the handshake's bytes and round trips.
    fn count(&mut self, sent: bool, record: &Record) {
        let p = &mut self.progress;
        if p.reported || !is_handshake(record, self.observer.is_tls13()) {
            return;
        }
        if let RecordContent::Handshake(messages) = &record.content
            && messages
                .iter()
                .any(|m| m.kind == HandshakeType::Certificate)
        {
            p.certificate = true;
        }
        let bytes = 5 + record.length as u64;
        if sent {
            p.bytes_sent += bytes;
            p.awaiting_peer = true;
        } else {
            p.bytes_received += bytes;
            if p.awaiting_peer {
                p.round_trips += 1;
                p.awaiting_peer = false;
            }
        }
    }

    /// After the handshake ends: the held plaintext (and the early data,
    /// if the server turned it down) goes as ordinary data, in order.
    fn settle_early(&mut self) -> Result<(), LayerError> {
        let Session::Client(c) = &mut self.session else {
            return Ok(());
        };
        if self.early.settled || c.is_handshaking() {
            return Ok(());
        }
        self.early.settled = true;
        let mut sent = std::mem::take(&mut self.early.sent);
        if !c.is_early_data_accepted() {
            sent.append(&mut self.early.held);
            self.early.held = sent;
        }
        self.write_held()
    }

    /// Writes what the layer holds into the session, as much as it takes.
    fn write_held(&mut self) -> Result<(), LayerError> {
        let Session::Client(c) = &mut self.session else {
            return Ok(());
        };
        if !self.early.settled || self.early.held.is_empty() {
            return Ok(());
        }
        let n = c
            .write(&self.early.held)
            .map_err(|e| LayerError(e.to_string()))?;
        self.early.held.drain(..n);
        Ok(())
    }

    /// The client's write while its handshake is going on: 0-RTT data if
    /// the session allows it, else `None` (rustls holds the plaintext).
    fn write_early(&mut self, plain: &[u8]) -> Option<usize> {
        let Session::Client(c) = &mut self.session else {
            return None;
        };
        if self.early.settled || !c.is_handshaking() {
            return None;
        }
        let mut taken = 0;
        if self.early.held.is_empty() {
            taken = c.write_early(plain);
            self.early.sent.extend_from_slice(&plain[..taken]);
            self.early.offered |= taken > 0;
        }
        if self.early.sent.is_empty() {
            return None;
        }
        let room = HELD_MAX.saturating_sub(self.early.held.len());
        let more = room.min(plain.len() - taken);
        self.early
            .held
            .extend_from_slice(&plain[taken..taken + more]);
        Some(taken + more)
    }

    /// The `tls.handshake` event, once the handshake is over and this
    /// end's last flight has been counted.
    fn report(&mut self) {
        let Some(done) = self.progress.completed_at else {
            return;
        };
        if self.progress.reported {
            return;
        }
        self.progress.reported = true;
        let (summary, started, early) = match &self.session {
            Session::Client(c) => {
                let early = match (self.early.offered, c.is_early_data_accepted()) {
                    (false, _) => "none",
                    (true, true) => "accepted",
                    (true, false) => "rejected",
                };
                (c.summary(), c.started_at(), early)
            }
            Session::Server(s) => {
                let early = if s.is_early_data_accepted() {
                    "accepted"
                } else {
                    "none"
                };
                (s.summary(), s.started_at(), early)
            }
        };
        let Some(summary) = summary else {
            return;
        };
        let p = &self.progress;
        let duration = done.saturating_since(started);
        let version = match summary.version {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        };
        let kind = if summary.resumed { "resumed" } else { "full" };
        let early_text = match early {
            "none" => String::new(),
            other => format!(", 0-RTT data {other}"),
        };
        let trips = match p.round_trips {
            1 => "1 round trip".to_string(),
            n => format!("{n} round trips"),
        };
        let alpn = summary
            .alpn
            .as_deref()
            .map(|a| String::from_utf8_lossy(a).into_owned());
        let alpn_text = match &alpn {
            Some(a) => format!(" ({a})"),
            None => String::new(),
        };
        let text = format!(
            "TLS handshake done: {}{alpn_text} {kind}{early_text}, {trips}, {duration}; handshake records {} bytes sent, {} received",
            summary.version.name(),
            p.bytes_sent,
            p.bytes_received,
        );
        let mut event = AppEvent::new("tls.handshake", text)
            .with("version", version)
            .with("suite", summary.cipher_suite);
        if let Some(alpn) = alpn {
            event = event.with("alpn", alpn);
        }
        self.events.push(
            event
                .with("resumed", summary.resumed)
                .with("certificate", p.certificate)
                .with("early_data", early)
                .with("round_trips", p.round_trips)
                .with("duration", duration)
                .with("bytes_sent", p.bytes_sent)
                .with("bytes_received", p.bytes_received),
        );
    }

    /// The `tls.failed` event, once the session has failed and its alert
    /// (if it sends one) has been seen.
    fn report_failure(&mut self) {
        let Some(reason) = self.progress.failure.take() else {
            return;
        };
        self.progress.reported = true;
        let mut event = AppEvent::new("tls.failed", format!("TLS failed: {reason}"))
            .with("reason", reason.clone());
        if let Some((alert, way)) = &self.progress.fatal_alert {
            event = AppEvent::new(
                "tls.failed",
                format!("TLS failed ({alert} {way}): {reason}"),
            )
            .with("reason", reason)
            .with("alert", alert.clone())
            .with("direction", *way);
        }
        self.events.push(event);
    }
}

/// Whether `record` belongs to the handshake (or is an alert) rather than
/// carrying application data or, in TLS 1.3, session tickets.
fn is_handshake(record: &Record, tls13: bool) -> bool {
    match &record.content {
        RecordContent::ApplicationData { .. } => false,
        RecordContent::Handshake(messages) => {
            !(tls13
                && !messages.is_empty()
                && messages
                    .iter()
                    .all(|m| m.kind == HandshakeType::NewSessionTicket))
        }
        // Without the key log a TLS 1.3 record cannot be told apart from
        // application data; TLS 1.2's are typed in the clear.
        RecordContent::Encrypted => record.content_type != ContentType::ApplicationData,
        _ => true,
    }
}

impl StreamLayer for TlsLayer {
    fn receive(&mut self, now: SimTime, wire: &[u8]) -> Result<(), LayerError> {
        let was_handshaking = self.session.is_handshaking();
        let fed = match &mut self.session {
            Session::Client(c) => c.feed(now, wire),
            Session::Server(s) => s.feed(now, wire),
        };
        // After the session has read them: the secrets that open these
        // records are logged as it does.
        self.observe(false, wire);
        if let Err(e) = &fed {
            if self.progress.failure.is_none() && !self.progress.reported {
                self.progress.failure = Some(e.to_string());
            }
        } else if was_handshaking && !self.session.is_handshaking() {
            self.progress.completed_at = Some(now);
            self.settle_early()?;
        }
        fed.map_err(|e| LayerError(e.to_string()))
    }

    fn write(&mut self, _now: SimTime, plain: &[u8]) -> Result<usize, LayerError> {
        if let Some(taken) = self.write_early(plain) {
            return Ok(taken);
        }
        if !self.early.held.is_empty() {
            // Still draining what was held: nothing overtakes it.
            self.write_held()?;
            if !self.early.held.is_empty() {
                return Ok(0);
            }
        }
        let written = match &mut self.session {
            Session::Client(c) => c.write(plain),
            Session::Server(s) => s.write(plain),
        };
        written.map_err(|e| LayerError(e.to_string()))
    }

    fn take_wire(&mut self, out: &mut Vec<u8>) {
        let mut bytes = Vec::new();
        loop {
            match &mut self.session {
                Session::Client(c) => bytes.extend(c.take_outgoing()),
                Session::Server(s) => bytes.extend(s.take_outgoing()),
            }
            // Held plaintext goes as rustls makes room for it; an error
            // shows on the application's next write.
            let before = self.early.held.len();
            if before == 0 || self.write_held().is_err() || self.early.held.len() == before {
                break;
            }
        }
        self.observe(true, &bytes);
        self.report();
        self.report_failure();
        out.extend_from_slice(&bytes);
    }

    fn read(&mut self) -> Vec<u8> {
        match &mut self.session {
            Session::Client(c) => c.read(),
            Session::Server(s) => {
                // 0-RTT data came first.
                let mut plain = s.read_early();
                plain.extend(s.read());
                plain
            }
        }
    }

    fn peer_closed(&self) -> bool {
        match &self.session {
            Session::Client(c) => c.is_peer_closed(),
            Session::Server(s) => s.is_peer_closed(),
        }
    }

    fn close(&mut self, _now: SimTime) {
        match &mut self.session {
            Session::Client(c) => c.close_notify(),
            Session::Server(s) => s.close_notify(),
        }
    }

    fn take_events(&mut self) -> Vec<AppEvent> {
        self.report_secrets();
        std::mem::take(&mut self.events)
    }
}

impl TlsLayer {
    /// Reports the secrets the client's session derived since the last
    /// call, as `tls.keylog` events (the server's are the same ones).
    fn report_secrets(&mut self) {
        let (Some(log), Some(random)) = (&self.key_log, self.observer.client_random()) else {
            return;
        };
        if !self.is_client() {
            return;
        }
        for line in log.take_new(&random) {
            let label = line.split(' ').next().unwrap_or_default().to_string();
            self.events.push(
                AppEvent::new(KEYLOG_KIND, format!("TLS secret logged: {label}"))
                    .with("label", label)
                    .with("line", line),
            );
        }
    }
}

/// The kind of the events that carry key log lines.
pub const KEYLOG_KIND: &str = simnet_core::trace::KEYLOG_KIND;

impl Drop for TlsLayer {
    /// The connection is over: its secrets leave the application's log
    /// (they were reported when derived).
    fn drop(&mut self) {
        if let (Some(log), Some(random)) = (&self.key_log, self.observer.client_random()) {
            log.forget(&random);
        }
    }
}
