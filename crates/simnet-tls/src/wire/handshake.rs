//! Handshake messages (RFC 8446 section 4, RFC 5246 section 7.4) parsed
//! into what simnet shows: for a ClientHello the name asked for (SNI), the
//! ALPN protocols, versions, cipher suites, key-share groups and whether a
//! PSK or early data is offered; for a ServerHello the version, suite and
//! group chosen; the sizes of certificates, signatures and tickets.
//!
//! A body that does not parse is shown as malformed with the reason; it
//! never stops the stream (the record layer decides that). Certificates
//! are counted and measured, not decoded as X.509.

use super::cursor::Cursor;
use rustls::{CipherSuite, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme};
use std::fmt;

/// The `random` of a ServerHello that is really a HelloRetryRequest
/// (RFC 8446 section 4.1.3: SHA-256 of "HelloRetryRequest").
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

// Extension numbers (IANA "TLS ExtensionType Values").
const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_ALPN: u16 = 16;
const EXT_SESSION_TICKET: u16 = 35;
const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_EARLY_DATA: u16 = 42;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;

/// One complete handshake message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The message type.
    pub kind: HandshakeType,
    /// The body's length in bytes.
    pub length: usize,
    /// What simnet read from the body.
    pub body: HandshakeBody,
}

/// The parts of a handshake body simnet shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeBody {
    /// ClientHello.
    ClientHello(ClientHello),
    /// ServerHello (or HelloRetryRequest).
    ServerHello(ServerHello),
    /// TLS 1.3 EncryptedExtensions: the extensions' names, ALPN chosen and
    /// whether early data was accepted.
    EncryptedExtensions {
        /// The protocol the server chose.
        alpn: Option<String>,
        /// Whether the server accepts the client's 0-RTT data.
        early_data: bool,
    },
    /// Certificate: how many, and their sizes.
    Certificate {
        /// DER length of each certificate, leaf first.
        cert_lengths: Vec<usize>,
    },
    /// CertificateVerify: the signature scheme.
    CertificateVerify {
        /// The scheme used.
        scheme: SignatureScheme,
    },
    /// TLS 1.2 ServerKeyExchange (ECDHE): the group and signature scheme.
    ServerKeyExchange {
        /// The curve the server chose.
        group: NamedGroup,
        /// The signature's scheme.
        scheme: Option<SignatureScheme>,
    },
    /// TLS 1.2 ClientKeyExchange: the size of the client's public key.
    ClientKeyExchange {
        /// Bytes of the client's ECDHE public key.
        public_key_len: usize,
    },
    /// NewSessionTicket.
    NewSessionTicket {
        /// Lifetime in seconds.
        lifetime_secs: u32,
        /// Bytes of the ticket.
        ticket_len: usize,
        /// TLS 1.3: the early data the ticket allows (0 if none).
        max_early_data: u32,
    },
    /// Finished: the length of its verify_data.
    Finished {
        /// 12 in TLS 1.2, the hash length in TLS 1.3.
        verify_data_len: usize,
    },
    /// A message with nothing more to show (ServerHelloDone,
    /// EndOfEarlyData, ...).
    Empty,
    /// The body did not parse.
    Malformed(&'static str),
}

/// What a ClientHello offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// The client's random, which names the connection in a key log.
    pub random: [u8; 32],
    /// The server name asked for (SNI).
    pub server_name: Option<String>,
    /// ALPN protocols, most preferred first.
    pub alpn: Vec<String>,
    /// Versions offered in `supported_versions` (empty: only TLS 1.2 and
    /// older, by `legacy_version`).
    pub versions: Vec<ProtocolVersion>,
    /// Cipher suites offered.
    pub cipher_suites: Vec<CipherSuite>,
    /// Groups offered in `supported_groups`.
    pub groups: Vec<NamedGroup>,
    /// Groups for which a key share is sent.
    pub key_shares: Vec<NamedGroup>,
    /// PSK identities offered (TLS 1.3 resumption).
    pub psk_identities: usize,
    /// A TLS 1.2 session ticket offered (its length; `Some(0)` asks for a
    /// new one).
    pub session_ticket_len: Option<usize>,
    /// Length of the legacy session id (a 1.2 resumption by id, or 1.3's
    /// compatibility mode).
    pub session_id_len: usize,
    /// The client sends 0-RTT data.
    pub early_data: bool,
}

/// What a ServerHello chooses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// A HelloRetryRequest rather than a ServerHello.
    pub retry: bool,
    /// The version chosen (`supported_versions`, else `legacy_version`).
    pub version: ProtocolVersion,
    /// The cipher suite chosen.
    pub cipher_suite: CipherSuite,
    /// TLS 1.3: the key-share group (or, in a retry, the group asked for).
    pub key_share: Option<NamedGroup>,
    /// TLS 1.3: the PSK identity accepted (resumption).
    pub psk_selected: Option<u16>,
    /// TLS 1.2: the ALPN protocol chosen.
    pub alpn: Option<String>,
    /// TLS 1.2: the server will send a NewSessionTicket.
    pub will_send_ticket: bool,
    /// Length of the echoed legacy session id.
    pub session_id_len: usize,
}

impl Handshake {
    /// Parses a whole handshake message's body. `tls13` says which
    /// version's format applies to the messages that differ
    /// (Certificate, NewSessionTicket).
    pub(crate) fn parse(kind: u8, body: &[u8], tls13: bool) -> Handshake {
        let kind = HandshakeType::from(kind);
        let parsed = match kind {
            HandshakeType::ClientHello => client_hello(body).map(HandshakeBody::ClientHello),
            HandshakeType::ServerHello => server_hello(body).map(HandshakeBody::ServerHello),
            HandshakeType::EncryptedExtensions => encrypted_extensions(body),
            HandshakeType::Certificate => certificate(body, tls13),
            HandshakeType::CertificateVerify => {
                let mut c = Cursor::new(body);
                c.u16().map(|s| HandshakeBody::CertificateVerify {
                    scheme: SignatureScheme::from(s),
                })
            }
            HandshakeType::ServerKeyExchange => server_key_exchange(body),
            HandshakeType::ClientKeyExchange => {
                let mut c = Cursor::new(body);
                c.vec8().map(|k| HandshakeBody::ClientKeyExchange {
                    public_key_len: k.len(),
                })
            }
            HandshakeType::NewSessionTicket => new_session_ticket(body, tls13),
            HandshakeType::Finished => Some(HandshakeBody::Finished {
                verify_data_len: body.len(),
            }),
            _ => Some(HandshakeBody::Empty),
        };
        Handshake {
            kind,
            length: body.len(),
            body: parsed.unwrap_or(HandshakeBody::Malformed(
                "truncated or inconsistent lengths",
            )),
        }
    }
}

fn extensions<'a>(c: &mut Cursor<'a>) -> Option<Vec<(u16, Cursor<'a>)>> {
    if c.is_empty() {
        return Some(Vec::new());
    }
    let mut list = c.vec16()?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let kind = list.u16()?;
        let data = list.vec16()?;
        out.push((kind, data));
    }
    Some(out)
}

fn alpn_list(mut data: Cursor<'_>) -> Option<Vec<String>> {
    let mut list = data.vec16()?;
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(String::from_utf8_lossy(list.vec8()?.rest()).into_owned());
    }
    Some(out)
}

fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut c = Cursor::new(body);
    let mut hello = ClientHello::default();
    c.u16()?;
    hello.random = c.take(32)?.try_into().ok()?;
    hello.session_id_len = c.vec8()?.len();
    let mut suites = c.vec16()?;
    while !suites.is_empty() {
        hello.cipher_suites.push(CipherSuite::from(suites.u16()?));
    }
    c.vec8()?;
    for (kind, mut data) in extensions(&mut c)? {
        match kind {
            EXT_SERVER_NAME => {
                let mut list = data.vec16()?;
                while !list.is_empty() {
                    let name_type = list.u8()?;
                    let name = list.vec16()?.rest();
                    if name_type == 0 {
                        hello.server_name = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            EXT_ALPN => hello.alpn = alpn_list(data)?,
            EXT_SUPPORTED_VERSIONS => {
                let mut list = data.vec8()?;
                while !list.is_empty() {
                    hello.versions.push(ProtocolVersion::from(list.u16()?));
                }
            }
            EXT_SUPPORTED_GROUPS => {
                let mut list = data.vec16()?;
                while !list.is_empty() {
                    hello.groups.push(NamedGroup::from(list.u16()?));
                }
            }
            EXT_KEY_SHARE => {
                let mut list = data.vec16()?;
                while !list.is_empty() {
                    hello.key_shares.push(NamedGroup::from(list.u16()?));
                    list.vec16()?;
                }
            }
            EXT_PRE_SHARED_KEY => {
                let mut identities = data.vec16()?;
                while !identities.is_empty() {
                    identities.vec16()?;
                    identities.u32()?;
                    hello.psk_identities += 1;
                }
            }
            EXT_SESSION_TICKET => hello.session_ticket_len = Some(data.len()),
            EXT_EARLY_DATA => hello.early_data = true,
            _ => {}
        }
    }
    Some(hello)
}

fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut c = Cursor::new(body);
    let legacy_version = c.u16()?;
    let random = c.take(32)?;
    let session_id_len = c.vec8()?.len();
    let cipher_suite = CipherSuite::from(c.u16()?);
    c.u8()?;
    let mut hello = ServerHello {
        retry: random == HELLO_RETRY_RANDOM,
        version: ProtocolVersion::from(legacy_version),
        cipher_suite,
        key_share: None,
        psk_selected: None,
        alpn: None,
        will_send_ticket: false,
        session_id_len,
    };
    for (kind, mut data) in extensions(&mut c)? {
        match kind {
            EXT_SUPPORTED_VERSIONS => hello.version = ProtocolVersion::from(data.u16()?),
            EXT_KEY_SHARE => hello.key_share = Some(NamedGroup::from(data.u16()?)),
            EXT_PRE_SHARED_KEY => hello.psk_selected = Some(data.u16()?),
            EXT_ALPN => hello.alpn = alpn_list(data)?.into_iter().next(),
            EXT_SESSION_TICKET => hello.will_send_ticket = true,
            _ => {}
        }
    }
    Some(hello)
}

fn encrypted_extensions(body: &[u8]) -> Option<HandshakeBody> {
    let mut c = Cursor::new(body);
    let mut alpn = None;
    let mut early_data = false;
    for (kind, data) in extensions(&mut c)? {
        match kind {
            EXT_ALPN => alpn = alpn_list(data)?.into_iter().next(),
            EXT_EARLY_DATA => early_data = true,
            _ => {}
        }
    }
    Some(HandshakeBody::EncryptedExtensions { alpn, early_data })
}

fn certificate(body: &[u8], tls13: bool) -> Option<HandshakeBody> {
    let mut c = Cursor::new(body);
    if tls13 {
        c.vec8()?;
    }
    let mut list = c.vec24()?;
    let mut cert_lengths = Vec::new();
    while !list.is_empty() {
        cert_lengths.push(list.vec24()?.len());
        if tls13 {
            list.vec16()?;
        }
    }
    Some(HandshakeBody::Certificate { cert_lengths })
}

fn server_key_exchange(body: &[u8]) -> Option<HandshakeBody> {
    let mut c = Cursor::new(body);
    // Only ECDHE with a named curve (curve_type 3) is spoken here.
    if c.u8()? != 3 {
        return None;
    }
    let group = NamedGroup::from(c.u16()?);
    c.vec8()?;
    let scheme = c.u16().map(SignatureScheme::from);
    Some(HandshakeBody::ServerKeyExchange { group, scheme })
}

fn new_session_ticket(body: &[u8], tls13: bool) -> Option<HandshakeBody> {
    let mut c = Cursor::new(body);
    let lifetime_secs = c.u32()?;
    if !tls13 {
        let ticket_len = c.vec16()?.len();
        return Some(HandshakeBody::NewSessionTicket {
            lifetime_secs,
            ticket_len,
            max_early_data: 0,
        });
    }
    c.u32()?;
    c.vec8()?;
    let ticket_len = c.vec16()?.len();
    let mut max_early_data = 0;
    for (kind, mut data) in extensions(&mut c)? {
        if kind == EXT_EARLY_DATA {
            max_early_data = data.u32()?;
        }
    }
    Some(HandshakeBody::NewSessionTicket {
        lifetime_secs,
        ticket_len,
        max_early_data,
    })
}

/// `name` without rustls's `TLSv1_3` spelling: "TLS 1.3".
pub(crate) fn version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        ProtocolVersion::TLSv1_1 => "TLS 1.1".into(),
        ProtocolVersion::TLSv1_0 => "TLS 1.0".into(),
        other => format!("{other:?}"),
    }
}

fn list<T: fmt::Debug>(items: &[T]) -> String {
    let names: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    names.join(", ")
}

impl Handshake {
    /// The message's name, with what matters for a diagram's arrow: a
    /// ClientHello offering a session to resume (`+PSK`, `+ticket`) or 0-RTT
    /// data (`+early_data`), a HelloRetryRequest.
    pub fn name(&self) -> String {
        match &self.body {
            HandshakeBody::ClientHello(h) => {
                let mut name = "ClientHello".to_string();
                if h.psk_identities > 0 {
                    name.push_str(" +PSK");
                } else if h.session_ticket_len.is_some_and(|n| n > 0) {
                    name.push_str(" +ticket");
                }
                if h.early_data {
                    name.push_str(" +early_data");
                }
                name
            }
            HandshakeBody::ServerHello(h) if h.retry => "HelloRetryRequest".to_string(),
            HandshakeBody::ServerHello(h) if h.psk_selected.is_some() => {
                "ServerHello +PSK".to_string()
            }
            _ => format!("{:?}", self.kind),
        }
    }
}

impl fmt::Display for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            HandshakeBody::ClientHello(h) => {
                write!(f, "ClientHello")?;
                if let Some(name) = &h.server_name {
                    write!(f, " SNI={name}")?;
                }
                if !h.alpn.is_empty() {
                    write!(f, " ALPN=[{}]", h.alpn.join(", "))?;
                }
                if !h.versions.is_empty() {
                    let v: Vec<String> = h.versions.iter().map(|v| version_name(*v)).collect();
                    write!(f, " versions=[{}]", v.join(", "))?;
                }
                write!(f, " suites=[{}]", list(&h.cipher_suites))?;
                if !h.key_shares.is_empty() {
                    write!(f, " key_share=[{}]", list(&h.key_shares))?;
                }
                if h.psk_identities > 0 {
                    write!(f, " psk={}", h.psk_identities)?;
                }
                if let Some(n) = h.session_ticket_len.filter(|n| *n > 0) {
                    write!(f, " ticket={n}B")?;
                }
                if h.early_data {
                    write!(f, " early_data")?;
                }
                Ok(())
            }
            HandshakeBody::ServerHello(h) => {
                let name = if h.retry {
                    "HelloRetryRequest"
                } else {
                    "ServerHello"
                };
                write!(f, "{name} {} {:?}", version_name(h.version), h.cipher_suite)?;
                if let Some(g) = h.key_share {
                    write!(f, " key_share={g:?}")?;
                }
                if let Some(i) = h.psk_selected {
                    write!(f, " psk={i}")?;
                }
                if let Some(a) = &h.alpn {
                    write!(f, " ALPN={a}")?;
                }
                if h.will_send_ticket {
                    write!(f, " ticket")?;
                }
                Ok(())
            }
            HandshakeBody::EncryptedExtensions { alpn, early_data } => {
                write!(f, "EncryptedExtensions")?;
                if let Some(a) = alpn {
                    write!(f, " ALPN={a}")?;
                }
                if *early_data {
                    write!(f, " early_data")?;
                }
                Ok(())
            }
            HandshakeBody::Certificate { cert_lengths } => {
                let sizes: Vec<String> = cert_lengths.iter().map(|n| format!("{n}B")).collect();
                write!(f, "Certificate [{}]", sizes.join(", "))
            }
            HandshakeBody::CertificateVerify { scheme } => {
                write!(f, "CertificateVerify {scheme:?}")
            }
            HandshakeBody::ServerKeyExchange { group, scheme } => {
                write!(f, "ServerKeyExchange {group:?}")?;
                if let Some(s) = scheme {
                    write!(f, " {s:?}")?;
                }
                Ok(())
            }
            HandshakeBody::ClientKeyExchange { public_key_len } => {
                write!(f, "ClientKeyExchange {public_key_len}B")
            }
            HandshakeBody::NewSessionTicket {
                lifetime_secs,
                ticket_len,
                max_early_data,
            } => {
                write!(
                    f,
                    "NewSessionTicket {ticket_len}B lifetime={lifetime_secs}s"
                )?;
                if *max_early_data > 0 {
                    write!(f, " early_data<={max_early_data}B")?;
                }
                Ok(())
            }
            HandshakeBody::Finished { verify_data_len } => {
                write!(f, "Finished {verify_data_len}B")
            }
            HandshakeBody::Empty => write!(f, "{:?}", self.kind),
            HandshakeBody::Malformed(why) => write!(f, "{:?} (malformed: {why})", self.kind),
        }
    }
}
