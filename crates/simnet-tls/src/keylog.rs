//! SSLKEYLOGFILE lines collected in memory.
//!
//! rustls hands every traffic secret it derives to the configuration's
//! `KeyLog`. [`KeyLogLines`] keeps them per connection (by the client
//! random that names a connection in the NSS key log format, `LABEL
//! <client random hex> <secret hex>`), in the order rustls derived them,
//! which is the order of the simulation's calls and so the same on every
//! run. A connection's [`TlsLayer`](crate::TlsLayer) takes its new lines as
//! they appear, reports them in the trace (the command line's `--keylog
//! PATH` writes them to a file, and Wireshark then decrypts the capture),
//! and forgets them when the connection ends, so an application's log
//! holds only its open connections' secrets however long it runs. Nothing
//! here touches the file system.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// One connection's secrets.
#[derive(Debug, Default)]
struct Connection {
    /// (derivation order, label, secret).
    secrets: Vec<(u64, String, Vec<u8>)>,
    /// How many of them [`KeyLogLines::take_new`] has handed out.
    taken: usize,
}

#[derive(Debug, Default)]
struct Inner {
    by_random: BTreeMap<Vec<u8>, Connection>,
    next: u64,
}

/// Key log lines, per connection, in the order the secrets were derived.
#[derive(Debug, Default)]
pub struct KeyLogLines {
    inner: Mutex<Inner>,
}

impl KeyLogLines {
    /// An empty log.
    pub fn new() -> KeyLogLines {
        KeyLogLines::default()
    }

    /// Every line held, without newlines, in the order the secrets were
    /// derived.
    pub fn lines(&self) -> Vec<String> {
        let inner = self.lock();
        let mut all: Vec<(u64, String)> = inner
            .by_random
            .iter()
            .flat_map(|(random, c)| {
                c.secrets
                    .iter()
                    .map(move |(n, label, secret)| (*n, line(label, random, secret)))
            })
            .collect();
        all.sort_by_key(|(n, _)| *n);
        all.into_iter().map(|(_, l)| l).collect()
    }

    /// The lines held as the contents of an SSLKEYLOGFILE, each ending in
    /// a newline; they stay in the log.
    pub fn to_file_contents(&self) -> String {
        let mut out = String::new();
        for line in self.lines() {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The lines of the connection whose ClientHello had `client_random`
    /// that no earlier call returned.
    pub fn take_new(&self, client_random: &[u8]) -> Vec<String> {
        let mut inner = self.lock();
        let Some(c) = inner.by_random.get_mut(client_random) else {
            return Vec::new();
        };
        let new = c.secrets[c.taken..]
            .iter()
            .map(|(_, label, secret)| line(label, client_random, secret))
            .collect();
        c.taken = c.secrets.len();
        new
    }

    /// Drops the secrets of the connection whose ClientHello had
    /// `client_random` (it has ended).
    pub fn forget(&self, client_random: &[u8]) {
        self.lock().by_random.remove(client_random);
    }

    /// Adds one line of the NSS key log format (`LABEL <client random hex>
    /// <secret hex>`), as read back from a file or a trace; false (and
    /// nothing added) when it is not one.
    pub fn push_line(&self, line: &str) -> bool {
        let mut parts = line.split(' ');
        let (Some(label), Some(random), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let (Some(random), Some(secret)) = (unhex(random), unhex(secret)) else {
            return false;
        };
        if label.is_empty() || random.is_empty() || secret.is_empty() {
            return false;
        }
        rustls::KeyLog::log(self, label, &random, &secret);
        true
    }

    /// How many connections the log holds secrets for.
    pub fn connections(&self) -> usize {
        self.lock().by_random.len()
    }

    /// The secret logged under `label` for the connection whose
    /// ClientHello had `client_random` (the most recent, if several).
    pub fn secret(&self, label: &str, client_random: &[u8]) -> Option<Vec<u8>> {
        let inner = self.lock();
        let c = inner.by_random.get(client_random)?;
        c.secrets
            .iter()
            .rev()
            .find(|(_, l, _)| l == label)
            .map(|(_, _, s)| s.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written entry
        // (secrets are pushed whole), so a poisoned lock is still good.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One line of the NSS key log format.
fn line(label: &str, client_random: &[u8], secret: &[u8]) -> String {
    format!("{label} {} {}", hex(client_random), hex(secret))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl rustls::KeyLog for KeyLogLines {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut inner = self.lock();
        let n = inner.next;
        inner.next += 1;
        inner
            .by_random
            .entry(client_random.to_vec())
            .or_default()
            .secrets
            .push((n, label.to_string(), secret.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::KeyLog;

    #[test]
    fn lines_are_nss_format_in_order() {
        let log = KeyLogLines::new();
        log.log("CLIENT_RANDOM", &[0xab, 0x01], &[0xff]);
        log.log("SERVER_TRAFFIC_SECRET_0", &[0x00], &[0x10, 0x20]);
        assert_eq!(
            log.to_file_contents(),
            "CLIENT_RANDOM ab01 ff\nSERVER_TRAFFIC_SECRET_0 00 1020\n"
        );
        assert_eq!(log.secret("CLIENT_RANDOM", &[0xab, 0x01]), Some(vec![0xff]));
        assert_eq!(log.secret("CLIENT_RANDOM", &[0xab]), None);
        assert_eq!(log.connections(), 2);
    }

    #[test]
    fn each_connection_takes_its_new_lines_once_and_forgets_them() {
        let log = KeyLogLines::new();
        log.log("A", &[1], &[0x0a]);
        log.log("B", &[2], &[0x0b]);
        assert_eq!(log.take_new(&[1]), vec!["A 01 0a".to_string()]);
        assert!(log.take_new(&[1]).is_empty());
        log.log("C", &[1], &[0x0c]);
        assert_eq!(log.take_new(&[1]), vec!["C 01 0c".to_string()]);
        // Taking does not forget: the observer may still need the secret.
        assert_eq!(log.secret("A", &[1]), Some(vec![0x0a]));
        log.forget(&[1]);
        assert_eq!(log.secret("A", &[1]), None);
        assert_eq!(log.lines(), vec!["B 02 0b".to_string()]);
        assert!(log.take_new(&[9]).is_empty());
    }

    #[test]
    fn lines_read_back_are_the_lines_written() {
        let log = KeyLogLines::new();
        assert!(log.push_line("CLIENT_RANDOM ab01 ff"));
        assert_eq!(log.lines(), vec!["CLIENT_RANDOM ab01 ff".to_string()]);
        for bad in [
            "",
            "A",
            "A 01",
            "A 01 02 03",
            "A 0 02",
            "A zz 02",
            "A 01 ",
            " 01 02",
        ] {
            assert!(!log.push_line(bad), "{bad:?}");
        }
        assert_eq!(log.lines().len(), 1);
    }
}
