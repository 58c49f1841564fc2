//! The one error type of `inpaint-openai`.

use std::path::PathBuf;
use std::time::Duration;

use crate::money::Usd;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which spending cap a refused request would have crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CapKind {
    /// This model instance's requests (one process's session).
    Session,
    /// The current UTC day, across every process sharing the ledger.
    Day,
    /// The current UTC month, across every process sharing the ledger.
    Month,
}

impl std::fmt::Display for CapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CapKind::Session => "session",
            CapKind::Day => "daily",
            CapKind::Month => "monthly",
        })
    }
}

/// What went wrong, split by who must act.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (a bad URL, a negative cap, a missing key).
    #[error("openai-compat configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The price table could not be read or is malformed.
    #[error("price table {}: {message}", path.display())]
    Prices {
        /// The file (`<built-in>` for the table shipped with the crate).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The model is not in the price table, so its cost cannot be estimated.
    #[error(
        "model `{model}` is not in the price table {}: add its sizes and prices there (0 for a free server); listed: {known}",
        path.display()
    )]
    UnpricedModel {
        /// The model asked for.
        model: String,
        /// The price table.
        path: PathBuf,
        /// The models it lists, comma-separated.
        known: String,
    },
    /// The image or mask file is larger than the API model takes (the price table's
    /// `max_upload_mb`); nothing was sent.
    #[error(
        "the {size} image makes a PNG of {bytes} bytes; `{model}` takes files under {max} bytes; nothing was sent"
    )]
    UploadTooLarge {
        /// The size sent at.
        size: crate::prices::Size,
        /// The larger of the image and mask files.
        bytes: u64,
        /// The limit.
        max: u64,
        /// The API model.
        model: String,
    },
    /// The request was refused before anything was sent: its estimate would cross a cap.
    #[error(
        "budget: the {cap} cap of {limit} would be crossed: {spent} spent, this request is estimated at {estimate}; nothing was sent"
    )]
    BudgetExceeded {
        /// The cap.
        cap: CapKind,
        /// Its limit.
        limit: Usd,
        /// Already spent (or reserved by requests in flight) against it.
        spent: Usd,
        /// This request's estimate.
        estimate: Usd,
    },
    /// The ledger database failed.
    #[error("budget ledger {}: {source}", path.display())]
    Ledger {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file or folder could not be created or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// 401: the server did not accept the API key (which is never printed).
    #[error(
        "the server refused the API key (HTTP 401): check INPAINT_OPENAI_API_KEY or OPENAI_API_KEY"
    )]
    Unauthorized,
    /// 429: rate limited or out of quota.
    #[error("the server is rate limiting or the account is out of quota (HTTP 429): {message}")]
    RateLimited {
        /// The server's message.
        message: String,
    },
    /// 400 or another 4xx: the server refused the request.
    #[error("the server refused the request (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// 5xx: the server failed.
    #[error("the server failed (HTTP {status}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// No complete answer within the timeout.
    #[error("no complete answer from {url} within {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The connection failed.
    #[error("cannot reach {url}")]
    Transport {
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The answer is not an image of the size asked for.
    #[error("the server's answer is unusable: {message}")]
    BadAnswer {
        /// What is wrong with it.
        message: String,
    },
    /// An image could not be encoded or decoded.
    #[error("cannot encode or decode an image")]
    Image(#[from] image::ImageError),
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn bad_answer(message: impl Into<String>) -> Self {
        Error::BadAnswer {
            message: message.into(),
        }
    }
}
