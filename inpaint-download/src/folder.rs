//! [`Downloader::fetch_folder`]: a model made of several files (a Stable Diffusion pipeline in
//! Optimum's ONNX layout), downloaded all-or-nothing.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::NetworkMode;
use crate::error::{Error, Result};
use crate::fetch::{
    Downloader, FetchRequest, Job, Progress, check_file_name, normalize_sha256, remove_if_exists,
    sync_dir,
};

/// One file of a [`FolderRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderFile<'a> {
    /// The URL to download.
    pub url: &'a str,
    /// The file's path inside the folder, with `/` separators (`unet/model.onnx`); every part
    /// a plain name (no `..`, no empty part, no suffix this crate uses for its own files).
    pub path: &'a str,
    /// The expected sha256; `None` is refused unless
    /// [`DownloadConfig::allow_unverified`](crate::DownloadConfig::allow_unverified) is set.
    pub sha256: Option<&'a str>,
    /// The expected size in bytes, when known.
    pub size: Option<u64>,
}

/// A folder to fetch: every file, and where the folder goes.
#[derive(Clone, Copy)]
pub struct FolderRequest<'a> {
    /// The files, in the order they are fetched.
    pub files: &'a [FolderFile<'a>],
    /// The destination folder. It appears only once every file is there and verified.
    pub dir: &'a Path,
    /// Called with the index of the file in [`files`](Self::files) and its [`Progress`].
    pub progress: Option<&'a (dyn Fn(usize, Progress) + Sync)>,
    /// Set to `true` (from any thread) to stop between chunks; what was downloaded is kept in
    /// the staging folder and [`Error::FolderFile`] wraps [`Error::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

impl<'a> FolderRequest<'a> {
    /// A request for `files` into the folder `dir`, with no progress or cancel flag.
    pub fn new(files: &'a [FolderFile<'a>], dir: &'a Path) -> Self {
        Self {
            files,
            dir,
            progress: None,
            cancel: None,
        }
    }

    /// Sets [`progress`](Self::progress).
    pub fn with_progress(mut self, progress: &'a (dyn Fn(usize, Progress) + Sync)) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets [`cancel`](Self::cancel).
    pub fn with_cancel(mut self, cancel: &'a AtomicBool) -> Self {
        self.cancel = Some(cancel);
        self
    }
}

impl fmt::Debug for FolderRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FolderRequest")
            .field("files", &self.files)
            .field("dir", &self.dir)
            .field("progress", &self.progress.map(|_| "Fn(usize, Progress)"))
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// The staging folder of a folder download into `dir`: `.<name>.partial` beside it. Hidden
/// and ending in `.partial`, so model discovery never takes it for a model.
pub fn staging_dir(dir: &Path) -> Option<PathBuf> {
    let name = dir.file_name()?.to_str()?;
    Some(dir.with_file_name(format!(".{name}.partial")))
}

impl Downloader {
    /// Fetches every file of `request` into the folder `request.dir`, all or nothing, and
    /// returns that folder.
    ///
    /// 1. Every path and sha256 is checked before any I/O; a file without a sha256 is refused
    ///    unless [`DownloadConfig::allow_unverified`](crate::DownloadConfig::allow_unverified)
    ///    is set.
    /// 2. If `dir` exists, every file in it is checked (sha256, else the size when known) and
    ///    `dir` is returned without touching the network; a missing or different file is
    ///    [`Error::FolderConflict`] or [`Error::CachedMismatch`], and `dir` is left alone.
    /// 3. Otherwise each file is fetched with [`fetch`](Self::fetch) — verified, resumed with
    ///    `Range`, retried — into the staging folder [`staging_dir`] beside `dir`, under a lock
    ///    (`.<name>.partial.lock`) that keeps two downloads of the same folder apart. A file
    ///    an earlier attempt finished there is kept (hashed again when it has a sha256).
    /// 4. Only when every file is there and verified is the staging folder renamed to `dir`.
    ///    A failure is [`Error::FolderFile`] naming the file; the staging folder keeps the
    ///    verified files and any partial one, so the next call resumes where this one stopped.
    pub fn fetch_folder(&self, request: &FolderRequest<'_>) -> Result<PathBuf> {
        let dir = request.dir;
        let _span = tracing::info_span!("fetch_folder", dir = %dir.display()).entered();
        let parts = check_files(request.files, self.config().allow_unverified)?;
        let Some(staging) = staging_dir(dir) else {
            return Err(Error::InvalidFileName {
                name: dir.display().to_string(),
                reason: "the destination folder has no UTF-8 name",
            });
        };
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        check_file_name(name)?;
        if self.existing(request, &parts)? {
            tracing::debug!("already downloaded");
            return Ok(dir.to_path_buf());
        }
        if self.config().mode == NetworkMode::Offline {
            return Err(Error::NotCachedOffline {
                path: dir.to_path_buf(),
                url: request
                    .files
                    .first()
                    .map(|f| f.url)
                    .unwrap_or("")
                    .to_owned(),
            });
        }
        let parent = dir.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let is_cancelled = || request.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
        let _lock = self.lock_path(
            parent.join(format!(".{name}.partial.lock")),
            || {},
            is_cancelled,
            || Error::Cancelled {
                url: request
                    .files
                    .first()
                    .map(|f| f.url)
                    .unwrap_or("")
                    .to_owned(),
                partial: staging.clone(),
                received: 0,
            },
        )?;
        // Another process may have finished it while this one waited for the lock.
        if self.existing(request, &parts)? {
            return Ok(dir.to_path_buf());
        }
        for (index, (file, (sub, file_name))) in request.files.iter().zip(&parts).enumerate() {
            let file_dir = staging.join(sub);
            let progress = |p: Progress| {
                if let Some(progress) = request.progress {
                    progress(index, p);
                }
            };
            let fetch = FetchRequest {
                url: file.url,
                dir: &file_dir,
                file_name,
                sha256: file.sha256,
                size: file.size,
                progress: Some(&progress),
                cancel: request.cancel,
            };
            let wrap = |source| Error::FolderFile {
                file: file.path.to_owned(),
                dir: dir.to_path_buf(),
                staging: staging.clone(),
                source: Box::new(source),
            };
            // A file this download finished in an earlier attempt is kept, verified again
            // when it has a sha256; `fetch` alone would download an unverified one again.
            let expected = file.sha256.map(normalize_sha256).transpose()?;
            if Job::new(&fetch, expected)
                .cached(true)
                .map_err(wrap)?
                .is_some()
            {
                continue;
            }
            self.fetch(&fetch).map_err(wrap)?;
        }
        // The per-file locks are ours alone under the folder lock: leave none in the model.
        remove_locks(&staging)?;
        fs::rename(&staging, dir).map_err(|e| Error::io(dir, e))?;
        sync_dir(parent);
        tracing::info!(files = request.files.len(), "folder in place");
        Ok(dir.to_path_buf())
    }

    /// Whether `request.dir` holds every file, verified; `Err` when it exists but does not.
    fn existing(&self, request: &FolderRequest<'_>, parts: &[(PathBuf, String)]) -> Result<bool> {
        let dir = request.dir;
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::FolderConflict {
                    path: dir.to_path_buf(),
                    reason: "it is a file, not a folder".into(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(dir, e)),
        }
        let mut missing = Vec::new();
        for (file, (sub, file_name)) in request.files.iter().zip(parts) {
            let file_dir = dir.join(sub);
            let expected = file.sha256.map(normalize_sha256).transpose()?;
            let fetch = FetchRequest {
                sha256: file.sha256,
                size: file.size,
                ..FetchRequest::new(file.url, &file_dir, file_name)
            };
            // An existing folder is checked, never replaced: an unverified file is accepted
            // as it is (its size checked when known).
            if Job::new(&fetch, expected).cached(true)?.is_none() {
                missing.push(file.path);
            }
        }
        if missing.is_empty() {
            Ok(true)
        } else {
            Err(Error::FolderConflict {
                path: dir.to_path_buf(),
                reason: format!("missing {}", missing.join(", ")),
            })
        }
    }
}

/// Checks every file's path and sha256 before any I/O; returns each path's folder and name.
fn check_files(files: &[FolderFile<'_>], allow_unverified: bool) -> Result<Vec<(PathBuf, String)>> {
    if files.is_empty() {
        return Err(Error::InvalidFileName {
            name: String::new(),
            reason: "a folder download needs at least one file",
        });
    }
    let mut seen = BTreeSet::new();
    let mut parts = Vec::new();
    for file in files {
        let mut components: Vec<&str> = file.path.split('/').collect();
        for component in &components {
            check_file_name(component).map_err(|err| match err {
                Error::InvalidFileName { reason, .. } => Error::InvalidFileName {
                    name: file.path.to_owned(),
                    reason,
                },
                other => other,
            })?;
        }
        if !seen.insert(file.path) {
            return Err(Error::InvalidFileName {
                name: file.path.to_owned(),
                reason: "it is listed twice",
            });
        }
        if let Some(sha256) = file.sha256 {
            normalize_sha256(sha256)?;
        } else if !allow_unverified {
            return Err(Error::Unverified {
                url: file.url.to_owned(),
            });
        }
        let name = components.pop().unwrap_or_default().to_owned();
        parts.push((components.iter().collect::<PathBuf>(), name));
    }
    Ok(parts)
}

/// Deletes the `.lock` files below `dir`.
fn remove_locks(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            remove_locks(&path)?;
        } else if path.extension().is_some_and(|e| e == "lock") {
            remove_if_exists(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> FolderFile<'_> {
        FolderFile {
            url: "http://127.0.0.1:1/x",
            path,
            sha256: Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            size: None,
        }
    }

    #[test]
    fn paths_are_checked_before_any_io() {
        for bad in [
            "",
            "/abs",
            "a//b",
            "../x",
            "a/../b",
            "a\\b",
            "unet/model.onnx.partial",
        ] {
            assert!(
                matches!(
                    check_files(&[file(bad)], false),
                    Err(Error::InvalidFileName { .. })
                ),
                "{bad:?}"
            );
        }
        let twice = [file("a/b"), file("a/b")];
        assert!(check_files(&twice, false).is_err());
        let parts = check_files(&[file("unet/model.onnx"), file("model_index.json")], false)
            .unwrap_or_default();
        assert_eq!(
            parts,
            vec![
                (PathBuf::from("unet"), "model.onnx".to_string()),
                (PathBuf::new(), "model_index.json".to_string()),
            ]
        );
        let unverified = FolderFile {
            sha256: None,
            ..file("a")
        };
        assert!(matches!(
            check_files(&[unverified], false),
            Err(Error::Unverified { .. })
        ));
        assert!(check_files(&[unverified], true).is_ok());
    }

    #[test]
    fn the_staging_folder_is_hidden_and_partial() {
        assert_eq!(
            staging_dir(Path::new("/m/sd15-inpaint")),
            Some(PathBuf::from("/m/.sd15-inpaint.partial"))
        );
    }
}
