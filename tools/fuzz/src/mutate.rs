//! The mutator: turns one corpus entry into a mutant, deterministically.
//!
//! Input number `i` of a session is a pure function of the seed, the target
//! and `i` (each input draws from its own ChaCha stream, forked with
//! [`simnet_core::rng::Seed::stream`]). That is what lets the supervisor
//! name the exact input a dead or hung worker was running without the
//! worker having to send every input over a pipe: it regenerates it.
//!
//! The mutations are the classic byte-level ones (bit flips, interesting
//! bytes, inserts, deletes, duplicated ranges, splices between corpus
//! entries, dictionary tokens) plus, for TOML targets, line-aware ones:
//! replace the value of a `key = value` line with an extreme one, duplicate
//! or drop a line, rename a key to another known key, or nest a deep table.

use rand::Rng;
use simnet_core::rng::{Seed, SimRng};

/// The values a TOML-aware mutation puts in place of a value: zero and
/// sub-microsecond durations, sizes that overflow, negative and huge
/// numbers, floats out of range, empty strings, strings with a CRLF or a
/// NUL, request targets and methods that are not valid, deep inline tables.
pub const EXTREME_VALUES: &[&str] = &[
    "\"0s\"",
    "\"1ns\"",
    "\"999ns\"",
    "\"0ms\"",
    "\"1e30s\"",
    "\"NaNms\"",
    "\"-5ms\"",
    "\"99999999999GiB\"",
    "\"18446744073709551616B\"",
    "\"100GiB\"",
    "\"0.4\"",
    "\"1.5\"",
    "\"0B\"",
    "\"1B\"",
    "\"-5Mbps\"",
    "\"0bps\"",
    "\"1bps\"",
    "\"99999999999Gbps\"",
    "\"100%\"",
    "\"101%\"",
    "\"-1%\"",
    "\"1e-30%\"",
    "-1",
    "0",
    "1",
    "65535",
    "65536",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e30",
    "-1e30",
    "nan",
    "inf",
    "0.0",
    "true",
    "\"\"",
    "\" \"",
    "\"a\\r\\nb\"",
    "\"\\u0000\"",
    "\"/a b\"",
    "\"GET /x HTTP/1.1\\r\\nHost: y\"",
    "[]",
    "[\"\"]",
    "{}",
    "{a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a=1}}}}}}}}}}}}}}}}",
    "\"10.0.0.1:0\"",
    "\"10.0.0.1:70000\"",
    "\"nowhere:80\"",
    "\"255.255.255.255\"",
    "\"0.0.0.0\"",
];

/// Tokens every TOML mutation may insert: structure and the keys that
/// scenario files use.
const TOML_TOKENS: &[&[u8]] = &[
    b"\n[[host]]\nname = \"h\"\naddress = \"10.0.0.9\"\n",
    b"\n[[link]]\nbetween = [\"client\", \"server\"]\n",
    b"\n[[app]]\nhost = \"client\"\nkind = \"http-client\"\nconnect = \"server:80\"\n",
    b"\n[[timeline]]\nat = \"1ms\"\ncrash = \"server\"\n",
    b"\n[[timeline]]\nat = \"2ms\"\nrestart = \"server\"\n",
    b"\n[[timeline]]\nat = \"1ms\"\npartition = [[\"client\"], [\"server\"]]\n",
    b"\n[[expect]]\nevent = \"tcp.failed\"\ncount = 0\n",
    b"\n[[fault]]\n",
    b"\n[host.tcp]\n",
    b"tcp = { keepalive = \"1s\" }",
    b"[[",
    b"]]",
    b"[",
    b"]",
    b"=",
    b"\"",
    b"'''",
    b"\"\"\"",
    b"\\",
    b"\n",
    b"\r\n",
    b"#",
    b".",
    b",",
    b"{",
    b"}",
];

/// Whole blocks appended to scenarios that are run: faults, timeline
/// actions and applications aimed at the host names most scenarios use.
const RUN_BLOCKS: &[&str] = &[
    "\n[[timeline]]\nat = \"150ms\"\ncrash = \"server\"\n\n[[timeline]]\nat = \"400ms\"\nrestart = \"server\"\n",
    "\n[[timeline]]\nat = \"100ms\"\npartition = [[\"client\"], [\"server\"]]\n\n[[timeline]]\nat = \"900ms\"\nheal = true\n",
    "\n[[timeline]]\nat = \"50ms\"\nset_link = { between = [\"client\", \"server\"], loss = \"30%\", duplicate = \"5%\" }\n",
    "\n[[timeline]]\nat = \"20ms\"\nlink_down = [\"client\", \"server\"]\n\n[[timeline]]\nat = \"2s\"\nlink_up = [\"client\", \"server\"]\n",
    "\n[[timeline]]\nat = \"30ms\"\napp = \"client\"\ncommand = \"send\"\ndata = \"hello\"\ncount = 3\n",
    "\n[[timeline]]\nat = \"300ms\"\napp = \"client\"\ncommand = \"close\"\n",
    "\n[[app]]\nhost = \"client\"\nkind = \"http-client\"\nconnect = \"server:80\"\nstart = \"10ms\"\n",
    "\n[[app]]\nhost = \"client\"\nkind = \"ws-client\"\nconnect = \"server:80\"\n",
    "\n[[app]]\nhost = \"client\"\nkind = \"tcp-client\"\nconnect = \"server:80\"\nsend_bytes = \"64KiB\"\n",
    "\n[[fault]]\naction = \"drop\"\nfrom = \"server\"\nnth = 2\n",
    "\n[[fault]]\naction = \"delay\"\ndelay = \"300ms\"\nflags = \"S\"\nnth = 1\n",
    "\n[[expect]]\nevent = \"tcp.failed\"\ncount = 0\n",
];

/// Values of each type that scenario files accept, for
/// [`same_type_value`].
const DURATIONS: &[&str] = &[
    "1us", "100us", "1ms", "5ms", "10ms", "50ms", "200ms", "1s", "3s", "30s", "2m",
];
const SIZES: &[&str] = &[
    "0B", "1B", "100B", "1500B", "1KiB", "16KiB", "64KiB", "1MiB", "4MiB",
];
const PERCENTS: &[&str] = &["0%", "0.1%", "1%", "5%", "10%", "30%", "50%", "99%", "100%"];
const RATES: &[&str] = &["1kbps", "56kbps", "1Mbps", "10Mbps", "100Mbps", "1Gbps"];
const INTEGERS: &[i64] = &[0, 1, 2, 3, 4, 5, 8, 10, 16, 64, 100, 1000, 1400, 65535];

/// Keys a line may be renamed to.
const TOML_KEYS: &[&str] = &[
    "name",
    "tcp.keepalive",
    "tcp.user_timeout",
    "body_bytes",
    "address",
    "host",
    "kind",
    "connect",
    "listen",
    "port",
    "path",
    "paths",
    "method",
    "body_bytes",
    "send_bytes",
    "reply_bytes",
    "count",
    "latency",
    "jitter",
    "loss",
    "bandwidth",
    "queue",
    "mtu",
    "duplicate",
    "reorder",
    "corrupt",
    "time_limit",
    "seed",
    "start",
    "at",
    "every",
    "interval",
    "ping_every",
    "publish_every",
    "idle_timeout",
    "keepalive",
    "user_timeout",
    "subprotocols",
    "messages",
    "send",
    "event",
    "app",
    "between",
    "direction",
    "nth",
    "flags",
];

/// Tokens HTTP mutations may insert.
const HTTP_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b" ",
    b":",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"Content-Length: 5\r\n",
    b"Content-Length: 18446744073709551616\r\n",
    b"Content-Length: -1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive, Upgrade\r\n",
    b"Upgrade: websocket\r\n",
    b"Keep-Alive: timeout=0, max=0\r\n",
    b"Keep-Alive: timeout=99999999999999999999\r\n",
    b"Host: x\r\n",
    b" folded\r\n",
    b"\0",
    b"ffffffffffffffffff\r\n",
    b"0\r\n\r\n",
    b"5;ext=1\r\n",
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    b"Sec-WebSocket-Version: 13\r\n",
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
    b"Sec-WebSocket-Protocol: v12.stomp\r\n",
];

/// Tokens STOMP and WebSocket mutations may insert.
const FRAME_TOKENS: &[&[u8]] = &[
    b"\0",
    b"\n",
    b"\r\n",
    b":",
    b"\\c",
    b"\\n",
    b"\\x",
    b"content-length:0\n",
    b"content-length:99999999999999999999\n",
    b"content-length:-1\n",
    b"CONNECT\n",
    b"SEND\n",
    b"MESSAGE\n",
    b"\xc2\x80",
    b"\xef\xbf\xbf",
    b"\x81\x7f\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x88\x02\x03\xe8",
    b"\x89\x00",
    b"\x8a\x00",
    b"\x01\x00",
    b"\x80\x00",
    b"\x00\x00",
];

/// Bytes that often sit on boundaries.
const INTERESTING_BYTES: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'\r', b'\n', b' ', b'\t', b'"', b'\'', b'=', b'[', b']', b'{', b'}',
    b':', b'0', b'9', b'\\', b'.', b'-',
];

/// What kind of text a target reads, which decides the dictionary and
/// whether the line-aware TOML mutations apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// TOML scenario files, for the parser and compiler: anything goes.
    Toml,
    /// TOML scenario files meant to be run: mostly values swapped for
    /// others of the same type (a duration for a duration), so that most
    /// mutants still compile and get run, and now and then an extreme one.
    TomlRun,
    /// HTTP/1.1 heads and bodies.
    Http,
    /// WebSocket frames and STOMP frames.
    Frames,
}

/// Mutates corpus entries into inputs.
pub struct Mutator<'a> {
    corpus: &'a [Vec<u8>],
    flavour: Flavour,
    max_len: usize,
}

impl<'a> Mutator<'a> {
    /// A mutator over `corpus` (never empty) producing inputs of at most
    /// `max_len` bytes.
    pub fn new(corpus: &'a [Vec<u8>], flavour: Flavour, max_len: usize) -> Mutator<'a> {
        assert!(!corpus.is_empty(), "a mutator needs at least one seed");
        Mutator {
            corpus,
            flavour,
            max_len,
        }
    }

    /// Input number `index` of the session `seed` for `target`. Input 0..n
    /// of every session are the corpus entries themselves, unmutated, so
    /// every seed is run once as written.
    pub fn input(&self, seed: u64, target: &str, index: u64) -> Vec<u8> {
        if let Ok(i) = usize::try_from(index)
            && i < self.corpus.len()
        {
            return self.corpus[i].clone();
        }
        let mut rng = Seed(seed).stream(&format!("fuzz:{target}:{index}"));
        let mut data = self.corpus[rng.random_range(0..self.corpus.len())].clone();
        // Mostly few mutations, sometimes many: a few keep the input close
        // to valid so that it gets deep; many shake the parsers' edges.
        let rounds = if self.flavour == Flavour::TomlRun {
            rng.random_range(1..3)
        } else if rng.random_ratio(1, 8) {
            rng.random_range(4..16)
        } else {
            rng.random_range(1..4)
        };
        for _ in 0..rounds {
            self.mutate_once(&mut rng, &mut data);
        }
        data.truncate(self.max_len);
        data
    }

    fn mutate_once(&self, rng: &mut SimRng, data: &mut Vec<u8>) {
        // TOML inputs mostly get line-aware mutations, so the scenario gets
        // past the parser into the compiler and the run; inputs to be run
        // mostly get values of the same type.
        let choice = match self.flavour {
            Flavour::Toml if rng.random_ratio(2, 3) => 10 + rng.random_range(0..6),
            Flavour::TomlRun if rng.random_ratio(19, 20) => match rng.random_range(0..20) {
                0..11 => 20,
                11..13 => 10,
                13..14 => 13,
                14..15 => 14,
                15..18 => 22,
                _ => 21,
            },
            _ => rng.random_range(0..8),
        };
        match choice {
            0 => {
                if !data.is_empty() {
                    let i = rng.random_range(0..data.len());
                    data[i] ^= 1 << rng.random_range(0..8);
                }
            }
            1 => {
                if !data.is_empty() {
                    let i = rng.random_range(0..data.len());
                    data[i] = INTERESTING_BYTES[rng.random_range(0..INTERESTING_BYTES.len())];
                }
            }
            2 => {
                let at = rng.random_range(0..=data.len());
                let n = rng.random_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                data.splice(at..at, bytes);
            }
            3 => {
                if !data.is_empty() {
                    let (a, b) = range(rng, data.len());
                    data.drain(a..b);
                }
            }
            4 => {
                if !data.is_empty() {
                    let (a, b) = range(rng, data.len());
                    let copy = data[a..b].to_vec();
                    let at = rng.random_range(0..=data.len());
                    data.splice(at..at, copy);
                }
            }
            5 => {
                // Splice: a piece of another corpus entry.
                let other = &self.corpus[rng.random_range(0..self.corpus.len())];
                if !other.is_empty() {
                    let (a, b) = range(rng, other.len());
                    let at = rng.random_range(0..=data.len());
                    if rng.random_bool(0.5) && !data.is_empty() {
                        let end = (at + (b - a)).min(data.len());
                        data.splice(at..end, other[a..b].iter().copied());
                    } else {
                        data.splice(at..at, other[a..b].iter().copied());
                    }
                }
            }
            6 | 7 => {
                let tokens = match self.flavour {
                    Flavour::Toml | Flavour::TomlRun => TOML_TOKENS,
                    Flavour::Http => HTTP_TOKENS,
                    Flavour::Frames => FRAME_TOKENS,
                };
                let token = tokens[rng.random_range(0..tokens.len())];
                let at = rng.random_range(0..=data.len());
                data.splice(at..at, token.iter().copied());
            }
            20 => same_type_value(rng, data),
            22 => new_parameter(rng, data),
            21 => {
                let token = RUN_BLOCKS[rng.random_range(0..RUN_BLOCKS.len())];
                data.extend_from_slice(token.as_bytes());
            }
            _ => toml_mutation(rng, data, choice - 10),
        }
    }
}

/// Replaces the value of a random `key = value` line with another of the
/// same type: a duration with a duration, a size with a size, an integer
/// with an integer. One time in eight the value is an extreme one instead.
fn same_type_value(rng: &mut SimRng, data: &mut Vec<u8>) {
    let lines = lines(data);
    let assignments: Vec<(usize, usize)> = lines
        .iter()
        .filter_map(|&(a, b)| {
            let eq = data[a..b].iter().position(|&c| c == b'=')?;
            Some((a + eq + 1, b))
        })
        .collect();
    let Some(&(start, end)) = pick(rng, &assignments) else {
        return;
    };
    let old = String::from_utf8_lossy(&data[start..end])
        .trim()
        .to_string();
    let new = if rng.random_ratio(1, 8) {
        EXTREME_VALUES[rng.random_range(0..EXTREME_VALUES.len())].to_string()
    } else if let Some(inner) = old.strip_prefix('"').and_then(|o| o.strip_suffix('"')) {
        let list = if inner.ends_with("bps") {
            RATES
        } else if inner.ends_with('%') {
            PERCENTS
        } else if inner.ends_with('B') {
            SIZES
        } else if inner.starts_with(|c: char| c.is_ascii_digit())
            && inner.ends_with(|c: char| c.is_ascii_alphabetic())
        {
            DURATIONS
        } else {
            return;
        };
        format!("\"{}\"", list[rng.random_range(0..list.len())])
    } else if old.parse::<i64>().is_ok() {
        INTEGERS[rng.random_range(0..INTEGERS.len())].to_string()
    } else if old == "true" || old == "false" {
        if old == "true" { "false" } else { "true" }.to_string()
    } else {
        return;
    };
    data.splice(start..end, format!(" {new}").into_bytes());
}

/// Adds a `key = value` line right under a random table header: a known
/// key with a value of any type, extreme or plausible. Most are refused
/// (unknown key, wrong type); the rest reach parameters no seed sets.
fn new_parameter(rng: &mut SimRng, data: &mut Vec<u8>) {
    let headers: Vec<usize> = lines(data)
        .into_iter()
        .filter(|&(a, b)| data[a..b].starts_with(b"["))
        .map(|(_, b)| b)
        .collect();
    let Some(&at) = pick(rng, &headers) else {
        return;
    };
    let key = TOML_KEYS[rng.random_range(0..TOML_KEYS.len())];
    let value = match rng.random_range(0..6) {
        0 => EXTREME_VALUES[rng.random_range(0..EXTREME_VALUES.len())].to_string(),
        1 => format!("\"{}\"", DURATIONS[rng.random_range(0..DURATIONS.len())]),
        2 => format!("\"{}\"", SIZES[rng.random_range(0..SIZES.len())]),
        3 => INTEGERS[rng.random_range(0..INTEGERS.len())].to_string(),
        4 => "\"/a b\"".to_string(),
        _ => "\"\"".to_string(),
    };
    let line = format!("\n{key} = {value}");
    data.splice(at..at, line.into_bytes());
}

/// A random non-empty range of `0..len` (`len > 0`), mostly short.
fn range(rng: &mut SimRng, len: usize) -> (usize, usize) {
    let a = rng.random_range(0..len);
    let max = (len - a).min(if rng.random_ratio(1, 4) { len } else { 16 });
    let b = a + rng.random_range(1..=max);
    (a, b)
}

/// The byte ranges of the lines of `data`, without their line endings.
fn lines(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            out.push((start, i));
            start = i + 1;
        }
    }
    if start < data.len() {
        out.push((start, data.len()));
    }
    out
}

/// The line-aware mutations of TOML text.
fn toml_mutation(rng: &mut SimRng, data: &mut Vec<u8>, which: u32) {
    let lines = lines(data);
    if lines.is_empty() {
        return;
    }
    let assignments: Vec<(usize, usize, usize)> = lines
        .iter()
        .filter_map(|&(a, b)| {
            let eq = data[a..b].iter().position(|&c| c == b'=')?;
            Some((a, a + eq, b))
        })
        .collect();
    match which {
        // Replace a value with an extreme one (twice as likely as the rest).
        0 | 1 => {
            if let Some(&(_, eq, end)) = pick(rng, &assignments) {
                let value = EXTREME_VALUES[rng.random_range(0..EXTREME_VALUES.len())];
                let replacement = format!("= {value}");
                data.splice(eq..end, replacement.bytes());
            }
        }
        // Rename a key to another known key.
        2 => {
            if let Some(&(start, eq, _)) = pick(rng, &assignments) {
                let key = TOML_KEYS[rng.random_range(0..TOML_KEYS.len())];
                data.splice(start..eq, format!("{key} ").bytes());
            }
        }
        // Duplicate a line, or a whole table from its header on.
        3 => {
            let &(a, b) = &lines[rng.random_range(0..lines.len())];
            let mut copy = data[a..b].to_vec();
            copy.push(b'\n');
            let at = lines[rng.random_range(0..lines.len())].0;
            data.splice(at..at, copy);
        }
        // Drop a line.
        4 => {
            let &(a, b) = &lines[rng.random_range(0..lines.len())];
            let end = (b + 1).min(data.len());
            data.drain(a..end);
        }
        // A deep dotted or nested table.
        _ => {
            let depth = rng.random_range(8..4000);
            let mut t = String::from("\n[");
            for i in 0..depth {
                if i > 0 {
                    t.push('.');
                }
                t.push('a');
            }
            t.push_str("]\nx = 1\n");
            let at = if rng.random_bool(0.5) { data.len() } else { 0 };
            data.splice(at..at, t.into_bytes());
        }
    }
}

fn pick<'b, T>(rng: &mut SimRng, items: &'b [T]) -> Option<&'b T> {
    if items.is_empty() {
        None
    } else {
        Some(&items[rng.random_range(0..items.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_index_gives_the_same_input() {
        let corpus = vec![
            b"a = 1\nb = \"x\"\n".to_vec(),
            b"[[host]]\nname = \"h\"\n".to_vec(),
        ];
        let m = Mutator::new(&corpus, Flavour::Toml, 1 << 16);
        for i in 0..200 {
            assert_eq!(m.input(7, "scenario", i), m.input(7, "scenario", i));
        }
        // The first inputs are the seeds themselves.
        assert_eq!(m.input(7, "scenario", 1), corpus[1]);
        // Different seeds give different sessions.
        let a: Vec<_> = (2..50).map(|i| m.input(1, "scenario", i)).collect();
        let b: Vec<_> = (2..50).map(|i| m.input(2, "scenario", i)).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn inputs_respect_the_length_cap() {
        let corpus = vec![vec![b'x'; 100]];
        let m = Mutator::new(&corpus, Flavour::Frames, 120);
        assert!((0..500).all(|i| m.input(3, "stomp", i).len() <= 120));
    }
}
