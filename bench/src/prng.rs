//! The one deterministic generator both benchmark sides use (Rust here,
//! `bench/cpython_bench.py` for CPython), so that every shape holds the same
//! strings and floats in both languages.
//!
//! Specification (the Python script implements exactly this):
//!
//! * generator: splitmix64, state starts at the seed ([`SEED`] = 795);
//!   `next()`: `state += 0x9E3779B97F4A7C15`, `z = state`,
//!   `z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9`,
//!   `z = (z ^ (z >> 27)) * 0x94D049BB133111EB`, return `z ^ (z >> 31)`
//!   (all arithmetic mod 2^64);
//! * string: one `next()`, its 8 bytes in little-endian order, each byte `b`
//!   mapped to `ALPHABET[b % 52]` with [`ALPHABET`] = `A..Z` then `a..z`;
//! * float: one `next()`, `((x >> 11) as f64 * 2^-53) * 2.0 - 1.0`, a value
//!   in `[-1, 1)` (IEEE arithmetic, so bit-identical in Python).

/// The seed of every workload (PEP 795).
pub const SEED: u64 = 795;

/// The 52 letters strings are drawn from: `A..Z` then `a..z`.
pub const ALPHABET: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// splitmix64 (Steele, Lea and Flood), the generator of [`strings`] and
/// [`SplitMix64::next_float`].
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose state starts at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next 8-letter ASCII string.
    pub fn next_string(&mut self) -> String {
        let bytes = self.next().to_le_bytes();
        bytes
            .iter()
            .map(|b| ALPHABET[(*b % 52) as usize] as char)
            .collect()
    }

    /// The next float in `[-1, 1)`.
    pub fn next_float(&mut self) -> f64 {
        ((self.next() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)) * 2.0 - 1.0
    }
}

/// The first `n` strings of a generator seeded with [`SEED`]: the keys of
/// every Table 1 shape.
pub fn strings(n: usize) -> Vec<String> {
    let mut g = SplitMix64::new(SEED);
    (0..n).map(|_| g.next_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference outputs of splitmix64 seeded with 0 (published with
        // the algorithm, e.g. in Vigna's splitmix64.c test vectors).
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn strings_follow_the_spec() {
        let s = strings(3);
        assert_eq!(s.len(), 3);
        // Recompute the first string by hand from the specification.
        let mut state: u64 = SEED;
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let expect: String = (0..8)
            .map(|i| ALPHABET[(((z >> (8 * i)) & 0xff) % 52) as usize] as char)
            .collect();
        assert_eq!(s[0], expect);
        assert!(s
            .iter()
            .all(|x| x.len() == 8 && x.bytes().all(|b| b.is_ascii_alphabetic())));
        assert_ne!(s[0], s[1]);
    }

    #[test]
    fn floats_in_range() {
        let mut g = SplitMix64::new(SEED);
        for _ in 0..10_000 {
            let x = g.next_float();
            assert!((-1.0..1.0).contains(&x));
        }
    }
}
