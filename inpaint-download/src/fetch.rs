//! [`Downloader`]: verified, resumable, locked downloads of one file.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{DownloadConfig, NetworkMode};
use crate::error::{Error, Result};

/// Bytes read and written at a time; the cancel flag is checked between chunks.
const CHUNK: usize = 64 * 1024;
/// Upper bound of the exponential backoff between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a waiting downloader tries the lock again, and checks the cancel flag.
const POLL: Duration = Duration::from_millis(25);

/// One file to fetch: where from, where to, and how to check it.
///
/// Build it with a struct literal or with [`FetchRequest::new`] and the `with_*` setters.
#[derive(Clone, Copy)]
pub struct FetchRequest<'a> {
    /// The URL to download (`http` or `https`; redirects are followed).
    pub url: &'a str,
    /// The destination directory; created if missing.
    pub dir: &'a Path,
    /// The destination file name inside `dir`: a plain name, no separators, no `..`.
    pub file_name: &'a str,
    /// The expected sha256, 64 hex digits (upper case is accepted). `None` fetches an
    /// unverified file, which is refused unless
    /// [`DownloadConfig::allow_unverified`] is set.
    pub sha256: Option<&'a str>,
    /// The expected size in bytes, when known: checked before the body is read, while it is
    /// read, and at the end.
    pub size: Option<u64>,
    /// Called with each [`Progress`] event, on the calling thread.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Set to `true` (from any thread) to stop the download between chunks; the partial file is
    /// kept and [`Error::Cancelled`] returned.
    pub cancel: Option<&'a AtomicBool>,
}

impl<'a> FetchRequest<'a> {
    /// A request for `url` into `dir/file_name`, with no checksum, size, progress or cancel flag.
    pub fn new(url: &'a str, dir: &'a Path, file_name: &'a str) -> Self {
        Self {
            url,
            dir,
            file_name,
            sha256: None,
            size: None,
            progress: None,
            cancel: None,
        }
    }

    /// Sets [`sha256`](Self::sha256).
    pub fn with_sha256(mut self, sha256: &'a str) -> Self {
        self.sha256 = Some(sha256);
        self
    }

    /// Sets [`size`](Self::size).
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Sets [`progress`](Self::progress).
    pub fn with_progress(mut self, progress: &'a (dyn Fn(Progress) + Sync)) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets [`cancel`](Self::cancel).
    pub fn with_cancel(mut self, cancel: &'a AtomicBool) -> Self {
        self.cancel = Some(cancel);
        self
    }
}

impl fmt::Debug for FetchRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchRequest")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .field("file_name", &self.file_name)
            .field("sha256", &self.sha256)
            .field("size", &self.size)
            .field("progress", &self.progress.map(|_| "Fn(Progress)"))
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// A progress event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// What is happening.
    pub phase: Phase,
    /// Bytes done in this phase (for [`Phase::Downloading`], bytes of the file on disk,
    /// including those resumed from an earlier attempt).
    pub done: u64,
    /// The total, when known.
    pub total: Option<u64>,
}

/// The phase of a fetch, in the order they normally come.
// Not `#[non_exhaustive]`: callers match on it to draw progress, and a new phase should make
// them decide how to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for another downloader of the same file, or connecting and waiting for the
    /// response headers. `done` is what is already on disk.
    Connecting,
    /// Receiving the body.
    Downloading,
    /// Hashing bytes on disk: a cached file, a partial file before it is resumed, or (instantly,
    /// since the download is hashed as it streams) the finished download before it is renamed
    /// into place.
    Verifying,
    /// The verified file is in place.
    Done,
}

/// Fetches files over HTTP(S): verified against a sha256, resumed after interruptions, locked
/// against concurrent downloads of the same file, and only renamed into place once verified.
///
/// A `Downloader` holds an HTTP connection pool; share one (it is `Send + Sync`) rather than
/// building one per file.
#[derive(Debug)]
pub struct Downloader {
    config: DownloadConfig,
    agent: ureq::Agent,
}

impl Downloader {
    /// A downloader with this configuration. Opens no connection.
    pub fn new(config: DownloadConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            // Statuses are handled here: 206/416 matter for resuming, 404 gets its own message.
            .http_status_as_error(false)
            .timeout_resolve(Some(config.connect_timeout))
            .timeout_connect(Some(config.connect_timeout))
            // Each read of headers or body; expiring means the transfer stalled.
            .timeout_per_read(Some(config.stall_timeout))
            .timeout_per_write(Some(config.stall_timeout))
            .user_agent(concat!("inpaint-download/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Self { config, agent }
    }

    /// The configuration in use.
    pub fn config(&self) -> &DownloadConfig {
        &self.config
    }

    /// Fetches `request.url` into `request.dir/request.file_name` and returns that path.
    ///
    /// In order:
    /// 1. `file_name` and `sha256` are checked before any I/O; a request without a sha256 is
    ///    refused unless [`DownloadConfig::allow_unverified`] is set.
    /// 2. If the destination exists and verifies, it is returned without touching the network
    ///    (in every [`NetworkMode`]). If it exists and does *not* verify, this is
    ///    [`Error::CachedMismatch`] and the file is left alone: it may be the user's own file.
    /// 3. In [`NetworkMode::Offline`] a missing file is [`Error::NotCachedOffline`]; no socket is
    ///    opened.
    /// 4. The lock `dir/<file_name>.lock` is taken (waiting up to
    ///    [`lock_timeout`](DownloadConfig::lock_timeout)); if another downloader finished the
    ///    file meanwhile, it is returned.
    /// 5. The body streams into `dir/<file_name>.partial`, hashed as it arrives. An existing
    ///    partial is resumed with `Range` and `If-Range` (the validator is kept in
    ///    `<file_name>.partial.meta`); a `200` answer starts over. Transient failures are retried
    ///    with exponential backoff, resuming each time.
    /// 6. The size and sha256 are checked; on a mismatch the partial is deleted. Otherwise it is
    ///    synced to disk and renamed to `file_name`, so the destination never holds unverified
    ///    or incomplete bytes.
    ///
    /// The `.lock` file is left in place (deleting it would race with other downloaders).
    pub fn fetch(&self, request: &FetchRequest<'_>) -> Result<PathBuf> {
        let _span =
            tracing::info_span!("fetch", url = request.url, file = request.file_name).entered();
        check_file_name(request.file_name)?;
        let expected = request.sha256.map(normalize_sha256).transpose()?;
        if expected.is_none() && !self.config.allow_unverified {
            return Err(Error::Unverified {
                url: request.url.to_owned(),
            });
        }
        let job = Job::new(request, expected);
        let trust_unverified = self.config.mode != NetworkMode::Online;
        if let Some(path) = job.cached(trust_unverified)? {
            tracing::debug!(path = %path.display(), "already downloaded");
            return Ok(path);
        }
        if self.config.mode == NetworkMode::Offline {
            return Err(Error::NotCachedOffline {
                path: job.final_path.clone(),
                url: request.url.to_owned(),
            });
        }
        fs::create_dir_all(request.dir).map_err(|e| Error::io(request.dir, e))?;
        let lock = self.lock(&job)?;
        // Someone else may have finished the file while this call waited; when it did, its
        // download is as fresh as ours would be, verified or not.
        if let Some(path) = job.cached(trust_unverified || lock.waited)? {
            tracing::debug!(path = %path.display(), "downloaded by another process meanwhile");
            return Ok(path);
        }
        let result = self.download(&job);
        drop(lock);
        result
    }

    /// Takes the per-file lock, waiting up to `lock_timeout`.
    fn lock(&self, job: &Job<'_, '_>) -> Result<FileLock> {
        self.lock_path(
            job.sidecar(".lock"),
            || job.report(Phase::Connecting, 0, job.req.size),
            || job.is_cancelled(),
            || job.cancelled(job.partial_len()),
        )
    }

    /// Takes the advisory lock on the file `path` (created if missing), waiting up to
    /// `lock_timeout`; `on_wait` runs once if another holder makes it wait, and the wait ends
    /// early with `cancelled()` when `is_cancelled()`.
    pub(crate) fn lock_path(
        &self,
        path: PathBuf,
        on_wait: impl Fn(),
        is_cancelled: impl Fn() -> bool,
        cancelled: impl Fn() -> Error,
    ) -> Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let start = Instant::now();
        let mut waited = false;
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(FileLock { file, waited }),
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(fs4::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            if !waited {
                waited = true;
                on_wait();
            }
            let elapsed = start.elapsed();
            if elapsed >= self.config.lock_timeout {
                return Err(Error::LockTimeout {
                    path,
                    waited: elapsed,
                });
            }
            if is_cancelled() {
                return Err(cancelled());
            }
            thread::sleep(POLL.min(self.config.lock_timeout - elapsed));
        }
    }

    /// Downloads with retries, then verifies and commits. Holds the lock.
    fn download(&self, job: &Job<'_, '_>) -> Result<PathBuf> {
        let started = Instant::now();
        let mut state = job.resume_state()?;
        let resumed = state.offset;
        if resumed > 0 {
            tracing::debug!(offset = resumed, "resuming a partial download");
        }
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            if job.is_cancelled() {
                return Err(job.cancelled(state.offset));
            }
            tracing::debug!(attempt = attempts, offset = state.offset, "request");
            match self.attempt(job, &mut state, attempts) {
                Ok(()) => break,
                Err(e) if e.is_transient() && attempts <= self.config.retries => {
                    tracing::warn!(
                        attempt = attempts,
                        retries = self.config.retries,
                        offset = state.offset,
                        error = %e,
                        "transient failure; retrying"
                    );
                    self.backoff(job, &state, attempts)?;
                }
                Err(e) => return Err(e),
            }
        }
        let bytes = state.offset;
        let path = job.commit(state)?;
        tracing::info!(
            bytes,
            resumed,
            attempts,
            verified = job.expected.is_some(),
            elapsed = ?started.elapsed(),
            path = %path.display(),
            "downloaded"
        );
        Ok(path)
    }

    /// Sleeps `retry_delay * 2^(attempts-1)` (at most [`MAX_BACKOFF`]), watching the cancel flag.
    fn backoff(&self, job: &Job<'_, '_>, state: &State, attempts: u32) -> Result<()> {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        let delay = self
            .config
            .retry_delay
            .checked_mul(factor)
            .map_or(MAX_BACKOFF, |d| d.min(MAX_BACKOFF));
        tracing::debug!(?delay, "waiting before the next attempt");
        let until = Instant::now() + delay;
        loop {
            if job.is_cancelled() {
                return Err(job.cancelled(state.offset));
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            thread::sleep(POLL.min(until - now));
        }
    }

    /// One HTTP exchange: resumes from `state`, appends to the partial file and the hash.
    fn attempt(&self, job: &Job<'_, '_>, state: &mut State, attempts: u32) -> Result<()> {
        let req = job.req;
        // A partial file of exactly the expected size (a run that died before renaming) needs
        // no request; its hash decides.
        if state.offset > 0 && req.size == Some(state.offset) {
            return Ok(());
        }
        job.report(Phase::Connecting, state.offset, req.size);
        let resuming = state.offset > 0;
        let mut request = self.agent.get(req.url);
        if resuming {
            request = request.header("Range", format!("bytes={}-", state.offset));
            if let Some(validator) = &state.validator {
                request = request.header("If-Range", validator.as_str());
            }
        }
        let response = request
            .call()
            .map_err(|e| self.classify(job, e, state.offset, None, attempts, false))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let content_length = header(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
        let total = match status {
            200 => {
                if resuming {
                    // The server ignored the range, or the file changed (If-Range): start over.
                    job.discard_partial()?;
                    *state = State::fresh();
                }
                content_length
            }
            206 if resuming => {
                let range = header(headers, "content-range").unwrap_or("");
                match parse_content_range(range) {
                    Some((start, total)) if start == state.offset => {
                        total.or_else(|| content_length.map(|n| n + start))
                    }
                    _ => {
                        job.discard_partial()?;
                        let expected_start = state.offset;
                        *state = State::fresh();
                        return Err(Error::BadRange {
                            url: req.url.to_owned(),
                            expected_start,
                            answer: format!("206 with Content-Range {range:?}"),
                        });
                    }
                }
            }
            416 if resuming => {
                job.discard_partial()?;
                let expected_start = state.offset;
                *state = State::fresh();
                return Err(Error::BadRange {
                    url: req.url.to_owned(),
                    expected_start,
                    answer: "416 Range Not Satisfiable".to_owned(),
                });
            }
            _ => {
                return Err(Error::Http {
                    url: req.url.to_owned(),
                    status,
                    attempts,
                });
            }
        };
        if let (Some(expected), Some(actual)) = (req.size, total) {
            if expected != actual {
                job.discard_partial()?;
                *state = State::fresh();
                return Err(Error::SizeMismatch {
                    url: req.url.to_owned(),
                    expected,
                    actual,
                });
            }
        }
        if let Some(total) = total {
            check_space(req.dir, total.saturating_sub(state.offset))?;
        }

        let mut file = if state.offset == 0 {
            // The validator goes to disk before the first byte, so a later run can resume.
            let validator = validator(headers);
            write_meta(
                &job.meta,
                &PartialMeta {
                    url: req.url.to_owned(),
                    validator: validator.clone(),
                },
            )?;
            state.validator = validator;
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&job.partial)
        } else {
            OpenOptions::new().append(true).open(&job.partial)
        }
        .map_err(|e| Error::io(&job.partial, e))?;

        let shown_total = total.or(req.size);
        job.report(Phase::Downloading, state.offset, shown_total);
        let mut reader = response.into_body().into_reader();
        let mut buf = vec![0u8; CHUNK];
        loop {
            if job.is_cancelled() {
                file.sync_all().map_err(|e| Error::io(&job.partial, e))?;
                return Err(job.cancelled(state.offset));
            }
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Keep what arrived for the next attempt.
                    file.sync_data().map_err(|e| Error::io(&job.partial, e))?;
                    let e = ureq::Error::from(e);
                    return Err(self.classify(job, e, state.offset, shown_total, attempts, true));
                }
            };
            let chunk = buf.get(..n).unwrap_or_default();
            file.write_all(chunk)
                .map_err(|e| Error::io(&job.partial, e))?;
            state.hasher.update(chunk);
            state.offset += n as u64;
            if let Some(expected) = req.size {
                if state.offset > expected {
                    drop(file);
                    job.discard_partial()?;
                    let actual = state.offset;
                    *state = State::fresh();
                    return Err(Error::SizeMismatch {
                        url: req.url.to_owned(),
                        expected,
                        actual,
                    });
                }
            }
            job.report(Phase::Downloading, state.offset, shown_total);
        }
        file.sync_all().map_err(|e| Error::io(&job.partial, e))?;
        if let Some(expected) = shown_total {
            if state.offset < expected {
                return Err(Error::Truncated {
                    url: req.url.to_owned(),
                    received: state.offset,
                    expected: Some(expected),
                    attempts,
                });
            }
        }
        Ok(())
    }

    /// Maps an HTTP client error to this crate's error.
    fn classify(
        &self,
        job: &Job<'_, '_>,
        error: ureq::Error,
        received: u64,
        expected: Option<u64>,
        attempts: u32,
        in_body: bool,
    ) -> Error {
        let url = job.req.url.to_owned();
        match error {
            ureq::Error::Timeout(
                ureq::Timeout::PerRead | ureq::Timeout::RecvBody | ureq::Timeout::RecvResponse,
            ) => Error::Stalled {
                url,
                timeout: self.config.stall_timeout,
                received,
                attempts,
            },
            ureq::Error::Io(e)
                if in_body
                    && matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                    ) =>
            {
                Error::Truncated {
                    url,
                    received,
                    expected,
                    attempts,
                }
            }
            other @ (ureq::Error::BadUri(_)
            | ureq::Error::Http(_)
            | ureq::Error::RequireHttpsOnly(_)
            | ureq::Error::TooManyRedirects
            | ureq::Error::RedirectFailed
            | ureq::Error::InvalidProxyUrl) => Error::InvalidRequest {
                url,
                source: Box::new(other),
            },
            other => Error::Network {
                url,
                attempts,
                source: Box::new(other),
            },
        }
    }
}

/// The lock on `<file_name>.lock`, released on drop (and by the OS if the process dies).
pub(crate) struct FileLock {
    file: File,
    /// Whether another downloader held it first.
    pub(crate) waited: bool,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes the order explicit.
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// Download progress carried across attempts: the hash and length of the partial file.
struct State {
    hasher: Sha256,
    offset: u64,
    validator: Option<String>,
}

impl State {
    fn fresh() -> Self {
        Self {
            hasher: Sha256::new(),
            offset: 0,
            validator: None,
        }
    }
}

/// What `<file_name>.partial.meta` holds: enough to decide whether a partial can be resumed.
#[derive(Debug, Serialize, Deserialize)]
struct PartialMeta {
    /// The URL the partial came from; a different URL starts over.
    url: String,
    /// Strong `ETag`, else `Last-Modified`, of the response that started the partial; sent as
    /// `If-Range`.
    validator: Option<String>,
}

/// One fetch's paths and callbacks.
pub(crate) struct Job<'r, 'a> {
    req: &'r FetchRequest<'a>,
    /// Normalised (lower-case) expected sha256.
    expected: Option<String>,
    final_path: PathBuf,
    partial: PathBuf,
    meta: PathBuf,
}

impl<'r, 'a> Job<'r, 'a> {
    pub(crate) fn new(req: &'r FetchRequest<'a>, expected: Option<String>) -> Self {
        let final_path = req.dir.join(req.file_name);
        let partial = req.dir.join(format!("{}.partial", req.file_name));
        let meta = req.dir.join(format!("{}.partial.meta", req.file_name));
        Self {
            req,
            expected,
            final_path,
            partial,
            meta,
        }
    }

    fn sidecar(&self, suffix: &str) -> PathBuf {
        self.req.dir.join(format!("{}{suffix}", self.req.file_name))
    }

    fn report(&self, phase: Phase, done: u64, total: Option<u64>) {
        if let Some(progress) = self.req.progress {
            progress(Progress { phase, done, total });
        }
    }

    fn is_cancelled(&self) -> bool {
        self.req.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    fn cancelled(&self, received: u64) -> Error {
        Error::Cancelled {
            url: self.req.url.to_owned(),
            partial: self.partial.clone(),
            received,
        }
    }

    fn partial_len(&self) -> u64 {
        fs::metadata(&self.partial).map_or(0, |m| m.len())
    }

    /// The destination, if it exists and is acceptable: it verifies against the sha256, or
    /// (no sha256) `trust_unverified` is set and its size matches any expected size.
    pub(crate) fn cached(&self, trust_unverified: bool) -> Result<Option<PathBuf>> {
        let path = &self.final_path;
        let metadata = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        if !metadata.is_file() {
            return Err(Error::io(
                path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "exists but is not a regular file; move it away",
                ),
            ));
        }
        let len = metadata.len();
        match &self.expected {
            Some(expected) => {
                let mut hasher = Sha256::new();
                self.report(Phase::Verifying, 0, Some(len));
                hash_into(path, &mut hasher, |n| {
                    self.report(Phase::Verifying, n, Some(len));
                })?;
                let actual = hex(hasher);
                if actual != *expected {
                    return Err(Error::CachedMismatch {
                        path: path.clone(),
                        expected: format!("sha256 {expected}"),
                        found: format!("sha256 {actual}"),
                    });
                }
            }
            None => {
                if !trust_unverified {
                    return Ok(None);
                }
                if let Some(size) = self.req.size {
                    if size != len {
                        return Err(Error::CachedMismatch {
                            path: path.clone(),
                            expected: format!("{size} bytes"),
                            found: format!("{len} bytes"),
                        });
                    }
                }
            }
        }
        self.report(Phase::Done, len, Some(len));
        Ok(Some(path.clone()))
    }

    /// The state to resume from: the hash of the partial file, if it can be resumed safely
    /// (same URL, and a validator or a sha256 to catch a changed file); otherwise the partial
    /// is deleted and the state is fresh.
    fn resume_state(&self) -> Result<State> {
        let len = match fs::metadata(&self.partial) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                remove_if_exists(&self.meta)?;
                return Ok(State::fresh());
            }
            Err(e) => return Err(Error::io(&self.partial, e)),
        };
        let meta = read_meta(&self.meta);
        let resumable = meta.as_ref().is_some_and(|m| {
            m.url == self.req.url && (m.validator.is_some() || self.expected.is_some())
        });
        let too_long = self.req.size.is_some_and(|size| len > size);
        let Some(meta) = meta.filter(|_| resumable && !too_long && len > 0) else {
            self.discard_partial()?;
            return Ok(State::fresh());
        };
        let mut hasher = Sha256::new();
        self.report(Phase::Verifying, 0, Some(len));
        let hashed = hash_into(&self.partial, &mut hasher, |n| {
            self.report(Phase::Verifying, n, Some(len));
        })?;
        Ok(State {
            hasher,
            offset: hashed,
            validator: meta.validator,
        })
    }

    /// Checks size and sha256, then syncs and renames the partial into place.
    fn commit(&self, state: State) -> Result<PathBuf> {
        let len = state.offset;
        self.report(Phase::Verifying, len, Some(len));
        if let Some(expected) = self.req.size {
            if len != expected {
                self.discard_partial()?;
                return Err(Error::SizeMismatch {
                    url: self.req.url.to_owned(),
                    expected,
                    actual: len,
                });
            }
        }
        let actual = hex(state.hasher);
        if let Some(expected) = &self.expected {
            if actual != *expected {
                self.discard_partial()?;
                return Err(Error::ChecksumMismatch {
                    url: self.req.url.to_owned(),
                    path: self.final_path.clone(),
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        // Durable before it becomes visible under its final name. (Write access: Windows
        // cannot flush a read-only handle.)
        OpenOptions::new()
            .write(true)
            .open(&self.partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&self.partial, e))?;
        fs::rename(&self.partial, &self.final_path).map_err(|e| Error::io(&self.final_path, e))?;
        remove_if_exists(&self.meta)?;
        sync_dir(self.req.dir);
        self.report(Phase::Done, len, Some(len));
        Ok(self.final_path.clone())
    }

    /// Deletes the partial file and its meta.
    fn discard_partial(&self) -> Result<()> {
        remove_if_exists(&self.partial)?;
        remove_if_exists(&self.meta)
    }
}

/// The sha256 of a file, as 64 lower-case hex digits.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("empty");
/// # std::fs::write(&path, b"").unwrap();
/// // `path` is an empty file.
/// assert_eq!(
///     inpaint_download::sha256_file(&path)?,
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// # Ok::<(), inpaint_download::Error>(())
/// ```
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    hash_into(path, &mut hasher, |_| {})?;
    Ok(hex(hasher))
}

/// Feeds the file into `hasher`, calling `on_chunk` with the bytes hashed so far; returns the
/// file's length.
pub(crate) fn hash_into(
    path: &Path,
    hasher: &mut Sha256,
    mut on_chunk: impl FnMut(u64),
) -> Result<u64> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
        on_chunk(total);
    }
}

/// Lower-case hex of the digest.
pub(crate) fn hex(hasher: Sha256) -> String {
    hasher.finalize().iter().fold(String::new(), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    })
}

/// Checks a sha256 is 64 hex digits; returns it in lower case.
pub(crate) fn normalize_sha256(value: &str) -> Result<String> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Error::InvalidSha256 {
            value: value.to_owned(),
        })
    }
}

/// Refuses anything but a plain file name, before any I/O.
pub(crate) fn check_file_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it names a directory")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if name.contains("..") {
        Some("it contains \"..\"")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else if name.contains(':') {
        Some("it contains ':' (a drive or stream on Windows)")
    } else if [".partial", ".partial.meta", ".lock"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
    {
        Some("it ends with a suffix this crate uses for its own files (.partial, .lock)")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidFileName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Refuses a download that cannot fit (best effort: file systems that cannot say are allowed).
fn check_space(dir: &Path, needed: u64) -> Result<()> {
    match fs4::available_space(dir) {
        Ok(available) if available < needed => Err(Error::InsufficientSpace {
            dir: dir.to_owned(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

fn header<'h>(headers: &'h ureq::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A strong `ETag` (weak ones are not allowed in `If-Range`), else `Last-Modified`.
fn validator(headers: &ureq::http::HeaderMap) -> Option<String> {
    header(headers, "etag")
        .filter(|etag| !etag.starts_with("W/") && !etag.is_empty())
        .or_else(|| header(headers, "last-modified").filter(|v| !v.is_empty()))
        .map(str::to_owned)
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`) → `(START, TOTAL)`.
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start = start.trim().parse::<u64>().ok()?;
    let end = end.trim().parse::<u64>().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    Some((start, total))
}

fn read_meta(path: &Path) -> Option<PartialMeta> {
    let text = fs::read_to_string(path).ok()?;
    toml::from_str(&text).ok()
}

fn write_meta(path: &Path, meta: &PartialMeta) -> Result<()> {
    let text = toml::to_string(meta).map_err(|e| Error::io(path, io::Error::other(e)))?;
    fs::write(path, text).map_err(|e| Error::io(path, e))
}

pub(crate) fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Makes a rename in `dir` durable (POSIX); a no-op where directories cannot be synced.
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloader_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Downloader>();
        check::<FetchRequest<'static>>();
    }

    #[test]
    fn content_range() {
        assert_eq!(
            parse_content_range("bytes 10-99/100"),
            Some((10, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 10-99/*"), Some((10, None)));
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("bytes 9-1/100"), None);
        assert_eq!(parse_content_range(""), None);
    }

    #[test]
    fn file_names() {
        for bad in [
            "",
            ".",
            "..",
            "../../x",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "C:x",
            "a\0b",
            "x.partial",
            "x.lock",
        ] {
            assert!(
                matches!(check_file_name(bad), Err(Error::InvalidFileName { .. })),
                "{bad:?}"
            );
        }
        for good in ["big-lama.onnx", "model.fp16.safetensors", ".hidden"] {
            assert!(check_file_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn sha256_normalised() {
        let upper = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(normalize_sha256(upper).unwrap(), upper.to_ascii_lowercase());
        assert!(normalize_sha256("abc").is_err());
        assert!(normalize_sha256(&"g".repeat(64)).is_err());
    }
}
