//! The C ABI of the inpaint crates.
//!
//! **Not implemented yet: this crate exports no functions.** It will expose opaque model and
//! error handles, `uint32_t` status codes, caller-allocated output buffers and a cbindgen
//! header (`include/inpaint.h`), covering everything the Rust crates offer.
