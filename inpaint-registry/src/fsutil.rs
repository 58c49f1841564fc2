//! Writing files atomically, and small file-system helpers.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never a mix:
/// a temporary file in the same folder, flushed to disk, renamed over `path`, then the folder
/// flushed (on Unix) so the rename itself survives a crash.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        sync_dir(&dir);
        Ok(())
    })();
    result.map_err(|err| {
        // Best effort: a leftover temp file is harmless (it is skipped by discovery), but
        // untidy.
        let _ = fs::remove_file(&temp);
        Error::io(path, err)
    })
}

/// Copies `from` to `to` through a temporary file beside `to`, flushed and renamed, so `to` is
/// either the whole copy or untouched.
pub(crate) fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let dir = match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = temp_path(to);
    let result = (|| -> std::io::Result<()> {
        fs::copy(from, &temp)?;
        File::open(&temp)?.sync_all()?;
        fs::rename(&temp, to)?;
        sync_dir(&dir);
        Ok(())
    })();
    result.map_err(|err| {
        let _ = fs::remove_file(&temp);
        Error::io(to, err)
    })
}

/// A process-unique temporary name beside `path`: `.<name>.<pid>.<n>.tmp`.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Best effort: some file systems refuse to fsync a directory; the data itself is synced.
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

/// A file's modification time as (seconds, nanoseconds) since the Unix epoch; `None` when the
/// platform gives none (then nothing about the file is cached).
pub(crate) fn mtime_of(metadata: &fs::Metadata) -> Option<(i64, u32)> {
    let modified = metadata.modified().ok()?;
    match modified.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => Some((i64::try_from(d.as_secs()).ok()?, d.subsec_nanos())),
        Err(before) => {
            let d = before.duration();
            Some((-i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()))
        }
    }
}
