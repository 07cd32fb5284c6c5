//! Close status codes and the body of a Close frame (RFC 6455 sections
//! 5.5.1 and 7.4).
//!
//! A Close frame's payload is either empty or a 2-byte big-endian status
//! code followed by a UTF-8 reason of at most 123 bytes (so the whole payload
//! fits the 125-byte limit of control frames). This module encodes and
//! checks that body; when to send or expect a Close is [`super::conn`]'s job.
//! Codes are plain `u16` constants rather than an enum because applications
//! may use any code from 3000 to 4999.

/// 1000: the purpose of the connection is fulfilled.
pub const NORMAL: u16 = 1000;
/// 1001: the endpoint is going away (server shutdown, page navigated away).
pub const GOING_AWAY: u16 = 1001;
/// 1002: the peer broke the protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: the endpoint cannot accept this type of data (e.g. binary).
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1005: no status code was present. Reported locally, never sent.
pub const NO_STATUS_RECEIVED: u16 = 1005;
/// 1006: the connection dropped without a Close frame. Reported locally,
/// never sent.
pub const ABNORMAL_CLOSURE: u16 = 1006;
/// 1007: a message's data did not match its type (invalid UTF-8 in text).
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: a message violated the endpoint's policy.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message is too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1010: the client expected an extension the server did not negotiate.
pub const MANDATORY_EXTENSION: u16 = 1010;
/// 1011: the server hit an unexpected condition.
pub const INTERNAL_ERROR: u16 = 1011;

/// The longest close reason: 125 bytes of control payload minus the code.
pub const MAX_REASON_BYTES: usize = 123;

/// Whether `code` may appear in a Close frame: the codes defined for the
/// protocol (1000-1003, 1007-1014) and those for libraries and applications
/// (3000-4999). 1004-1006 and 1015 are reserved or local-only, and the rest
/// of 0-2999 is unassigned.
pub fn is_valid_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The payload of a Close frame carrying `code` and `reason`.
///
/// The caller checks `code` with [`is_valid_code`] and keeps `reason` within
/// [`MAX_REASON_BYTES`]; [`super::conn::WsConn::close`] does both.
pub fn encode_body(code: u16, reason: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(2 + reason.len());
    body.extend_from_slice(&code.to_be_bytes());
    body.extend_from_slice(reason.as_bytes());
    body
}

/// Why a Close frame's payload is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseBodyError {
    /// One byte: too short for a status code, too long for none.
    #[error("a one-byte close payload (a status code takes two)")]
    OneByte,
    /// A status code that may not be sent (see [`is_valid_code`]).
    #[error("invalid close code {0}")]
    InvalidCode(u16),
    /// The reason is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidUtf8,
}

impl CloseBodyError {
    /// The close code that reports this error: 1007 for a reason that is not
    /// UTF-8, 1002 otherwise.
    pub fn close_code(&self) -> u16 {
        match self {
            CloseBodyError::InvalidUtf8 => INVALID_PAYLOAD,
            CloseBodyError::OneByte | CloseBodyError::InvalidCode(_) => PROTOCOL_ERROR,
        }
    }
}

/// Splits a received Close payload into its status code (`None` if the
/// payload is empty) and reason.
pub fn decode_body(payload: &[u8]) -> Result<(Option<u16>, String), CloseBodyError> {
    match payload {
        [] => Ok((None, String::new())),
        [_] => Err(CloseBodyError::OneByte),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !is_valid_code(code) {
                return Err(CloseBodyError::InvalidCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| CloseBodyError::InvalidUtf8)?;
            Ok((Some(code), reason.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_the_big_endian_code_then_the_reason() {
        assert_eq!(encode_body(NORMAL, "bye"), [0x03, 0xE8, b'b', b'y', b'e']);
        assert_eq!(
            decode_body(&[0x03, 0xE8, b'b', b'y', b'e']),
            Ok((Some(1000), "bye".to_owned()))
        );
        assert_eq!(decode_body(&[]), Ok((None, String::new())));
    }

    #[test]
    fn invalid_bodies_map_to_their_close_codes() {
        let cases: [(&[u8], CloseBodyError, u16); 5] = [
            (&[0x03], CloseBodyError::OneByte, 1002),
            (&[0x03, 0xED], CloseBodyError::InvalidCode(1005), 1002),
            (&[0x00, 0x00], CloseBodyError::InvalidCode(0), 1002),
            (&[0x13, 0x88], CloseBodyError::InvalidCode(5000), 1002),
            (&[0x03, 0xE8, 0xFF], CloseBodyError::InvalidUtf8, 1007),
        ];
        for (payload, error, code) in cases {
            assert_eq!(decode_body(payload), Err(error));
            assert_eq!(error.close_code(), code);
        }
    }

    #[test]
    fn only_assigned_and_application_codes_are_valid() {
        let valid: Vec<u16> = (0..=u16::MAX).filter(|&c| is_valid_code(c)).collect();
        assert_eq!(valid.len(), 4 + 8 + 2000);
        for local_only in [NO_STATUS_RECEIVED, ABNORMAL_CLOSURE, 1015] {
            assert!(!is_valid_code(local_only));
        }
    }
}
