//! Decoding message bodies: fixed length, chunked, or until end of stream.
//!
//! A [`BodyDecoder`] takes bytes from the front of a connection's input
//! buffer and gives the body back in pieces. For a chunked body each piece is
//! one whole chunk, however TCP cut it up: a server that writes one event per
//! chunk (Server-Sent Events, long-lived streams) is observed one event at a
//! time. For the other framings a piece is whatever has arrived, so a large
//! download can be followed as it progresses.
//!
//! Limits: the decoded body may not exceed `max_body_bytes` (a chunk is
//! refused as soon as its size line says it would cross the limit), a
//! chunk-size line may not exceed [`MAX_CHUNK_LINE_BYTES`], and the trailer
//! section may not exceed `max_trailer_bytes`.
//!
//! Deliberately not here: content codings such as gzip (the bytes are handed
//! on as they are), and trailer fields, which are checked for shape and then
//! dropped because nothing in simnet uses them.

use super::MAX_CHUNK_LINE_BYTES;
use super::error::ProtocolError;
use super::head::{LineEnd, find_line};

/// How the end of a body is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// There is no body.
    Empty,
    /// `Content-Length`: exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the peer closes the connection (responses only).
    UntilEof,
}

/// One step of decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// More of the body; never empty.
    Data(Vec<u8>),
    /// Nothing more can be decoded until more input arrives.
    NeedMore,
    /// The body is complete.
    End,
}

/// Where the decoder is within the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Length { remaining: u64 },
    ChunkSize,
    ChunkData { size: usize },
    Trailers { seen_bytes: usize },
    UntilEof,
    Done,
}

/// Turns the framed bytes of one body into body pieces.
#[derive(Clone, Debug)]
pub(crate) struct BodyDecoder {
    state: State,
    /// Body bytes handed out so far.
    received_bytes: usize,
    max_body_bytes: usize,
    max_trailer_bytes: usize,
}

impl BodyDecoder {
    /// A decoder for a body with this framing. A `Length` framing must
    /// already have been checked against `max_body_bytes`.
    pub(crate) fn new(framing: Framing, max_body_bytes: usize, max_trailer_bytes: usize) -> Self {
        let state = match framing {
            Framing::Empty => State::Done,
            Framing::Length(length) => State::Length { remaining: length },
            Framing::Chunked => State::ChunkSize,
            Framing::UntilEof => State::UntilEof,
        };
        BodyDecoder {
            state,
            received_bytes: 0,
            max_body_bytes,
            max_trailer_bytes,
        }
    }

    /// Whether the body ends only when the connection does.
    pub(crate) fn is_until_eof(&self) -> bool {
        self.state == State::UntilEof
    }

    /// Decodes the next piece from the front of `input`, removing the bytes
    /// it used.
    pub(crate) fn decode(&mut self, input: &mut Vec<u8>) -> Result<Piece, ProtocolError> {
        loop {
            match self.state {
                State::Done => return Ok(Piece::End),
                State::Length { remaining: 0 } => {
                    self.state = State::Done;
                    return Ok(Piece::End);
                }
                State::Length { remaining } => {
                    if input.is_empty() {
                        return Ok(Piece::NeedMore);
                    }
                    let take =
                        usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    self.state = State::Length {
                        remaining: remaining - take as u64,
                    };
                    return Ok(Piece::Data(self.take(input, take)));
                }
                State::UntilEof => {
                    if input.is_empty() {
                        return Ok(Piece::NeedMore);
                    }
                    let room = self.max_body_bytes.saturating_sub(self.received_bytes);
                    if room == 0 {
                        return Err(ProtocolError::BodyTooLarge {
                            limit: self.max_body_bytes,
                        });
                    }
                    let take = room.min(input.len());
                    return Ok(Piece::Data(self.take(input, take)));
                }
                State::ChunkSize => {
                    let (content, total) = match find_line(input, MAX_CHUNK_LINE_BYTES) {
                        LineEnd::NeedMore => return Ok(Piece::NeedMore),
                        LineEnd::TooLong => {
                            return Err(ProtocolError::Malformed("chunk size line too long"));
                        }
                        LineEnd::Found { content, total } => (content, total),
                    };
                    let size = parse_chunk_size(&input[..content])?;
                    input.drain(..total);
                    let room = self.max_body_bytes.saturating_sub(self.received_bytes);
                    self.state = match usize::try_from(size) {
                        Ok(0) => State::Trailers { seen_bytes: 0 },
                        Ok(size) if size <= room => State::ChunkData { size },
                        _ => {
                            return Err(ProtocolError::BodyTooLarge {
                                limit: self.max_body_bytes,
                            });
                        }
                    };
                }
                State::ChunkData { size } => {
                    // The whole chunk is delivered at once, together with the
                    // line ending that must follow it.
                    let ending = match input.get(size..) {
                        None | Some([] | [b'\r']) => return Ok(Piece::NeedMore),
                        Some([b'\n', ..]) => 1,
                        Some([b'\r', b'\n', ..]) => 2,
                        Some(_) => {
                            return Err(ProtocolError::Malformed(
                                "chunk data not followed by CRLF",
                            ));
                        }
                    };
                    let data = self.take(input, size);
                    input.drain(..ending);
                    self.state = State::ChunkSize;
                    return Ok(Piece::Data(data));
                }
                State::Trailers { seen_bytes } => {
                    let room = self.max_trailer_bytes.saturating_sub(seen_bytes);
                    match find_line(input, room) {
                        LineEnd::NeedMore => return Ok(Piece::NeedMore),
                        LineEnd::TooLong => {
                            return Err(ProtocolError::TrailersTooLarge {
                                limit: self.max_trailer_bytes,
                            });
                        }
                        LineEnd::Found { content: 0, total } => {
                            input.drain(..total);
                            self.state = State::Done;
                            return Ok(Piece::End);
                        }
                        LineEnd::Found { content, total } => {
                            if !input[..content].contains(&b':') {
                                return Err(ProtocolError::Malformed("invalid trailer field"));
                            }
                            input.drain(..total);
                            self.state = State::Trailers {
                                seen_bytes: seen_bytes + total,
                            };
                        }
                    }
                }
            }
        }
    }

    /// Tells the decoder that the peer closed the connection. Only a body
    /// delimited by the close (or already complete) ends well.
    pub(crate) fn finish(&mut self) -> Result<(), ProtocolError> {
        match self.state {
            State::UntilEof | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(ProtocolError::Malformed(
                "connection closed before the end of the body",
            )),
        }
    }

    /// Removes `count` body bytes from the front of `input`.
    fn take(&mut self, input: &mut Vec<u8>, count: usize) -> Vec<u8> {
        self.received_bytes += count;
        input.drain(..count).collect()
    }
}

/// Reads a chunk-size line (without its line ending): hexadecimal digits,
/// optionally followed by `;` and extensions, which are ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, ProtocolError> {
    let digits = match line.iter().position(|&b| b == b';') {
        Some(semicolon) => &line[..semicolon],
        None => line,
    }
    .trim_ascii();
    // Sixteen hexadecimal digits fill a u64, so the sum below cannot
    // overflow.
    if digits.is_empty() || digits.len() > 16 {
        return Err(ProtocolError::Malformed("invalid chunk size"));
    }
    digits.iter().try_fold(0u64, |size, &b| {
        let digit = char::from(b)
            .to_digit(16)
            .ok_or(ProtocolError::Malformed("invalid chunk size"))?;
        Ok(size * 16 + u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes everything `input` allows, returning the pieces and what is
    /// left of the input.
    fn decode_all(decoder: &mut BodyDecoder, input: &[u8]) -> (Vec<Piece>, Vec<u8>) {
        let mut input = input.to_vec();
        let mut pieces = Vec::new();
        loop {
            let piece = decoder.decode(&mut input).unwrap();
            let done = matches!(piece, Piece::NeedMore | Piece::End);
            pieces.push(piece);
            if done {
                return (pieces, input);
            }
        }
    }

    fn data(bytes: &str) -> Piece {
        Piece::Data(bytes.as_bytes().to_vec())
    }

    #[test]
    fn a_fixed_length_body_stops_at_its_length() {
        let mut decoder = BodyDecoder::new(Framing::Length(5), 100, 100);
        let (pieces, rest) = decode_all(&mut decoder, b"helloGET");
        assert_eq!(pieces, [data("hello"), Piece::End]);
        assert_eq!(rest, b"GET");
    }

    #[test]
    fn a_chunked_body_yields_whole_chunks() {
        let mut decoder = BodyDecoder::new(Framing::Chunked, 100, 100);
        let wire = b"5;name=value\r\nhello\r\n1\r\n \r\n0\r\nTrailer: x\r\n\r\nNEXT";
        let (pieces, rest) = decode_all(&mut decoder, wire);
        assert_eq!(pieces, [data("hello"), data(" "), Piece::End]);
        assert_eq!(rest, b"NEXT");
    }

    #[test]
    fn a_partial_chunk_waits_for_its_end() {
        let mut decoder = BodyDecoder::new(Framing::Chunked, 100, 100);
        let (pieces, rest) = decode_all(&mut decoder, b"5\r\nhel");
        assert_eq!(pieces, [Piece::NeedMore]);
        assert_eq!(rest, b"hel");
    }

    #[test]
    fn chunk_sizes_are_checked_against_the_limit_before_the_data_arrives() {
        let mut decoder = BodyDecoder::new(Framing::Chunked, 10, 100);
        let mut input = b"5\r\nhello\r\n6\r\n".to_vec();
        assert_eq!(decoder.decode(&mut input), Ok(data("hello")));
        assert_eq!(
            decoder.decode(&mut input),
            Err(ProtocolError::BodyTooLarge { limit: 10 })
        );
    }

    #[test]
    fn malformed_chunks_are_errors() {
        for wire in [
            &b"x\r\n"[..],
            b"5\r\nhelloX",
            b"-1\r\n",
            b"11111111111111111\r\n",
        ] {
            let mut decoder = BodyDecoder::new(Framing::Chunked, 1 << 20, 100);
            let mut input = wire.to_vec();
            let mut result = decoder.decode(&mut input);
            while let Ok(Piece::Data(_)) = result {
                result = decoder.decode(&mut input);
            }
            assert!(
                matches!(result, Err(ProtocolError::Malformed(_))),
                "{wire:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn trailers_are_limited() {
        let mut decoder = BodyDecoder::new(Framing::Chunked, 100, 8);
        let mut input = b"0\r\nLong-Trailer: yes\r\n\r\n".to_vec();
        assert_eq!(
            decoder.decode(&mut input),
            Err(ProtocolError::TrailersTooLarge { limit: 8 })
        );
    }

    #[test]
    fn an_eof_delimited_body_ends_only_at_eof_and_within_the_limit() {
        let mut decoder = BodyDecoder::new(Framing::UntilEof, 8, 0);
        let mut input = b"hello".to_vec();
        assert_eq!(decoder.decode(&mut input), Ok(data("hello")));
        assert_eq!(decoder.decode(&mut input), Ok(Piece::NeedMore));
        assert_eq!(decoder.finish(), Ok(()));
        assert_eq!(decoder.decode(&mut input), Ok(Piece::End));

        let mut decoder = BodyDecoder::new(Framing::UntilEof, 8, 0);
        let mut input = b"0123456789".to_vec();
        assert_eq!(decoder.decode(&mut input), Ok(data("01234567")));
        assert_eq!(
            decoder.decode(&mut input),
            Err(ProtocolError::BodyTooLarge { limit: 8 })
        );
    }

    #[test]
    fn eof_before_the_end_of_a_framed_body_is_an_error() {
        let mut decoder = BodyDecoder::new(Framing::Length(5), 100, 100);
        let mut input = b"hel".to_vec();
        assert_eq!(decoder.decode(&mut input), Ok(data("hel")));
        assert!(decoder.finish().is_err());
    }
}
