//! The one error type of `inpaint-core`.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, split by who must act.
///
/// * [`InvalidInput`](Error::InvalidInput): the caller passed something unusable (sizes that do
///   not match, an empty image, bad options).
/// * [`LimitsExceeded`](Error::LimitsExceeded): the input is larger than the configured
///   [`Limits`](crate::Limits); refused before any pixel buffer is allocated.
/// * [`Unsupported`](Error::Unsupported): a format, model or feature this build does not offer.
/// * [`Model`](Error::Model): the model broke its contract or failed while running.
/// * [`Runtime`](Error::Runtime): the inference runtime (ONNX Runtime) is missing, too old, or
///   cannot use the device asked for.
/// * [`Decode`](Error::Decode) / [`Io`](Error::Io): a file could not be read, decoded or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller passed something unusable.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong, in words.
        message: String,
    },
    /// The input is larger than the configured [`Limits`](crate::Limits).
    #[error("{width}×{height} image exceeds the limits: {limit}")]
    LimitsExceeded {
        /// Width as declared by the input (a file header, or a buffer).
        width: u64,
        /// Height as declared by the input.
        height: u64,
        /// Which limit was hit, e.g. `max side 16384 px`.
        limit: String,
    },
    /// Something this build or model does not offer.
    #[error("unsupported: {message}")]
    Unsupported {
        /// What is not supported, and what is, where that helps.
        message: String,
    },
    /// The model failed or broke its contract (for example, returned the wrong size).
    #[error("model `{model}`: {message}")]
    Model {
        /// The model's name.
        model: String,
        /// What went wrong.
        message: String,
        /// The underlying error, when there is one (a runtime error, say).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The inference runtime is missing, too old, or cannot use the device asked for.
    #[error("runtime: {message}")]
    Runtime {
        /// What is missing or refused, where it was looked for, and what would fix it.
        message: String,
        /// The runtime's own error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// An image could not be decoded or encoded.
    #[error("{}cannot decode or encode image", path_prefix(path))]
    Decode {
        /// The file involved (empty for in-memory data).
        path: PathBuf,
        /// The codec's error.
        #[source]
        source: image::ImageError,
    },
    /// The caller's [`Progress`](crate::Progress) callback asked to stop the run.
    #[error("cancelled by the caller")]
    Cancelled,
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// `path: `, or nothing for in-memory data (an empty path).
fn path_prefix(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", path.display())
    }
}

impl Error {
    /// This error and its causes on one line (`what: why: deeper why`), each cause once: for
    /// command lines, logs and the C ABI's messages.
    pub fn full_message(&self) -> String {
        full_message(self)
    }

    /// An [`Error::InvalidInput`] with this message.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    /// An [`Error::Unsupported`] with this message.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::Unsupported {
            message: message.into(),
        }
    }

    /// An [`Error::Runtime`] without an underlying source.
    pub fn runtime(message: impl Into<String>) -> Self {
        Error::Runtime {
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::Runtime`] caused by `source`.
    pub fn runtime_with(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Runtime {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// An [`Error::Model`] caused by `source`.
    pub fn model_with(
        model: impl Into<String>,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Model {
            model: model.into(),
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// An [`Error::Model`] without an underlying source.
    pub fn model(model: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Model {
            model: model.into(),
            message: message.into(),
            source: None,
        }
    }
}

/// Any error and its causes on one line (`what: why: deeper why`), each cause once (a cause
/// whose text the line already holds is not repeated).
pub fn full_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// The message for a `kind` name (`model`, `device`, …) that is not one of `known`: it lists
/// them, and the closest one when a name is within a third of its length in edits. For errors
/// that never fall back to another name silently.
///
/// ```
/// use inpaint_core::error::unknown_name;
///
/// assert_eq!(
///     unknown_name("model", "tela", &["telea", "navier-stokes"]),
///     "unknown model `tela`; known models: telea, navier-stokes (did you mean `telea`?)"
/// );
/// ```
pub fn unknown_name(kind: &str, name: &str, known: &[&str]) -> String {
    let mut message = format!(
        "unknown {kind} `{name}`; known {kind}s: {}",
        known.join(", ")
    );
    if let Some(close) = closest_name(name, known) {
        message.push_str(&format!(" (did you mean `{close}`?)"));
    }
    message
}

/// The name in `known` within a third of its length in edits of `name` (ignoring case), if
/// any; ties go to the first in `known`.
pub fn closest_name<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let name = name.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for &k in known {
        let distance = edit_distance(&name, &k.to_lowercase());
        if distance <= k.chars().count().div_ceil(3) && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, k));
        }
    }
    best.map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("tela", "telea"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn only_close_names_are_suggested() {
        assert_eq!(closest_name("cdua", &["cpu", "cuda"]), Some("cuda"));
        assert_eq!(closest_name("banana", &["cpu", "cuda"]), None);
        assert_eq!(closest_name("LAMA", &["telea", "lama"]), Some("lama"));
        assert!(!unknown_name("device", "banana", &["cpu"]).contains("did you mean"));
    }

    #[test]
    fn full_message_adds_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::Io {
            path: "a.png".into(),
            source: io,
        };
        // The display already holds the cause, so it is not repeated.
        assert_eq!(error.full_message(), "a.png: no such file");
        let error = Error::Model {
            model: "m".into(),
            message: "failed".into(),
            source: Some("the runtime said no".into()),
        };
        assert_eq!(
            error.full_message(),
            "model `m`: failed: the runtime said no"
        );
    }
}
