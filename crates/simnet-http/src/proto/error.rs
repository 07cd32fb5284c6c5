//! What can be wrong with the bytes a peer sent.
//!
//! One small enum shared by the head parser, the body decoder and both
//! connections. It is internal: the server turns it into a status code and a
//! `BadRequest` event, the client into an `Error` event, both carrying its
//! `Display` text as the reason. It does not cover misuse of the API by the
//! application, which has its own error types next to the methods that
//! return them.

/// A way in which received HTTP/1.1 input breaks the protocol or a limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProtocolError {
    /// The request line is longer than allowed.
    #[error("request line longer than {limit} bytes")]
    RequestLineTooLong { limit: usize },
    /// The head (start line and header fields) is longer than allowed.
    #[error("header section longer than {limit} bytes")]
    HeadTooLarge { limit: usize },
    /// There are more header fields than allowed.
    #[error("more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    /// The trailer section of a chunked body is longer than allowed.
    #[error("trailer section longer than {limit} bytes")]
    TrailersTooLarge { limit: usize },
    /// The body is (or says it will be) longer than allowed.
    #[error("body longer than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The version is well formed but not HTTP/1.0 or HTTP/1.1.
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// The body uses a transfer coding this crate cannot remove.
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// A client kept sending while the server could not read (it held the
    /// maximum number of unanswered requests, or awaited an upgrade
    /// decision) and had already buffered `limit` bytes.
    #[error("more than {limit} bytes arrived while requests awaited responses")]
    StalledInputOverflow { limit: usize },
    /// Anything else that is not valid HTTP/1.1.
    #[error("{0}")]
    Malformed(&'static str),
}

impl ProtocolError {
    /// The status code a server answers this error with.
    pub(crate) fn status(&self) -> u16 {
        match self {
            ProtocolError::Malformed(_) => 400,
            ProtocolError::BodyTooLarge { .. } => 413,
            ProtocolError::RequestLineTooLong { .. } => 414,
            ProtocolError::HeadTooLarge { .. }
            | ProtocolError::TooManyHeaders { .. }
            | ProtocolError::TrailersTooLarge { .. } => 431,
            ProtocolError::UnsupportedTransferCoding => 501,
            ProtocolError::StalledInputOverflow { .. } => 503,
            ProtocolError::UnsupportedVersion => 505,
        }
    }
}
