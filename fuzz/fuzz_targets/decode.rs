//! Image and mask files from untrusted bytes: `decode_image` / `decode_mask` must return an
//! error or a value within the limits, never panic, and never allocate past the limits.
//!
//! The first byte picks the function and the limits (the defaults, or a small 64×64 box that
//! makes the size refusal reachable from tiny inputs); the rest is the file.
#![no_main]

use inpaint_core::Limits;
use inpaint_core::io::{decode_image, decode_mask};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let limits = if selector & 1 == 0 {
        Limits::default()
    } else {
        Limits::new(64, 64 * 48)
    };
    let within = |(width, height): (u32, u32)| {
        width > 0
            && height > 0
            && width <= limits.max_side
            && height <= limits.max_side
            && u64::from(width) * u64::from(height) <= limits.max_pixels
    };
    if selector & 2 == 0 {
        if let Ok(image) = decode_image(file, &limits) {
            assert!(
                within(image.dimensions()),
                "{:?} beyond {limits:?}",
                image.dimensions()
            );
            if let Some(alpha) = image.alpha() {
                assert_eq!(alpha.dimensions(), image.dimensions());
            }
        }
    } else if let Ok(mask) = decode_mask(file, &limits) {
        assert!(
            within(mask.dimensions()),
            "{:?} beyond {limits:?}",
            mask.dimensions()
        );
    }
});
