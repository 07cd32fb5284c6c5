//! The record layer (RFC 8446 section 5.1, RFC 5246 section 6.2): a
//! five-byte header (content type, legacy version, length) and the
//! fragment, reassembled incrementally, and the handshake messages carried
//! across record boundaries.

use super::decrypt::RecordKeys;
use super::handshake::{Handshake, HandshakeBody};
use super::{MAX_HANDSHAKE_LEN, MAX_RECORD_LEN, WireError};
use crate::keylog::KeyLogLines;
use rustls::{AlertDescription, ContentType, HandshakeType, ProtocolVersion};
use std::fmt;
use std::sync::Arc;

const HEADER_LEN: usize = 5;
const HANDSHAKE_HEADER_LEN: usize = 4;

/// One record as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The outer content type (in TLS 1.3 every encrypted record says
    /// application data).
    pub content_type: ContentType,
    /// The legacy record version.
    pub version: ProtocolVersion,
    /// The fragment's length.
    pub length: usize,
    /// What could be read from it.
    pub content: RecordContent,
    /// Whether `content` was read by decrypting with logged keys.
    pub decrypted: bool,
}

/// An alert's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertLevel {
    /// 1.
    Warning,
    /// 2.
    Fatal,
    /// Anything else.
    Unknown(u8),
}

/// What a record carries, as far as an observer without keys can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordContent {
    /// Plaintext handshake: the messages this record completes (empty when
    /// it holds only part of one).
    Handshake(Vec<Handshake>),
    /// ChangeCipherSpec (in TLS 1.3 only for middlebox compatibility).
    ChangeCipherSpec,
    /// A plaintext alert.
    Alert {
        /// Warning or fatal.
        level: AlertLevel,
        /// Which alert.
        description: AlertDescription,
    },
    /// An encrypted record; `content_type` says what the outer header
    /// claims.
    Encrypted,
    /// Application data, decrypted: its length.
    ApplicationData {
        /// Bytes of the application's data.
        length: usize,
    },
    /// A record whose plaintext body does not parse (an alert of the wrong
    /// size, an unknown content type).
    Malformed(&'static str),
}

/// What both directions share: what the hellos said and the key log.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) tls13: bool,
    pub(crate) client_random: Option<[u8; 32]>,
    pub(crate) key_log: Option<Arc<KeyLogLines>>,
}

/// Which TLS 1.3 keys protect a direction's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    /// None yet (or TLS 1.2).
    #[default]
    Plain,
    /// 0-RTT data (client only).
    Early,
    /// The handshake's keys.
    Handshake,
    /// The first application traffic keys.
    Application,
}

#[derive(Debug, Default)]
pub(crate) struct DirectionDecoder {
    /// The TLS 1.3 key stage, and its keys once looked up.
    stage: Stage,
    keys: Option<RecordKeys>,
    /// The record being read: header and as much fragment as has come.
    record: Vec<u8>,
    /// A handshake message spanning records.
    handshake: Vec<u8>,
    /// After ChangeCipherSpec this direction's records are encrypted.
    encrypted: bool,
    failed: bool,
}

impl DirectionDecoder {
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.record.len() + self.handshake.len()
    }

    pub(crate) fn feed(
        &mut self,
        mut bytes: &[u8],
        shared: &mut Shared,
        from_client: bool,
    ) -> Vec<Result<Record, WireError>> {
        let mut out = Vec::new();
        while !bytes.is_empty() && !self.failed {
            let want = if self.record.len() < HEADER_LEN {
                HEADER_LEN - self.record.len()
            } else {
                HEADER_LEN + self.fragment_len() - self.record.len()
            };
            let n = want.min(bytes.len());
            self.record.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.record.len() == HEADER_LEN {
                let length = self.fragment_len();
                if length > MAX_RECORD_LEN {
                    self.fail(&mut out, WireError::RecordTooLong { length });
                    break;
                }
                self.record.reserve_exact(length);
            }
            if self.record.len() >= HEADER_LEN
                && self.record.len() == HEADER_LEN + self.fragment_len()
            {
                let record = std::mem::take(&mut self.record);
                match self.record_done(&record, shared, from_client) {
                    Ok(r) => out.push(Ok(r)),
                    Err(e) => self.fail(&mut out, e),
                }
            }
        }
        out
    }

    fn fail(&mut self, out: &mut Vec<Result<Record, WireError>>, e: WireError) {
        self.failed = true;
        self.record = Vec::new();
        self.handshake = Vec::new();
        out.push(Err(e));
    }

    fn fragment_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.record[3], self.record[4]]))
    }

    fn record_done(
        &mut self,
        record: &[u8],
        shared: &mut Shared,
        from_client: bool,
    ) -> Result<Record, WireError> {
        let content_type = ContentType::from(record[0]);
        let version = ProtocolVersion::from(u16::from_be_bytes([record[1], record[2]]));
        let (header, fragment) = record.split_at(HEADER_LEN);
        let mut decrypted = false;
        let content = match content_type {
            ContentType::ApplicationData if shared.tls13 || self.stage == Stage::Early => {
                match self.decrypt(header, fragment, shared, from_client) {
                    Some((inner, plain)) => {
                        decrypted = true;
                        self.plaintext_content(inner, &plain, shared)?
                    }
                    None => RecordContent::Encrypted,
                }
            }
            ContentType::ApplicationData => RecordContent::Encrypted,
            _ if self.encrypted && content_type != ContentType::ChangeCipherSpec => {
                RecordContent::Encrypted
            }
            ContentType::ChangeCipherSpec => {
                // In TLS 1.2 everything after it in this direction is
                // encrypted; TLS 1.3 encrypts with type 23 anyway.
                self.encrypted = true;
                if fragment == [1] {
                    RecordContent::ChangeCipherSpec
                } else {
                    RecordContent::Malformed("a ChangeCipherSpec is the one byte 1")
                }
            }
            _ => self.plaintext_content(content_type, fragment, shared)?,
        };
        Ok(Record {
            content_type,
            version,
            length: fragment.len(),
            content,
            decrypted,
        })
    }

    /// The content of a plaintext record (or of a decrypted one, with its
    /// inner type), moving the key stage on after the messages that
    /// change it.
    fn plaintext_content(
        &mut self,
        content_type: ContentType,
        fragment: &[u8],
        shared: &mut Shared,
    ) -> Result<RecordContent, WireError> {
        Ok(match content_type {
            ContentType::Alert => match fragment {
                [level, description] => RecordContent::Alert {
                    level: match level {
                        1 => AlertLevel::Warning,
                        2 => AlertLevel::Fatal,
                        other => AlertLevel::Unknown(*other),
                    },
                    description: AlertDescription::from(*description),
                },
                _ => RecordContent::Malformed("an alert is two bytes"),
            },
            ContentType::Handshake => {
                let messages = self.handshake_bytes(fragment, shared.tls13)?;
                for m in &messages {
                    self.after_message(m, shared);
                }
                RecordContent::Handshake(messages)
            }
            ContentType::ApplicationData => RecordContent::ApplicationData {
                length: fragment.len(),
            },
            _ => RecordContent::Malformed("unknown content type"),
        })
    }

    /// What a handshake message changes: the version, the client random,
    /// and which keys protect this direction next (RFC 8446 section 7.1).
    fn after_message(&mut self, message: &Handshake, shared: &mut Shared) {
        match (&message.body, message.kind) {
            (HandshakeBody::ClientHello(hello), _) => {
                shared.client_random = Some(hello.random);
                if hello.early_data {
                    self.enter(Stage::Early);
                }
            }
            (HandshakeBody::ServerHello(hello), _) if !hello.retry => {
                shared.tls13 = hello.version == ProtocolVersion::TLSv1_3;
                if shared.tls13 {
                    self.enter(Stage::Handshake);
                }
            }
            (_, HandshakeType::EndOfEarlyData) => self.enter(Stage::Handshake),
            (_, HandshakeType::Finished) if self.stage == Stage::Handshake => {
                self.enter(Stage::Application)
            }
            _ => {}
        }
    }

    fn enter(&mut self, stage: Stage) {
        self.stage = stage;
        self.keys = None;
    }

    /// Opens a TLS 1.3 record with the logged secret of this direction's
    /// stage. A client's first encrypted record after its ClientHello is
    /// under handshake keys; early data the server refused is followed by
    /// handshake records with no EndOfEarlyData, so a record the early
    /// keys cannot open is tried with the handshake keys.
    fn decrypt(
        &mut self,
        header: &[u8],
        fragment: &[u8],
        shared: &Shared,
        from_client: bool,
    ) -> Option<(ContentType, Vec<u8>)> {
        if self.stage == Stage::Plain && from_client {
            self.enter(Stage::Handshake);
        }
        if let Some(opened) = self.open_at_stage(header, fragment, shared, from_client) {
            return Some(opened);
        }
        if self.stage == Stage::Early {
            self.enter(Stage::Handshake);
            return self.open_at_stage(header, fragment, shared, from_client);
        }
        None
    }

    fn open_at_stage(
        &mut self,
        header: &[u8],
        fragment: &[u8],
        shared: &Shared,
        from_client: bool,
    ) -> Option<(ContentType, Vec<u8>)> {
        if self.keys.is_none() {
            let label = match (self.stage, from_client) {
                (Stage::Early, true) => "CLIENT_EARLY_TRAFFIC_SECRET",
                (Stage::Handshake, true) => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                (Stage::Handshake, false) => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                (Stage::Application, true) => "CLIENT_TRAFFIC_SECRET_0",
                (Stage::Application, false) => "SERVER_TRAFFIC_SECRET_0",
                _ => return None,
            };
            let log = shared.key_log.as_ref()?;
            let secret = log.secret(label, &shared.client_random?)?;
            self.keys = RecordKeys::from_secret(&secret);
        }
        self.keys.as_mut()?.open(header, fragment)
    }

    /// Adds a handshake record's fragment to the reassembly buffer and
    /// returns the messages it completes.
    fn handshake_bytes(
        &mut self,
        mut fragment: &[u8],
        tls13: bool,
    ) -> Result<Vec<Handshake>, WireError> {
        let mut messages = Vec::new();
        while !fragment.is_empty() {
            let want = if self.handshake.len() < HANDSHAKE_HEADER_LEN {
                HANDSHAKE_HEADER_LEN - self.handshake.len()
            } else {
                HANDSHAKE_HEADER_LEN + self.handshake_len() - self.handshake.len()
            };
            let n = want.min(fragment.len());
            self.handshake.extend_from_slice(&fragment[..n]);
            fragment = &fragment[n..];
            if self.handshake.len() == HANDSHAKE_HEADER_LEN {
                let length = self.handshake_len();
                if length > MAX_HANDSHAKE_LEN {
                    return Err(WireError::HandshakeTooLong { length });
                }
            }
            if self.handshake.len() >= HANDSHAKE_HEADER_LEN
                && self.handshake.len() == HANDSHAKE_HEADER_LEN + self.handshake_len()
            {
                let message = std::mem::take(&mut self.handshake);
                messages.push(Handshake::parse(
                    message[0],
                    &message[HANDSHAKE_HEADER_LEN..],
                    tls13,
                ));
            }
        }
        Ok(messages)
    }

    fn handshake_len(&self) -> usize {
        let h = &self.handshake;
        usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3])
    }
}

impl Record {
    /// The names of what the record carries, short enough for a diagram's
    /// arrow: `ClientHello`, `ChangeCipherSpec`, `Finished`, `Alert fatal
    /// BadCertificate`, `application data 34B`, `encrypted handshake 40B`.
    pub fn names(&self) -> Vec<String> {
        match &self.content {
            RecordContent::Handshake(messages) => messages.iter().map(Handshake::name).collect(),
            RecordContent::ChangeCipherSpec => vec!["ChangeCipherSpec".to_string()],
            RecordContent::Alert { level, description } => {
                let level = match level {
                    AlertLevel::Warning => "warning".to_string(),
                    AlertLevel::Fatal => "fatal".to_string(),
                    AlertLevel::Unknown(n) => format!("level {n}"),
                };
                vec![format!("Alert {level} {description:?}")]
            }
            RecordContent::Encrypted => {
                let what = match self.content_type {
                    ContentType::Handshake => "handshake",
                    ContentType::Alert => "alert",
                    _ => "data",
                };
                vec![format!("encrypted {what} {}B", self.length)]
            }
            RecordContent::ApplicationData { length } => {
                vec![format!("application data {length}B")]
            }
            RecordContent::Malformed(why) => vec![format!("malformed record ({why})")],
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decrypted {
            // What the outer header says, then what was inside.
            write!(f, "[decrypted] ")?;
        }
        match &self.content {
            RecordContent::Handshake(messages) if messages.is_empty() => {
                write!(f, "handshake (part of a message, {} bytes)", self.length)
            }
            RecordContent::Handshake(messages) => {
                let parts: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
                write!(f, "{}", parts.join("; "))
            }
            RecordContent::ChangeCipherSpec => write!(f, "ChangeCipherSpec"),
            RecordContent::Alert { level, description } => {
                let level = match level {
                    AlertLevel::Warning => "warning".to_string(),
                    AlertLevel::Fatal => "fatal".to_string(),
                    AlertLevel::Unknown(n) => format!("level {n}"),
                };
                write!(f, "Alert {level} {description:?}")
            }
            RecordContent::Encrypted => {
                let what = match self.content_type {
                    ContentType::Handshake => "handshake",
                    ContentType::Alert => "alert",
                    _ => "application data",
                };
                write!(f, "{what} (encrypted, {} bytes)", self.length)
            }
            RecordContent::ApplicationData { length } => {
                write!(f, "application data ({length} bytes)")
            }
            RecordContent::Malformed(why) => {
                write!(f, "{:?} record (malformed: {why})", self.content_type)
            }
        }
    }
}
