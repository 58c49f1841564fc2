//! Finding models on disk: model roots scanned in order, files identified by content.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::catalog::{
    self, CATALOG, CatalogEntry, CatalogFile, FileSource, ModelArchitecture, Revision,
};
use crate::error::Result;
use crate::probe::{Probe, ProbeCache};

/// How a model root is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RootKind {
    /// This project's cache: `<root>/<catalog id>/<file name>` (what a downloader writes;
    /// see [`CatalogEntry::install_dir`]). Anything else in it is scanned as loose files.
    Project,
    /// A Hugging Face hub cache (`models--org--name/snapshots/<commit>/<path>`, symlinks
    /// into `blobs/`). Read only: nothing is ever written there.
    HfCache,
    /// Any folder: every `.onnx`, `.safetensors` or `.sft` file below it (4 levels deep at
    /// most), identified by content.
    Loose,
}

impl RootKind {
    /// `project`, `hf-cache` or `loose`, as the models config spells it.
    pub fn name(self) -> &'static str {
        match self {
            RootKind::Project => "project",
            RootKind::HfCache => "hf-cache",
            RootKind::Loose => "loose",
        }
    }

    /// Parses [`name`](Self::name)'s spelling.
    pub fn parse(name: &str) -> Option<RootKind> {
        match name {
            "project" => Some(RootKind::Project),
            "hf-cache" => Some(RootKind::HfCache),
            "loose" => Some(RootKind::Loose),
            _ => None,
        }
    }
}

impl fmt::Display for RootKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A folder that holds models, and its layout.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRoot {
    /// The folder.
    pub path: PathBuf,
    /// Its layout.
    pub kind: RootKind,
}

impl ModelRoot {
    /// A root with the project's layout.
    pub fn project(path: impl Into<PathBuf>) -> Self {
        ModelRoot {
            path: path.into(),
            kind: RootKind::Project,
        }
    }

    /// A Hugging Face hub cache (the folder that holds `models--…` folders).
    pub fn hf_cache(path: impl Into<PathBuf>) -> Self {
        ModelRoot {
            path: path.into(),
            kind: RootKind::HfCache,
        }
    }

    /// A folder of loose model files.
    pub fn loose(path: impl Into<PathBuf>) -> Self {
        ModelRoot {
            path: path.into(),
            kind: RootKind::Loose,
        }
    }

    /// The default roots, in the order they are scanned, from the environment (the only
    /// place this crate reads it):
    ///
    /// 1. the project cache: `INPAINT_MODELS_DIR`, else `$XDG_CACHE_HOME/inpaint/models`,
    ///    else `~/.cache/inpaint/models` (`%LOCALAPPDATA%\inpaint\models` on Windows);
    /// 2. the Hugging Face hub cache: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    ///    `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
    ///
    /// A root that cannot be placed (no home folder) is left out. Loose roots are never a
    /// default: name them in the models config.
    pub fn defaults_from_env() -> Vec<ModelRoot> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = var("HOME").or_else(|| var("USERPROFILE"));
        let cache = var("XDG_CACHE_HOME")
            .or_else(|| {
                if cfg!(windows) {
                    var("LOCALAPPDATA")
                } else {
                    None
                }
            })
            .or_else(|| home.as_ref().map(|h| h.join(".cache")));
        let mut roots = Vec::new();
        if let Some(dir) = var("INPAINT_MODELS_DIR")
            .or_else(|| cache.as_ref().map(|c| c.join("inpaint").join("models")))
        {
            roots.push(ModelRoot::project(dir));
        }
        let hf_home = var("HF_HOME").or_else(|| {
            var("XDG_CACHE_HOME")
                .or_else(|| home.as_ref().map(|h| h.join(".cache")))
                .map(|c| c.join("huggingface"))
        });
        if let Some(dir) = var("HF_HUB_CACHE").or_else(|| hf_home.map(|h| h.join("hub"))) {
            roots.push(ModelRoot::hf_cache(dir));
        }
        roots
    }
}

/// Where a file came from in a Hugging Face cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HfLocation {
    /// `owner/name`.
    pub repo: String,
    /// The snapshot's commit.
    pub commit: String,
    /// Whether `refs/main` points at this snapshot.
    pub is_main: bool,
}

/// Whether a file's bytes were checked against the catalog's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The file is not there.
    Missing,
    /// A digest is known but the file was not hashed yet ([`Scanner::verify`] does it).
    NotChecked,
    /// The sha256 matches the catalog.
    Verified,
    /// The size differs from the catalog's: the file is not the one expected (a partial
    /// download, another version). Cheap to see, so always checked.
    SizeMismatch {
        /// The catalog's size.
        expected: u64,
        /// The file's size.
        actual: u64,
    },
    /// The sha256 differs from the catalog's.
    Mismatch {
        /// The catalog's digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// No digest to check against (a loose file, or an `Unverified` catalog file).
    NoDigest,
}

/// One file of a discovered model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FoundFile {
    /// Where it is (or was expected).
    pub path: PathBuf,
    /// Its size, `None` when missing.
    pub size: Option<u64>,
    /// The catalog's digest, when there is one.
    pub expected_sha256: Option<&'static str>,
    /// The check done so far.
    pub verification: Verification,
    /// What its content is, `None` when missing or unreadable.
    pub probe: Option<Probe>,
}

/// A model found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelInfo {
    /// The catalog id, or for any other file its path relative to the root with `/`
    /// separators (`foo.onnx`, `sub/bar.onnx`; in a hub cache `owner/name/path`). Such ids
    /// contain a `.` or `/`, so they never collide with a catalog id. A Stable Diffusion
    /// folder's id is its folder's path the same way (`sd15`, `sub/sd15`; in a hub cache
    /// `owner/name` when the snapshot is the pipeline); a catalog id's folder in a project
    /// root is taken as that catalog model first.
    pub id: String,
    /// The catalog entry, for a catalog model.
    pub catalog: Option<&'static CatalogEntry>,
    /// What runs it: the catalog's architecture, or the one its content fits. `None` when it
    /// cannot run here (see [`problems`](Self::problems)).
    pub architecture: Option<ModelArchitecture>,
    /// Its files, present or missing.
    pub files: Vec<FoundFile>,
    /// The root it was found in.
    pub root: ModelRoot,
    /// Its hub cache location, when found in one.
    pub hf: Option<HfLocation>,
    /// Bytes on disk (present files).
    pub size: u64,
    /// Why it cannot be used as is (missing file, wrong size, content that fits no
    /// architecture, …). Empty when usable.
    pub problems: Vec<String>,
    /// Things worth knowing that do not stop it (another revision than the pinned one, other
    /// architectures the graph also fits, a catalog file it looks like).
    pub notes: Vec<String>,
    /// A catalog id this loose file looks like (same file name, size and architecture); the
    /// sha256 was not checked.
    pub catalog_hint: Option<&'static str>,
    /// A Stable Diffusion pipeline's folder (the one holding `model_index.json`); `None` for
    /// a model of one file.
    pub folder: Option<PathBuf>,
}

impl ModelInfo {
    /// Whether it can be loaded: an architecture, and no problems.
    pub fn is_usable(&self) -> bool {
        self.architecture.is_some() && self.problems.is_empty()
    }

    /// The folder of a diffusion pipeline; otherwise the first file's path (the model file of
    /// every single-file model).
    pub fn path(&self) -> &Path {
        self.folder
            .as_deref()
            .or_else(|| self.files.first().map(|f| f.path.as_path()))
            .unwrap_or(self.root.path.as_path())
    }

    /// Whether every file is there and matched its known sha256. `false` when a file has no
    /// digest, or was not hashed yet.
    pub fn is_verified(&self) -> bool {
        !self.files.is_empty()
            && self
                .files
                .iter()
                .all(|f| f.verification == Verification::Verified)
    }
}

/// A model hidden by one with the same id in an earlier root (or earlier in the same root).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shadowed {
    /// The hidden model.
    pub model: ModelInfo,
    /// Where the one used instead is.
    pub by: PathBuf,
}

/// A file left out on purpose, or a path that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanNote {
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Discovery {
    /// The models, first root first; an id appears once.
    pub models: Vec<ModelInfo>,
    /// Models with an id already found earlier: first wins, these are listed here.
    pub shadowed: Vec<Shadowed>,
    /// Files left out on purpose: partial downloads (`.partial`, `.incomplete`, `.part`),
    /// locks (`.lock`), temporary files (`.tmp`).
    pub skipped: Vec<ScanNote>,
    /// Paths that could not be read (permissions, dangling symlinks, non-UTF-8 names).
    pub errors: Vec<ScanNote>,
    /// Roots that do not exist.
    pub missing_roots: Vec<PathBuf>,
    /// Every root scanned, in order (missing ones included): where a model that was not
    /// found should be put.
    pub roots: Vec<ModelRoot>,
}

impl Discovery {
    /// The model with this id, if found.
    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == id)
    }
}

/// How deep below a loose root (or a hub snapshot) files are looked for.
const MAX_DEPTH: usize = 4;
/// Suffixes of files that are never models: unfinished downloads, locks, temporary files.
const SKIPPED_SUFFIXES: [&str; 5] = [".partial", ".incomplete", ".part", ".lock", ".tmp"];

/// Scans model roots and verifies files, with a [`ProbeCache`] kept across scans.
#[derive(Debug, Default)]
pub struct Scanner {
    cache: ProbeCache,
}

/// One file found before ids are deduplicated.
struct Candidate {
    id: String,
    catalog: Option<&'static CatalogEntry>,
    /// For a catalog model: one path per catalog file; otherwise the one file.
    paths: Vec<PathBuf>,
    root: ModelRoot,
    hf: Option<HfLocation>,
    notes: Vec<String>,
    /// Order among candidates of one root with the same id (lower first).
    rank: u8,
    /// A diffusion pipeline's folder (`paths` holds the folder), not a file.
    folder: bool,
}

impl Scanner {
    /// A scanner with an empty in-memory cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scanner using `cache` (e.g. one opened from a file with [`ProbeCache::open`]).
    pub fn with_cache(cache: ProbeCache) -> Self {
        Scanner { cache }
    }

    /// The probe cache.
    pub fn cache(&self) -> &ProbeCache {
        &self.cache
    }

    /// The probe cache, to save it.
    pub fn cache_mut(&mut self) -> &mut ProbeCache {
        &mut self.cache
    }

    /// Scans `roots` in order. A model id found in several places is taken from the first;
    /// the others are listed in [`Discovery::shadowed`]. Files are identified by content
    /// (cached); none is hashed (see [`verify`](Self::verify)).
    pub fn scan(&mut self, roots: &[ModelRoot]) -> Discovery {
        let _span = tracing::debug_span!("scan", roots = roots.len()).entered();
        let mut discovery = Discovery {
            roots: roots.to_vec(),
            ..Discovery::default()
        };
        let mut candidates = Vec::new();
        for root in roots {
            if !root.path.is_dir() {
                tracing::debug!(root = %root.path.display(), "no such folder");
                discovery.missing_roots.push(root.path.clone());
                continue;
            }
            let mut found = Vec::new();
            match root.kind {
                RootKind::Project => scan_project(root, &mut found, &mut discovery),
                RootKind::HfCache => scan_hf(root, &mut found, &mut discovery),
                RootKind::Loose => {
                    walk_loose(root, &root.path, "", 0, &mut found, &mut discovery);
                }
            }
            // Stable: within a root, by rank, then in the order found (sorted paths).
            found.sort_by(|a, b| a.id.cmp(&b.id).then(a.rank.cmp(&b.rank)));
            tracing::debug!(root = %root.path.display(), kind = ?root.kind, candidates = found.len(), "scanned");
            candidates.extend(found);
        }
        for candidate in candidates {
            let info = self.describe(candidate);
            match discovery.models.iter().find(|m| m.id == info.id) {
                Some(winner) => {
                    let by = winner.path().to_path_buf();
                    discovery.shadowed.push(Shadowed { model: info, by });
                }
                None => discovery.models.push(info),
            }
        }
        tracing::debug!(
            models = discovery.models.len(),
            shadowed = discovery.shadowed.len(),
            skipped = discovery.skipped.len(),
            errors = discovery.errors.len(),
            probes = self.cache.stats().probed,
            cached = self.cache.stats().hits,
            "discovery done"
        );
        discovery
    }

    /// Identifies one file by content (through the cache).
    pub fn probe(&mut self, path: &Path) -> Result<Probe> {
        self.cache.probe(path)
    }

    /// Hashes `model`'s files that have a known digest (sha256, cached by path, size and
    /// mtime) and records the result in each [`FoundFile::verification`]; a mismatch is
    /// added to [`ModelInfo::problems`]. Returns [`ModelInfo::is_verified`].
    ///
    /// Hashing is never done during a scan: a 200 MB model takes about a second to hash,
    /// and a scan should cost milliseconds. Call this before first use of a downloaded
    /// model, or when a user asks.
    pub fn verify(&mut self, model: &mut ModelInfo) -> Result<bool> {
        for file in &mut model.files {
            let Some(expected) = file.expected_sha256 else {
                continue;
            };
            if file.size.is_none() || matches!(file.verification, Verification::SizeMismatch { .. })
            {
                continue;
            }
            let actual = self.cache.sha256(&file.path)?;
            if actual == expected {
                file.verification = Verification::Verified;
            } else {
                model.problems.push(format!(
                    "{}: sha256 {actual} differs from the catalog's {expected}; delete it and \
                     download again",
                    file.path.display()
                ));
                file.verification = Verification::Mismatch {
                    expected: expected.to_string(),
                    actual,
                };
            }
        }
        Ok(model.is_verified())
    }

    /// Turns a candidate into a [`ModelInfo`]: sizes, content, catalog checks.
    fn describe(&mut self, candidate: Candidate) -> ModelInfo {
        let Candidate {
            id,
            catalog,
            paths,
            root,
            hf,
            mut notes,
            folder,
            ..
        } = candidate;
        if folder {
            return describe_folder(id, catalog, paths, root, hf, notes);
        }
        let mut problems = Vec::new();
        let mut files = Vec::new();
        let mut size = 0;
        let catalog_files = catalog.map(|c| c.files).unwrap_or(&[]);
        for (i, path) in paths.into_iter().enumerate() {
            let spec = catalog_files.get(i);
            let expected_sha256 = spec.and_then(|f| f.integrity.sha256());
            let metadata = fs::metadata(&path);
            let Ok(metadata) = metadata else {
                problems.push(format!("{} is missing", path.display()));
                files.push(FoundFile {
                    path,
                    size: None,
                    expected_sha256,
                    verification: Verification::Missing,
                    probe: None,
                });
                continue;
            };
            let actual = metadata.len();
            size += actual;
            let mut verification = match expected_sha256 {
                Some(_) => Verification::NotChecked,
                None => Verification::NoDigest,
            };
            if let Some(expected) = spec
                .and_then(|f| f.integrity.size())
                .filter(|&expected| expected != actual)
            {
                problems.push(format!(
                    "{} is {actual} bytes, the catalog's file is {expected} (an unfinished \
                     download or another version); delete it and download again",
                    path.display()
                ));
                verification = Verification::SizeMismatch { expected, actual };
            }
            let probe = match self.cache.probe(&path) {
                Ok(probe) => Some(probe),
                Err(err) => {
                    problems.push(err.full_message());
                    None
                }
            };
            files.push(FoundFile {
                path,
                size: Some(actual),
                expected_sha256,
                verification,
                probe,
            });
        }

        let first_probe = files.first().and_then(|f| f.probe.as_ref());
        let architecture = match catalog {
            Some(entry) => {
                if let Some(probe) = first_probe {
                    check_against_catalog(entry, probe, &mut problems);
                }
                Some(entry.architecture)
            }
            None => {
                let probe_architecture = first_probe.and_then(Probe::architecture);
                match first_probe {
                    Some(probe) => {
                        if let Some(problem) = probe.problem() {
                            problems.push(problem);
                        }
                        if let Probe::Onnx(identity) = probe {
                            if !identity.alternatives.is_empty() {
                                notes.push(alternatives_note(identity));
                            }
                        }
                    }
                    None if problems.is_empty() => problems.push("unreadable".into()),
                    None => {}
                }
                probe_architecture
            }
        };
        let catalog_hint = match (catalog, files.first()) {
            (None, Some(file)) => hint_for(file, architecture),
            _ => None,
        };
        if let Some(hint) = catalog_hint {
            notes.push(format!(
                "looks like the catalog's `{hint}` (same file name and size); not verified"
            ));
        }
        ModelInfo {
            id,
            catalog,
            architecture,
            files,
            root,
            hf,
            size,
            problems,
            notes,
            catalog_hint,
            folder: None,
        }
    }
}

/// A diffusion pipeline's folder as a [`ModelInfo`]: its architecture what
/// [`crate::diffusion::inspect`] finds, or the reason it cannot run. Its files are the folder
/// itself, or for a catalog model the catalog's files (each with its digest, for
/// [`Scanner::verify`]).
fn describe_folder(
    id: String,
    catalog: Option<&'static CatalogEntry>,
    paths: Vec<PathBuf>,
    root: ModelRoot,
    hf: Option<HfLocation>,
    mut notes: Vec<String>,
) -> ModelInfo {
    let path = paths
        .into_iter()
        .next()
        .unwrap_or_else(|| root.path.clone());
    let mut problems = Vec::new();
    let inspected = match crate::diffusion::inspect(&path) {
        Ok(folder) => {
            if folder.float16 {
                notes.push("float16 graphs".into());
            }
            Some(ModelArchitecture::Diffusion {
                unet_channels: folder.unet_channels,
            })
        }
        Err(err) => {
            problems.push(err.full_message());
            None
        }
    };
    let (files, size, architecture) = match catalog {
        None => {
            let size = folder_size(&path, MAX_DEPTH);
            let file = FoundFile {
                path: path.clone(),
                size: Some(size),
                expected_sha256: None,
                verification: Verification::NoDigest,
                probe: None,
            };
            (vec![file], size, inspected)
        }
        Some(entry) => {
            if let Some(found) = inspected.filter(|found| *found != entry.architecture) {
                problems.push(format!(
                    "the catalog's `{}` is {} but the folder's UNet makes it {found}: not the \
                     expected model",
                    entry.id, entry.architecture
                ));
            }
            let files: Vec<FoundFile> = entry
                .files
                .iter()
                .map(|file| catalog_file(&path, file, &mut problems))
                .collect();
            let size = files.iter().filter_map(|f| f.size).sum();
            (files, size, Some(entry.architecture))
        }
    };
    ModelInfo {
        id,
        catalog,
        architecture,
        files,
        root,
        hf,
        size,
        problems,
        notes,
        catalog_hint: None,
        folder: Some(path),
    }
}

/// A catalog file inside a model's folder: present (its size checked against the catalog's)
/// or missing, with what the check found added to `problems`. Not hashed (see
/// [`Scanner::verify`]) nor probed.
fn catalog_file(folder: &Path, file: &CatalogFile, problems: &mut Vec<String>) -> FoundFile {
    let path = folder.join(file.file_name);
    let expected_sha256 = file.integrity.sha256();
    let Ok(metadata) = fs::metadata(&path) else {
        problems.push(format!("{} is missing", path.display()));
        return FoundFile {
            path,
            size: None,
            expected_sha256,
            verification: Verification::Missing,
            probe: None,
        };
    };
    let actual = metadata.len();
    let mut verification = match expected_sha256 {
        Some(_) => Verification::NotChecked,
        None => Verification::NoDigest,
    };
    if let Some(expected) = file.integrity.size().filter(|&expected| expected != actual) {
        problems.push(format!(
            "{} is {actual} bytes, the catalog's file is {expected} (an unfinished download or \
             another version); delete the folder and download again",
            path.display()
        ));
        verification = Verification::SizeMismatch { expected, actual };
    }
    FoundFile {
        path,
        size: Some(actual),
        expected_sha256,
        verification,
        probe: None,
    }
}

/// Bytes of the files below `dir` (following the hub cache's symlinks), `depth` levels deep.
fn folder_size(dir: &Path, depth: usize) -> u64 {
    let Ok(read) = fs::read_dir(dir) else {
        return 0;
    };
    read.filter_map(|e| e.ok())
        .map(|e| match fs::metadata(e.path()) {
            Ok(m) if m.is_file() => m.len(),
            Ok(m) if m.is_dir() && depth > 0 => folder_size(&e.path(), depth - 1),
            _ => 0,
        })
        .sum()
}

/// The catalog model a loose file looks like: same file name, same size (when the catalog
/// records one) and the same architecture.
fn hint_for(file: &FoundFile, architecture: Option<ModelArchitecture>) -> Option<&'static str> {
    let name = file.path.file_name()?.to_str()?;
    let architecture = architecture?;
    CATALOG
        .iter()
        .find(|entry| {
            entry.architecture.name() == architecture.name()
                && entry.files.iter().any(|f| {
                    f.file_name == name
                        && f.integrity
                            .size()
                            .is_none_or(|expected| Some(expected) == file.size)
                })
        })
        .map(|entry| entry.id)
}

fn alternatives_note(identity: &crate::probe::OnnxIdentity) -> String {
    let names: Vec<&str> = identity.alternatives.iter().map(|a| a.name()).collect();
    format!(
        "the graph's interface also fits {}; taken as {} (set `architecture` in the models \
         config to choose)",
        names.join(", "),
        identity.architecture
    )
}

/// Compares a catalog file's content with the catalog's architecture.
fn check_against_catalog(entry: &CatalogEntry, probe: &Probe, problems: &mut Vec<String>) {
    let ModelArchitecture::Onnx {
        architecture: expected,
        ..
    } = entry.architecture
    else {
        return;
    };
    match probe {
        Probe::Onnx(identity) => {
            if identity.architecture != expected && !identity.alternatives.contains(&expected) {
                problems.push(format!(
                    "the file's interface is {} but the catalog's `{}` is {expected}: not the \
                     expected file",
                    identity.architecture, entry.id
                ));
            }
        }
        other => problems.push(other.problem().unwrap_or_default()),
    }
}

fn skipped_suffix(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SKIPPED_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Sorted entries of `dir`; an unreadable folder is recorded and gives none.
fn entries(dir: &Path, discovery: &mut Discovery) -> Vec<(String, PathBuf)> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(err) => {
            discovery.errors.push(ScanNote {
                path: dir.to_path_buf(),
                reason: format!("cannot list: {err}"),
            });
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                discovery.errors.push(ScanNote {
                    path: dir.to_path_buf(),
                    reason: format!("cannot list: {err}"),
                });
                continue;
            }
        };
        let path = entry.path();
        match entry.file_name().into_string() {
            Ok(name) => out.push((name, path)),
            Err(_) => discovery.errors.push(ScanNote {
                path,
                reason: "the name is not UTF-8; rename it to use it".into(),
            }),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// What a directory entry is, following symlinks; `None` (recorded) for a dangling link.
fn kind_of(path: &Path, discovery: &mut Discovery) -> Option<fs::FileType> {
    match fs::metadata(path) {
        Ok(m) => Some(m.file_type()),
        Err(err) => {
            let dangling = fs::symlink_metadata(path).is_ok();
            discovery.errors.push(ScanNote {
                path: path.to_path_buf(),
                reason: if dangling {
                    format!("a symlink to a missing file (an unfinished hub download?): {err}")
                } else {
                    format!("cannot read: {err}")
                },
            });
            None
        }
    }
}

/// Looks for model files below `dir`; ids are `prefix` + the relative path.
fn walk_loose(
    root: &ModelRoot,
    dir: &Path,
    prefix: &str,
    depth: usize,
    found: &mut Vec<Candidate>,
    discovery: &mut Discovery,
) {
    // A diffusion pipeline is one model: the folder, not the graphs inside it.
    if dir.join("model_index.json").is_file() {
        let id = match prefix.strip_suffix('/') {
            Some(id) => id.to_string(),
            None => dir
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        };
        found.push(Candidate {
            id,
            catalog: None,
            paths: vec![dir.to_path_buf()],
            root: root.clone(),
            hf: None,
            notes: Vec::new(),
            rank: 0,
            folder: true,
        });
        return;
    }
    for (name, path) in entries(dir, discovery) {
        if name.starts_with('.') {
            continue;
        }
        if skipped_suffix(&name) {
            discovery.skipped.push(ScanNote {
                path,
                reason: "unfinished download, lock or temporary file".into(),
            });
            continue;
        }
        let Some(kind) = kind_of(&path, discovery) else {
            continue;
        };
        let id = format!("{prefix}{name}");
        if kind.is_dir() {
            if depth + 1 < MAX_DEPTH {
                walk_loose(root, &path, &format!("{id}/"), depth + 1, found, discovery);
            }
        } else if kind.is_file() && crate::probe::Format::of(&path).is_some() {
            found.push(Candidate {
                id,
                catalog: None,
                paths: vec![path],
                root: root.clone(),
                hf: None,
                notes: Vec::new(),
                rank: 0,
                folder: false,
            });
        }
    }
}

fn scan_project(root: &ModelRoot, found: &mut Vec<Candidate>, discovery: &mut Discovery) {
    for (name, path) in entries(&root.path, discovery) {
        if name.starts_with('.') {
            continue;
        }
        let entry = catalog::entry(&name).filter(|e| !e.files.is_empty());
        let is_dir = path.is_dir();
        if is_dir && skipped_suffix(&name) {
            discovery.skipped.push(ScanNote {
                path,
                reason: "unfinished download, lock or temporary folder".into(),
            });
            continue;
        }
        match (entry, is_dir) {
            // A catalog pipeline: one model, the folder, whatever it holds.
            (Some(entry), true)
                if matches!(entry.architecture, ModelArchitecture::Diffusion { .. }) =>
            {
                if entry.files.iter().any(|f| path.join(f.file_name).exists()) {
                    found.push(Candidate {
                        id: entry.id.to_string(),
                        catalog: Some(entry),
                        paths: vec![path],
                        root: root.clone(),
                        hf: None,
                        notes: Vec::new(),
                        rank: 0,
                        folder: true,
                    });
                }
            }
            (Some(entry), true) => {
                let paths: Vec<PathBuf> =
                    entry.files.iter().map(|f| path.join(f.file_name)).collect();
                // Files other than the catalog's in the model's folder are loose files.
                let mut extra = Vec::new();
                for (file, file_path) in entries(&path, discovery) {
                    if file.starts_with('.') || entry.files.iter().any(|f| f.file_name == file) {
                        continue;
                    }
                    extra.push((file, file_path));
                }
                let mut rest = Vec::new();
                for (file, file_path) in extra {
                    if skipped_suffix(&file) {
                        discovery.skipped.push(ScanNote {
                            path: file_path,
                            reason: "unfinished download, lock or temporary file".into(),
                        });
                    } else if let Some(kind) = kind_of(&file_path, discovery) {
                        if kind.is_file() && crate::probe::Format::of(&file_path).is_some() {
                            rest.push(Candidate {
                                id: format!("{name}/{file}"),
                                catalog: None,
                                paths: vec![file_path],
                                root: root.clone(),
                                hf: None,
                                notes: Vec::new(),
                                rank: 0,
                                folder: false,
                            });
                        }
                    }
                }
                // A folder with none of the catalog's files is not an install.
                if paths.iter().any(|p| p.exists()) {
                    found.push(Candidate {
                        id: entry.id.to_string(),
                        catalog: Some(entry),
                        paths,
                        root: root.clone(),
                        hf: None,
                        notes: Vec::new(),
                        rank: 0,
                        folder: false,
                    });
                }
                found.extend(rest);
            }
            (_, true) => walk_loose(root, &path, &format!("{name}/"), 1, found, discovery),
            (_, false) => {
                if skipped_suffix(&name) {
                    discovery.skipped.push(ScanNote {
                        path,
                        reason: "unfinished download, lock or temporary file".into(),
                    });
                } else if crate::probe::Format::of(&path).is_some()
                    && kind_of(&path, discovery).is_some_and(|k| k.is_file())
                {
                    found.push(Candidate {
                        id: name,
                        catalog: None,
                        paths: vec![path],
                        root: root.clone(),
                        hf: None,
                        notes: Vec::new(),
                        rank: 0,
                        folder: false,
                    });
                }
            }
        }
    }
}

/// Reads a small text file (a hub `refs/` file), at most 256 bytes.
fn read_ref(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let mut file = fs::File::open(path).ok()?;
    let n = file.read(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn scan_hf(root: &ModelRoot, found: &mut Vec<Candidate>, discovery: &mut Discovery) {
    for (name, repo_dir) in entries(&root.path, discovery) {
        let Some(folder) = name.strip_prefix("models--") else {
            continue;
        };
        if !repo_dir.is_dir() {
            continue;
        }
        let repo = folder.replace("--", "/");
        let main = read_ref(&repo_dir.join("refs").join("main"));
        let snapshots_dir = repo_dir.join("snapshots");
        if !snapshots_dir.is_dir() {
            continue;
        }
        for (commit, snapshot) in entries(&snapshots_dir, discovery) {
            if !snapshot.is_dir() {
                continue;
            }
            let is_main = main.as_deref() == Some(commit.as_str());
            let mut files = Vec::new();
            walk_loose(root, &snapshot, "", 0, &mut files, discovery);
            for mut file in files {
                let rel = file.id.clone();
                let hf = HfLocation {
                    repo: repo.clone(),
                    commit: commit.clone(),
                    is_main,
                };
                // A one-file catalog model by its file; a catalog pipeline by its repository,
                // when the snapshot is the pipeline.
                let is_pipeline = file.folder && file.paths[0] == snapshot;
                let entry = CATALOG.iter().find(|e| match e.files {
                    [only] => matches!(only.source, FileSource::HuggingFace { repo: r, path, .. }
                            if r.eq_ignore_ascii_case(&repo) && path == rel),
                    [first, ..] => {
                        is_pipeline
                            && matches!(first.source, FileSource::HuggingFace { repo: r, .. }
                                if r.eq_ignore_ascii_case(&repo))
                    }
                    [] => false,
                });
                match entry {
                    Some(entry) => {
                        let pinned = match entry.files[0].source {
                            FileSource::HuggingFace { revision, .. } => Some(revision),
                            FileSource::Url(_) => None,
                        };
                        let matches_pin = pinned.is_some_and(|r| r.matches_commit(&commit));
                        let pinned_commit = pinned.filter(|r| {
                            matches!(r, Revision::Commit(_) | Revision::ShortCommit { .. })
                        });
                        if let (Some(rev), false) = (pinned_commit, matches_pin) {
                            file.notes.push(format!(
                                "snapshot {commit} is not the pinned revision {}; the sha256 \
                                 check decides",
                                rev.as_url_part()
                            ));
                        }
                        file.id = entry.id.to_string();
                        file.catalog = Some(entry);
                        // The pinned snapshot first, then the one `main` points at.
                        file.rank = if matches_pin {
                            0
                        } else if is_main {
                            1
                        } else {
                            2
                        };
                    }
                    // A pipeline in the snapshot's top folder is the repository itself.
                    None if file.folder && file.paths[0] == snapshot => {
                        file.id = repo.clone();
                        file.rank = if is_main { 0 } else { 1 };
                    }
                    None => {
                        file.id = format!("{repo}/{rel}");
                        file.rank = if is_main { 0 } else { 1 };
                    }
                }
                file.hf = Some(hf);
                found.push(file);
            }
        }
    }
}
