//! Test support shared by the server and client tests.
//!
//! TCP may cut a byte stream anywhere, so a parser must not care how its
//! input was delivered. [`deliver_every_way`] makes that a checked property
//! of every test: each input is delivered whole, in two pieces cut at every
//! byte boundary, and one byte at a time, each time to a fresh copy of the
//! connection, and every delivery must lead to the same observation.

use std::fmt::Debug;

/// Every way the tests deliver `data`: whole first, then in two pieces cut
/// at each byte boundary, then one byte at a time.
pub(crate) fn deliveries(data: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut ways = vec![vec![data]];
    for cut in 1..data.len() {
        ways.push(vec![&data[..cut], &data[cut..]]);
    }
    if data.len() > 2 {
        ways.push(data.chunks(1).collect());
    }
    ways
}

/// Delivers `data` to copies of `conn` in every way from [`deliveries`],
/// calling `feed` once per piece and `observe` after the last piece, and
/// asserts that every delivery observes the same as the whole one.
///
/// Returns the connection after the whole delivery and what was observed.
#[track_caller]
pub(crate) fn deliver_every_way<C, O>(
    conn: &C,
    data: &[u8],
    mut feed: impl FnMut(&mut C, &[u8]),
    mut observe: impl FnMut(&mut C) -> O,
) -> (C, O)
where
    C: Clone,
    O: PartialEq + Debug,
{
    let mut ways = deliveries(data).into_iter();
    let whole = ways.next().unwrap_or_default();
    let mut reference = conn.clone();
    for piece in &whole {
        feed(&mut reference, piece);
    }
    let expected = observe(&mut reference);
    for pieces in ways {
        let mut copy = conn.clone();
        for piece in &pieces {
            feed(&mut copy, piece);
        }
        let sizes: Vec<usize> = pieces.iter().map(|piece| piece.len()).collect();
        assert_eq!(
            observe(&mut copy),
            expected,
            "delivering {:?} in pieces of {sizes:?} bytes changed the outcome",
            data.escape_ascii().to_string(),
        );
    }
    (reference, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_cover_every_cut() {
        let ways = deliveries(b"abc");
        assert_eq!(
            ways,
            [
                vec![&b"abc"[..]],
                vec![&b"a"[..], &b"bc"[..]],
                vec![&b"ab"[..], &b"c"[..]],
                vec![&b"a"[..], &b"b"[..], &b"c"[..]],
            ]
        );
    }

    #[test]
    #[should_panic(expected = "changed the outcome")]
    fn a_split_dependent_consumer_is_caught() {
        // Counts deliveries rather than bytes: exactly the bug to catch.
        deliver_every_way(&0usize, b"ab", |count, _| *count += 1, |count| *count);
    }
}
