//! ONNX Runtime builds installed as backends, one folder each, as LocalAI installs its backends.
//!
//! ```text
//! <root>/                              Backends::default_root(), or any folder
//!   onnxruntime-1.31.1-cpu/
//!     manifest.toml                    name, version, providers, hardware, library, archive_sha256
//!     libonnxruntime.so.1.31.1
//!   onnxruntime-1.31.1-cuda/
//!     manifest.toml
//!     libonnxruntime.so.1.31.1
//!     libonnxruntime_providers_cuda.so
//!     libonnxruntime_providers_shared.so
//!   <name>.partial-XXXXXX/             an install in progress (ignored by list)
//!   .downloads/                        archives being fetched by install_url (resumable)
//! ```
//!
//! An install verifies the archive's sha256, extracts only the ONNX Runtime libraries
//! (`libonnxruntime*.so*`, `libonnxruntime*.dylib`, `onnxruntime*.dll`, including
//! `*_providers_*`), flattened into one folder, writes `manifest.toml`, and renames the
//! finished folder into place: a backend folder is complete or absent.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::Downloader;
use crate::error::{Error, Result};
use crate::fetch::{FetchRequest, hash_into, hex, normalize_sha256, remove_if_exists, sync_dir};

/// The manifest file in each backend folder.
const MANIFEST: &str = "manifest.toml";
/// Marks a staging (or removal) folder; such folders are never listed.
const PARTIAL_MARK: &str = ".partial-";
/// Largest library file accepted from an archive (CUDA provider libraries are ~0.5 GB).
const MAX_ENTRY_BYTES: u64 = 4 << 30;

/// The hardware a backend build needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Hardware {
    /// Runs on any machine of its OS and architecture (a CPU build). Written `"any"`.
    Any,
    /// Needs an NVIDIA GPU and driver (a CUDA or TensorRT build). Written `"nvidia-gpu"`.
    NvidiaGpu,
}

impl fmt::Display for Hardware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hardware::Any => "any",
            Hardware::NvidiaGpu => "nvidia-gpu",
        })
    }
}

/// What this machine offers: [`Hardware::NvidiaGpu`] when an NVIDIA driver is loaded
/// (`/dev/nvidia0` or `/proc/driver/nvidia` exists), else [`Hardware::Any`].
///
/// The check looks for the device, not for CUDA libraries: CUDA toolkits installed on machines
/// without a GPU made LocalAI pick CUDA builds that then failed to load (LocalAI PR #8942).
/// Only Linux is detected; other systems report [`Hardware::Any`].
pub fn detect_hardware() -> Hardware {
    if Path::new("/dev/nvidia0").exists() || Path::new("/proc/driver/nvidia").exists() {
        Hardware::NvidiaGpu
    } else {
        Hardware::Any
    }
}

/// `manifest.toml` of an installed backend.
///
/// Callers fill in `name`, `version`, `providers` and `hardware` (see [`BackendManifest::new`]);
/// [`Backends::install_file`] fills in `library` (unless given) and `archive_sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackendManifest {
    /// The backend's name, also its folder name, e.g. `onnxruntime-1.31.1-cpu`.
    pub name: String,
    /// The ONNX Runtime version, e.g. `1.31.1`.
    pub version: String,
    /// Execution providers the build offers, e.g. `["cpu"]` or `["cpu", "cuda", "tensorrt"]`.
    pub providers: Vec<String>,
    /// The hardware it needs.
    pub hardware: Hardware,
    /// File name of the main library (the one to load), inside the backend folder. Left empty,
    /// the install picks it: the `onnxruntime` library that is not a provider library.
    #[serde(default)]
    pub library: String,
    /// sha256 of the archive it was installed from (set by the install).
    #[serde(default)]
    pub archive_sha256: String,
}

impl BackendManifest {
    /// A manifest for an install; `library` and `archive_sha256` are filled in by the install.
    pub fn new<P, S>(
        name: impl Into<String>,
        version: impl Into<String>,
        providers: P,
        hardware: Hardware,
    ) -> Self
    where
        P: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            name: name.into(),
            version: version.into(),
            providers: providers.into_iter().map(Into::into).collect(),
            hardware,
            library: String::new(),
            archive_sha256: String::new(),
        }
    }

    /// Names the main library file instead of letting the install pick it.
    pub fn with_library(mut self, library: impl Into<String>) -> Self {
        self.library = library.into();
        self
    }
}

/// A backend found in the backends folder, with a valid manifest and its library present.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstalledBackend {
    /// Its name (the folder name).
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: BackendManifest,
    /// The main library, ready for `ort::init_from` (load-dynamic).
    pub library: PathBuf,
}

/// The backends folder: install, list, remove and pick ONNX Runtime builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backends {
    root: PathBuf,
}

impl Backends {
    /// Backends in `root` (created on the first install).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Backends in [`Backends::default_root`].
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(Self::default_root()?))
    }

    /// The default backends folder, from the environment (read here, when called, and nowhere
    /// else), first match wins:
    ///
    /// 1. `$INPAINT_HOME/backends`
    /// 2. `$XDG_DATA_HOME/inpaint/backends` (if absolute, as the XDG spec requires)
    /// 3. on Windows, `%LOCALAPPDATA%\inpaint\backends`
    /// 4. `$HOME/.local/share/inpaint/backends` (`%USERPROFILE%` on Windows)
    ///
    /// Empty variables are ignored. Errors with [`Error::NoHomeDir`] if none is set.
    pub fn default_root() -> Result<PathBuf> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(home) = var("INPAINT_HOME") {
            return Ok(home.join("backends"));
        }
        if let Some(data) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
            return Ok(data.join("inpaint").join("backends"));
        }
        if cfg!(windows) {
            if let Some(local) = var("LOCALAPPDATA") {
                return Ok(local.join("inpaint").join("backends"));
            }
        }
        var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(|home| {
                home.join(".local")
                    .join("share")
                    .join("inpaint")
                    .join("backends")
            })
            .ok_or(Error::NoHomeDir)
    }

    /// The backends folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Installs a backend from a local archive: a wheel or zip (`.whl`, `.zip`) or a gzipped
    /// tarball (`.tgz`, `.tar.gz`); the format is read from the file's first bytes.
    ///
    /// 1. The archive's sha256 must equal `sha256`, checked before anything is extracted.
    /// 2. If `manifest.name` is already installed from the same archive, that install is
    ///    returned; if from another archive, this is [`Error::BackendExists`].
    /// 3. The ONNX Runtime libraries are extracted into `<root>/<name>.partial-XXXXXX/`,
    ///    flattened (folders dropped); other files are skipped. An archive with an entry that
    ///    is absolute or contains `..` is refused whole, as is one whose libraries collide
    ///    once flattened, one with a library larger than 4 GiB, or one with no main library.
    ///    Tarball symbolic links between libraries (`libonnxruntime.so -> libonnxruntime.so.1`)
    ///    are recreated on Unix when the target is a plain file name.
    /// 4. `manifest.toml` is written (with `library` and `archive_sha256` filled in), and the
    ///    folder is renamed to `<root>/<name>/`. On any error the staging folder is removed.
    pub fn install_file(
        &self,
        archive: &Path,
        sha256: &str,
        manifest: BackendManifest,
    ) -> Result<InstalledBackend> {
        let _span = tracing::info_span!("backend_install", name = %manifest.name, archive = %archive.display())
            .entered();
        check_backend_name(&manifest.name)?;
        let expected = normalize_sha256(sha256)?;
        if !manifest.library.is_empty() && !is_plain_name(&manifest.library) {
            return Err(archive_error(
                archive,
                format!(
                    "the manifest's library {:?} is not a plain file name",
                    manifest.library
                ),
            ));
        }
        let mut hasher = sha2::Sha256::new();
        hash_into(archive, &mut hasher, |_| {})?;
        let actual = hex(hasher);
        if actual != expected {
            return Err(Error::ArchiveChecksum {
                archive: archive.to_owned(),
                expected,
                actual,
            });
        }
        if let Some(existing) = self.existing(&manifest.name, &expected)? {
            return Ok(existing);
        }

        fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let staging = tempfile::Builder::new()
            .prefix(&format!("{}{PARTIAL_MARK}", manifest.name))
            .tempdir_in(&self.root)
            .map_err(|e| Error::io(&self.root, e))?;
        let extracted = extract(archive, staging.path())?;

        let mut manifest = manifest;
        manifest.archive_sha256 = expected.clone();
        if manifest.library.is_empty() {
            manifest.library = pick_main_library(&extracted).ok_or_else(|| {
                archive_error(
                    archive,
                    format!(
                        "it holds no main ONNX Runtime library (libonnxruntime*.so*, \
                         libonnxruntime*.dylib or onnxruntime*.dll){}",
                        found_list(&extracted)
                    ),
                )
            })?;
        } else if !extracted.contains_key(&manifest.library) {
            return Err(archive_error(
                archive,
                format!(
                    "the manifest names the library {:?}, which is not in it{}",
                    manifest.library,
                    found_list(&extracted)
                ),
            ));
        }

        let manifest_path = staging.path().join(MANIFEST);
        let text = toml::to_string(&manifest)
            .map_err(|e| Error::io(&manifest_path, io::Error::other(e)))?;
        write_synced(&manifest_path, text.as_bytes())?;
        sync_dir(staging.path());

        let dir = self.root.join(&manifest.name);
        if let Err(e) = fs::rename(staging.path(), &dir) {
            // Another install of the same name may have won the race.
            if let Some(existing) = self.existing(&manifest.name, &expected)? {
                return Ok(existing);
            }
            return Err(Error::io(&dir, e));
        }
        // The folder now lives under its final name; nothing is left to clean up.
        let _ = staging.keep();
        sync_dir(&self.root);
        let installed = self.get(&manifest.name)?;
        tracing::info!(library = %installed.library.display(), "backend installed");
        Ok(installed)
    }

    /// Downloads a backend archive with `downloader` (verified against `sha256`, resumable, into
    /// `<root>/.downloads/`), then [`install_file`](Self::install_file)s it and deletes the
    /// archive. If the backend is already installed from this archive, nothing is downloaded.
    pub fn install_url(
        &self,
        downloader: &Downloader,
        url: &str,
        sha256: &str,
        manifest: BackendManifest,
    ) -> Result<InstalledBackend> {
        check_backend_name(&manifest.name)?;
        let sha256 = normalize_sha256(sha256)?;
        if let Some(existing) = self.existing(&manifest.name, &sha256)? {
            return Ok(existing);
        }
        let downloads = self.root.join(".downloads");
        let file_name = format!("{sha256}.archive");
        let request = FetchRequest::new(url, &downloads, &file_name).with_sha256(&sha256);
        let archive = downloader.fetch(&request)?;
        let installed = self.install_file(&archive, &sha256, manifest);
        remove_if_exists(&archive)?;
        remove_if_exists(&downloads.join(format!("{file_name}.lock")))?;
        installed
    }

    /// Every backend folder, sorted by name: `Ok` for a usable backend, `Err` (usually
    /// [`Error::BadBackend`] or [`Error::BadManifest`]) for a folder with a missing or invalid
    /// manifest or a missing library. Broken backends are reported, not skipped.
    ///
    /// Hidden entries, plain files and staging folders (`*.partial-*`) are not backends and are
    /// skipped. A missing root is an empty list.
    pub fn list(&self) -> Result<Vec<Result<InstalledBackend>>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut dirs = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.root, e))?;
            let path = entry.path();
            let is_dir = entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_dir || name.starts_with('.') || name.contains(PARTIAL_MARK) {
                continue;
            }
            dirs.insert(name, path);
        }
        Ok(dirs
            .into_iter()
            .map(|(name, dir)| load_backend(&name, dir))
            .collect())
    }

    /// The installed backend called `name`.
    pub fn get(&self, name: &str) -> Result<InstalledBackend> {
        check_backend_name(name)?;
        let dir = self.root.join(name);
        if !dir.is_dir() {
            return Err(Error::BackendNotFound {
                name: name.to_owned(),
                root: self.root.clone(),
            });
        }
        load_backend(name, dir)
    }

    /// Removes the backend called `name` (first renamed aside, so it is never seen half
    /// deleted).
    pub fn remove(&self, name: &str) -> Result<()> {
        check_backend_name(name)?;
        let dir = self.root.join(name);
        if !dir.is_dir() {
            return Err(Error::BackendNotFound {
                name: name.to_owned(),
                root: self.root.clone(),
            });
        }
        let trash = self.root.join(format!(
            "{name}{PARTIAL_MARK}removing-{}",
            std::process::id()
        ));
        fs::rename(&dir, &trash).map_err(|e| Error::io(&dir, e))?;
        fs::remove_dir_all(&trash).map_err(|e| Error::io(&trash, e))?;
        tracing::info!(name, "backend removed");
        Ok(())
    }

    /// The installed backend for this machine: [`resolve_for`](Self::resolve_for) with
    /// [`detect_hardware`].
    pub fn resolve_auto(&self) -> Result<InstalledBackend> {
        self.resolve_for(detect_hardware())
    }

    /// The installed backend for a machine with `hardware`:
    ///
    /// * [`Hardware::NvidiaGpu`]: a build needing `nvidia-gpu`, else (explicitly falling back)
    ///   a build for `any` hardware;
    /// * [`Hardware::Any`]: a build for `any` hardware only (a CUDA build cannot load there).
    ///
    /// Among several candidates the highest `version` wins, then the first name. Broken
    /// backends are ignored. With no candidate this is [`Error::NoBackend`], which lists what is
    /// installed.
    pub fn resolve_for(&self, hardware: Hardware) -> Result<InstalledBackend> {
        let listed = self.list()?;
        let usable: Vec<&InstalledBackend> =
            listed.iter().filter_map(|r| r.as_ref().ok()).collect();
        let best = |want: Hardware| {
            usable
                .iter()
                .filter(|b| b.manifest.hardware == want)
                .max_by(|a, b| {
                    compare_versions(&a.manifest.version, &b.manifest.version)
                        .then_with(|| b.name.cmp(&a.name))
                })
                .map(|b| (*b).clone())
        };
        let found = match hardware {
            Hardware::NvidiaGpu => best(Hardware::NvidiaGpu).or_else(|| best(Hardware::Any)),
            Hardware::Any => best(Hardware::Any),
        };
        tracing::debug!(
            %hardware,
            installed = listed.len(),
            chosen = found.as_ref().map(|b| b.name.as_str()),
            "backend resolution"
        );
        found.ok_or_else(|| Error::NoBackend {
            hardware,
            installed: listed
                .iter()
                .map(|r| match r {
                    Ok(b) => format!("{} ({})", b.name, b.manifest.hardware),
                    Err(e) => format!("broken: {e}"),
                })
                .collect(),
            root: self.root.clone(),
        })
    }

    /// The installed backend `name` if it came from the archive with this sha256; `None` if it
    /// is not installed; [`Error::BackendExists`] if it came from another archive.
    fn existing(&self, name: &str, sha256: &str) -> Result<Option<InstalledBackend>> {
        let dir = self.root.join(name);
        if !dir.exists() {
            return Ok(None);
        }
        match load_backend(name, dir.clone()) {
            Ok(backend) if backend.manifest.archive_sha256 == sha256 => Ok(Some(backend)),
            _ => Err(Error::BackendExists {
                name: name.to_owned(),
                dir,
            }),
        }
    }
}

/// Reads and checks one backend folder.
fn load_backend(name: &str, dir: PathBuf) -> Result<InstalledBackend> {
    let manifest_path = dir.join(MANIFEST);
    let text = match fs::read_to_string(&manifest_path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::BadBackend {
                dir,
                reason: format!("{MANIFEST} is missing"),
            });
        }
        Err(e) => return Err(Error::io(&manifest_path, e)),
    };
    let manifest: BackendManifest = toml::from_str(&text).map_err(|source| Error::BadManifest {
        path: manifest_path.clone(),
        source: Box::new(source),
    })?;
    if manifest.name != name {
        return Err(Error::BadBackend {
            dir,
            reason: format!(
                "{MANIFEST} names the backend {:?}, but its folder is {name:?}",
                manifest.name
            ),
        });
    }
    if !is_plain_name(&manifest.library) {
        return Err(Error::BadBackend {
            dir,
            reason: format!(
                "{MANIFEST} gives the library {:?}, which is not a plain file name",
                manifest.library
            ),
        });
    }
    let library = dir.join(&manifest.library);
    if !library.is_file() {
        return Err(Error::BadBackend {
            reason: format!("its library {} is missing", library.display()),
            dir,
        });
    }
    Ok(InstalledBackend {
        name: name.to_owned(),
        dir,
        manifest,
        library,
    })
}

/// Backend names are folder names: `[A-Za-z0-9._-]`, not starting with `.`.
fn check_backend_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.starts_with('.') {
        Some("it starts with '.'")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("it contains characters other than letters, digits, '.', '_' and '-'")
    } else if name.contains(PARTIAL_MARK) {
        Some("it contains \".partial-\", which marks unfinished installs")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidBackendName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A file name with no separators, `..`, NUL or drive.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0', ':'])
}

fn archive_error(archive: &Path, reason: impl Into<String>) -> Error {
    Error::Archive {
        archive: archive.to_owned(),
        reason: reason.into(),
    }
}

fn found_list(extracted: &BTreeMap<String, Kind>) -> String {
    if extracted.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = extracted.keys().map(String::as_str).collect();
        format!(" (found: {})", names.join(", "))
    }
}

/// Whether a file name is an ONNX Runtime library this crate installs.
fn is_runtime_library(file_name: &str) -> bool {
    let lower = file_name.to_ascii_lowercase();
    if lower.starts_with("onnxruntime_pybind11_state") {
        return false;
    }
    let unix = lower.starts_with("libonnxruntime")
        && (lower.ends_with(".so") || lower.contains(".so.") || lower.ends_with(".dylib"));
    let windows = (lower.starts_with("onnxruntime") || lower.starts_with("libonnxruntime"))
        && lower.ends_with(".dll");
    unix || windows
}

/// How an extracted library was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Symlink,
}

/// The main library: not a provider library, a real file before a link, then the longest
/// (most specific) name.
fn pick_main_library(extracted: &BTreeMap<String, Kind>) -> Option<String> {
    extracted
        .iter()
        .filter(|(name, _)| !name.to_ascii_lowercase().contains("_providers"))
        .max_by(|(a, ka), (b, kb)| {
            (**ka == Kind::File)
                .cmp(&(**kb == Kind::File))
                .then_with(|| a.len().cmp(&b.len()))
                .then_with(|| b.cmp(a))
        })
        .map(|(name, _)| name.clone())
}

/// Refuses absolute paths, drive prefixes, NUL and `..` components in an archive entry.
fn check_entry_path(archive: &Path, raw: &str) -> Result<()> {
    let unsafe_path = raw.contains('\0')
        || raw.starts_with(['/', '\\'])
        || raw.as_bytes().get(1) == Some(&b':')
        || raw.split(['/', '\\']).any(|part| part == "..");
    if unsafe_path {
        return Err(archive_error(
            archive,
            format!(
                "it contains the unsafe entry path {raw:?} (absolute, or leading outside the \
                 archive); the archive is refused whole"
            ),
        ));
    }
    Ok(())
}

/// The last path component of an archive entry name.
fn base_name(raw: &str) -> &str {
    raw.trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(raw)
}

/// Extracts the runtime libraries of `archive` into `dir`; returns what was written.
fn extract(archive: &Path, dir: &Path) -> Result<BTreeMap<String, Kind>> {
    let mut magic = [0u8; 4];
    let mut file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let n = read_up_to(&mut file, &mut magic).map_err(|e| Error::io(archive, e))?;
    drop(file);
    match magic.get(..n) {
        Some([b'P', b'K', 3 | 5, 4 | 6]) => extract_zip(archive, dir),
        Some([0x1f, 0x8b, ..]) => extract_tar_gz(archive, dir),
        _ => Err(archive_error(
            archive,
            "its format is not recognised (expected a .whl/.zip or a .tgz/.tar.gz)",
        )),
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(buf.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn extract_zip(archive: &Path, dir: &Path) -> Result<BTreeMap<String, Kind>> {
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let zip_error =
        |e: zip::result::ZipError| archive_error(archive, format!("it is not a readable zip: {e}"));
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;
    let mut extracted = BTreeMap::new();
    // Check every name before writing anything.
    for i in 0..zip.len() {
        let name = zip.name_for_index(i).unwrap_or_default();
        check_entry_path(archive, name)?;
    }
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(zip_error)?;
        let raw = entry.name().to_owned();
        let base = base_name(&raw).to_owned();
        if entry.is_dir() || !is_runtime_library(&base) {
            continue;
        }
        if entry.is_symlink() {
            return Err(archive_error(
                archive,
                format!(
                    "the library entry {raw:?} is a symbolic link, which zip installs do not support"
                ),
            ));
        }
        write_library(archive, dir, &raw, &base, &mut entry, &mut extracted)?;
    }
    Ok(extracted)
}

fn extract_tar_gz(archive: &Path, dir: &Path) -> Result<BTreeMap<String, Kind>> {
    let tar_error =
        |e: io::Error| archive_error(archive, format!("it is not a readable .tar.gz: {e}"));
    let file = File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let mut extracted = BTreeMap::new();
    // A tarball streams, so entry names are checked as they come; the staging folder is
    // removed if a later entry is refused.
    for entry in tar.entries().map_err(tar_error)? {
        let mut entry = entry.map_err(tar_error)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        check_entry_path(archive, &raw)?;
        let base = base_name(&raw).to_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() || !is_runtime_library(&base) {
            continue;
        }
        if kind.is_file() || kind == tar::EntryType::Continuous {
            write_library(archive, dir, &raw, &base, &mut entry, &mut extracted)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            if !is_plain_name(&target) {
                return Err(archive_error(
                    archive,
                    format!(
                        "the library entry {raw:?} links to {target:?}; only links to a file in \
                         the same folder are supported"
                    ),
                ));
            }
            if extracted.contains_key(&base) {
                return Err(duplicate(archive, &raw));
            }
            #[cfg(unix)]
            {
                let link = dir.join(&base);
                std::os::unix::fs::symlink(&target, &link).map_err(|e| Error::io(&link, e))?;
                extracted.insert(base, Kind::Symlink);
            }
        } else {
            return Err(archive_error(
                archive,
                format!("the library entry {raw:?} is a {kind:?} entry, which is not supported"),
            ));
        }
    }
    Ok(extracted)
}

fn duplicate(archive: &Path, raw: &str) -> Error {
    archive_error(
        archive,
        format!(
            "two library entries are named {:?} once folders are dropped (the second is {raw:?})",
            base_name(raw)
        ),
    )
}

/// Copies one library entry to `dir/base` (at most [`MAX_ENTRY_BYTES`]) and syncs it.
fn write_library(
    archive: &Path,
    dir: &Path,
    raw: &str,
    base: &str,
    entry: &mut impl Read,
    extracted: &mut BTreeMap<String, Kind>,
) -> Result<()> {
    if extracted.contains_key(base) {
        return Err(duplicate(archive, raw));
    }
    let path = dir.join(base);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o755);
    }
    let mut out = options.open(&path).map_err(|e| Error::io(&path, e))?;
    let copied = io::copy(&mut entry.take(MAX_ENTRY_BYTES + 1), &mut out).map_err(|e| {
        archive_error(
            archive,
            format!("its entry {raw:?} cannot be extracted: {e}"),
        )
    })?;
    if copied > MAX_ENTRY_BYTES {
        return Err(archive_error(
            archive,
            format!("its entry {raw:?} is larger than {MAX_ENTRY_BYTES} bytes"),
        ));
    }
    out.sync_all().map_err(|e| Error::io(&path, e))?;
    extracted.insert(base.to_owned(), Kind::File);
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Compares dotted versions part by part, numerically where both parts are numbers.
fn compare_versions(a: &str, b: &str) -> Ordering {
    let split =
        |v: &str| -> Vec<String> { v.split(['.', '-', '+', '_']).map(str::to_owned).collect() };
    let (pa, pb) = (split(a), split(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        for yes in [
            "libonnxruntime.so",
            "libonnxruntime.so.1",
            "libonnxruntime.so.1.31.1",
            "libonnxruntime_providers_cuda.so",
            "libonnxruntime.1.31.1.dylib",
            "onnxruntime.dll",
            "onnxruntime_providers_shared.dll",
        ] {
            assert!(is_runtime_library(yes), "{yes}");
        }
        for no in [
            "onnxruntime_pybind11_state.so",
            "onnxruntime_pybind11_state.pyd",
            "README.md",
            "libc.so.6",
            "__init__.py",
        ] {
            assert!(!is_runtime_library(no), "{no}");
        }
    }

    #[test]
    fn main_library_choice() {
        let mut m = BTreeMap::new();
        m.insert("libonnxruntime.so".to_owned(), Kind::Symlink);
        m.insert("libonnxruntime.so.1.31.1".to_owned(), Kind::File);
        m.insert("libonnxruntime_providers_shared.so".to_owned(), Kind::File);
        assert_eq!(
            pick_main_library(&m).as_deref(),
            Some("libonnxruntime.so.1.31.1")
        );
    }

    #[test]
    fn versions() {
        assert_eq!(compare_versions("1.31.1", "1.9.0"), Ordering::Greater);
        assert_eq!(compare_versions("1.31.1", "1.31.1"), Ordering::Equal);
        assert_eq!(compare_versions("1.31", "1.31.1"), Ordering::Less);
    }

    #[test]
    fn entry_paths() {
        let a = Path::new("a.zip");
        for bad in [
            "../evil",
            "a/../../evil",
            "/etc/passwd",
            "\\x",
            "C:/x",
            "a\0b",
        ] {
            assert!(check_entry_path(a, bad).is_err(), "{bad}");
        }
        for good in ["onnxruntime/capi/libonnxruntime.so.1.31.1", "x..y/z", "./a"] {
            assert!(check_entry_path(a, good).is_ok(), "{good}");
        }
        assert_eq!(
            base_name("onnxruntime/capi/libonnxruntime.so"),
            "libonnxruntime.so"
        );
        assert_eq!(base_name("lib/"), "lib");
    }

    #[test]
    fn backend_names() {
        assert!(check_backend_name("onnxruntime-1.31.1-cpu").is_ok());
        for bad in ["", ".x", "a/b", "..", "a b", "x.partial-1"] {
            assert!(check_backend_name(bad).is_err(), "{bad}");
        }
    }
}
