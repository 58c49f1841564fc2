//! The library's version, at run time.

use std::ffi::c_char;

/// The version, NUL-terminated, for C.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version as `"MAJOR.MINOR.PATCH"`: compare it with the header's
/// `INPAINT_VERSION_*` macros to detect a header/library mismatch. Static; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn inpaint_version() -> *const c_char {
    VERSION.as_ptr().cast()
}
