//! Large buffers: the output image, and the arrays of a large region of interest.
//!
//! For a small hole in a large image, copying the image into the output is most of the work,
//! and most of a large copy is the kernel mapping fresh pages (a 4096² image is 48 MiB: 12 288
//! page faults of 4 KiB). Large buffers therefore ask Linux for transparent huge pages, as NumPy
//! does for its large arrays, and the output copy runs on several threads.

use image::RgbImage;
use rayon::prelude::*;

/// From this many bytes on, buffers are advised to use huge pages and the copy is parallel;
/// below, the page faults are too few to matter.
const LARGE: usize = 4 << 20;

/// Bytes per parallel copy task.
const CHUNK: usize = 1 << 20;

/// A copy of `image`.
pub(super) fn copy_of(image: &RgbImage) -> RgbImage {
    let src: &[u8] = image;
    if src.len() < LARGE {
        return image.clone();
    }
    // Zeroed memory this large is mapped lazily: nothing is touched before the copy.
    let mut buf = vec![0u8; src.len()];
    advise_huge_pages(&mut buf);
    buf.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(to, from)| to.copy_from_slice(from));
    // Cannot fail: the buffer has the image's length.
    RgbImage::from_raw(image.width(), image.height(), buf).unwrap_or_else(|| image.clone())
}

/// Makes `v` hold `len` copies of `value`, reusing its allocation when it is large enough, and
/// otherwise allocating one advised to use huge pages when it is large.
pub(super) fn refill<T: Copy>(v: &mut Vec<T>, len: usize, value: T) {
    v.clear();
    if v.capacity() < len {
        *v = Vec::new();
        if v.try_reserve_exact(len).is_ok() {
            advise_huge_pages(v.spare_capacity_mut());
        }
    }
    v.resize(len, value);
}

/// Asks the kernel to back `buf` with transparent huge pages (`madvise(MADV_HUGEPAGE)`) when
/// it is large; a hint only, whose failure changes nothing.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn advise_huge_pages<T>(buf: &mut [T]) {
    use std::ffi::{c_int, c_void};

    // POSIX `madvise(2)`, from the C library that std already links on Linux. Declared here
    // rather than through the `libc` crate to keep `inpaint-models` free of that dependency.
    unsafe extern "C" {
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    }
    // Linux's `asm-generic/mman-common.h`, which x86_64 and aarch64 use.
    const MADV_HUGEPAGE: c_int = 14;
    const PAGE: usize = 4096;

    let bytes = std::mem::size_of_val(buf);
    if bytes < LARGE {
        return;
    }
    let start = buf.as_mut_ptr().cast::<u8>();
    let offset = start.align_offset(PAGE);
    let len = bytes.saturating_sub(offset) & !(PAGE - 1);
    if len == 0 {
        return;
    }
    // SAFETY: `[start + offset, start + offset + len)` is page-aligned and lies inside `buf`,
    // which we hold mutably (`offset + len <= bytes`). `MADV_HUGEPAGE` only changes how the
    // kernel backs these pages, never what they hold, and its result is deliberately ignored.
    unsafe {
        madvise(start.wrapping_add(offset).cast(), len, MADV_HUGEPAGE);
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn advise_huge_pages<T>(_buf: &mut [T]) {}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};

    use super::{LARGE, copy_of, refill};

    #[test]
    fn copies_small_and_large_images() {
        for (w, h) in [(1, 1), (7, 5), (1500, 1000)] {
            let image = RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, (x ^ y) as u8]));
            assert_eq!((w * h * 3) as usize >= LARGE, w == 1500);
            assert!(copy_of(&image) == image);
        }
    }

    #[test]
    fn refills_small_and_large_vectors() {
        let mut v = vec![7u32; 10];
        for (len, value) in [(3, 1u32), (LARGE, 2), (5, 3), (LARGE / 2 + 1, 4)] {
            refill(&mut v, len, value);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == value));
        }
    }
}
