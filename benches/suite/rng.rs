//! splitmix64, seeded: the random choices of the churn and mark-rate workloads, the same in the
//! Go programs (`benches/go/report.go`) so that every peer makes the same choices.

pub struct Rng(u64);

/// Maps a random `k` to `0..n` (`n > 0`) by multiply-shift, as `below` does: for a draw taken
/// before the range is known (the churn workload draws, then locks, then looks at a length).
pub fn scale(k: u64, n: usize) -> usize {
    ((k as u128 * n as u128) >> 64) as usize
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        scale(self.next(), n)
    }

    /// A permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
        v
    }
}
