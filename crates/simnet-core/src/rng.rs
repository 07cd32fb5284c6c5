//! Seeded randomness.
//!
//! A run has one seed. Every component that needs random numbers (a link
//! direction, a host's smoltcp interface, an application) draws from its own
//! ChaCha8 stream, forked from the seed by a stable label such as
//! `link:client-server:a->b`. Adding a host therefore never changes another
//! component's numbers, and the same seed always gives the same run.
//!
//! There is deliberately no access to OS randomness here; `clippy.toml` bans
//! it everywhere else.

use rand::distr::uniform::{SampleRange, SampleUniform};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// The generator every stream uses: ChaCha with 8 rounds, named explicitly so
/// an upgrade of `rand` can never change the algorithm under us.
pub type SimRng = ChaCha8Rng;

/// The root of all randomness in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub u64);

impl Seed {
    /// The independent stream for `label`.
    ///
    /// The stream is the ChaCha stream number derived from the label with
    /// FNV-1a, keyed by the seed: two labels give unrelated sequences, and the
    /// same label always gives the same sequence for the same seed.
    pub fn stream(self, label: &str) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.0);
        rng.set_stream(fnv1a64(label.as_bytes()));
        rng
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An application's own random stream, as [`AppContext::rng`] hands it out.
///
/// It is the same ChaCha8 stream as [`SimRng`], with the everyday draws as
/// inherent methods so an application needs no `use rand::...` to call
/// them. It also implements [`rand::RngCore`], so anything from the `rand`
/// ecosystem that takes a generator accepts it.
///
/// ```
/// # use simnet_core::rng::{AppRng, Seed};
/// let mut rng = AppRng::new(Seed(7).stream("example"));
/// let delay_ms = rng.gen_range(10..50u64);
/// assert!((10..50).contains(&delay_ms));
/// let mut nonce = [0u8; 16];
/// rng.fill(&mut nonce);
/// let coin = rng.gen_bool(0.5);
/// # let _ = (coin, rng.next_u64());
/// ```
///
/// [`AppContext::rng`]: crate::AppContext::rng
#[derive(Clone, Debug)]
pub struct AppRng(SimRng);

impl AppRng {
    /// Wraps a stream.
    pub fn new(rng: SimRng) -> AppRng {
        AppRng(rng)
    }

    /// A value drawn uniformly from `range` (`10..50`, `0.0..1.0`, `1..=6`).
    ///
    /// # Panics
    ///
    /// If the range is empty, as `rand`'s `random_range` does.
    pub fn gen_range<T, R>(&mut self, range: R) -> T
    where
        T: SampleUniform,
        R: SampleRange<T>,
    {
        self.0.random_range(range)
    }

    /// `true` with probability `p` (0.0 to 1.0).
    ///
    /// # Panics
    ///
    /// If `p` is outside 0.0 to 1.0.
    pub fn gen_bool(&mut self, p: f64) -> bool {
        self.0.random_bool(p)
    }

    /// `true` with probability `p`, drawing nothing when `p` is zero (see
    /// [`Probability::sample`]).
    pub fn chance(&mut self, p: Probability) -> bool {
        p.sample(&mut self.0)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Fills `bytes` with random bytes.
    pub fn fill(&mut self, bytes: &mut [u8]) {
        self.0.fill_bytes(bytes)
    }

    /// The underlying ChaCha8 stream, for code written against `rand`.
    pub fn inner(&mut self) -> &mut SimRng {
        &mut self.0
    }
}

impl RngCore for AppRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A probability with a resolution of one part per million.
///
/// Stored as an integer so that comparing, printing and parsing it is exact;
/// `1%` is `Probability::from_ppm(10_000)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Probability(u32);

impl Probability {
    /// Never.
    pub const ZERO: Probability = Probability(0);
    /// Always.
    pub const ONE: Probability = Probability(1_000_000);

    /// A probability of `ppm` parts per million, clamped to one.
    pub const fn from_ppm(ppm: u32) -> Probability {
        if ppm > 1_000_000 {
            Probability(1_000_000)
        } else {
            Probability(ppm)
        }
    }

    /// A probability of `percent` percent (0..=100), clamped.
    pub fn from_percent(percent: f64) -> Probability {
        Probability::from_ppm((percent.clamp(0.0, 100.0) * 10_000.0).round() as u32)
    }

    /// Parts per million.
    pub const fn ppm(self) -> u32 {
        self.0
    }

    /// Whether the event can ever happen.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Draws once from `rng`: true with this probability.
    ///
    /// A zero probability draws nothing, so a feature that is switched off
    /// does not consume numbers from the stream.
    pub fn sample(self, rng: &mut SimRng) -> bool {
        match self.0 {
            0 => false,
            1_000_000 => true,
            ppm => rng.random_range(0..1_000_000u32) < ppm,
        }
    }
}

/// Writes the probability as a percentage: `1%`, `0.5%`, `0.0001%`.
impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 10_000;
        let frac = self.0 % 10_000;
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_seed_and_label_give_the_same_stream() {
        let a: Vec<u32> = (0..4).map(|_| Seed(7).stream("x").next_u32()).collect();
        let mut s = Seed(7).stream("x");
        let b: Vec<u32> = (0..4).map(|_| s.next_u32()).collect();
        assert_eq!(a[0], b[0]);
        let mut s1 = Seed(7).stream("x");
        let mut s2 = Seed(7).stream("x");
        for _ in 0..100 {
            assert_eq!(s1.next_u64(), s2.next_u64());
        }
    }

    #[test]
    fn different_labels_or_seeds_give_different_streams() {
        let first = |seed: u64, label: &str| Seed(seed).stream(label).next_u64();
        assert_ne!(first(7, "link:a-b"), first(7, "link:b-a"));
        assert_ne!(first(7, "link:a-b"), first(8, "link:a-b"));
    }

    #[test]
    fn app_rng_draws_the_same_stream_as_its_chacha() {
        let mut plain = Seed(3).stream("app");
        let mut app = AppRng::new(Seed(3).stream("app"));
        assert_eq!(app.next_u64(), plain.next_u64());
        assert_eq!(app.next_u32(), plain.next_u32());
        let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
        app.fill(&mut a);
        plain.fill_bytes(&mut b);
        assert_eq!(a, b);
        assert_eq!(app.gen_range(0..1000u32), plain.random_range(0..1000u32));
    }

    #[test]
    fn app_rng_ranges_stay_in_bounds_and_cover_them() {
        let mut app = AppRng::new(Seed(5).stream("dice"));
        let mut seen = [false; 6];
        for _ in 0..600 {
            let roll = app.gen_range(1..=6u8);
            assert!((1..=6).contains(&roll), "{roll}");
            seen[usize::from(roll - 1)] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
        assert!(!app.chance(Probability::ZERO));
        assert!(app.chance(Probability::ONE));
        let heads = (0..10_000).filter(|_| app.gen_bool(0.25)).count();
        assert!((2_200..2_800).contains(&heads), "{heads}");
    }

    #[test]
    fn probability_prints_as_percent() {
        assert_eq!(Probability::from_percent(1.0).to_string(), "1%");
        assert_eq!(Probability::from_percent(0.5).to_string(), "0.5%");
        assert_eq!(Probability::from_ppm(1).to_string(), "0.0001%");
        assert_eq!(Probability::ONE.to_string(), "100%");
    }

    #[test]
    fn probability_sampling_matches_its_rate() {
        let mut rng = Seed(1).stream("p");
        let p = Probability::from_percent(30.0);
        let hits = (0..100_000).filter(|_| p.sample(&mut rng)).count();
        assert!((29_000..31_000).contains(&hits), "{hits}");
        assert!(!Probability::ZERO.sample(&mut rng));
        assert!(Probability::ONE.sample(&mut rng));
    }
}
