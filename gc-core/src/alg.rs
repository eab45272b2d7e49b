//! `alg`: the default hash of [`GcMap`](crate::GcMap), seeded per map (Go's `alg.go`, whose
//! `memhash` and `aeshash` hash every map key with a seed chosen per map at random). The
//! runtime's own tables keyed by object addresses use it too: a [`GcWeakMap`](crate::GcWeakMap)'s
//! entries and the heap's ephemerons (`mspecial::EPHEMERONS`).
//!
//! # Why not std's `RandomState`
//! `RandomState` is SipHash-1-3: about 110 instructions for a `u64` key, a quarter of all the
//! instructions of a `GcMap` insert or update (callgrind, the containers benchmark's map at
//! 100,000 keys). Go's maps hash a word in a handful of instructions, and an interpreter's
//! tables (the users this crate is for) hash on every field access. [`GcHashState`] hashes a
//! word with a 64×64→128-bit multiply whose two halves are xored together (`fold`), and folds
//! the result once more to finish: the high half carries every input bit into the low bits,
//! which pick a map's slot, and the low half carries them into the high bits, which `GcMap`
//! keeps as the slot's tag. About a dozen instructions for a `u64`.
//!
//! # What it does not promise
//! The seeds are secret (random per thread at first use, then stepped and mixed per map), so
//! keys cannot be chosen to collide without learning them, but this is not a keyed
//! pseudo-random function as SipHash is: a program whose keys come from an adversary who can
//! also time its map operations should build its maps with
//! [`GcMap::with_hasher`](crate::GcMap::with_hasher)`(RandomState::new())`. A map's iteration
//! order does not depend on the hash (insertion order), so copying one map into another does
//! not cluster keys whatever the seeds.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// The fractional parts of the square roots of 2, 3, 5 and 7: odd constants with no structure
/// a key could line up with.
const K: [u64; 4] = [
    0x6a09_e667_f3bc_c909,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
];

/// The folded multiply: the 128-bit product's halves xored together.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

thread_local! {
    /// The next map's seed material on this thread: random at the thread's first map, then
    /// stepped per map (as `RandomState` steps its keys), and mixed before use, so that two
    /// maps' seeds are unrelated.
    static NEXT: Cell<(u64, u64)> = Cell::new({
        let os = RandomState::new();
        (os.hash_one(K[0]), os.hash_one(K[1]))
    });
}

/// The default [`BuildHasher`] of [`GcMap`](crate::GcMap): a fast hash seeded at random per
/// map (module docs: what it costs and what it does not promise).
///
/// # Example
/// ```
/// use std::hash::BuildHasher;
/// use tricolor_gc::GcHashState;
/// let s = GcHashState::new();
/// assert_eq!(s.hash_one(42u64), s.hash_one(42u64));
/// assert_ne!(s.hash_one(42u64), s.hash_one(43u64));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GcHashState {
    start: u64,
    key: u64,
    last: u64,
}

impl GcHashState {
    /// A state with fresh random seeds.
    ///
    /// # Example
    /// ```
    /// use std::hash::BuildHasher;
    /// let (a, b) = (tricolor_gc::GcHashState::new(), tricolor_gc::GcHashState::new());
    /// // Two states hash alike only by chance.
    /// assert_ne!(a.hash_one("key"), b.hash_one("key"));
    /// ```
    pub fn new() -> GcHashState {
        let (a, b) = NEXT.with(|n| {
            let (a, b) = n.get();
            n.set((a.wrapping_add(K[2]), b));
            (a, b)
        });
        GcHashState::from_seeds(a, b)
    }

    /// A state from given seeds, for tests that need the same hashes in every run.
    pub(crate) fn from_seeds(a: u64, b: u64) -> GcHashState {
        // The keys multiply: odd, so that no input bit is lost off the low end of a product.
        GcHashState {
            start: fold(a ^ K[0], b ^ K[1]),
            key: fold(a ^ K[2], b ^ K[3]) | 1,
            last: fold(a ^ K[1], b ^ K[2]) | 1,
        }
    }
}

impl Default for GcHashState {
    /// The same as [`GcHashState::new`].
    ///
    /// # Example
    /// ```
    /// let _s: tricolor_gc::GcHashState = Default::default();
    /// ```
    fn default() -> GcHashState {
        GcHashState::new()
    }
}

impl BuildHasher for GcHashState {
    type Hasher = GcHasher;

    #[inline]
    fn build_hasher(&self) -> GcHasher {
        GcHasher {
            acc: self.start,
            key: self.key,
            last: self.last,
        }
    }
}

/// The [`Hasher`] of [`GcHashState`]: one folded multiply per word or 16 bytes written, and one
/// to finish.
///
/// # Example
/// ```
/// use std::hash::{BuildHasher, Hasher};
/// let mut h = tricolor_gc::GcHashState::new().build_hasher();
/// h.write_u64(7);
/// let _ = h.finish();
/// ```
#[derive(Clone, Debug)]
pub struct GcHasher {
    acc: u64,
    key: u64,
    last: u64,
}

/// Reads `N` bytes of `b` from `at` as a little-endian number.
#[inline(always)]
fn read<const N: usize>(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..N].copy_from_slice(&b[at..at + N]);
    u64::from_le_bytes(w)
}

impl Hasher for GcHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // One fold leaves an input bit's flip changing about 43% of the output bits (the
        // product's low half keeps the bits below it); a second brings that to half.
        fold(self.acc, self.last)
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.acc = fold(self.acc ^ x, self.key);
    }

    #[inline]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_u16(&mut self, x: u16) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    #[inline]
    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Sixteen bytes per multiply; the last (up to) sixteen read as two words that may
        // overlap, and the length mixed in with them, so that inputs that read alike but
        // differ in length hash apart.
        let len = bytes.len();
        let mut acc = self.acc;
        let mut at = 0;
        while len - at > 16 {
            acc = fold(
                acc ^ read::<8>(bytes, at),
                self.key ^ read::<8>(bytes, at + 8),
            );
            at += 16;
        }
        let rest = len - at;
        let (a, b) = if rest > 8 {
            (read::<8>(bytes, at), read::<8>(bytes, len - 8))
        } else if rest >= 4 {
            (read::<4>(bytes, at), read::<4>(bytes, len - 4))
        } else if rest > 0 {
            let spread = u64::from(bytes[at])
                | u64::from(bytes[at + rest / 2]) << 8
                | u64::from(bytes[len - 1]) << 16;
            (spread, 0)
        } else {
            (0, 0)
        };
        self.acc = fold(acc ^ a, self.key ^ b ^ (len as u64).wrapping_mul(K[3]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::Hash;

    fn state() -> GcHashState {
        GcHashState::from_seeds(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210)
    }

    /// The most keys that land in one of `2^bits` slots, by the hash's low bits (a map's slot)
    /// and by its high bits (the slot's tag).
    fn worst_loads(keys: impl Iterator<Item = u64>, bits: u32) -> (usize, usize) {
        let s = state();
        let (mut low, mut high) = (vec![0usize; 1 << bits], vec![0usize; 1 << bits]);
        for k in keys {
            let h = s.hash_one(k);
            low[(h & ((1 << bits) - 1)) as usize] += 1;
            high[(h >> (64 - bits)) as usize] += 1;
        }
        (
            low.into_iter().max().unwrap(),
            high.into_iter().max().unwrap(),
        )
    }

    #[test]
    #[cfg_attr(miri, ignore = "statistics over many hashes, no unsafe code")]
    fn structured_integer_keys_spread_over_the_low_and_the_high_bits() {
        // 65,536 keys in 65,536 slots: uniformly random hashes put at most 8 or 9 in one slot
        // (a balls-into-bins maximum); a hash that kept the keys' structure would put
        // hundreds in one (the strides leave the low 16 or 32 bits, or the high ones, fixed).
        let n = 1u64 << 16;
        for stride in [1u64, 2, 1 << 16, 1 << 32, 1 << 48, 0x1_0001, 4096 * 3] {
            let (low, high) = worst_loads((0..n).map(|i| i.wrapping_mul(stride)), 16);
            assert!(low <= 12 && high <= 12, "stride {stride:#x}: {low} {high}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "statistics over many hashes, no unsafe code")]
    fn each_input_bit_flips_about_half_of_the_output_bits() {
        let s = state();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for bit in 0..64 {
            let mut flipped = 0u32;
            for _ in 0..256 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                flipped += (s.hash_one(x) ^ s.hash_one(x ^ (1 << bit))).count_ones();
            }
            // 256 × 64 output bits, half of them expected to flip: 8,192, with a standard deviation
            // of 64 for a hash whose output bits flip independently; one fold alone gives ~7,100.
            assert!((7_700..=8_700).contains(&flipped), "bit {bit}: {flipped}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "statistics over many hashes, no unsafe code")]
    fn byte_strings_of_every_length_and_content_hash_apart() {
        let s = state();
        let mut seen = HashSet::new();
        let mut count = 0;
        for len in 0..=40usize {
            for fill in [0u8, 1, 0xff] {
                for pos in 0..len.max(1) {
                    let mut v = vec![fill; len];
                    if len > 0 {
                        v[pos] ^= 0x80;
                    }
                    let mut h = s.build_hasher();
                    h.write(&v);
                    seen.insert(h.finish());
                    count += 1;
                }
            }
        }
        // Every (length, content) pair above is distinct except the empty string, made once per fill.
        assert_eq!(seen.len(), count - 2);
    }

    #[test]
    fn seeds_differ_per_state_and_hashes_are_stable_per_state() {
        let (a, b) = (GcHashState::new(), GcHashState::new());
        assert_eq!(a.hash_one("x"), a.hash_one("x"));
        let same = (0..64u64)
            .filter(|k| a.hash_one(k) == b.hash_one(k))
            .count();
        assert_eq!(same, 0);
        let t = std::thread::spawn(GcHashState::new).join().unwrap();
        assert_ne!(a.hash_one(1u64), t.hash_one(1u64));
    }

    #[test]
    fn composite_keys_hash_every_part() {
        let s = state();
        let h = |k: &dyn Fn(&mut GcHasher)| {
            let mut h = s.build_hasher();
            k(&mut h);
            h.finish()
        };
        assert_ne!(h(&|h| (1u32, 2u32).hash(h)), h(&|h| (2u32, 1u32).hash(h)));
        assert_ne!(h(&|h| ("ab", "c").hash(h)), h(&|h| ("a", "bc").hash(h)));
        assert_ne!(h(&|h| 0u128.hash(h)), h(&|h| (1u128 << 64).hash(h)));
    }
}
