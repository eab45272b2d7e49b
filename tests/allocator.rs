//! The allocator: every size class, large objects, span reuse.

use tricolor_gc::__private::{size_class_of, slot_size, spans_in_use, CLASS_SIZE};
use tricolor_gc::{collect, Finalize, Gc, Trace};

/// The object header (`gc-core` header.rs): one word.
const HEADER: usize = 8;

/// A hand-written `Finalize` keeps an object's header (`malloc::bare_map`), whatever it holds.
#[derive(Trace)]
struct Headed<T: Trace + 'static>(T);
impl<T: Trace + 'static> Finalize for Headed<T> {}

#[test]
fn every_size_class_serves_its_sizes() {
    // One object per class, sized to fill its class exactly. Plain data of up to 512 bytes
    // goes without a header (`malloc::bare_map`); larger values have one.
    macro_rules! class_check {
        ($($n:expr),*) => {$(
            {
                let want = CLASS_SIZE[size_class_of($n, 8)] as usize;
                if $n <= 512 {
                    let g = Gc::new([7u8; $n]);
                    assert_eq!(slot_size(&g), want, "size {}, without a header", $n);
                    assert!(g.iter().all(|&b| b == 7));
                    let h = Gc::new(Headed([7u8; $n - HEADER]));
                    assert_eq!(slot_size(&h), want, "size {}, with a header", $n);
                    assert!(h.0.iter().all(|&b| b == 7));
                } else {
                    let g = Gc::new([7u8; $n - HEADER]);
                    assert_eq!(slot_size(&g), want, "size {}", $n);
                    assert!(g.iter().all(|&b| b == 7));
                }
            }
        )*};
    }
    class_check!(
        16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 144, 160, 176, 192, 208,
        224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152,
        1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
        6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
        20480, 21760, 24576, 27264, 28672, 32768
    );
    for c in 1..CLASS_SIZE.len() {
        assert!(CLASS_SIZE[c] > CLASS_SIZE[c - 1]);
    }
}

#[test]
fn large_objects_get_their_own_span() {
    let big = Gc::new(vec![0u64; 1]); // small header object, large buffer on the Rust heap
    assert_eq!(big.len(), 1);
    let huge = Gc::new([3u8; 40_000]);
    assert!(slot_size(&huge) >= 40_000 + HEADER);
    // Larger than a 4 MiB chunk; built on a thread with a stack big enough for the value.
    let giant = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| Gc::new([9u8; 5 << 20]))
        .unwrap()
        .join()
        .unwrap();
    assert!(giant.iter().all(|&b| b == 9));
    assert!(huge.iter().all(|&b| b == 3));
    drop(giant);
    collect();
    assert!(huge.iter().all(|&b| b == 3));
}

#[test]
fn spans_are_reused_after_sweeping() {
    let round = || {
        let v: Vec<Gc<[u64; 6]>> = (0..50_000u64).map(|i| Gc::new([i; 6])).collect();
        assert!(v.iter().enumerate().all(|(i, g)| g[5] == i as u64));
        drop(v);
        collect();
        spans_in_use()
    };
    let first = round();
    let mut last = first;
    for _ in 0..5 {
        last = round();
    }
    assert!(
        last <= first + 64,
        "spans grew from {first} to {last}: freed spans were not reused"
    );
}

#[test]
fn aligned_types_are_aligned() {
    #[repr(align(64))]
    struct A64(u8);
    impl tricolor_gc::Finalize for A64 {}
    // SAFETY: holds no Gc.
    unsafe impl tricolor_gc::Trace for A64 {
        tricolor_gc::unsafe_empty_trace!();
    }
    #[repr(align(8192))]
    struct APage(u8);
    impl tricolor_gc::Finalize for APage {}
    // SAFETY: holds no Gc.
    unsafe impl tricolor_gc::Trace for APage {
        tricolor_gc::unsafe_empty_trace!();
    }
    for _ in 0..100 {
        let g = Gc::new(A64(1));
        assert_eq!(&*g as *const A64 as usize % 64, 0);
        assert_eq!(g.0, 1);
        let p = Gc::new(APage(2));
        assert_eq!(&*p as *const APage as usize % 8192, 0);
        assert_eq!(p.0, 2);
    }
}
