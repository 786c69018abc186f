//! A soak test of the three consumers (`scnotify`, `iokit-notify`, `ipconfig-rpc`) on one
//! simulated kernel with seeded random faults. The test is in `tests/soak.rs` and ignored by
//! default; this library only holds the seeded generator it uses.
//!
//! ```sh
//! cargo test -p soak --release -- --ignored --nocapture
//! SOAK_SEED=7 SOAK_ITERATIONS=2000 cargo test -p soak --release -- --ignored --nocapture
//! ```
//!
//! ```
//! let mut a = soak::Rng::new(7);
//! let mut b = soak::Rng::new(7);
//! assert_eq!(a.below(100), b.below(100)); // the same seed gives the same run
//! ```

/// A small deterministic generator (xorshift64*): the same seed replays the same faults.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n.max(1))) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence_and_values_in_range() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..1000 {
            let v = a.below(7);
            assert!(v < 7);
            assert_eq!(v, b.below(7));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        assert_ne!(Rng::new(0).next_u64(), 0);
    }
}
