//! An authoritative zone: the names a scenario declares, and the answer to
//! each query about them.
//!
//! A [`Zone`] has an origin (`example`), A records (`api.example` →
//! `10.0.0.2` for 30 s), a negative TTL, and optionally names that answer
//! SERVFAIL (to show that failure path). [`Zone::answer`] turns the bytes
//! of one query into the bytes of one response, the way an authoritative
//! server does it (RFC 1034 section 4.3.2, reduced to one zone with no
//! delegations, CNAMEs or wildcards):
//!
//! - a declared name, type A: NOERROR, AA, the record;
//! - a declared name (or an empty non-terminal: `example` when only
//!   `api.example` is declared, RFC 8020), another type: NOERROR with no
//!   answer and the zone's SOA (NODATA);
//! - a name under the origin that is not declared: NXDOMAIN with the SOA,
//!   whose MINIMUM is the negative TTL (RFC 2308 section 3);
//! - a name outside the origin: REFUSED (the server is not authoritative);
//! - not a standard query: NOTIMP; not exactly one question: FORMERR;
//!   bytes that do not parse but carry a header: FORMERR with their id;
//!   anything shorter than a header, or a response (even a malformed
//!   one): no answer at all
//!   (answering a response could make two servers talk forever).

use super::message::{self, Parsed, QueryRepr, Rcode};
use super::name::DnsName;
use hickory_proto::op::Query;
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The largest TTL (RFC 2181 section 8: 2³¹ − 1 seconds).
pub const MAX_TTL_SECS: u32 = i32::MAX as u32;

/// One declared name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneRecord {
    /// Its address.
    pub address: Ipv4Addr,
    /// How long a resolver may cache it, in seconds (1 to [`MAX_TTL_SECS`]).
    pub ttl_secs: u32,
}

/// What one query got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// The response's bytes.
    pub bytes: Vec<u8>,
    /// The query's id.
    pub id: u16,
    /// The name asked about, as it came (empty without a question).
    pub name: String,
    /// The answer's code.
    pub rcode: Rcode,
    /// The record answered, if any.
    pub record: Option<ZoneRecord>,
}

/// What a zone does with one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send this back.
    Answer(Served),
    /// Say nothing (why, for the trace).
    Ignore(String),
}

/// An authoritative zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    origin: Option<DnsName>,
    records: BTreeMap<DnsName, ZoneRecord>,
    servfail: BTreeSet<DnsName>,
    negative_ttl_secs: u32,
}

impl Zone {
    /// A zone for `origin` (`None`: the root, authoritative for every
    /// name) whose negative answers may be cached `negative_ttl_secs`.
    pub fn new(origin: Option<DnsName>, negative_ttl_secs: u32) -> Zone {
        Zone {
            origin,
            records: BTreeMap::new(),
            servfail: BTreeSet::new(),
            negative_ttl_secs: negative_ttl_secs.min(MAX_TTL_SECS),
        }
    }

    /// The origin a zone of these names gets when none is given: the
    /// longest suffix of whole labels that every name's parent shares
    /// (`example` for `api.example` and `www.example`), or the root.
    pub fn default_origin<'a>(names: impl IntoIterator<Item = &'a DnsName>) -> Option<DnsName> {
        let mut common: Option<Vec<&str>> = None;
        for name in names {
            let parent: Vec<&str> = match name.as_str().split_once('.') {
                Some((_, rest)) => rest.rsplit('.').collect(),
                None => Vec::new(),
            };
            common = Some(match common {
                None => parent,
                Some(c) => c
                    .iter()
                    .zip(&parent)
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| *a)
                    .collect(),
            });
        }
        let labels = common.filter(|c| !c.is_empty())?;
        let text: Vec<&str> = labels.into_iter().rev().collect();
        DnsName::parse(&text.join(".")).ok()
    }

    /// Declares `name` (replacing an earlier record for it).
    pub fn insert(&mut self, name: DnsName, record: ZoneRecord) {
        self.records.insert(name, record);
    }

    /// Makes queries for `name` fail with SERVFAIL.
    pub fn fail(&mut self, name: DnsName) {
        self.servfail.insert(name);
    }

    /// The origin (`None`: the root).
    pub fn origin(&self) -> Option<&DnsName> {
        self.origin.as_ref()
    }

    /// The declared names, sorted.
    pub fn records(&self) -> impl Iterator<Item = (&DnsName, &ZoneRecord)> {
        self.records.iter()
    }

    fn within(&self, name: &DnsName) -> bool {
        self.origin.as_ref().is_none_or(|o| name.is_within(o))
    }

    fn exists(&self, name: &DnsName) -> bool {
        self.records.contains_key(name)
            || self.servfail.contains(name)
            || self.records.keys().any(|n| n.is_within(name))
    }

    fn origin_name(&self) -> Name {
        self.origin
            .as_ref()
            .map_or_else(Name::root, DnsName::to_wire_name)
    }

    fn soa(&self) -> Record {
        let origin = self.origin_name();
        let under = |label: &str| {
            Name::from_ascii(label)
                .ok()
                .and_then(|l| l.append_domain(&origin).ok())
                .unwrap_or_else(Name::root)
        };
        let soa = SOA::new(
            under("ns"),
            under("hostmaster"),
            1,
            3600,
            600,
            86400,
            self.negative_ttl_secs,
        );
        Record::from_rdata(origin, self.negative_ttl_secs, RData::SOA(soa))
    }

    /// The answer to one datagram.
    pub fn answer(&self, bytes: &[u8]) -> Reply {
        let query = match message::parse(bytes) {
            Ok(Parsed::Query(q)) => q,
            Ok(Parsed::Response(_)) => return Reply::Ignore("a response, not a query".into()),
            Err(_) if bytes.len() >= 12 && bytes[2] & 0x80 == 0 => {
                let id = u16::from_be_bytes([bytes[0], bytes[1]]);
                return Reply::Answer(self.served(
                    &QueryRepr {
                        id,
                        standard: true,
                        recursion_desired: bytes[2] & 1 == 1,
                        questions: Vec::new(),
                    },
                    None,
                    String::new(),
                    Rcode::FormErr,
                    None,
                ));
            }
            Err(e) => return Reply::Ignore(e.to_string()),
        };
        if !query.standard {
            return Reply::Answer(self.served(&query, None, String::new(), Rcode::NotImp, None));
        }
        let [question] = query.questions.as_slice() else {
            return Reply::Answer(self.served(&query, None, String::new(), Rcode::FormErr, None));
        };
        let text = question.text.trim_end_matches('.').to_string();
        let echo = Name::from_ascii(&question.text).ok().map(|n| {
            let mut q = Query::query(n, RecordType::from(question.qtype));
            q.set_query_class(DNSClass::from(question.qclass));
            q
        });
        let rcode_only =
            |rcode| Reply::Answer(self.served(&query, echo.clone(), text.clone(), rcode, None));
        let Some(name) = question.name.as_ref().filter(|n| self.within(n)) else {
            return rcode_only(Rcode::Refused);
        };
        if question.qclass != u16::from(DNSClass::IN) {
            return rcode_only(Rcode::Refused);
        }
        if self.servfail.contains(name) {
            return rcode_only(Rcode::ServFail);
        }
        match self.records.get(name) {
            Some(record) if question.qtype == u16::from(RecordType::A) => {
                let mut served = self.served(&query, echo.clone(), text, Rcode::NoError, None);
                let rr = Record::from_rdata(
                    name.to_wire_name(),
                    record.ttl_secs,
                    RData::A(A(record.address)),
                );
                served.bytes =
                    message::encode_response(&query, echo, Rcode::NoError, vec![rr], Vec::new());
                served.record = Some(*record);
                Reply::Answer(served)
            }
            _ => {
                let rcode = if self.exists(name) {
                    Rcode::NoError
                } else {
                    Rcode::NxDomain
                };
                let mut served = self.served(&query, echo.clone(), text, rcode, None);
                served.bytes =
                    message::encode_response(&query, echo, rcode, Vec::new(), vec![self.soa()]);
                Reply::Answer(served)
            }
        }
    }

    fn served(
        &self,
        query: &QueryRepr,
        echo: Option<Query>,
        name: String,
        rcode: Rcode,
        record: Option<ZoneRecord>,
    ) -> Served {
        Served {
            bytes: message::encode_response(query, echo, rcode, Vec::new(), Vec::new()),
            id: query.id,
            name,
            rcode,
            record,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::message::{ResponseRepr, encode_query};

    fn name(s: &str) -> DnsName {
        DnsName::parse(s).unwrap()
    }

    fn zone() -> Zone {
        let mut z = Zone::new(Some(name("example")), 10);
        z.insert(
            name("api.example"),
            ZoneRecord {
                address: Ipv4Addr::new(10, 0, 0, 2),
                ttl_secs: 30,
            },
        );
        z.fail(name("broken.example"));
        z
    }

    fn ask(z: &Zone, bytes: &[u8]) -> (Served, ResponseRepr) {
        let Reply::Answer(served) = z.answer(bytes) else {
            panic!("no answer")
        };
        let Ok(Parsed::Response(r)) = message::parse(&served.bytes) else {
            panic!("answer does not parse")
        };
        (served, r)
    }

    #[test]
    fn the_default_origin_is_the_common_parent() {
        let names = [name("api.example"), name("www.example")];
        assert_eq!(Zone::default_origin(&names), Some(name("example")));
        let names = [name("a.b.example"), name("c.b.example")];
        assert_eq!(Zone::default_origin(&names), Some(name("b.example")));
        let names = [name("api.example"), name("api.test")];
        assert_eq!(Zone::default_origin(&names), None);
        assert_eq!(Zone::default_origin(&[name("localhost")]), None);
    }

    #[test]
    fn a_declared_name_is_answered_byte_by_byte() {
        let (served, r) = ask(&zone(), &encode_query(0x0102, &name("API.example")));
        #[rustfmt::skip]
        let expected = [
            0x01, 0x02, 0x85, 0x00, // QR AA RD, NOERROR
            0, 1, 0, 1, 0, 0, 0, 0,
            3, b'a', b'p', b'i', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
            0, 1, 0, 1,
            0xc0, 12, 0, 1, 0, 1,   // the question's name, compressed; A IN
            0, 0, 0, 30, 0, 4, 10, 0, 0, 2,
        ];
        assert_eq!(served.bytes, expected);
        assert_eq!(served.rcode, Rcode::NoError);
        assert_eq!(r.addresses.len(), 1);
    }

    #[test]
    fn an_undeclared_name_is_nxdomain_with_the_soa() {
        let (served, r) = ask(&zone(), &encode_query(7, &name("missing.example")));
        assert_eq!(served.rcode, Rcode::NxDomain);
        assert!(r.authoritative);
        assert_eq!(r.negative_ttl, Some(10));
        // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
        let (served, r) = ask(&zone(), &encode_query(8, &name("example")));
        assert_eq!(served.rcode, Rcode::NoError);
        assert!(r.addresses.is_empty());
        assert_eq!(r.negative_ttl, Some(10));
    }

    #[test]
    fn other_failures_have_their_codes() {
        let z = zone();
        assert_eq!(
            ask(&z, &encode_query(1, &name("broken.example"))).0.rcode,
            Rcode::ServFail
        );
        assert_eq!(
            ask(&z, &encode_query(1, &name("api.test"))).0.rcode,
            Rcode::Refused
        );
        // A header with garbage after it: FORMERR with its id.
        let mut bad = encode_query(0x4242, &name("api.example"));
        bad.truncate(15);
        let (served, r) = ask(&z, &bad);
        assert_eq!((served.rcode, r.id), (Rcode::FormErr, 0x4242));
        // Shorter than a header, or a response: silence.
        assert!(matches!(z.answer(&[1, 2, 3]), Reply::Ignore(_)));
        let response = served.bytes;
        assert!(matches!(z.answer(&response), Reply::Ignore(_)));
    }
}
