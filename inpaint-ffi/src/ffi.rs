//! Everything that turns C's raw pointers into Rust values, and Rust's failures and panics into
//! statuses: the one place where the crate's pointer casting and panic catching live.

use std::any::Any;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::error::inpaint_error;
use crate::status::{inpaint_status, status_of};

/// A failed call: the status to return and the full message for `err_out`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: inpaint_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: inpaint_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    /// `what` was NULL.
    pub(crate) fn null(what: &str) -> Self {
        Failure::new(
            inpaint_status::NullParameter,
            format!("`{what}` must not be NULL"),
        )
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Failure::new(inpaint_status::InvalidInput, message)
    }

    fn panic(payload: &(dyn Any + Send)) -> Self {
        let text = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        Failure::new(
            inpaint_status::Panic,
            format!("internal error (a Rust panic was caught): {text}"),
        )
    }
}

impl From<inpaint_core::Error> for Failure {
    fn from(error: inpaint_core::Error) -> Self {
        Failure::new(status_of(&error), error.full_message())
    }
}

/// Runs the body of a fallible extern function: a panic becomes [`inpaint_status::Panic`], and
/// when `err_out` is not NULL, `*err_out` receives NULL on success or a new error on failure.
///
/// # Safety
///
/// `err_out` is NULL or valid for writing one pointer.
pub(crate) unsafe fn call(
    err_out: *mut *mut inpaint_error,
    body: impl FnOnce() -> Result<(), Failure>,
) -> inpaint_status {
    let result = catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(Failure::panic(payload.as_ref())));
    let (status, error) = match result {
        Ok(()) => (inpaint_status::Ok, ptr::null_mut()),
        Err(failure) if err_out.is_null() => (failure.status, ptr::null_mut()),
        Err(failure) => {
            let status = failure.status;
            let error = catch_unwind(|| inpaint_error::into_raw(failure));
            (status, error.unwrap_or(ptr::null_mut()))
        }
    };
    if !err_out.is_null() {
        // SAFETY: the caller guarantees a non-NULL `err_out` is valid for writing.
        unsafe { err_out.write(error) };
    }
    status
}

/// Runs the body of an infallible extern function (one that returns a pointer or nothing):
/// a panic returns `on_panic`.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// `ptr` as a shared reference, or [`Failure::null`].
///
/// # Safety
///
/// `ptr` is NULL or points to a live, properly aligned `T` that nothing mutates during `'a`.
pub(crate) unsafe fn try_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: forwarded to the caller.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(what))
}

/// `ptr` as an exclusive reference, or [`Failure::null`].
///
/// # Safety
///
/// `ptr` is NULL or points to a live, properly aligned `T` that nothing else uses during `'a`.
pub(crate) unsafe fn try_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: forwarded to the caller.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(what))
}

/// A NUL-terminated C string as UTF-8: [`Failure::null`] or `INVALID_UTF8`.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that lives, unchanged, during `'a`.
pub(crate) unsafe fn try_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: not NULL, and NUL-terminated by the caller's guarantee.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        Failure::new(
            inpaint_status::InvalidUtf8,
            format!(
                "`{what}` is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// `text` as a C string for C to read; a NUL inside it (say, from a file name) would cut it
/// short, so it becomes U+FFFD.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// Moves `value` to the heap and hands C the pointer; [`free`] takes it back.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Drops a value made by [`into_raw`]; NULL is a no-op.
///
/// # Safety
///
/// `ptr` is NULL or came from [`into_raw`] for the same `T` and has not been freed.
pub(crate) unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: made by `into_raw` (a `Box`) and not freed yet, by the caller's guarantee.
        drop(unsafe { Box::from_raw(ptr) });
    }
}
