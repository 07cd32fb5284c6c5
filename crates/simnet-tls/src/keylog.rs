//! SSLKEYLOGFILE lines collected in memory.
//!
//! rustls hands every traffic secret it derives to the configuration's
//! `KeyLog`. [`KeyLogLines`] keeps them as the lines of the NSS key log
//! format (`LABEL <client random hex> <secret hex>`), in the order rustls
//! derived them, which is the order of the simulation's calls and so the
//! same on every run. The caller writes them to a file (`--keylog PATH`);
//! Wireshark then decrypts the capture. Nothing here touches the file
//! system.

use std::fmt::Write as _;
use std::sync::Mutex;

/// Key log lines, in the order the secrets were derived.
#[derive(Debug, Default)]
pub struct KeyLogLines {
    lines: Mutex<Vec<String>>,
}

impl KeyLogLines {
    /// An empty log.
    pub fn new() -> KeyLogLines {
        KeyLogLines::default()
    }

    /// The lines so far, without newlines.
    pub fn lines(&self) -> Vec<String> {
        self.lock().clone()
    }

    /// The lines so far as the contents of an SSLKEYLOGFILE, each ending in
    /// a newline; they stay in the log.
    pub fn to_file_contents(&self) -> String {
        let mut out = String::new();
        for line in self.lock().iter() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Removes and returns the lines so far (for a caller that appends to
    /// its file as it goes).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock())
    }

    /// The secret logged under `label` for the connection whose
    /// ClientHello had `client_random` (the most recent, if several).
    pub fn secret(&self, label: &str, client_random: &[u8]) -> Option<Vec<u8>> {
        let random = hex(client_random);
        self.lock().iter().rev().find_map(|line| {
            let mut parts = line.split(' ');
            let (l, r, secret) = (parts.next()?, parts.next()?, parts.next()?);
            (l == label && r == random).then(|| unhex(secret)).flatten()
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A panic while holding the lock cannot leave a half-written line
        // (lines are pushed whole), so a poisoned lock is still good.
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }
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
        let line = format!("{label} {} {}", hex(client_random), hex(secret));
        self.lock().push(line);
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
        assert_eq!(log.take().len(), 2);
        assert!(log.lines().is_empty());
    }
}
