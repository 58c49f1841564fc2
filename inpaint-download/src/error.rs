//! The one error type of `inpaint-download`.

use std::path::PathBuf;
use std::time::Duration;

use crate::backends::Hardware;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, split by who must act.
///
/// * The caller passed something unusable: [`InvalidFileName`](Error::InvalidFileName),
///   [`InvalidSha256`](Error::InvalidSha256), [`InvalidBackendName`](Error::InvalidBackendName),
///   [`Unverified`](Error::Unverified), [`InvalidRequest`](Error::InvalidRequest) (a bad URL).
/// * The configuration forbids it: [`NotCachedOffline`](Error::NotCachedOffline).
/// * The server or the network failed: [`Http`](Error::Http), [`Network`](Error::Network),
///   [`Stalled`](Error::Stalled), [`Truncated`](Error::Truncated), [`BadRange`](Error::BadRange).
///   These (except most 4xx statuses) are retried; see [`Error::is_transient`].
/// * The bytes are not the ones expected: [`ChecksumMismatch`](Error::ChecksumMismatch),
///   [`SizeMismatch`](Error::SizeMismatch), [`CachedMismatch`](Error::CachedMismatch),
///   [`ArchiveChecksum`](Error::ArchiveChecksum), [`FolderConflict`](Error::FolderConflict).
/// * One file of a folder download: [`FolderFile`](Error::FolderFile), wrapping its error.
/// * Local state: [`Io`](Error::Io), [`LockTimeout`](Error::LockTimeout),
///   [`InsufficientSpace`](Error::InsufficientSpace), [`Cancelled`](Error::Cancelled).
/// * Runtime backends: [`Archive`](Error::Archive), [`BackendExists`](Error::BackendExists),
///   [`BackendNotFound`](Error::BackendNotFound), [`BadBackend`](Error::BadBackend),
///   [`BadManifest`](Error::BadManifest), [`NoBackend`](Error::NoBackend), [`NoHomeDir`](Error::NoHomeDir).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `FetchRequest::file_name` is not a plain file name. Checked before any I/O.
    #[error(
        "invalid file name {name:?}: {reason}; pass a plain file name such as \"big-lama.onnx\" \
         and put any directories in `dir`"
    )]
    InvalidFileName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An expected sha256 is not 64 hexadecimal digits.
    #[error("invalid sha256 {value:?}: expected 64 hexadecimal digits (a sha256 digest in hex)")]
    InvalidSha256 {
        /// The value as given.
        value: String,
    },

    /// No sha256 was given and [`DownloadConfig::allow_unverified`](crate::DownloadConfig) is off.
    #[error(
        "refusing to fetch {url} without a sha256 to verify it against; pass the expected sha256, \
         or set `allow_unverified` in DownloadConfig to accept unverified files"
    )]
    Unverified {
        /// The URL that would have been fetched.
        url: String,
    },

    /// [`NetworkMode::Offline`](crate::NetworkMode::Offline) is on and the file is not cached.
    #[error(
        "{} is not cached and offline mode is on (NetworkMode::Offline, e.g. from HF_HUB_OFFLINE=1), \
         so {url} was not downloaded; fetch it once while online, or place the verified file at that path",
        path.display()
    )]
    NotCachedOffline {
        /// Where the file was looked for.
        path: PathBuf,
        /// Where it would have been downloaded from.
        url: String,
    },

    /// A file already at the destination does not match what was expected. It is left untouched.
    #[error(
        "{} already exists but does not match: expected {expected}, found {found}; it was left \
         untouched (it may be a different version or corrupt); delete or move it away to download a \
         fresh copy",
        path.display()
    )]
    CachedMismatch {
        /// The existing file.
        path: PathBuf,
        /// What was expected (`sha256 <hex>` or `<n> bytes`).
        expected: String,
        /// What was found, in the same form.
        found: String,
    },

    /// The server answered with an HTTP status that is not a success.
    #[error("HTTP {status} from {url} (attempt {attempts}): {hint}", hint = status_hint(*.status))]
    Http {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// How many attempts were made, this one included.
        attempts: u32,
    },

    /// Connecting, TLS, or reading failed. Transient: retried.
    #[error("could not fetch {url} (attempt {attempts}): {source}")]
    Network {
        /// The URL requested.
        url: String,
        /// How many attempts were made, this one included.
        attempts: u32,
        /// The HTTP client's error (a `ureq::Error`; not part of this crate's API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The request cannot be made as given: a malformed URL, a non-HTTP scheme, a bad proxy
    /// setting, or a redirect loop. Not retried.
    #[error(
        "cannot request {url}: {source}; check the URL (an http or https address, e.g. from a \
         *_MODEL_URL override) and any proxy settings"
    )]
    InvalidRequest {
        /// The URL requested.
        url: String,
        /// The HTTP client's error (a `ureq::Error`; not part of this crate's API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// No bytes arrived for `stall_timeout`.
    #[error(
        "no data from {url} for {timeout:?} after {received} bytes (attempt {attempts}); the \
         partial file is kept and a new fetch resumes it; raise `stall_timeout` on slow links"
    )]
    Stalled {
        /// The URL requested.
        url: String,
        /// The stall timeout that expired.
        timeout: Duration,
        /// Bytes of the file on disk when it stalled.
        received: u64,
        /// How many attempts were made, this one included.
        attempts: u32,
    },

    /// The connection closed before the whole body arrived.
    #[error(
        "{url} ended after {received} of {} bytes (attempt {attempts}); the partial file is kept \
         and a new fetch resumes it",
        expected.map_or_else(|| "the expected".to_owned(), |n| n.to_string())
    )]
    Truncated {
        /// The URL requested.
        url: String,
        /// Bytes of the file on disk when it ended.
        received: u64,
        /// The full size, when the server or the caller said.
        expected: Option<u64>,
        /// How many attempts were made, this one included.
        attempts: u32,
    },

    /// A resume (`Range`) request got a `206` for the wrong bytes, or a `416`.
    #[error(
        "{url} answered a resume from byte {expected_start} with {answer:?}; the partial file was \
         discarded and the download starts over"
    )]
    BadRange {
        /// The URL requested.
        url: String,
        /// The first byte asked for.
        expected_start: u64,
        /// The status and `Content-Range` received.
        answer: String,
    },

    /// The server's file has a different size than expected. The partial file is deleted.
    #[error(
        "{url} is {actual} bytes but {expected} were expected; the server serves a different file \
         than the one described (check the URL, e.g. a *_MODEL_URL override, and the expected size)"
    )]
    SizeMismatch {
        /// The URL requested.
        url: String,
        /// The size expected by the caller.
        expected: u64,
        /// The size served (at least this many bytes, when the download was cut short).
        actual: u64,
    },

    /// The downloaded bytes do not hash to the expected sha256. Nothing was written to the
    /// destination and the partial file is deleted.
    #[error(
        "sha256 mismatch for {url}: expected {expected}, got {actual}; the downloaded bytes were \
         deleted and {} was not written (check the URL, e.g. a *_MODEL_URL override pointing at a \
         different file, and the expected sha256)",
        path.display()
    )]
    ChecksumMismatch {
        /// The URL downloaded.
        url: String,
        /// The destination that was not written.
        path: PathBuf,
        /// The sha256 expected.
        expected: String,
        /// The sha256 of what was served.
        actual: String,
    },

    /// One file of a folder download ([`Downloader::fetch_folder`](crate::Downloader::fetch_folder))
    /// failed. Nothing was put at the destination; the files verified so far, and any partial
    /// file, stay in the staging folder for the next attempt.
    #[error(
        "{file} of {}: {source}; the model folder was not put in place (the next download \
         resumes from {})",
        dir.display(),
        staging.display()
    )]
    FolderFile {
        /// The file's path inside the folder (`unet/model.onnx`).
        file: String,
        /// The destination folder, which was not created.
        dir: PathBuf,
        /// The staging folder that keeps what was downloaded.
        staging: PathBuf,
        /// What went wrong with the file.
        #[source]
        source: Box<Error>,
    },

    /// A folder download's destination already exists and is not the complete model. It is
    /// left untouched (it may be the user's own folder).
    #[error(
        "{} already exists but is not the complete model: {reason}; it was left untouched; \
         delete or move it away to download a fresh copy",
        path.display()
    )]
    FolderConflict {
        /// The existing destination.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },

    /// The cancel flag was set. The partial file is kept, so the next fetch resumes.
    #[error(
        "download of {url} cancelled after {received} bytes; {} is kept and the next fetch resumes \
         from it",
        partial.display()
    )]
    Cancelled {
        /// The URL being downloaded.
        url: String,
        /// The partial file left for resuming.
        partial: PathBuf,
        /// Bytes in the partial file.
        received: u64,
    },

    /// Another downloader held the file's lock for longer than `lock_timeout`.
    #[error(
        "waited {waited:?} for the lock {}: another process is downloading the same file; wait for \
         it to finish or raise `lock_timeout` (the lock is released when that process exits)",
        path.display()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long this call waited.
        waited: Duration,
    },

    /// The destination's file system has too little free space for the download.
    #[error(
        "not enough disk space in {}: {needed} more bytes needed, {available} available; free some \
         space or download elsewhere",
        dir.display()
    )]
    InsufficientSpace {
        /// The destination directory.
        dir: PathBuf,
        /// Bytes still to download.
        needed: u64,
        /// Bytes available to this user.
        available: u64,
    },

    /// Reading or writing a local file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A backend name is not a plain directory name.
    #[error(
        "invalid backend name {name:?}: {reason}; use letters, digits, '.', '_' and '-', such as \
         \"onnxruntime-1.31.1-cpu\""
    )]
    InvalidBackendName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A backend archive does not hash to the expected sha256. Nothing was installed.
    #[error(
        "sha256 mismatch for backend archive {}: expected {expected}, got {actual}; nothing was \
         installed (check that the archive and the sha256 belong together)",
        archive.display()
    )]
    ArchiveChecksum {
        /// The archive.
        archive: PathBuf,
        /// The sha256 expected.
        expected: String,
        /// The archive's sha256.
        actual: String,
    },

    /// A backend archive is unreadable, of an unknown format, unsafe, or holds no ONNX Runtime
    /// library. Nothing was installed.
    #[error("cannot install backend from {}: {reason}; nothing was installed", archive.display())]
    Archive {
        /// The archive.
        archive: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A different build is already installed under this name.
    #[error(
        "backend {name:?} is already installed in {} from a different archive; remove it first \
         (Backends::remove) or install under another name",
        dir.display()
    )]
    BackendExists {
        /// The backend name.
        name: String,
        /// Its directory.
        dir: PathBuf,
    },

    /// No backend of this name is installed.
    #[error("no backend named {name:?} is installed in {}", root.display())]
    BackendNotFound {
        /// The name asked for.
        name: String,
        /// The backends folder.
        root: PathBuf,
    },

    /// An installed backend's directory is broken (manifest missing or invalid, library gone).
    #[error("broken backend in {}: {reason}; remove it and install it again", dir.display())]
    BadBackend {
        /// The backend's directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// An installed backend's `manifest.toml` cannot be parsed.
    #[error("{}: invalid backend manifest: {source}; remove the backend and install it again", path.display())]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// The parser's error (a `toml::de::Error`; not part of this crate's API).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// No installed backend suits this machine.
    #[error(
        "no ONNX Runtime backend for this machine ({hardware}) in {}; installed: {}; install one \
         with Backends::install_file or Backends::install_url (for a CPU build, the onnxruntime \
         wheel from PyPI)",
        root.display(),
        if installed.is_empty() { "none".to_owned() } else { installed.join(", ") }
    )]
    NoBackend {
        /// The hardware detected.
        hardware: Hardware,
        /// The backends installed (name and hardware), including unsuitable ones.
        installed: Vec<String>,
        /// The backends folder.
        root: PathBuf,
    },

    /// No home directory was found to derive the default backends folder from.
    #[error(
        "cannot find a default backends folder: none of INPAINT_HOME, XDG_DATA_HOME, HOME is set; \
         set one, or pass a folder to Backends::new"
    )]
    NoHomeDir,
}

impl Error {
    /// Whether retrying the same request may succeed: connection errors, stalls, truncated
    /// bodies, bad range answers, `408`, `429` and `5xx` statuses.
    ///
    /// Checksum and size mismatches, other `4xx` statuses, local I/O errors and cancellation
    /// are not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Http { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Error::Network { .. }
            | Error::Stalled { .. }
            | Error::Truncated { .. }
            | Error::BadRange { .. } => true,
            Error::FolderFile { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// What a status means for the user, and what to do.
fn status_hint(status: u16) -> &'static str {
    match status {
        404 | 410 => {
            "not found; check the URL (repository, revision and file name, or the *_MODEL_URL override)"
        }
        401 | 403 => {
            "access denied; the file may be gated or private, or the mirror refuses this client"
        }
        408 | 429 => "the server is busy or rate limiting; try again later",
        416 => "range not satisfiable",
        500..=599 => "server error; try again later or use a mirror (HF_ENDPOINT)",
        300..=399 => "unfollowed redirect",
        _ => "unexpected status",
    }
}
