//! The few pieces of HTTP grammar that values written by people must match
//! before they go on the wire: a method (an RFC 9110 token), a request
//! target in origin form (RFC 9112 §3.2.1), and a token in general (which
//! is also what RFC 6455 requires of a WebSocket subprotocol name).
//!
//! The connections in this module's siblings refuse to write a request
//! line or header that would break the message apart (a space, a CR or LF);
//! these checks are stricter and come earlier: the scenario loader runs them
//! on every `method`, `path` and `subprotocols` value, so that a typo is
//! reported with its file, line and column instead of surfacing as a
//! request the client can never send. Each check says what is wrong in
//! words, quoting the offending character escaped, so that a control
//! character never reaches the terminal raw.

use std::fmt;

/// Why a value does not match the grammar it must follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrammarError {
    /// What was being checked, e.g. `request target`.
    pub what: &'static str,
    /// The offending value, escaped for display (`"/a b"`, `"x\r\ny"`).
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
    /// An example of a valid value.
    pub example: &'static str,
}

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a valid {}: {}",
            self.value, self.what, self.problem
        )
    }
}

impl std::error::Error for GrammarError {}

impl GrammarError {
    fn new(what: &'static str, value: &str, problem: String, example: &'static str) -> Self {
        GrammarError {
            what,
            value: quote(value),
            problem,
            example,
        }
    }
}

/// `value` in double quotes with control characters, quotes and non-ASCII
/// escaped, shortened to at most 60 characters so that a huge value is not
/// echoed whole.
fn quote(value: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::from("\"");
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}

/// A character named for an error message: `the space`, `'\r'`, `'{'`.
fn describe(c: char) -> String {
    match c {
        ' ' => "the space".to_string(),
        c => format!("'{}'", c.escape_debug()),
    }
}

/// Whether `b` is a `tchar` (RFC 9110 §5.6.2): a letter, a digit or one of
/// ``!#$%&'*+-.^_`|~``.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is a token: one or more `tchar`s.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Checks that `s` is a token; `what` names it in the error (`method`,
/// `subprotocol`).
pub fn check_token(what: &'static str, s: &str, example: &'static str) -> Result<(), GrammarError> {
    if s.is_empty() {
        return Err(GrammarError::new(
            what,
            s,
            "it is empty".to_string(),
            example,
        ));
    }
    match s
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii() || !is_tchar(*c as u8))
    {
        None => Ok(()),
        Some((i, c)) => Err(GrammarError::new(
            what,
            s,
            format!(
                "{} (character {}) is not allowed; a {what} is made of letters, digits and \
                 !#$%&'*+-.^_`|~ only",
                describe(c),
                i + 1
            ),
            example,
        )),
    }
}

/// Checks that `method` is an HTTP method: a token (RFC 9110 §9.1).
pub fn check_method(method: &str) -> Result<(), GrammarError> {
    check_token("method", method, "\"GET\"")
}

/// Checks that `subprotocol` is a WebSocket subprotocol name: a token
/// (RFC 6455 §4.1 and §11.5).
pub fn check_subprotocol(subprotocol: &str) -> Result<(), GrammarError> {
    check_token("subprotocol", subprotocol, "\"v12.stomp\"")
}

/// Whether `b` may appear as itself in an origin-form target: an RFC 3986
/// `pchar` (unreserved, sub-delims, `:` and `@`), `/` or `?`. `%` is
/// allowed here and checked separately as the start of `%XX`.
fn is_target_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)
}

/// Checks that `target` is a request target in origin form (RFC 9112
/// §3.2.1): an absolute path starting with `/`, optionally followed by
/// `?` and a query, made of RFC 3986 characters, with `%` only as the
/// start of a `%XX` escape. Spaces, control characters, non-ASCII
/// characters and a `#` fragment are refused.
pub fn check_origin_form(target: &str) -> Result<(), GrammarError> {
    const WHAT: &str = "request target";
    const EXAMPLE: &str = "\"/index.html?page=2\"";
    if !target.starts_with('/') {
        let problem = if target.is_empty() {
            "it is empty; a target starts with /".to_string()
        } else {
            "it must start with /".to_string()
        };
        return Err(GrammarError::new(WHAT, target, problem, EXAMPLE));
    }
    let bytes = target.as_bytes();
    for (i, c) in target.char_indices() {
        let ok = c.is_ascii() && is_target_byte(c as u8);
        if !ok {
            let hint = match c {
                ' ' => "; write a space as %20",
                '#' => "; a fragment is never sent to the server",
                _ => "",
            };
            let position = target[..i].chars().count() + 1;
            return Err(GrammarError::new(
                WHAT,
                target,
                format!(
                    "{} (character {position}) is not allowed{hint}",
                    describe(c)
                ),
                EXAMPLE,
            ));
        }
        if c == '%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                let position = target[..i].chars().count() + 1;
                return Err(GrammarError::new(
                    WHAT,
                    target,
                    format!(
                        "'%' (character {position}) must start an escape of two hexadecimal \
                         digits such as %20"
                    ),
                    EXAMPLE,
                ));
            }
        }
    }
    Ok(())
}

/// Checks a request target for `method`: origin form, or `*` alone for
/// `OPTIONS` (the asterisk form of RFC 9112 §3.2.4).
pub fn check_request_target(method: &str, target: &str) -> Result<(), GrammarError> {
    if target == "*" {
        return if method == "OPTIONS" {
            Ok(())
        } else {
            Err(GrammarError::new(
                "request target",
                target,
                format!("`*` is only a target for OPTIONS, not {method}"),
                "\"/index.html?page=2\"",
            ))
        };
    }
    check_origin_form(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_tokens() {
        for good in ["GET", "POST", "M-SEARCH", "x~y"] {
            assert_eq!(check_method(good), Ok(()), "{good}");
        }
        let empty = check_method("").unwrap_err();
        assert_eq!(empty.to_string(), "\"\" is not a valid method: it is empty");
        let crlf = check_method("GET\r\nX: 1").unwrap_err();
        assert_eq!(
            crlf.to_string(),
            "\"GET\\r\\nX: 1\" is not a valid method: '\\r' (character 4) is not allowed; \
             a method is made of letters, digits and !#$%&'*+-.^_`|~ only"
        );
        assert!(check_method("GÉT").is_err());
        assert!(check_method("GET ").is_err());
    }

    #[test]
    fn targets_are_origin_form() {
        for good in ["/", "/a/b.html", "/q?x=1&y=%20", "/~user/@x:y;z=(1)!*'$,+"] {
            assert_eq!(check_origin_form(good), Ok(()), "{good}");
        }
        let space = check_origin_form("/a b").unwrap_err();
        assert_eq!(
            space.to_string(),
            "\"/a b\" is not a valid request target: the space (character 3) is not \
             allowed; write a space as %20"
        );
        assert_eq!(space.example, "\"/index.html?page=2\"");
        assert!(check_origin_form("").is_err());
        assert!(check_origin_form("a").is_err());
        assert!(check_origin_form("/a\r\nHost: x").is_err());
        assert!(check_origin_form("/a#frag").is_err());
        assert!(check_origin_form("/é").is_err());
        assert!(check_origin_form("/a{b}").is_err());
        assert!(check_origin_form("/%2").is_err());
        assert!(check_origin_form("/%zz").is_err());
        assert!(check_origin_form("/a\0").is_err());
    }

    #[test]
    fn asterisk_only_for_options() {
        assert_eq!(check_request_target("OPTIONS", "*"), Ok(()));
        assert!(check_request_target("GET", "*").is_err());
        assert_eq!(check_request_target("GET", "/x"), Ok(()));
    }

    #[test]
    fn long_values_are_shortened() {
        let long = format!("/{}", " ".repeat(10_000));
        let e = check_origin_form(&long).unwrap_err();
        assert!(e.value.len() < 80, "{}", e.value);
        assert!(e.value.ends_with("...\""));
    }

    #[test]
    fn subprotocols_are_tokens() {
        assert_eq!(check_subprotocol("v12.stomp"), Ok(()));
        assert!(check_subprotocol("chat\r\nX-Evil: 1").is_err());
        assert!(check_subprotocol("a b").is_err());
        assert!(check_subprotocol("a,b").is_err());
    }
}
