//! Verified, resumable downloads of model weights, and ONNX Runtime builds installed as
//! backends.
//!
//! # Brief overview
//!
//! A [`Downloader`] fetches one file per [`FetchRequest`]: a URL, a destination directory and
//! file name, and the expected sha256 (and size). [`DownloadConfig`] says when the network may
//! be used ([`NetworkMode`]), how long to wait, how often to retry, and which per-model URLs
//! replace the registry's; [`DownloadConfig::from_env`] is the one place that reads environment
//! variables (`HF_ENDPOINT`, `HF_HUB_OFFLINE`, `<ID>_MODEL_URL`). [`hf_url`] builds Hugging
//! Face download URLs.
//!
//! The guarantees:
//!
//! * **The destination never holds a partial or unverified file.** Bytes stream into
//!   `<file>.partial`, hashed as they arrive; only after the size and sha256 match is the file
//!   synced and renamed to its final name. A mismatch deletes the partial and names both
//!   digests ([`Error::ChecksumMismatch`]).
//! * **A verified file is never downloaded again**, in any [`NetworkMode`].
//! * **[`NetworkMode::Offline`] never opens a socket**: it returns the cached, verified file or
//!   [`Error::NotCachedOffline`].
//! * **Interrupted downloads resume** with `Range` and `If-Range` (the validator is kept in
//!   `<file>.partial.meta`); transient failures (connection errors, `5xx`, stalls, truncated
//!   bodies) are retried with exponential backoff; `404`/`403` and checksum mismatches are not.
//! * **One download per file at a time**, across threads and processes: a per-file advisory
//!   lock (`<file>.lock`, released by the OS if the process dies); a second caller waits, then
//!   finds the file done.
//! * Requests without a sha256 are refused unless [`DownloadConfig::allow_unverified`] is set.
//!
//! A model made of several files (a Stable Diffusion pipeline) comes through
//! [`Downloader::fetch_folder`]: every file fetched as above into a hidden staging folder
//! ([`staging_dir`]) beside the destination, which is renamed into place only once every file
//! verified, so an interrupted or failed download never leaves a folder that looks like a model.
//!
//! [`Progress`] events ([`Phase::Connecting`], [`Phase::Downloading`], [`Phase::Verifying`],
//! [`Phase::Done`]) go to an optional callback, and an optional [`AtomicBool`] cancels between
//! chunks, keeping the partial file for a later resume.
//!
//! The [`backends`] module installs ONNX Runtime builds (PyPI wheels, release tarballs) into a
//! backends folder and picks the one that suits the machine ([`Backends::resolve_auto`]).
//!
//! # Example
//!
//! ```no_run
//! use inpaint_download::{DownloadConfig, Downloader, FetchRequest, hf_url};
//! use std::path::Path;
//!
//! let config = DownloadConfig::from_env();
//! let url = config
//!     .url_override("lama")
//!     .map(str::to_owned)
//!     .unwrap_or_else(|| hf_url(&config.endpoint, "Carve/LaMa-ONNX", "main", "lama_fp32.onnx"));
//! let downloader = Downloader::new(config);
//! let show = |p: inpaint_download::Progress| eprintln!("{:?} {}/{:?}", p.phase, p.done, p.total);
//! // The expected digest comes from the model registry; this one is a placeholder.
//! let sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
//! let request = FetchRequest::new(&url, Path::new("models"), "lama_fp32.onnx")
//!     .with_sha256(sha256)
//!     .with_progress(&show);
//! let path = downloader.fetch(&request)?;
//! # let _ = path;
//! # Ok::<(), inpaint_download::Error>(())
//! ```
//!
//! [`AtomicBool`]: std::sync::atomic::AtomicBool
#![warn(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a library speaks through `tracing` (see inpaint-core's Logs section), never on the terminal"
)]

pub mod backends;
mod config;
mod error;
mod fetch;
mod folder;

pub use backends::{BackendManifest, Backends, Hardware, InstalledBackend, detect_hardware};
pub use config::{DEFAULT_HF_ENDPOINT, DownloadConfig, NetworkMode, hf_url, model_url_env_var};
pub use error::{Error, Result};
pub use fetch::{Downloader, FetchRequest, Phase, Progress, sha256_file};
pub use folder::{FolderFile, FolderRequest, staging_dir};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
