//! Large pixel buffers: copies of big images, and a hint to back big buffers with huge pages.
//!
//! For a small hole in a large photo, copying the image is most of the work, and most of a
//! large copy is the kernel mapping fresh pages (a 4096² RGB image is 48 MiB: 12 288 page faults
//! of 4 KiB). Large buffers therefore ask Linux for transparent huge pages, as NumPy does for
//! its large arrays, and large copies run on several threads.

use image::{ImageBuffer, Pixel};
use rayon::prelude::*;

/// From this many bytes on, buffers are advised to use huge pages and the copy is parallel;
/// below, the page faults are too few to matter.
pub(crate) const LARGE: usize = 4 << 20;

/// Bytes per parallel copy task.
const CHUNK: usize = 1 << 20;

/// A copy of `image`; large ones are copied in parallel into huge-page-backed memory.
pub fn copy_image<P: Pixel<Subpixel = u8>>(
    image: &ImageBuffer<P, Vec<u8>>,
) -> ImageBuffer<P, Vec<u8>> {
    let src: &[u8] = image.as_raw();
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
    ImageBuffer::from_raw(image.width(), image.height(), buf).unwrap_or_else(|| image.clone())
}

/// Asks the kernel to back `buf` with transparent huge pages (`madvise(MADV_HUGEPAGE)`) when
/// it is large; a hint only, whose failure changes nothing.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub fn advise_huge_pages<T>(buf: &mut [T]) {
    use std::ffi::{c_int, c_void};

    // POSIX `madvise(2)`, from the C library that std already links on Linux. Declared here
    // rather than through the `libc` crate to keep `inpaint-core` free of that dependency.
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
    #[cfg(not(miri))]
    unsafe {
        madvise(start.wrapping_add(offset).cast(), len, MADV_HUGEPAGE);
    }
    // Miri cannot call C: it checks instead what the argument above rests on, that the range
    // lies inside `buf` (a slice over it is undefined behaviour otherwise, which Miri reports).
    #[cfg(miri)]
    {
        // SAFETY: as above; only read, while `buf` is borrowed mutably by us.
        let range = unsafe { std::slice::from_raw_parts(start.add(offset), len) };
        std::hint::black_box(range.last());
        let _ = (madvise as unsafe extern "C" fn(_, _, _) -> _, MADV_HUGEPAGE);
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn advise_huge_pages<T>(_buf: &mut [T]) {}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};

    use super::{LARGE, copy_image};

    #[test]
    fn copies_small_and_large_images() {
        for (w, h) in [(1, 1), (7, 5), (1500, 1000)] {
            let image = RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, (x ^ y) as u8]));
            assert_eq!((w * h * 3) as usize >= LARGE, w == 1500);
            assert!(copy_image(&image) == image);
        }
    }
}
