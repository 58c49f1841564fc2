//! `inpaint_core::buffer`, the one module of the crate with `unsafe` code (a `madvise` call on a
//! page-aligned range inside a buffer), at sizes around its 4 MiB threshold and at unaligned
//! starts. Sized for Miri: the buffers are filled with `vec!` and compared with `==` (memset and
//! memcmp to Miri), so `cargo +nightly miri test -p inpaint-core --test tests buffer` runs in
//! minutes (see RELIABILITY.md).

use image::{GrayImage, RgbImage};
use inpaint_core::buffer::{advise_huge_pages, copy_image};

const LARGE: usize = 4 << 20;

/// A pattern cheap to build under Miri: uniform, with a few distinct bytes at the ends and at
/// chunk boundaries, where an off-by-one in the parallel copy would show.
fn patterned(len: usize) -> Vec<u8> {
    let mut v = vec![0x5Au8; len];
    for i in [0, 1, len / 2, len - 2, len - 1] {
        v[i] = i as u8 ^ 0xA5;
    }
    for i in (1 << 20..len).step_by(1 << 20) {
        v[i - 1] = 1;
        v[i] = 2;
    }
    v
}

#[test]
fn copies_are_equal_around_the_large_threshold() {
    // Below, at and above 4 MiB (RGB), and a grey image above it with an odd width.
    for (w, h) in [(1024, 1365), (1024, 1366), (1024 + 1, 1366), (1, 1)] {
        let image = RgbImage::from_raw(w, h, patterned((w * h * 3) as usize)).unwrap();
        assert!(copy_image(&image) == image, "{w}×{h}");
    }
    let grey = GrayImage::from_raw(2049, 2049, patterned(2049 * 2049)).unwrap();
    assert!(copy_image(&grey) == grey);
}

#[test]
fn advising_huge_pages_changes_no_byte_at_any_alignment() {
    let buf = patterned(LARGE + 3 * 4096);
    for (start, len) in [
        (0, LARGE - 1),
        (0, LARGE),
        (1, LARGE + 17),
        (4095, LARGE + 4096),
        (7, LARGE + 2 * 4096 + 5),
    ] {
        let mut copy = buf.clone();
        advise_huge_pages(&mut copy[start..start + len]);
        assert!(copy == buf, "start {start}, len {len}");
    }
    // Other element types: the byte length is what counts.
    let mut words = vec![0x1234_5678u32; LARGE / 4 + 3];
    advise_huge_pages(&mut words[1..]);
    assert!(words.iter().all(|&w| w == 0x1234_5678));
    advise_huge_pages::<u8>(&mut []);
}
