//! Status codes: what every fallible function returns.

use std::ffi::{CStr, c_char};

use inpaint_core::Error;

/// What a fallible function returns: `INPAINT_STATUS_OK` (0) or why it failed.
///
/// The numbers are grouped by source and never reused: 1xx the caller's input (100 invalid,
/// 110 over the size limits, 120 unsupported, 130 refused by the spending budget), 2xx the
/// model and its runtime (200 the model, 210 ONNX Runtime), 3xx files, 4xx downloads
/// (reserved), 9xx misuse of this C API. Functions return a plain `uint32_t` of these values,
/// and new values may appear in later versions: `inpaint_status_str` describes any number.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum inpaint_status {
    /// Success.
    Ok = 0,
    /// The caller passed something unusable: sizes that do not match, an empty image, a bad
    /// stride or pixel format, an option out of range.
    InvalidInput = 100,
    /// The image is larger than the size limits (16384 px a side, 128 Mpx); refused before
    /// any pixel buffer is allocated.
    LimitsExceeded = 110,
    /// A model, format or feature this build does not offer (an unknown model name; ONNX models
    /// in a build without the `onnx` feature).
    Unsupported = 120,
    /// A request to a paid API ("openai-compat") was refused before anything was sent: its
    /// estimated cost would cross a spending cap. The message names the cap, what was spent
    /// and the estimate.
    Budget = 130,
    /// An error the library reports that this version of the C API has no code for yet.
    Other = 199,
    /// The model failed or broke its contract (e.g. an ONNX file whose inputs are not those of
    /// the architecture it was loaded as), or a remote API refused or failed (for
    /// "openai-compat": a refused key, HTTP 401, which the message never quotes; 429; other
    /// 4xx and 5xx answers; an answer that is not an image of the size asked for).
    Model = 200,
    /// ONNX Runtime is missing or too old, the device asked for cannot be used (not in this
    /// build, or refused by ONNX Runtime), or ONNX Runtime could not set up a session for the
    /// file (one it cannot parse); the message says where the runtime was looked for, or why.
    /// Also a remote server that cannot be reached or does not answer in time, and a diffusion
    /// pipeline whose weights do not fit in the memory limit (checked before loading).
    Runtime = 210,
    /// An image could not be decoded or encoded.
    Decode = 300,
    /// Reading or writing a file failed.
    Io = 310,
    /// A pointer argument that must not be NULL was NULL.
    NullParameter = 900,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 901,
    /// An output buffer was too short; nothing was written to it.
    InsufficientSize = 902,
    /// A bug: Rust code panicked, and the panic was caught. After a panic during a call on a
    /// handle, only its `_free` function may be called on it.
    Panic = 999,
}

impl inpaint_status {
    /// Every status, for looking one up by number.
    pub const ALL: [inpaint_status; 14] = [
        inpaint_status::Ok,
        inpaint_status::InvalidInput,
        inpaint_status::LimitsExceeded,
        inpaint_status::Unsupported,
        inpaint_status::Budget,
        inpaint_status::Other,
        inpaint_status::Model,
        inpaint_status::Runtime,
        inpaint_status::Decode,
        inpaint_status::Io,
        inpaint_status::NullParameter,
        inpaint_status::InvalidUtf8,
        inpaint_status::InsufficientSize,
        inpaint_status::Panic,
    ];

    /// The status with this number, if there is one.
    pub fn from_u32(value: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|&s| s as u32 == value)
    }

    /// A short description, as `inpaint_status_str` returns it.
    pub fn description(self) -> &'static CStr {
        match self {
            inpaint_status::Ok => c"ok",
            inpaint_status::InvalidInput => c"invalid input",
            inpaint_status::LimitsExceeded => c"image exceeds the size limits",
            inpaint_status::Unsupported => c"unsupported by this build",
            inpaint_status::Budget => c"refused by the spending budget; nothing was sent",
            inpaint_status::Other => c"other error",
            inpaint_status::Model => c"model error",
            inpaint_status::Runtime => c"ONNX Runtime missing, too old, or the device refused",
            inpaint_status::Decode => c"cannot decode or encode image",
            inpaint_status::Io => c"I/O error",
            inpaint_status::NullParameter => c"a required pointer was NULL",
            inpaint_status::InvalidUtf8 => c"a string was not valid UTF-8",
            inpaint_status::InsufficientSize => c"output buffer too short",
            inpaint_status::Panic => c"internal error (panic)",
        }
    }
}

/// The one mapping from the library's errors to statuses: each kind of error has exactly one.
pub(crate) fn status_of(error: &Error) -> inpaint_status {
    match error {
        Error::InvalidInput { .. } => inpaint_status::InvalidInput,
        Error::LimitsExceeded { .. } => inpaint_status::LimitsExceeded,
        Error::Unsupported { .. } => inpaint_status::Unsupported,
        Error::Model { source, .. } => {
            // A remote API model's own error says more: a budget refusal, a timeout, …
            #[cfg(feature = "openai")]
            if let Some(error) = source
                .as_deref()
                .and_then(|s| s.downcast_ref::<inpaint_openai::Error>())
            {
                return status_of_openai(error);
            }
            let _ = source;
            inpaint_status::Model
        }
        Error::Runtime { .. } => inpaint_status::Runtime,
        Error::Decode { .. } => inpaint_status::Decode,
        Error::Io { .. } => inpaint_status::Io,
        _ => inpaint_status::Other,
    }
}

/// The status of each error of the "openai-compat" model (inpaint-openai), when building it
/// or from a run.
#[cfg(feature = "openai")]
pub(crate) fn status_of_openai(error: &inpaint_openai::Error) -> inpaint_status {
    use inpaint_openai::Error as E;
    match error {
        E::Config { .. }
        | E::Prices { .. }
        | E::UnpricedModel { .. }
        | E::UploadTooLarge { .. } => inpaint_status::InvalidInput,
        E::BudgetExceeded { .. } => inpaint_status::Budget,
        E::Ledger { .. } | E::Io { .. } => inpaint_status::Io,
        E::Timeout { .. } | E::Transport { .. } => inpaint_status::Runtime,
        E::Image(_) => inpaint_status::Decode,
        // Unauthorized, RateLimited, Rejected, Server, BadAnswer, and any later variant: the
        // server refused or failed.
        _ => inpaint_status::Model,
    }
}

/// A short, static, English description of a status; any number is accepted, and one this
/// version does not know gives "unknown status". Never NULL; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn inpaint_status_str(status: u32) -> *const c_char {
    inpaint_status::from_u32(status)
        .map_or(c"unknown status", inpaint_status::description)
        .as_ptr()
}
