//! The optional error object: the full message of a failed call.

use std::ffi::{CString, c_char};
use std::ptr;

use crate::ffi::{self, Failure};
use crate::status::inpaint_status;

/// The full description of a failed call, handed out through an `err_out` parameter.
///
/// Owned by the caller, who frees it with `inpaint_error_free`. Immutable: it may be read
/// from any thread, and freed once.
pub struct inpaint_error {
    status: inpaint_status,
    message: CString,
}

impl inpaint_error {
    /// A new error object for C, owned by the caller.
    pub(crate) fn into_raw(failure: Failure) -> *mut inpaint_error {
        ffi::into_raw(inpaint_error {
            status: failure.status,
            message: ffi::c_string(&failure.message),
        })
    }

    /// The full message, as UTF-8.
    pub fn message(&self) -> &str {
        self.message.to_str().unwrap_or_default()
    }

    /// The status the failed call returned.
    pub fn status(&self) -> inpaint_status {
        self.status
    }

    /// The full message as a NUL-terminated UTF-8 string, valid until `err` is freed; do not
    /// free it. NULL if `err` is NULL.
    ///
    /// # Safety
    ///
    /// `err` is NULL or an error from this library that has not been freed.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_error_message(err: *const inpaint_error) -> *const c_char {
        ffi::guard(ptr::null(), || {
            // SAFETY: NULL or a live error, by the caller's guarantee.
            match unsafe { err.as_ref() } {
                Some(err) => err.message.as_ptr(),
                None => ptr::null(),
            }
        })
    }

    /// The status of the call that made `err` (as that call returned it);
    /// `INPAINT_STATUS_NULL_PARAMETER` if `err` is NULL.
    ///
    /// # Safety
    ///
    /// `err` is NULL or an error from this library that has not been freed.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_error_status(err: *const inpaint_error) -> inpaint_status {
        ffi::guard(inpaint_status::Panic, || {
            // SAFETY: NULL or a live error, by the caller's guarantee.
            unsafe { err.as_ref() }.map_or(inpaint_status::NullParameter, |err| err.status)
        })
    }

    /// Frees an error. NULL is a no-op; freeing twice is forbidden.
    ///
    /// # Safety
    ///
    /// `err` is NULL or an error from this library that has not been freed.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_error_free(err: *mut inpaint_error) {
        // SAFETY: NULL or a live error made by `ffi::into_raw`, by the caller's guarantee.
        ffi::guard((), || unsafe { ffi::free(err) });
    }
}
