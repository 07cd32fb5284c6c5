//! DNS messages on the wire: what simnet sends and what it reads back.
//!
//! Encoding and parsing are hickory-proto's; this module only chooses what
//! goes in (one question, class IN, type A, an id the caller drew from its
//! seeded stream) and reduces what comes back to the few facts a stub
//! resolver acts on ([`ResponseRepr`]) or a server answers ([`QueryRepr`]).
//! It deliberately leaves out EDNS(0), TCP fallback after truncation,
//! CNAME chasing, IPv6 (AAAA) and DNSSEC: simnet's zones hold A records.
//!
//! Parsing never panics: hickory checks every count against the bytes that
//! are there and bounds compression-pointer chains; anything it refuses is
//! a [`ParseError`], and input longer than [`MAX_MESSAGE_BYTES`] is refused
//! before it is read.

use super::name::DnsName;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use std::fmt;
use std::net::Ipv4Addr;

/// The largest DNS message over UDP without EDNS(0) (RFC 1035 section
/// 4.2.1); anything longer is refused unread.
pub const MAX_MESSAGE_BYTES: usize = 512;

/// Why bytes are not a DNS message simnet can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// More than [`MAX_MESSAGE_BYTES`].
    #[error("{0} bytes is longer than a DNS message over UDP ({MAX_MESSAGE_BYTES} bytes)")]
    TooLong(usize),
    /// hickory-proto refused it (truncated, a bad pointer, a bad count...).
    #[error("malformed DNS message: {0}")]
    Malformed(String),
}

/// A response code, as the resolver and the trace name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rcode {
    /// 0: the answer (possibly empty) is there.
    NoError,
    /// 1: the server could not read the query.
    FormErr,
    /// 2: the server failed.
    ServFail,
    /// 3: the name does not exist.
    NxDomain,
    /// 4: the kind of query is not implemented.
    NotImp,
    /// 5: the server refuses to answer.
    Refused,
    /// Any other code.
    Other(u16),
}

impl Rcode {
    fn from_hickory(code: ResponseCode) -> Rcode {
        match code {
            ResponseCode::NoError => Rcode::NoError,
            ResponseCode::FormErr => Rcode::FormErr,
            ResponseCode::ServFail => Rcode::ServFail,
            ResponseCode::NXDomain => Rcode::NxDomain,
            ResponseCode::NotImp => Rcode::NotImp,
            ResponseCode::Refused => Rcode::Refused,
            other => Rcode::Other(u16::from(other)),
        }
    }

    pub(crate) fn to_hickory(self) -> ResponseCode {
        match self {
            Rcode::NoError => ResponseCode::NoError,
            Rcode::FormErr => ResponseCode::FormErr,
            Rcode::ServFail => ResponseCode::ServFail,
            Rcode::NxDomain => ResponseCode::NXDomain,
            Rcode::NotImp => ResponseCode::NotImp,
            Rcode::Refused => ResponseCode::Refused,
            Rcode::Other(n) => <ResponseCode as From<u16>>::from(n),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rcode::NoError => f.write_str("NOERROR"),
            Rcode::FormErr => f.write_str("FORMERR"),
            Rcode::ServFail => f.write_str("SERVFAIL"),
            Rcode::NxDomain => f.write_str("NXDOMAIN"),
            Rcode::NotImp => f.write_str("NOTIMP"),
            Rcode::Refused => f.write_str("REFUSED"),
            Rcode::Other(n) => write!(f, "RCODE{n}"),
        }
    }
}

/// The question of a message, as it was on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name, if it is a host name ([`DnsName`]); `None` for anything
    /// else (underscores, the root...).
    pub name: Option<DnsName>,
    /// The name as text, as it came (for reports).
    pub text: String,
    /// QTYPE (1 is A).
    pub qtype: u16,
    /// QCLASS (1 is IN).
    pub qclass: u16,
}

impl Question {
    /// Whether this asks for the A records of `name` in class IN.
    pub fn is_a_for(&self, name: &DnsName) -> bool {
        self.qtype == u16::from(RecordType::A)
            && self.qclass == u16::from(DNSClass::IN)
            && self.name.as_ref() == Some(name)
    }
}

/// What a server reads from a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRepr {
    /// The id to echo.
    pub id: u16,
    /// Whether the opcode is QUERY (0).
    pub standard: bool,
    /// Recursion desired (echoed in the answer, RFC 1035 section 4.1.1).
    pub recursion_desired: bool,
    /// The questions (a well-formed query has exactly one).
    pub questions: Vec<Question>,
}

/// What a resolver reads from a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseRepr {
    /// The id, to match the query.
    pub id: u16,
    /// The response code.
    pub rcode: Rcode,
    /// TC: the answer did not fit (simnet does not retry over TCP).
    pub truncated: bool,
    /// AA: the answer comes from an authoritative server.
    pub authoritative: bool,
    /// The questions it answers (the resolver requires exactly its own).
    pub questions: Vec<Question>,
    /// Every A record of class IN in the answer section, with its owner
    /// and TTL in seconds, in message order.
    pub addresses: Vec<(Option<DnsName>, Ipv4Addr, u32)>,
    /// The TTL a negative answer may be cached for (RFC 2308 section 5):
    /// the smaller of the SOA record's own TTL and its MINIMUM field, from
    /// the first SOA in the authority section; `None` when there is none
    /// (such an answer is not cached).
    pub negative_ttl: Option<u32>,
}

/// A parsed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// QR = 0.
    Query(QueryRepr),
    /// QR = 1.
    Response(ResponseRepr),
}

fn question(q: &Query) -> Question {
    Question {
        name: DnsName::from_wire_name(&q.name),
        text: q.name.to_ascii(),
        qtype: u16::from(q.query_type),
        qclass: u16::from(q.query_class),
    }
}

/// Parses a message; never panics.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError::TooLong(bytes.len()));
    }
    let message = Message::from_vec(bytes).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let meta = &message.metadata;
    let questions = message.queries.iter().map(question).collect();
    Ok(match meta.message_type {
        MessageType::Query => Parsed::Query(QueryRepr {
            id: meta.id,
            standard: meta.op_code == OpCode::Query,
            recursion_desired: meta.recursion_desired,
            questions,
        }),
        MessageType::Response => Parsed::Response(ResponseRepr {
            id: meta.id,
            rcode: Rcode::from_hickory(meta.response_code),
            truncated: meta.truncation,
            authoritative: meta.authoritative,
            questions,
            addresses: message
                .answers
                .iter()
                .filter(|r| r.dns_class == DNSClass::IN)
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some((DnsName::from_wire_name(&r.name), a.0, r.ttl)),
                    _ => None,
                })
                .collect(),
            negative_ttl: message.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            }),
        }),
    })
}

/// A standard query for the A records of `name`, with recursion desired
/// (a stub resolver's query), and the id the caller drew.
pub fn encode_query(id: u16, name: &DnsName) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name.to_wire_name(), RecordType::A));
    // A message of one question whose name was checked to fit always
    // encodes; an empty vector would be reported by the peer as malformed.
    message.to_vec().unwrap_or_default()
}

/// A response to `query` (its id, question and RD bit echoed) with `rcode`,
/// `answers` and `authorities`, from an authoritative server.
pub(crate) fn encode_response(
    query: &QueryRepr,
    echo: Option<Query>,
    rcode: Rcode,
    answers: Vec<Record>,
    authorities: Vec<Record>,
) -> Vec<u8> {
    let mut message = Message::new(query.id, MessageType::Response, OpCode::Query);
    message.metadata.recursion_desired = query.recursion_desired;
    message.metadata.authoritative = rcode == Rcode::NoError || rcode == Rcode::NxDomain;
    message.metadata.response_code = rcode.to_hickory();
    if let Some(q) = echo {
        message.add_query(q);
    }
    message.insert_answers(answers);
    message.insert_authorities(authorities);
    message.to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    #[test]
    fn a_query_is_encoded_byte_by_byte() {
        let bytes = encode_query(0xbeef, &name("api.example"));
        #[rustfmt::skip]
        let expected = [
            0xbe, 0xef,             // id
            0x01, 0x00,             // QR=0 opcode=QUERY RD=1, rcode 0
            0x00, 0x01,             // one question
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // no records
            3, b'a', b'p', b'i', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
            0x00, 0x01,             // QTYPE A
            0x00, 0x01,             // QCLASS IN
        ];
        assert_eq!(bytes, expected);
        let Ok(Parsed::Query(q)) = parse(&bytes) else {
            panic!("not a query")
        };
        assert_eq!(q.id, 0xbeef);
        assert!(q.standard && q.recursion_desired);
        assert!(q.questions[0].is_a_for(&name("api.example")));
    }

    #[test]
    fn a_response_with_a_compressed_answer_is_read() {
        #[rustfmt::skip]
        let bytes = [
            0x12, 0x34, 0x85, 0x80, // QR AA RD RA, NOERROR
            0, 1, 0, 1, 0, 0, 0, 0,
            3, b'a', b'p', b'i', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
            0, 1, 0, 1,
            0xc0, 12,               // pointer to the question's name
            0, 1, 0, 1,             // A IN
            0, 0, 0, 30,            // TTL 30 s
            0, 4, 10, 0, 0, 2,      // 10.0.0.2
        ];
        let Ok(Parsed::Response(r)) = parse(&bytes) else {
            panic!("not a response")
        };
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.rcode, Rcode::NoError);
        assert!(r.authoritative && !r.truncated);
        assert_eq!(
            r.addresses,
            [(Some(name("api.example")), Ipv4Addr::new(10, 0, 0, 2), 30)]
        );
        assert_eq!(r.negative_ttl, None);
    }

    #[test]
    fn hostile_messages_are_errors_not_panics() {
        let query = encode_query(1, &name("a.example"));
        // Every truncation of a valid message.
        for len in 0..query.len() {
            assert!(parse(&query[..len]).is_err(), "{len} bytes parsed");
        }
        // A compression pointer to itself, and two pointing at each other.
        #[rustfmt::skip]
        let self_loop = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert!(matches!(parse(&self_loop), Err(ParseError::Malformed(_))));
        #[rustfmt::skip]
        let pair = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0xc0, 12, 0, 1, 0, 1];
        assert!(matches!(parse(&pair), Err(ParseError::Malformed(_))));
        // Counts far beyond the bytes there.
        let huge = [
            0, 1, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(matches!(parse(&huge), Err(ParseError::Malformed(_))));
        // Too long to be a UDP message.
        assert_eq!(parse(&[0; 600]), Err(ParseError::TooLong(600)));
    }
}
