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
//! SSLKEYLOGFILE. The client's layer also reports each secret its session
//! derives as a `tls.keylog` event (one SSLKEYLOGFILE line, in the field
//! `line`), which the command line's `--keylog PATH` writes to a file; the
//! renderers for people leave these events out.

use crate::keylog::KeyLogLines;
use crate::session::{TlsClient, TlsServer};
use crate::wire::{Direction, TlsObserver};
use simnet_core::layer::{LayerError, StreamLayer};
use simnet_core::{AppEvent, SimTime};
use std::sync::Arc;

/// Either end of a TLS connection.
#[derive(Debug)]
enum Session {
    Client(TlsClient),
    Server(TlsServer),
}

/// A TLS session driven by the socket it is installed on.
#[derive(Debug)]
pub struct TlsLayer {
    session: Session,
    observer: TlsObserver,
    key_log: Option<Arc<KeyLogLines>>,
    events: Vec<AppEvent>,
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
        }
    }

    fn is_client(&self) -> bool {
        matches!(self.session, Session::Client(_))
    }

    /// Reports the records in `bytes`, which went `sent` (or came) over
    /// the wire.
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
            let text = match record {
                Ok(r) => r.to_string(),
                Err(e) => format!("undecodable: {e}"),
            };
            self.events.push(
                AppEvent::new("tls.record", format!("TLS {way}: {text}")).with("direction", way),
            );
        }
    }

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

impl StreamLayer for TlsLayer {
    fn receive(&mut self, now: SimTime, wire: &[u8]) -> Result<(), LayerError> {
        let fed = match &mut self.session {
            Session::Client(c) => c.feed(now, wire),
            Session::Server(s) => s.feed(now, wire),
        };
        // After the session has read them: the secrets that open these
        // records are logged as it does.
        self.observe(false, wire);
        fed.map_err(|e| LayerError(e.to_string()))
    }

    fn write(&mut self, _now: SimTime, plain: &[u8]) -> Result<usize, LayerError> {
        let written = match &mut self.session {
            Session::Client(c) => c.write(plain),
            Session::Server(s) => s.write(plain),
        };
        written.map_err(|e| LayerError(e.to_string()))
    }

    fn take_wire(&mut self, out: &mut Vec<u8>) {
        let bytes = match &mut self.session {
            Session::Client(c) => c.take_outgoing(),
            Session::Server(s) => s.take_outgoing(),
        };
        self.observe(true, &bytes);
        out.extend_from_slice(&bytes);
    }

    fn read(&mut self) -> Vec<u8> {
        match &mut self.session {
            Session::Client(c) => c.read(),
            Session::Server(s) => s.read(),
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
