//! Host names as simnet's scenarios and resolver use them.
//!
//! A [`DnsName`] is a checked, lower-case name in the preferred syntax of
//! RFC 1035 section 2.3.1 (letters, digits and hyphens; labels of 1 to 63
//! characters that neither start nor end with a hyphen; at most 253
//! characters in all), written without the trailing dot. The lower-case
//! text is the key of the resolver's cache and the zone, so
//! `API.Example` and `api.example.` are one name (DNS names compare
//! case-insensitively, RFC 4343). Underscores, IDNs and wildcards are
//! deliberately refused: a scenario names hosts, not service records.

use hickory_proto::rr::Name;
use std::fmt;

/// The longest name in its text form, without the trailing dot (RFC 1035's
/// 255 octets on the wire).
pub const MAX_NAME_CHARS: usize = 253;

/// The longest label (RFC 1035 section 2.3.4).
pub const MAX_LABEL_CHARS: usize = 63;

/// A checked host name, lower case, without the trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(String);

/// Why text is not a host name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing (or only a dot).
    #[error("a host name cannot be empty")]
    Empty,
    /// Longer than [`MAX_NAME_CHARS`].
    #[error("`{0}` is longer than {MAX_NAME_CHARS} characters")]
    TooLong(String),
    /// An empty label (`a..b`, a leading dot).
    #[error("`{0}` has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel(String),
    /// A label longer than [`MAX_LABEL_CHARS`].
    #[error("`{name}` has a label of {len} characters; a label is at most {MAX_LABEL_CHARS}")]
    LongLabel {
        /// The name.
        name: String,
        /// The label's length.
        len: usize,
    },
    /// A character other than a letter, digit, hyphen or dot.
    #[error("`{name}` contains {found:?}; a host name has only letters, digits, hyphens and dots")]
    BadCharacter {
        /// The name.
        name: String,
        /// The first character refused.
        found: char,
    },
    /// A label starting or ending with a hyphen.
    #[error("`{0}` has a label that starts or ends with a hyphen")]
    Hyphen(String),
}

impl DnsName {
    /// Checks `text` (a trailing dot is allowed and dropped).
    pub fn parse(text: &str) -> Result<DnsName, NameError> {
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.len() > MAX_NAME_CHARS {
            let shown: String = trimmed.chars().take(40).collect();
            return Err(NameError::TooLong(format!("{shown}...")));
        }
        if let Some(found) = trimmed
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(NameError::BadCharacter {
                name: text.to_string(),
                found,
            });
        }
        for label in trimmed.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel(text.to_string()));
            }
            if label.len() > MAX_LABEL_CHARS {
                return Err(NameError::LongLabel {
                    name: text.to_string(),
                    len: label.len(),
                });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(NameError::Hyphen(text.to_string()));
            }
        }
        Ok(DnsName(trimmed.to_ascii_lowercase()))
    }

    /// The name's text: lower case, no trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The fully qualified name for the wire.
    pub fn to_wire_name(&self) -> Name {
        // The text was checked above to be letters, digits, hyphens and
        // labels of at most 63 characters, which hickory accepts as is.
        let mut name = Name::from_ascii(&self.0).unwrap_or_else(|_| Name::root());
        name.set_fqdn(true);
        name
    }

    /// The name a message carried, if it is a host name: compared without
    /// case, so a server that echoes `API.example` still matches.
    pub fn from_wire_name(name: &Name) -> Option<DnsName> {
        DnsName::parse(&name.to_ascii()).ok()
    }

    /// The parent name (`example` for `api.example`), `None` for a single label.
    pub fn parent(&self) -> Option<DnsName> {
        self.0
            .split_once('.')
            .map(|(_, rest)| DnsName(rest.to_string()))
    }

    /// Whether `self` is `zone` or a name under it.
    pub fn is_within(&self, zone: &DnsName) -> bool {
        self.0 == zone.0
            || (self.0.len() > zone.0.len()
                && self.0.ends_with(zone.0.as_str())
                && self.0.as_bytes()[self.0.len() - zone.0.len() - 1] == b'.')
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_lower_cased() {
        assert_eq!(
            DnsName::parse("API.Example.").unwrap().as_str(),
            "api.example"
        );
        assert_eq!(DnsName::parse("a-1.b").unwrap().as_str(), "a-1.b");
        assert_eq!(DnsName::parse(""), Err(NameError::Empty));
        assert_eq!(DnsName::parse("."), Err(NameError::Empty));
        assert!(matches!(
            DnsName::parse("a..b"),
            Err(NameError::EmptyLabel(_))
        ));
        assert!(matches!(
            DnsName::parse(".a"),
            Err(NameError::EmptyLabel(_))
        ));
        assert!(matches!(
            DnsName::parse("a_b.example"),
            Err(NameError::BadCharacter { found: '_', .. })
        ));
        assert!(matches!(DnsName::parse("-a.b"), Err(NameError::Hyphen(_))));
        assert!(matches!(DnsName::parse("a-.b"), Err(NameError::Hyphen(_))));
        let long_label = "a".repeat(64);
        assert!(matches!(
            DnsName::parse(&long_label),
            Err(NameError::LongLabel { len: 64, .. })
        ));
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(matches!(DnsName::parse(&long), Err(NameError::TooLong(_))));
        assert!(DnsName::parse(&long[..253]).is_ok());
    }

    #[test]
    fn zones_contain_their_names_only() {
        let zone = DnsName::parse("example").unwrap();
        assert!(DnsName::parse("api.example").unwrap().is_within(&zone));
        assert!(zone.is_within(&zone));
        assert!(!DnsName::parse("badexample").unwrap().is_within(&zone));
        assert_eq!(
            DnsName::parse("a.b.example")
                .unwrap()
                .parent()
                .unwrap()
                .as_str(),
            "b.example"
        );
        assert_eq!(zone.parent(), None);
    }

    #[test]
    fn wire_names_round_trip() {
        let name = DnsName::parse("Api.Example").unwrap();
        let wire = name.to_wire_name();
        assert!(wire.is_fqdn());
        assert_eq!(wire.to_ascii(), "api.example.");
        assert_eq!(DnsName::from_wire_name(&wire), Some(name));
    }
}
