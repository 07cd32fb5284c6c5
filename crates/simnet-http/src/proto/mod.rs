//! HTTP/1.1 as sans-IO state machines: bytes in, bytes and events out.
//!
//! One connection object per TCP connection, on each side:
//!
//! - [`server::ServerConn`] parses requests, frames responses, keeps
//!   pipelined responses in request order, and decides when the connection
//!   ends (keep-alive, `Connection: close`, idle timeout, maximum number of
//!   requests, malformed input, limits).
//! - [`client::ClientConn`] serialises requests and parses the responses,
//!   reporting each piece of a body as it arrives so that streaming
//!   responses can be observed live.
//!
//! Both follow quinn-proto's shape: `handle_*` methods feed input (bytes, end
//! of stream, timeouts), mutators carry the application's decisions, and
//! `poll_*` methods hand out what the connection wants to do (events, bytes
//! to send, the next deadline). Time is always passed in as a
//! [`SimTime`](simnet_core::time::SimTime); nothing here reads a clock.
//!
//! The plain values both sides exchange ([`Request`], [`Response`],
//! [`Version`], [`RequestId`]) live in [`message`]; case-insensitive header
//! lookup lives in [`headers`]; the text of published events (polled lines,
//! Server-Sent Events) lives in [`sse`]; the grammar of methods, request targets and
//! tokens that values written by people are checked against lives in
//! [`grammar`].
//!
//! Deliberately not here: sockets or any I/O, TLS, HTTP/2, compression,
//! `Expect: 100-continue` (the server ignores it and simply reads the body),
//! a `Date` header (it would make output depend on more than the input),
//! routing, and any notion of "the current time" besides the `now` argument.
//!
//! Every limit is written down: see [`server::Limits`],
//! [`client::ResponseLimits`] and [`MAX_CHUNK_LINE_BYTES`]. No input, however
//! malformed, makes either side panic; a misbehaving peer becomes an event.

mod body;
mod error;
pub mod grammar;
mod head;
pub mod headers;
pub mod hsts;
pub mod message;

pub mod client;
pub mod server;
pub mod sse;
pub mod url;

#[cfg(test)]
mod testing;

pub use client::{
    ClientConfig, ClientConn, ClientEvent, KeepAlive, ResponseLimits, SendRequestError,
};
pub use message::{Request, RequestId, Response, Version, reason_phrase};
pub use server::{Limits, SendError, ServerConfig, ServerConn, ServerEvent};
pub use url::{Origin, Scheme, Url, UrlError};

/// The longest chunk-size line (hexadecimal size plus any chunk extensions,
/// without the line ending) either side accepts in a chunked body.
///
/// A real chunk size needs at most 16 hexadecimal digits; the rest of the
/// allowance is for extensions, which are read and ignored. A longer line is
/// treated as malformed.
pub const MAX_CHUNK_LINE_BYTES: usize = 1024;

#[cfg(test)]
mod tests {
    //! The two sides talking to each other, with no network in between.

    use super::*;
    use simnet_core::time::SimTime;

    /// Moves every byte one side wants to send into the other side.
    fn pump(client: &mut ClientConn, server: &mut ServerConn, now: SimTime) {
        let mut bytes = Vec::new();
        client.poll_transmit(&mut bytes);
        server.handle_input(now, &bytes);
        bytes.clear();
        server.poll_transmit(&mut bytes);
        client.handle_input(now, &bytes);
    }

    #[test]
    fn client_and_server_understand_each_other() {
        let now = SimTime::ZERO;
        let mut client = ClientConn::new(ClientConfig::default());
        let mut server = ServerConn::new(ServerConfig::default(), now);

        let first = client
            .send_request(now, Request::get("example.test", "/a"))
            .unwrap();
        let upload = Request::new("POST", "/upload")
            .with_header("Host", "example.test")
            .with_body("twelve bytes");
        let second = client.send_request(now, upload).unwrap();
        pump(&mut client, &mut server, now);

        // The server sees both pipelined requests and answers them.
        let mut seen = Vec::new();
        while let Some(event) = server.poll_event() {
            let ServerEvent::Request { id, request } = event else {
                panic!("unexpected server event {event:?}");
            };
            let body = format!("{} got {} bytes", request.target, request.body.len());
            seen.push(request.summary());
            server
                .send_response(now, id, Response::new(200).with_body(body))
                .unwrap();
        }
        assert_eq!(seen, ["GET /a HTTP/1.1", "POST /upload HTTP/1.1"]);
        pump(&mut client, &mut server, now);

        // The client matches the responses to its requests, in order.
        let mut answers = Vec::new();
        while let Some(event) = client.poll_event() {
            if let ClientEvent::Response { id, response } = event {
                answers.push((id, String::from_utf8(response.body).unwrap()));
            }
        }
        assert_eq!(
            answers,
            [
                (first, "/a got 0 bytes".to_string()),
                (second, "/upload got 12 bytes".to_string())
            ]
        );
        assert!(client.keep_alive().reusable);
        assert_eq!(client.keep_alive().max, Some(98));
        assert!(server.is_idle());
        assert!(!server.wants_close());
    }
}
