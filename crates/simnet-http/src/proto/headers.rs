//! Header field lookup and validation.
//!
//! Headers are kept as an ordered `Vec<(String, String)>`, exactly as they
//! appeared (or will appear) on the wire, so traces show them faithfully.
//! Field names are case-insensitive in HTTP, so every lookup here compares
//! names with ASCII case folding. Nothing here allocates a map: header lists
//! are short, and a linear scan keeps the order visible.
//!
//! The validation helpers guard what this crate writes: a header value
//! containing a line break would let one header smuggle in another, so
//! connections refuse to send one.

/// The value of the first field called `name` (ASCII case-insensitive).
pub fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    get_all(headers, name).next()
}

/// The values of every field called `name` (ASCII case-insensitive), in
/// order.
pub fn get_all<'a>(headers: &'a [(String, String)], name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Whether any field is called `name` (ASCII case-insensitive).
pub fn contains(headers: &[(String, String)], name: &str) -> bool {
    get(headers, name).is_some()
}

/// Whether the comma-separated list in the fields called `name` contains
/// `token`, ignoring case and surrounding spaces.
///
/// This is how list-valued fields such as `Connection: keep-alive, Upgrade`
/// are read; a field may also be repeated, and every occurrence counts.
pub fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    get_all(headers, name)
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// Whether `name` is a valid field name (an RFC 9110 token).
pub(crate) fn is_token(name: &str) -> bool {
    super::grammar::is_token(name)
}

/// Whether `value` may be written as a field value: no control characters
/// other than horizontal tab, so in particular no CR or LF.
pub(crate) fn is_field_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The first field that cannot be written safely, if any.
pub(crate) fn first_invalid(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .find(|(name, value)| !is_token(name) || !is_field_value(value))
        .map(|(name, _)| name.as_str())
}

/// The transfer codings a message declares in `Transfer-Encoding`, as far as
/// framing is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// No `Transfer-Encoding` field.
    Absent,
    /// Exactly `chunked`.
    Chunked,
    /// Other codings, then `chunked` last (e.g. `gzip, chunked`): the body is
    /// delimited by chunks, but its content is still encoded.
    ChunkedAfterOthers,
    /// Codings that do not end with a single `chunked`.
    NotChunked,
}

/// Reads the `Transfer-Encoding` fields of a message.
pub(crate) fn transfer_encoding(headers: &[(String, String)]) -> TransferEncoding {
    if !contains(headers, "transfer-encoding") {
        return TransferEncoding::Absent;
    }
    let codings: Vec<&str> = get_all(headers, "transfer-encoding")
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|coding| !coding.is_empty())
        .collect();
    let is_chunked = |coding: &str| coding.eq_ignore_ascii_case("chunked");
    let chunked_count = codings.iter().filter(|coding| is_chunked(coding)).count();
    match codings.last() {
        Some(last) if is_chunked(last) && chunked_count == 1 => {
            if codings.len() == 1 {
                TransferEncoding::Chunked
            } else {
                TransferEncoding::ChunkedAfterOthers
            }
        }
        _ => TransferEncoding::NotChunked,
    }
}

/// Why a `Content-Length` could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentLengthError {
    /// Not a plain decimal number.
    Invalid,
    /// Several values that disagree.
    Conflicting,
}

/// Reads the `Content-Length` fields of a message: `None` if there are none.
///
/// Repeated fields or comma-separated lists are accepted when every value is
/// the same (RFC 9110 section 8.6). A number too large for `u64` is read as
/// `u64::MAX`, which every body limit then refuses.
pub(crate) fn content_length(
    headers: &[(String, String)],
) -> Result<Option<u64>, ContentLengthError> {
    let mut length = None;
    let values = get_all(headers, "content-length").flat_map(|value| value.split(','));
    for value in values {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ContentLengthError::Invalid);
        }
        let parsed = value.parse::<u64>().unwrap_or(u64::MAX);
        match length {
            Some(previous) if previous != parsed => return Err(ContentLengthError::Conflicting),
            _ => length = Some(parsed),
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn lookup_ignores_case_and_keeps_order() {
        let headers = fields(&[("Host", "a"), ("X-Tag", "1"), ("x-tag", "2")]);
        assert_eq!(get(&headers, "HOST"), Some("a"));
        assert_eq!(get_all(&headers, "X-TAG").collect::<Vec<_>>(), ["1", "2"]);
        assert!(!contains(&headers, "Connection"));
    }

    #[test]
    fn tokens_are_found_in_lists_and_repeated_fields() {
        let headers = fields(&[("Connection", "keep-alive , Upgrade"), ("connection", "TE")]);
        assert!(has_token(&headers, "connection", "upgrade"));
        assert!(has_token(&headers, "Connection", "te"));
        assert!(!has_token(&headers, "Connection", "close"));
    }

    #[test]
    fn transfer_encoding_is_classified_for_framing() {
        let te = |value| transfer_encoding(&fields(&[("Transfer-Encoding", value)]));
        assert_eq!(transfer_encoding(&[]), TransferEncoding::Absent);
        assert_eq!(te("Chunked"), TransferEncoding::Chunked);
        assert_eq!(te("gzip, chunked"), TransferEncoding::ChunkedAfterOthers);
        assert_eq!(te("chunked, gzip"), TransferEncoding::NotChunked);
        assert_eq!(te("chunked, chunked"), TransferEncoding::NotChunked);
        assert_eq!(te(""), TransferEncoding::NotChunked);
    }

    #[test]
    fn content_length_must_be_one_decimal_number() {
        let cl = |values: &[&str]| {
            let pairs: Vec<_> = values.iter().map(|v| ("Content-Length", *v)).collect();
            content_length(&fields(&pairs))
        };
        assert_eq!(cl(&[]), Ok(None));
        assert_eq!(cl(&["42"]), Ok(Some(42)));
        assert_eq!(cl(&["42, 42", "42"]), Ok(Some(42)));
        assert_eq!(cl(&["42", "43"]), Err(ContentLengthError::Conflicting));
        assert_eq!(cl(&["+42"]), Err(ContentLengthError::Invalid));
        assert_eq!(cl(&[""]), Err(ContentLengthError::Invalid));
        assert_eq!(cl(&["99999999999999999999999"]), Ok(Some(u64::MAX)));
    }

    #[test]
    fn unsafe_fields_are_detected() {
        assert_eq!(first_invalid(&fields(&[("X-Ok", "a\tb")])), None);
        assert_eq!(
            first_invalid(&fields(&[("X-Bad", "a\r\nEvil: 1")])),
            Some("X-Bad")
        );
        assert_eq!(
            first_invalid(&fields(&[("Bad Name", "a")])),
            Some("Bad Name")
        );
        assert_eq!(first_invalid(&fields(&[("", "a")])), Some(""));
    }
}
