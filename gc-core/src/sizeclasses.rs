//! Size classes, as in Go's `sizeclasses.go`: 73 classes from 8 B to 32 KiB (class 0 means "large").
//!
//! The class sizes are Go's 67, plus every multiple of 8 between 32 and 128 that Go lacks (40,
//! 56, 72, 88, 104, 120). Go's objects have no header, and its table suits payloads that are
//! multiples of 16; here every object carries an 8-byte header, which moved such a payload 8
//! bytes past a class and wasted up to 8 bytes more per object (a 32-byte value took a 48-byte
//! slot, a 112-byte one 128). The pages per span are computed here with Go's rule (the smallest
//! span whose tail waste is at most 1/8 of it), and so are the lookup tables and the division
//! magic.

/// Bytes per page. Spans are whole pages; chunks are whole spans.
pub const PAGE_SIZE: usize = 8192;

/// The page heap's unit of memory from the system, aligned to its size (module `mheap`).
pub const CHUNK_SIZE: usize = 4 << 20;
/// The largest object served from a size class; larger ones get a span of their own.
pub const MAX_SMALL_SIZE: usize = 32768;
/// Number of size classes, class 0 (large objects) included.
pub const NUM_SIZE_CLASSES: usize = 74;

/// Object size of each class; class 0 is unused.
pub const CLASS_SIZE: [u32; NUM_SIZE_CLASSES] = [
    0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 144, 160, 176, 192, 208,
    224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152,
    1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784,
    6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760,
    24576, 27264, 28672, 32768,
];

const fn pages_for(size: usize) -> usize {
    if size == 0 {
        return 1;
    }
    let mut pages = 1;
    loop {
        let span = pages * PAGE_SIZE;
        if span >= size && (span % size) * 8 <= span {
            return pages;
        }
        pages += 1;
    }
}

const fn build_pages() -> [u8; NUM_SIZE_CLASSES] {
    let mut out = [0u8; NUM_SIZE_CLASSES];
    let mut c = 0;
    while c < NUM_SIZE_CLASSES {
        out[c] = pages_for(CLASS_SIZE[c] as usize) as u8;
        c += 1;
    }
    out
}

/// Pages per span of each class.
pub const CLASS_PAGES: [u8; NUM_SIZE_CLASSES] = build_pages();

const SMALL_LIMIT: usize = 1024;
const SMALL_STEP: usize = 8;
const LARGE_STEP: usize = 128;

const fn smallest_class(size: usize) -> u8 {
    // From 16 bytes: two objects never share a 16-byte granule, whose side byte holds the
    // object's root count (module `mbitmap`). An 8-byte object (a header and a zero-sized
    // value) takes a 16-byte slot.
    let mut c = 2;
    while c < NUM_SIZE_CLASSES {
        if CLASS_SIZE[c] as usize >= size {
            return c as u8;
        }
        c += 1;
    }
    0
}

const fn build_small() -> [u8; SMALL_LIMIT / SMALL_STEP + 1] {
    let mut out = [0u8; SMALL_LIMIT / SMALL_STEP + 1];
    let mut i = 0;
    while i < out.len() {
        out[i] = smallest_class(i * SMALL_STEP);
        i += 1;
    }
    out
}

const fn build_large() -> [u8; (MAX_SMALL_SIZE - SMALL_LIMIT) / LARGE_STEP + 1] {
    let mut out = [0u8; (MAX_SMALL_SIZE - SMALL_LIMIT) / LARGE_STEP + 1];
    let mut i = 0;
    while i < out.len() {
        out[i] = smallest_class(SMALL_LIMIT + i * LARGE_STEP);
        i += 1;
    }
    out
}

static SIZE_TO_CLASS_8: [u8; SMALL_LIMIT / SMALL_STEP + 1] = build_small();
static SIZE_TO_CLASS_128: [u8; (MAX_SMALL_SIZE - SMALL_LIMIT) / LARGE_STEP + 1] = build_large();

/// The size class serving `size` bytes with alignment `align`, or 0 for a large object.
///
/// Slots sit at `span base + i * class size` and span bases are only page aligned, so an
/// alignment above 8 and up to a page is met by the first class whose size is a multiple of it;
/// a larger alignment cannot be served by a class (0: the large path, which refuses it).
/// A `const fn`, so that allocation paths whose size is known at compile time compute the class
/// there (`malloc::alloc`).
#[inline(always)]
pub const fn size_to_class(size: usize, align: usize) -> usize {
    if size > MAX_SMALL_SIZE || align > PAGE_SIZE {
        return 0;
    }
    let mut c = if size <= SMALL_LIMIT {
        SIZE_TO_CLASS_8[size.div_ceil(SMALL_STEP)] as usize
    } else {
        SIZE_TO_CLASS_128[(size - SMALL_LIMIT).div_ceil(LARGE_STEP)] as usize
    };
    if align > 8 {
        while c < NUM_SIZE_CLASSES && !(CLASS_SIZE[c] as usize).is_multiple_of(align) {
            c += 1;
        }
        if c == NUM_SIZE_CLASSES {
            return 0;
        }
    }
    c
}

/// Go's `divMagic`: `(offset * magic) >> 32 == offset / size` for every offset inside a span.
pub const fn div_magic(size: usize) -> u64 {
    (u32::MAX as u64) / (size as u64) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_maps_to_the_smallest_fitting_class() {
        for size in 1..=MAX_SMALL_SIZE {
            let c = size_to_class(size, 8);
            assert!(c > 0 && CLASS_SIZE[c] as usize >= size, "size {size}");
            // Class 1 (8 bytes) is never chosen: slots are 16 bytes or more (`smallest_class`).
            assert!(c >= 2, "size {size}");
            assert!((CLASS_SIZE[c - 1] as usize) < size || c == 2, "size {size}");
        }
        assert_eq!(size_to_class(MAX_SMALL_SIZE + 1, 8), 0);
    }

    #[test]
    fn spans_waste_at_most_an_eighth_and_hold_at_least_one_object() {
        for c in 1..NUM_SIZE_CLASSES {
            let span = CLASS_PAGES[c] as usize * PAGE_SIZE;
            let size = CLASS_SIZE[c] as usize;
            assert!(span / size >= 1);
            assert!((span % size) * 8 <= span, "class {c}");
            assert!(
                CLASS_PAGES[c] <= 10,
                "class {c} needs {} pages",
                CLASS_PAGES[c]
            );
        }
    }

    #[test]
    fn div_magic_divides_every_offset_exactly() {
        for c in 1..NUM_SIZE_CLASSES {
            let size = CLASS_SIZE[c] as usize;
            let span = CLASS_PAGES[c] as usize * PAGE_SIZE;
            let m = div_magic(size);
            for off in (0..span).step_by(8) {
                assert_eq!(
                    ((off as u64 * m) >> 32) as usize,
                    off / size,
                    "class {c} off {off}"
                );
            }
        }
    }

    #[test]
    fn alignment_picks_a_multiple() {
        assert_eq!(CLASS_SIZE[size_to_class(40, 16)] % 16, 0);
        assert_eq!(CLASS_SIZE[size_to_class(100, 64)] % 64, 0);
        assert_eq!(size_to_class(100, 1 << 20), 0);
        assert_eq!(
            size_to_class(16400, 16384),
            0,
            "a class cannot serve more than page alignment"
        );
        for align in [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192] {
            for size in (align..=MAX_SMALL_SIZE).step_by(align) {
                let c = size_to_class(size, align);
                if c != 0 {
                    assert_eq!(CLASS_SIZE[c] as usize % align, 0);
                    assert_eq!(PAGE_SIZE % align, 0, "span bases are page aligned");
                }
            }
        }
    }
}
