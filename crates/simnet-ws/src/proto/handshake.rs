//! The WebSocket opening handshake (RFC 6455 section 4): the header rules of
//! the HTTP `Upgrade` request and its `101 Switching Protocols` answer.
//!
//! The client sends a `GET` with `Upgrade: websocket`, `Connection: Upgrade`,
//! `Sec-WebSocket-Version: 13` and a random 16-byte nonce in base64 as
//! `Sec-WebSocket-Key`. The server proves it understood WebSocket by hashing
//! that key with a fixed GUID into `Sec-WebSocket-Accept`; a plain HTTP
//! server, or a proxy that cached an old answer, could not produce it.
//!
//! This module deliberately does not parse or write HTTP: it works on header
//! lists that `simnet-http` has already split out, and returns the headers to
//! put into the answer. It also does not draw the nonce: the caller passes
//! it in, drawn from its seeded random stream, so runs stay reproducible.
//! Extensions (`Sec-WebSocket-Extensions`) are never negotiated.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};

/// The GUID that RFC 6455 appends to the client's key before hashing.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this crate speaks (and the only one in use).
pub const WEBSOCKET_VERSION: &str = "13";

/// The HTTP status a server answers an accepted upgrade with.
pub const STATUS_SWITCHING_PROTOCOLS: u16 = 101;

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + [`WEBSOCKET_GUID`])).
///
/// The key is used exactly as sent (after trimming surrounding whitespace),
/// without decoding it first, as the RFC specifies.
pub fn accept_key(sec_websocket_key: &str) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(sec_websocket_key.trim().as_bytes());
    sha1.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// Turns the client's 16-byte nonce into a `Sec-WebSocket-Key` value (base64).
///
/// The nonce must come from the caller's seeded random stream; this crate
/// never draws randomness itself.
pub fn client_key(nonce: [u8; 16]) -> String {
    BASE64.encode(nonce)
}

/// The headers of a client's upgrade request, in the order they are sent:
/// `Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Key`,
/// `Sec-WebSocket-Version` and, if `protocols` is not empty,
/// `Sec-WebSocket-Protocol` listing them in order of preference.
///
/// The request line (`GET /path HTTP/1.1`) is the HTTP layer's business, so
/// the path is not an argument here.
pub fn client_request_headers(host: &str, key: &str, protocols: &[&str]) -> Vec<(String, String)> {
    let mut headers = vec![
        header("Host", host),
        header("Upgrade", "websocket"),
        header("Connection", "Upgrade"),
        header("Sec-WebSocket-Key", key),
        header("Sec-WebSocket-Version", WEBSOCKET_VERSION),
    ];
    if !protocols.is_empty() {
        headers.push(header("Sec-WebSocket-Protocol", &protocols.join(", ")));
    }
    headers
}

/// A server's decision to accept an upgrade request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The `Sec-WebSocket-Accept` value computed from the client's key.
    pub accept_key: String,
    /// The subprotocol chosen, if the client offered one the server supports.
    pub protocol: Option<String>,
    /// The headers of the `101 Switching Protocols` response: `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept` and, if a subprotocol was chosen,
    /// `Sec-WebSocket-Protocol`.
    pub response_headers: Vec<(String, String)>,
}

/// A server's refusal of an upgrade request, ready to become an HTTP error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}")]
pub struct Rejected {
    /// `400` for a malformed request, `426` for an unsupported
    /// `Sec-WebSocket-Version`.
    pub status: u16,
    /// Why, in words, for the response body and for traces.
    pub reason: String,
    /// Headers the error response must carry: a `426` names the supported
    /// version in `Sec-WebSocket-Version: 13`; a `400` carries none.
    pub response_headers: Vec<(String, String)>,
}

impl Rejected {
    fn bad_request(reason: impl Into<String>) -> Rejected {
        Rejected {
            status: 400,
            reason: reason.into(),
            response_headers: Vec::new(),
        }
    }

    fn upgrade_required(reason: impl Into<String>) -> Rejected {
        Rejected {
            status: 426,
            reason: reason.into(),
            response_headers: vec![header("Sec-WebSocket-Version", WEBSOCKET_VERSION)],
        }
    }
}

/// Decides, as a server, whether an HTTP request is a valid WebSocket
/// upgrade (RFC 6455 section 4.2.1).
///
/// Header names are matched case-insensitively, and a header that appears on
/// several lines counts as one comma-separated list. The request must be a
/// `GET` with a `Host`, an `Upgrade` list containing `websocket`, a
/// `Connection` list containing `upgrade` (any case), exactly one
/// `Sec-WebSocket-Key` that is base64 for 16 bytes, and
/// `Sec-WebSocket-Version: 13`. A wrong or missing version gets `426`, every
/// other fault `400`.
///
/// The subprotocol chosen is the first one in the client's list that appears
/// in `supported_protocols`. If none matches, the upgrade still succeeds
/// without a subprotocol, and the client decides whether that is acceptable.
pub fn validate_request(
    method: &str,
    headers: &[(String, String)],
    supported_protocols: &[&str],
) -> Result<Accepted, Rejected> {
    if method != "GET" {
        return Err(Rejected::bad_request(format!(
            "a WebSocket upgrade must be a GET, not {method}"
        )));
    }
    if header_values(headers, "Host").next().is_none() {
        return Err(Rejected::bad_request("missing Host header"));
    }
    if !has_token(headers, "Upgrade", "websocket") {
        return Err(Rejected::bad_request(
            "not a WebSocket upgrade: Upgrade header does not name websocket",
        ));
    }
    if !has_token(headers, "Connection", "upgrade") {
        return Err(Rejected::bad_request(
            "not a WebSocket upgrade: Connection header has no upgrade token",
        ));
    }
    match single_value(headers, "Sec-WebSocket-Version") {
        Ok(Some(version)) if version == WEBSOCKET_VERSION => {}
        Ok(Some(version)) => {
            return Err(Rejected::upgrade_required(format!(
                "unsupported Sec-WebSocket-Version {version}; this server speaks 13"
            )));
        }
        Ok(None) | Err(Duplicate) => {
            return Err(Rejected::upgrade_required(
                "Sec-WebSocket-Version must appear once, with the value 13",
            ));
        }
    }
    let key = match single_value(headers, "Sec-WebSocket-Key") {
        Ok(Some(key)) => key,
        Ok(None) => return Err(Rejected::bad_request("missing Sec-WebSocket-Key")),
        Err(Duplicate) => {
            return Err(Rejected::bad_request(
                "Sec-WebSocket-Key must not appear more than once",
            ));
        }
    };
    match BASE64.decode(key) {
        Ok(nonce) if nonce.len() == 16 => {}
        _ => {
            return Err(Rejected::bad_request(
                "Sec-WebSocket-Key must be base64 for exactly 16 bytes",
            ));
        }
    }

    let protocol = header_tokens(headers, "Sec-WebSocket-Protocol")
        .find(|offered| supported_protocols.contains(offered))
        .map(str::to_owned);
    let accept_key = accept_key(key);
    let mut response_headers = vec![
        header("Upgrade", "websocket"),
        header("Connection", "Upgrade"),
        header("Sec-WebSocket-Accept", &accept_key),
    ];
    if let Some(protocol) = &protocol {
        response_headers.push(header("Sec-WebSocket-Protocol", protocol));
    }
    Ok(Accepted {
        accept_key,
        protocol,
        response_headers,
    })
}

/// Why a client refuses the server's answer to its upgrade request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The server did not answer `101 Switching Protocols`.
    #[error("expected status 101 Switching Protocols, got {0}")]
    UnexpectedStatus(u16),
    /// The `Upgrade` header is missing or does not name `websocket`.
    #[error("the Upgrade header does not name websocket")]
    MissingUpgrade,
    /// The `Connection` header is missing or has no `upgrade` token.
    #[error("the Connection header has no upgrade token")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or appears more than once.
    #[error("Sec-WebSocket-Accept is missing or repeated")]
    MissingAccept,
    /// `Sec-WebSocket-Accept` does not match the key the client sent.
    #[error("Sec-WebSocket-Accept is {received:?}, expected {expected:?}")]
    WrongAccept {
        /// The value computed from the key the client sent.
        expected: String,
        /// The value the server sent.
        received: String,
    },
    /// The server chose a subprotocol the client did not offer, or named
    /// more than one.
    #[error("the server chose subprotocol {0:?}, which the client did not offer")]
    UnexpectedProtocol(String),
    /// The server enabled an extension, although the client offered none.
    #[error("the server enabled extension {0:?}, which the client did not offer")]
    UnexpectedExtension(String),
}

/// Checks, as a client, the server's answer to the upgrade request
/// (RFC 6455 section 4.1) and returns the negotiated subprotocol, if any.
///
/// `sent_key` is the `Sec-WebSocket-Key` the client sent and
/// `offered_protocols` the subprotocols it offered. The answer must be a
/// `101` with `Upgrade: websocket`, a `Connection` list containing `upgrade`,
/// the right `Sec-WebSocket-Accept`, at most one subprotocol among those
/// offered, and no extension.
pub fn validate_response(
    status: u16,
    headers: &[(String, String)],
    sent_key: &str,
    offered_protocols: &[&str],
) -> Result<Option<String>, HandshakeError> {
    if status != STATUS_SWITCHING_PROTOCOLS {
        return Err(HandshakeError::UnexpectedStatus(status));
    }
    if !has_token(headers, "Upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !has_token(headers, "Connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let Ok(Some(received)) = single_value(headers, "Sec-WebSocket-Accept") else {
        return Err(HandshakeError::MissingAccept);
    };
    let expected = accept_key(sent_key);
    if received != expected {
        return Err(HandshakeError::WrongAccept {
            expected,
            received: received.to_owned(),
        });
    }
    if let Some(extension) = header_tokens(headers, "Sec-WebSocket-Extensions").next() {
        return Err(HandshakeError::UnexpectedExtension(extension.to_owned()));
    }
    // The server may choose at most one subprotocol, from the offered ones.
    let chosen: Vec<&str> = header_tokens(headers, "Sec-WebSocket-Protocol").collect();
    match chosen.as_slice() {
        [] => Ok(None),
        [protocol] if offered_protocols.contains(protocol) => Ok(Some((*protocol).to_owned())),
        [protocol, ..] => Err(HandshakeError::UnexpectedProtocol((*protocol).to_owned())),
    }
}

fn header(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

/// Every value of the header `name` (matched case-insensitively), trimmed.
fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// The comma-separated tokens of header `name`, across all its lines.
fn header_tokens<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    header_values(headers, name)
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// Whether header `name` lists `token`, compared case-insensitively.
fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    header_tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// A header that must appear at most once appeared more than once.
struct Duplicate;

/// The value of a header that must appear at most once.
fn single_value<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> Result<Option<&'a str>, Duplicate> {
    let mut values = header_values(headers, name);
    let first = values.next();
    if first.is_some() && values.next().is_some() {
        Err(Duplicate)
    } else {
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| header(n, v)).collect()
    }

    fn value<'a>(headers: &'a [(String, String)], name: &'a str) -> Option<&'a str> {
        header_values(headers, name).next()
    }

    /// The RFC 6455 section 1.3 request, as a browser would send it.
    fn rfc_request() -> Vec<(String, String)> {
        headers(&[
            ("Host", "server.example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", RFC_KEY),
            ("Origin", "http://example.com"),
            ("Sec-WebSocket-Protocol", "chat, superchat"),
            ("Sec-WebSocket-Version", "13"),
        ])
    }

    fn without(mut headers: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers
    }

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(accept_key(RFC_KEY), RFC_ACCEPT);
    }

    #[test]
    fn client_key_is_base64_of_the_nonce() {
        // RFC 6455 section 1.3's key is the base64 of "the sample nonce".
        assert_eq!(client_key(*b"the sample nonce"), RFC_KEY);
    }

    #[test]
    fn client_request_headers_lists_what_the_rfc_requires() {
        let sent = client_request_headers("server.example.com", RFC_KEY, &["chat", "superchat"]);
        assert_eq!(
            sent,
            headers(&[
                ("Host", "server.example.com"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", RFC_KEY),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Protocol", "chat, superchat"),
            ])
        );
        let plain = client_request_headers("h", RFC_KEY, &[]);
        assert_eq!(value(&plain, "Sec-WebSocket-Protocol"), None);
    }

    #[test]
    fn server_accepts_the_rfc_request_and_picks_the_clients_first_choice() {
        let accepted = validate_request("GET", &rfc_request(), &["superchat", "chat"]).unwrap();
        assert_eq!(accepted.accept_key, RFC_ACCEPT);
        // The client listed "chat" first, so "chat" wins even though the
        // server lists "superchat" first.
        assert_eq!(accepted.protocol.as_deref(), Some("chat"));
        assert_eq!(
            accepted.response_headers,
            headers(&[
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", RFC_ACCEPT),
                ("Sec-WebSocket-Protocol", "chat"),
            ])
        );
    }

    #[test]
    fn server_accepts_without_a_common_subprotocol() {
        let accepted = validate_request("GET", &rfc_request(), &["v12.stomp"]).unwrap();
        assert_eq!(accepted.protocol, None);
        assert_eq!(
            value(&accepted.response_headers, "Sec-WebSocket-Protocol"),
            None
        );
    }

    #[test]
    fn header_names_and_tokens_are_case_insensitive_and_lists_are_split() {
        let request = headers(&[
            ("host", "h"),
            ("UPGRADE", "WebSocket"),
            ("connection", "keep-alive, UPGRADE"),
            ("sec-websocket-key", RFC_KEY),
            ("sec-websocket-version", "13"),
            ("Sec-WebSocket-Protocol", "a"),
            ("Sec-WebSocket-Protocol", "b, c"),
        ]);
        let accepted = validate_request("GET", &request, &["c", "b"]).unwrap();
        assert_eq!(accepted.protocol.as_deref(), Some("b"));
    }

    #[test]
    fn server_rejects_malformed_requests_with_400() {
        let cases: Vec<(&str, Vec<(String, String)>)> = vec![
            ("POST", rfc_request()),
            ("GET", without(rfc_request(), "Host")),
            ("GET", without(rfc_request(), "Upgrade")),
            ("GET", without(rfc_request(), "Connection")),
            ("GET", without(rfc_request(), "Sec-WebSocket-Key")),
            (
                "GET",
                [
                    without(rfc_request(), "Connection"),
                    headers(&[("Connection", "keep-alive")]),
                ]
                .concat(),
            ),
            (
                "GET",
                [
                    without(rfc_request(), "Sec-WebSocket-Key"),
                    headers(&[("Sec-WebSocket-Key", "c2hvcnQ=")]), // "short"
                ]
                .concat(),
            ),
            (
                "GET",
                [rfc_request(), headers(&[("Sec-WebSocket-Key", RFC_KEY)])].concat(),
            ),
        ];
        for (method, request) in cases {
            let rejected = validate_request(method, &request, &[]).unwrap_err();
            assert_eq!(rejected.status, 400, "{method} {request:?}: {rejected}");
            assert!(rejected.response_headers.is_empty());
        }
    }

    #[test]
    fn server_rejects_other_versions_with_426_naming_version_13() {
        for version in [Some("8"), None] {
            let mut request = without(rfc_request(), "Sec-WebSocket-Version");
            if let Some(version) = version {
                request.push(header("Sec-WebSocket-Version", version));
            }
            let rejected = validate_request("GET", &request, &[]).unwrap_err();
            assert_eq!(rejected.status, 426);
            assert_eq!(
                rejected.response_headers,
                headers(&[("Sec-WebSocket-Version", "13")])
            );
        }
    }

    fn rfc_response() -> Vec<(String, String)> {
        headers(&[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", RFC_ACCEPT),
            ("Sec-WebSocket-Protocol", "chat"),
        ])
    }

    #[test]
    fn client_accepts_the_rfc_response() {
        let protocol = validate_response(101, &rfc_response(), RFC_KEY, &["chat", "superchat"]);
        assert_eq!(protocol, Ok(Some("chat".to_owned())));
        let no_protocol = without(rfc_response(), "Sec-WebSocket-Protocol");
        assert_eq!(
            validate_response(101, &no_protocol, RFC_KEY, &["chat"]),
            Ok(None)
        );
    }

    #[test]
    fn client_refuses_bad_responses() {
        let check = |status, headers: Vec<(String, String)>| {
            validate_response(status, &headers, RFC_KEY, &["chat"]).unwrap_err()
        };
        assert_eq!(
            check(200, rfc_response()),
            HandshakeError::UnexpectedStatus(200)
        );
        assert_eq!(
            check(101, without(rfc_response(), "Upgrade")),
            HandshakeError::MissingUpgrade
        );
        assert_eq!(
            check(101, without(rfc_response(), "Connection")),
            HandshakeError::MissingConnectionUpgrade
        );
        assert_eq!(
            check(101, without(rfc_response(), "Sec-WebSocket-Accept")),
            HandshakeError::MissingAccept
        );
        let wrong_accept = [
            without(rfc_response(), "Sec-WebSocket-Accept"),
            headers(&[("Sec-WebSocket-Accept", &accept_key("another key"))]),
        ]
        .concat();
        assert!(matches!(
            check(101, wrong_accept),
            HandshakeError::WrongAccept { .. }
        ));
        let other_protocol = [
            without(rfc_response(), "Sec-WebSocket-Protocol"),
            headers(&[("Sec-WebSocket-Protocol", "superchat")]),
        ]
        .concat();
        assert_eq!(
            check(101, other_protocol),
            HandshakeError::UnexpectedProtocol("superchat".to_owned())
        );
        let extension = [
            rfc_response(),
            headers(&[("Sec-WebSocket-Extensions", "permessage-deflate")]),
        ]
        .concat();
        assert_eq!(
            check(101, extension),
            HandshakeError::UnexpectedExtension("permessage-deflate".to_owned())
        );
    }

    #[test]
    fn a_request_built_here_is_accepted_and_its_answer_validates() {
        let key = client_key([7; 16]);
        let request = client_request_headers("h", &key, &["v12.stomp"]);
        let accepted = validate_request("GET", &request, &["v12.stomp"]).unwrap();
        let protocol = validate_response(101, &accepted.response_headers, &key, &["v12.stomp"]);
        assert_eq!(protocol, Ok(Some("v12.stomp".to_owned())));
    }
}
