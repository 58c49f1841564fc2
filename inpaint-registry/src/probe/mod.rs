//! Identifying a model file by its content, and caching what was found.
//!
//! * `.onnx`: the graph's inputs, outputs and `inpaint.*` metadata are read with a small
//!   bounded protobuf reader that seeks past the weights ([`OnnxGraph`]), then matched
//!   against each architecture's contract ([`OnnxIdentity`]).
//! * `.safetensors`: the JSON header alone ([`SafetensorsIdentity`]).
//!
//! A file is never loaded "to see if it works". Results are cached by (path, size,
//! modification time) in a [`ProbeCache`], optionally persisted to a JSON file.

mod onnx;
mod protobuf;
mod safetensors;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use inpaint_models::onnx::{Architecture, OutputRange};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use onnx::{
    ARCHITECTURE_METADATA_KEY, Dim, OnnxGraph, OnnxIdentity, Port, ValueKind, elem_type_name,
};
pub use safetensors::{MAX_HEADER as MAX_SAFETENSORS_HEADER, SafetensorsIdentity, SafetensorsKind};

use crate::catalog::{ModelArchitecture, range_name};
use crate::error::{Error, Result};
use crate::fsutil::{mtime_of, write_atomic};

/// A model file format, told by the file's extension (which files to look at); what the file
/// *is* comes from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `.onnx`
    Onnx,
    /// `.safetensors` or `.sft`
    Safetensors,
}

impl Format {
    /// The format of a file name, by extension (case-insensitive); `None` for other files.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "onnx" => Some(Format::Onnx),
            "safetensors" | "sft" => Some(Format::Safetensors),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Onnx => "onnx",
            Format::Safetensors => "safetensors",
        }
    }

    fn parse(name: &str) -> Option<Format> {
        match name {
            "onnx" => Some(Format::Onnx),
            "safetensors" => Some(Format::Safetensors),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Onnx => "ONNX",
            Format::Safetensors => "safetensors",
        })
    }
}

/// What a model file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probe {
    /// An ONNX graph with one of the architecture contracts.
    Onnx(OnnxIdentity),
    /// A recognised safetensors checkpoint (none runs in this project).
    Safetensors(SafetensorsIdentity),
    /// A valid file of its format whose content matches nothing known.
    Unrecognized {
        /// The format.
        format: Format,
        /// What was read and why nothing fits.
        reason: String,
    },
    /// Not a valid file of its format: corrupt, truncated, random bytes.
    Invalid {
        /// The format its name claims.
        format: Format,
        /// What is wrong, with the byte offset where that helps.
        reason: String,
    },
}

impl Probe {
    /// The architecture to load the file with, when it runs in this project.
    pub fn architecture(&self) -> Option<ModelArchitecture> {
        match self {
            Probe::Onnx(identity) => Some(ModelArchitecture::Onnx {
                architecture: identity.architecture,
                output_range: identity.output_range,
            }),
            _ => None,
        }
    }

    /// Why the file cannot be loaded, when it cannot.
    pub fn problem(&self) -> Option<String> {
        match self {
            Probe::Onnx(_) => None,
            Probe::Safetensors(s) => Some(format!(
                "a {} ({}); this project runs ONNX graphs only{}",
                s.kind,
                s.evidence,
                match s.kind.diffusion_family() {
                    Some(_) => {
                        "; a whole single-file checkpoint runs once exported to an Optimum ONNX \
                         folder (diffusers' from_single_file, then `optimum-cli export onnx \
                         --task inpainting`)"
                    }
                    None => "",
                }
            )),
            Probe::Unrecognized { format, reason } => {
                Some(format!("unrecognised {format} file: {reason}"))
            }
            Probe::Invalid { format, reason } => Some(format!("invalid {format} file: {reason}")),
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Onnx(identity) => {
                write!(f, "ONNX {}", identity.architecture)?;
                if let Some(range) = identity.output_range {
                    write!(f, ", output {}", range_name(range))?;
                }
                if identity.float16 {
                    f.write_str(", float16")?;
                }
                if let Some(side) = identity.fixed_side {
                    write!(f, ", fixed {side}×{side}")?;
                }
                if !identity.alternatives.is_empty() {
                    let names: Vec<&str> = identity.alternatives.iter().map(|a| a.name()).collect();
                    write!(f, " (also fits: {})", names.join(", "))?;
                }
                Ok(())
            }
            Probe::Safetensors(s) => write!(f, "{} ({})", s.kind, s.evidence),
            Probe::Unrecognized { .. } | Probe::Invalid { .. } => {
                f.write_str(&self.problem().unwrap_or_default())
            }
        }
    }
}

/// Reads what the ONNX file at `path` declares (inputs, outputs, metadata) without loading it.
///
/// ```
/// # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../inpaint-models/tests/fixtures/onnx");
/// let graph = inpaint_registry::probe::read_onnx(&dir.join("migan.onnx"))?;
/// assert_eq!(graph.inputs[0].name, "input");
/// assert_eq!(graph.opset, Some(12));
/// # Ok::<(), inpaint_registry::Error>(())
/// ```
pub fn read_onnx(path: &Path) -> Result<OnnxGraph> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    onnx::read_graph(file, len).map_err(|err| match err {
        onnx::ReadError::Invalid(reason) => Error::NotIdentified {
            path: path.to_path_buf(),
            reason,
        },
        onnx::ReadError::Io(e) => Error::io(path, e),
    })
}

/// Identifies the file at `path` by its content (without any cache). `Err` only when the file
/// cannot be read or has no model extension; a corrupt file is [`Probe::Invalid`].
pub fn probe_file(path: &Path) -> Result<Probe> {
    let format = Format::of(path).ok_or_else(|| Error::NotIdentified {
        path: path.to_path_buf(),
        reason: "not a model file extension (expected .onnx, .safetensors or .sft)".into(),
    })?;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    probe_open(file, len, format).map_err(|e| Error::io(path, e))
}

fn probe_open(file: File, len: u64, format: Format) -> std::io::Result<Probe> {
    Ok(match format {
        Format::Onnx => match onnx::read_graph(file, len) {
            Ok(graph) => match onnx::identify(&graph) {
                Ok(identity) => Probe::Onnx(identity),
                Err(reason) => Probe::Unrecognized { format, reason },
            },
            Err(onnx::ReadError::Invalid(reason)) => Probe::Invalid { format, reason },
            Err(onnx::ReadError::Io(e)) => return Err(e),
        },
        Format::Safetensors => match safetensors::identify(BufReader::new(file), len) {
            Ok(Ok(identity)) => Probe::Safetensors(identity),
            Ok(Err(reason)) => Probe::Unrecognized { format, reason },
            Err(safetensors::Invalid::Format(reason)) => Probe::Invalid { format, reason },
            Err(safetensors::Invalid::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Probe::Invalid {
                    format,
                    reason: "truncated header".into(),
                }
            }
            Err(safetensors::Invalid::Io(e)) => return Err(e),
        },
    })
}

/// The sha256 of the file at `path`, lower-case hex, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Counters of a [`ProbeCache`]: how much work was done and how much was saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeStats {
    /// Files opened and probed.
    pub probed: u64,
    /// Probes answered from the cache.
    pub hits: u64,
    /// Files hashed (sha256).
    pub hashed: u64,
    /// Hashes answered from the cache.
    pub hash_hits: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    size: u64,
    mtime: (i64, u32),
    probe: Option<Probe>,
    sha256: Option<String>,
}

/// Probe and hash results by (path, size, modification time): a file that has not changed is
/// not read again. In memory, and optionally in a JSON file ([`ProbeCache::open`],
/// [`ProbeCache::save`]) written atomically.
#[derive(Debug, Default)]
pub struct ProbeCache {
    entries: HashMap<PathBuf, Entry>,
    file: Option<PathBuf>,
    dirty: bool,
    stats: ProbeStats,
}

/// The version of the probe logic: a cache file written by another version is ignored.
const PROBE_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct StoredCache {
    probe_version: u32,
    entries: Vec<StoredEntry>,
}

#[derive(Serialize, Deserialize)]
struct StoredEntry {
    path: PathBuf,
    size: u64,
    mtime_secs: i64,
    mtime_nanos: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probe: Option<StoredProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "probe", rename_all = "kebab-case")]
enum StoredProbe {
    Onnx {
        architecture: String,
        alternatives: Vec<String>,
        declared: bool,
        output_range: Option<String>,
        float16: bool,
        fixed_side: Option<u32>,
        ir_version: Option<u64>,
        opset: Option<u64>,
    },
    Safetensors {
        kind: String,
        evidence: String,
        tensors: usize,
    },
    Unrecognized {
        format: String,
        reason: String,
    },
    Invalid {
        format: String,
        reason: String,
    },
}

fn kind_name(kind: &SafetensorsKind) -> &'static str {
    match kind {
        SafetensorsKind::StableDiffusionInpainting => "sd-inpainting",
        SafetensorsKind::StableDiffusion => "sd",
        SafetensorsKind::StableDiffusionXlInpainting => "sdxl-inpainting",
        SafetensorsKind::StableDiffusionXl => "sdxl",
        SafetensorsKind::StableDiffusionDepth => "sd-depth",
        SafetensorsKind::MatWeights => "mat-weights",
    }
}

impl StoredProbe {
    fn from_probe(probe: &Probe) -> StoredProbe {
        match probe {
            Probe::Onnx(i) => StoredProbe::Onnx {
                architecture: i.architecture.name().into(),
                alternatives: i.alternatives.iter().map(|a| a.name().into()).collect(),
                declared: i.declared,
                output_range: i.output_range.map(|r| range_name(r).into()),
                float16: i.float16,
                fixed_side: i.fixed_side,
                ir_version: i.ir_version,
                opset: i.opset,
            },
            Probe::Safetensors(s) => StoredProbe::Safetensors {
                kind: kind_name(&s.kind).into(),
                evidence: s.evidence.clone(),
                tensors: s.tensors,
            },
            Probe::Unrecognized { format, reason } => StoredProbe::Unrecognized {
                format: format.name().into(),
                reason: reason.clone(),
            },
            Probe::Invalid { format, reason } => StoredProbe::Invalid {
                format: format.name().into(),
                reason: reason.clone(),
            },
        }
    }

    /// `None` when a name is not known to this version (the entry is then dropped).
    fn into_probe(self) -> Option<Probe> {
        Some(match self {
            StoredProbe::Onnx {
                architecture,
                alternatives,
                declared,
                output_range,
                float16,
                fixed_side,
                ir_version,
                opset,
            } => Probe::Onnx(OnnxIdentity {
                architecture: architecture.parse::<Architecture>().ok()?,
                alternatives: alternatives
                    .iter()
                    .map(|a| a.parse::<Architecture>().ok())
                    .collect::<Option<Vec<_>>>()?,
                declared,
                output_range: match output_range {
                    Some(r) => Some(r.parse::<OutputRange>().ok()?),
                    None => None,
                },
                float16,
                fixed_side,
                ir_version,
                opset,
            }),
            StoredProbe::Safetensors {
                kind,
                evidence,
                tensors,
            } => Probe::Safetensors(SafetensorsIdentity {
                kind: match kind.as_str() {
                    "sd-inpainting" => SafetensorsKind::StableDiffusionInpainting,
                    "sd" => SafetensorsKind::StableDiffusion,
                    "sdxl-inpainting" => SafetensorsKind::StableDiffusionXlInpainting,
                    "sdxl" => SafetensorsKind::StableDiffusionXl,
                    "sd-depth" => SafetensorsKind::StableDiffusionDepth,
                    "mat-weights" => SafetensorsKind::MatWeights,
                    _ => return None,
                },
                evidence,
                tensors,
            }),
            StoredProbe::Unrecognized { format, reason } => Probe::Unrecognized {
                format: Format::parse(&format)?,
                reason,
            },
            StoredProbe::Invalid { format, reason } => Probe::Invalid {
                format: Format::parse(&format)?,
                reason,
            },
        })
    }
}

impl ProbeCache {
    /// An empty, in-memory cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache backed by the JSON file at `path` (created by [`save`](Self::save)). A missing
    /// file gives an empty cache; an unreadable or corrupt one too, and the reason is
    /// returned beside it (a cache never stops a scan).
    pub fn open(path: impl Into<PathBuf>) -> (Self, Option<String>) {
        let path = path.into();
        let mut cache = ProbeCache {
            file: Some(path.clone()),
            ..Self::default()
        };
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return (cache, None),
            Err(err) => {
                return (
                    cache,
                    Some(format!("{}: {err}; starting empty", path.display())),
                );
            }
        };
        let stored: StoredCache = match serde_json::from_slice(&text) {
            Ok(stored) => stored,
            Err(err) => {
                return (
                    cache,
                    Some(format!(
                        "{}: corrupt probe cache ({err}); starting empty",
                        path.display()
                    )),
                );
            }
        };
        if stored.probe_version != PROBE_VERSION {
            return (cache, None);
        }
        for e in stored.entries {
            let probe = match e.probe {
                Some(p) => match p.into_probe() {
                    Some(p) => Some(p),
                    None => continue,
                },
                None => None,
            };
            cache.entries.insert(
                e.path,
                Entry {
                    size: e.size,
                    mtime: (e.mtime_secs, e.mtime_nanos),
                    probe,
                    sha256: e.sha256,
                },
            );
        }
        (cache, None)
    }

    /// Writes the cache to its file (atomically), when it has one and something changed.
    pub fn save(&mut self) -> Result<()> {
        let Some(path) = self.file.clone() else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let mut entries: Vec<StoredEntry> = self
            .entries
            .iter()
            .map(|(path, e)| StoredEntry {
                path: path.clone(),
                size: e.size,
                mtime_secs: e.mtime.0,
                mtime_nanos: e.mtime.1,
                probe: e.probe.as_ref().map(StoredProbe::from_probe),
                sha256: e.sha256.clone(),
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let stored = StoredCache {
            probe_version: PROBE_VERSION,
            entries,
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(|err| {
            Error::io(
                &path,
                std::io::Error::other(format!("cannot serialise the probe cache: {err}")),
            )
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        write_atomic(&path, &json)?;
        self.dirty = false;
        Ok(())
    }

    /// What this cache did so far.
    pub fn stats(&self) -> ProbeStats {
        self.stats
    }

    /// The entry for `path` if its size and mtime still match, with the current key.
    fn current(&mut self, path: &Path) -> Result<(u64, Option<(i64, u32)>)> {
        let metadata = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let size = metadata.len();
        let mtime = mtime_of(&metadata);
        Ok((size, mtime))
    }

    fn fresh(&self, path: &Path, size: u64, mtime: Option<(i64, u32)>) -> Option<&Entry> {
        let mtime = mtime?;
        self.entries
            .get(path)
            .filter(|e| e.size == size && e.mtime == mtime)
    }

    fn slot(&mut self, path: &Path, size: u64, mtime: (i64, u32)) -> &mut Entry {
        self.dirty = true;
        let entry = self.entries.entry(path.to_path_buf()).or_insert(Entry {
            size,
            mtime,
            probe: None,
            sha256: None,
        });
        if entry.size != size || entry.mtime != mtime {
            *entry = Entry {
                size,
                mtime,
                probe: None,
                sha256: None,
            };
        }
        entry
    }

    /// Identifies the file at `path` by content, from the cache when its size and mtime have
    /// not changed.
    pub fn probe(&mut self, path: &Path) -> Result<Probe> {
        let (size, mtime) = self.current(path)?;
        if let Some(probe) = self.fresh(path, size, mtime).and_then(|e| e.probe.clone()) {
            self.stats.hits += 1;
            return Ok(probe);
        }
        self.stats.probed += 1;
        let probe = probe_file(path)?;
        tracing::trace!(path = %path.display(), size, ?probe, "probed");
        if let Some(mtime) = mtime {
            self.slot(path, size, mtime).probe = Some(probe.clone());
        }
        Ok(probe)
    }

    /// The sha256 of the file at `path`, from the cache when its size and mtime have not
    /// changed. Hashing reads the whole file (a 200 MB model takes about a second), so it is
    /// only done when asked for.
    pub fn sha256(&mut self, path: &Path) -> Result<String> {
        let (size, mtime) = self.current(path)?;
        if let Some(digest) = self.fresh(path, size, mtime).and_then(|e| e.sha256.clone()) {
            self.stats.hash_hits += 1;
            return Ok(digest);
        }
        self.stats.hashed += 1;
        let _span = tracing::debug_span!("sha256", path = %path.display(), size).entered();
        let digest = sha256_file(path)?;
        // The file may have changed while it was hashed: keep the digest only if not.
        let (size_after, mtime_after) = self.current(path)?;
        if let (Some(mtime), true) = (mtime, (size_after, mtime_after) == (size, mtime)) {
            self.slot(path, size, mtime).sha256 = Some(digest.clone());
        }
        Ok(digest)
    }
}
