//! The one error type of `inpaint-registry`.

use std::fmt;
use std::path::{Path, PathBuf};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, split by who must act.
///
/// * The caller or user named something that does not exist:
///   [`UnknownModel`](Error::UnknownModel), [`NotInstalled`](Error::NotInstalled).
/// * A file is not what it should be: [`Config`](Error::Config) (with line and column),
///   [`ConfigChanged`](Error::ConfigChanged), [`NotIdentified`](Error::NotIdentified).
/// * The model exists but this build cannot run it, or not like that:
///   [`Unsupported`](Error::Unsupported), [`InvalidParameter`](Error::InvalidParameter).
/// * Loading failed: [`Load`](Error::Load) (the model crate's error inside) and
///   [`SwitchFailed`](Error::SwitchFailed), which also says which model is still loaded.
/// * [`Io`](Error::Io): a file or folder could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model name that is neither an id nor an alias. Nothing was substituted for it.
    #[error("{}", unknown_model_message(requested, known, suggestion.as_deref()))]
    UnknownModel {
        /// The name asked for.
        requested: String,
        /// Every id that would have been accepted, sorted.
        known: Vec<String>,
        /// The closest id or alias by edit distance, when one is close enough.
        suggestion: Option<String>,
    },
    /// The models config is malformed or inconsistent. Nothing was written.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the problem (0 when no position is known).
        line: usize,
        /// 1-based column, in characters (0 when no position is known).
        column: usize,
        /// What is wrong and, where it helps, what is accepted.
        message: String,
    },
    /// The config file changed on disk after it was loaded; saving would lose those edits.
    #[error(
        "{}: changed on disk since it was loaded; nothing was written (load it again and \
         redo the change)",
        path.display()
    )]
    ConfigChanged {
        /// The config file.
        path: PathBuf,
    },
    /// A known model whose files are not on disk.
    #[error(
        "model `{id}` is not installed: {reason}{}{}",
        if missing.is_empty() { "" } else { "; missing " },
        list_paths(missing)
    )]
    NotInstalled {
        /// The model's id.
        id: String,
        /// Where its files were expected.
        missing: Vec<PathBuf>,
        /// Why, and what to do (download it, or put the file there).
        reason: String,
    },
    /// A file whose content matches no architecture this project runs.
    #[error("{}: cannot tell which model this is: {reason}", path.display())]
    NotIdentified {
        /// The file.
        path: PathBuf,
        /// What was read and why no contract fits (or why the file is unreadable).
        reason: String,
    },
    /// A model this build knows of but cannot load (a Stable Diffusion checkpoint, a
    /// classical model on a GPU, …).
    #[error("model `{id}` cannot be loaded: {reason}")]
    Unsupported {
        /// The model's id (or path).
        id: String,
        /// Why, and what would work instead.
        reason: String,
    },
    /// A parameter that does not apply to this model, or a bad value.
    #[error("model `{id}`: {message}")]
    InvalidParameter {
        /// The model's id.
        id: String,
        /// Which parameter and why.
        message: String,
    },
    /// The model crate failed to build the model (ONNX Runtime missing, contract mismatch, …).
    #[error("cannot load model `{id}`")]
    Load {
        /// The model's id (or path).
        id: String,
        /// The model crate's error.
        #[source]
        source: inpaint_core::Error,
    },
    /// A switch to another model failed; [`kept`](Error::SwitchFailed::kept) says what is
    /// loaded now.
    #[error("{}", switch_message(requested, kept.as_deref(), rollback.as_deref()))]
    SwitchFailed {
        /// The model asked for.
        requested: String,
        /// The model still loaded and usable, if any.
        kept: Option<String>,
        /// Why the requested model did not load.
        #[source]
        source: Box<Error>,
        /// With [`SwitchPolicy::ReleaseFirst`](crate::SwitchPolicy::ReleaseFirst): why
        /// reloading the previous model failed too (then nothing is loaded).
        rollback: Option<Box<Error>>,
    },
    /// Reading or writing a file or folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// This error and its causes on one line (`what: why: deeper why`), each cause once.
    pub fn full_message(&self) -> String {
        inpaint_core::error::full_message(self)
    }

    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

fn unknown_model_message(requested: &str, known: &[String], suggestion: Option<&str>) -> String {
    let mut message = format!(
        "unknown model `{requested}`; known models: {}",
        known.join(", ")
    );
    if let Some(close) = suggestion {
        message.push_str(&format!(" (did you mean `{close}`?)"));
    }
    message
}

fn switch_message(requested: &str, kept: Option<&str>, rollback: Option<&Error>) -> String {
    match (kept, rollback) {
        (Some(kept), _) => {
            format!("cannot switch to `{requested}`; `{kept}` is still loaded and usable")
        }
        (None, Some(rollback)) => format!(
            "cannot switch to `{requested}`, and reloading the previous model failed too \
             ({}); no model is loaded",
            rollback.full_message()
        ),
        (None, None) => format!("cannot load `{requested}`; no model is loaded"),
    }
}

fn list_paths(paths: &[PathBuf]) -> impl fmt::Display + '_ {
    struct List<'a>(&'a [PathBuf]);
    impl fmt::Display for List<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, path) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}", path.display())?;
            }
            Ok(())
        }
    }
    List(paths)
}
