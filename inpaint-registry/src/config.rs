//! The models config: a TOML file of per-model parameters, aliases, the default model and
//! the model roots, merged with what discovery finds and rewritten safely.
//!
//! ```toml
//! default_model = "lama"            # used when no model is named; else `patchmatch`
//!
//! [[roots]]                         # scanned in this order; the first with an id wins
//! path = "/home/me/.cache/inpaint/models"
//! kind = "project"                  # project | hf-cache | loose
//!
//! [models.lama]                     # parameters of a catalog model
//! aliases = ["big"]
//! device = "cuda"                   # cpu, cuda[:N], tensorrt, coreml, directml, openvino,
//!                                   # rocm, auto (auto = best accelerator, else the CPU)
//!
//! [models.telea]
//! radius = 5.0
//!
//! [models.openai-compat]            # the remote model; its key comes from the environment only
//! base_url = "https://api.openai.com/v1"
//! model = "gpt-image-1"             # the API's model; sizes and prices from the price table
//! budget_day = 2.0                  # US dollars; 0 = unlimited (budget_session, budget_month)
//! budget_db = "/home/me/.local/share/inpaint/openai-ledger.sqlite3"
//! [models.lama-remote]              # the forward pass on an inference server (Triton,
//! architecture = "lama"             # KServe, …: the Open Inference Protocol); needs the
//! endpoint = "http://triton:8000"   # architecture, takes no `path` or `device`
//! remote_name = "lama"              # the model's name on the server
//! version = "1"                     # optional: the server's choice otherwise
//! connect_timeout = 5.0             # seconds, optional (default 5)
//! timeout = 120.0                   # seconds for one request, optional (default 120)
//!
//! [models."photos/foo.onnx"]        # a discovered file (id = its path in its root)
//! path = "/srv/models/photos/foo.onnx"
//! architecture = "migan"
//! discovered = true                 # written by discovery
//! missing = true                    # written by discovery when the file vanished
//! ```
//!
//! Relative paths are relative to the config file's folder; `~` is not expanded. Unknown
//! keys are errors (a misspelt `radius` must not be silently ignored), reported with line
//! and column like every other mistake; a file with an error is never rewritten.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use inpaint_models::onnx::{Device, OutputRange};
use serde::Deserialize;
use toml::Spanned;
use toml_edit::{DocumentMut, Item, Table, value};

use crate::catalog::{self, ModelArchitecture};
use crate::discover::{Discovery, ModelRoot, RootKind};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    default_model: Option<Spanned<String>>,
    #[serde(default)]
    roots: Vec<RawRoot>,
    #[serde(default)]
    models: BTreeMap<String, RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoot {
    path: Spanned<String>,
    kind: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    path: Option<Spanned<String>>,
    architecture: Option<Spanned<String>>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    device: Option<Spanned<String>>,
    output_range: Option<Spanned<String>>,
    radius: Option<f64>,
    patch_size: Option<u32>,
    seed: Option<u64>,
    description: Option<String>,
    endpoint: Option<Spanned<String>>,
    remote_name: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<f64>>,
    timeout: Option<Spanned<f64>>,
    #[serde(default)]
    discovered: bool,
    #[serde(default)]
    missing: bool,
    // `openai-compat` only (see `OpenAiParams`).
    base_url: Option<String>,
    model: Option<String>,
    quality: Option<String>,
    timeout_secs: Option<f64>,
    prompt: Option<String>,
    prices: Option<Spanned<String>>,
    budget_session: Option<f64>,
    budget_day: Option<f64>,
    budget_month: Option<f64>,
    budget_db: Option<Spanned<String>>,
    dedup_window_secs: Option<u64>,
    min_interval_secs: Option<u64>,
    /// Refused with its own message: the key is never stored in a config.
    api_key: Option<Spanned<toml::Value>>,
}

/// The settings of the remote `openai-compat` model (`[models.openai-compat]`), as written;
/// `inpaint-openai` gives them meaning (its `OpenAiConfig`). The API key is never here: a
/// config holding `api_key` is refused.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct OpenAiParams {
    /// The API root (`https://api.openai.com/v1` when unset).
    pub base_url: Option<String>,
    /// The API's model name (`gpt-image-1` when unset).
    pub model: Option<String>,
    /// The `quality` sent (none when unset).
    pub quality: Option<String>,
    /// The time limit of one call, in seconds.
    pub timeout_secs: Option<f64>,
    /// The prompt sent when the caller gives none.
    pub prompt: Option<String>,
    /// A price table file.
    pub prices: Option<PathBuf>,
    /// The session cap in US dollars (0 = unlimited).
    pub budget_session: Option<f64>,
    /// The daily cap in US dollars (0 = unlimited).
    pub budget_day: Option<f64>,
    /// The monthly cap in US dollars (0 = unlimited).
    pub budget_month: Option<f64>,
    /// The ledger database.
    pub budget_db: Option<PathBuf>,
    /// The de-duplication window in seconds (0 = off).
    pub dedup_window_secs: Option<u64>,
    /// The least time between two requests, in seconds.
    pub min_interval_secs: Option<u64>,
}

impl OpenAiParams {
    fn is_empty(&self) -> bool {
        *self == OpenAiParams::default()
    }
}

/// One model's entry in the config.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ModelParams {
    /// The model file (absolute, or made so against the config's folder).
    pub path: Option<PathBuf>,
    /// What runs it (needed for a file the probe cannot attribute, or to choose between
    /// architectures with the same interface).
    pub architecture: Option<ModelArchitecture>,
    /// Other names for it.
    pub aliases: Vec<String>,
    /// The device to run on.
    pub device: Option<Device>,
    /// `lama-dynamic`: the output range.
    pub output_range: Option<OutputRange>,
    /// Classical models: the radius.
    pub radius: Option<f64>,
    /// `patchmatch`: the patch size.
    pub patch_size: Option<u32>,
    /// `patchmatch`, `mat`: the random seed.
    pub seed: Option<u64>,
    /// Free text.
    pub description: Option<String>,
    /// Where the forward pass runs, for a model served by an inference server.
    pub remote: Option<RemoteParams>,
    /// Whether discovery added this entry.
    pub discovered: bool,
    /// Whether discovery found its file gone (the entry and its parameters are kept).
    pub missing: bool,
    /// `openai-compat`: where and how to send requests, and the budget.
    pub openai: Option<OpenAiParams>,
}

/// A model served by an inference server that speaks the Open Inference Protocol: the
/// entry's `endpoint`, `remote_name`, `version`, `connect_timeout` and `timeout`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RemoteParams {
    /// The server's base URL (`http://…` or `https://…`).
    pub endpoint: String,
    /// The model's name on the server.
    pub remote_name: String,
    /// The model version, when the server holds several.
    pub version: Option<String>,
    /// How long to wait for a connection.
    pub connect_timeout: Option<Duration>,
    /// How long one request may take.
    pub timeout: Option<Duration>,
}

/// A parsed, validated models config.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ModelsConfig {
    /// The model used when none is named.
    pub default_model: Option<String>,
    /// Model roots, in scanning order.
    pub roots: Vec<ModelRoot>,
    /// Entries by model id.
    pub models: BTreeMap<String, ModelParams>,
    /// The file it was read from (for messages).
    pub source: PathBuf,
    /// Line and column of `default_model`, for messages.
    pub(crate) default_at: (usize, usize),
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

impl ModelsConfig {
    /// Parses and validates config `text`; `source` names the file in messages and anchors
    /// relative paths.
    ///
    /// ```
    /// use inpaint_registry::ModelsConfig;
    ///
    /// let config = ModelsConfig::parse("[models.telea]\nradius = 5.0\n", "/etc/models.toml".as_ref())?;
    /// assert_eq!(config.models["telea"].radius, Some(5.0));
    /// let err = ModelsConfig::parse("[models.telea]\nradus = 5.0\n", "/etc/models.toml".as_ref())
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("/etc/models.toml:2:1: "), "{err}");
    /// # Ok::<(), inpaint_registry::Error>(())
    /// ```
    pub fn parse(text: &str, source: &Path) -> Result<ModelsConfig> {
        let at = |span: Option<Range<usize>>, message: String| {
            let (line, column) = span.map_or((0, 0), |s| line_column(text, s.start));
            Error::Config {
                path: source.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|err| at(err.span(), err.message().trim().to_string()))?;
        let base = source
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let resolve_path = |spanned: &Spanned<String>| -> Result<PathBuf> {
            let text = spanned.get_ref();
            if text.starts_with('~') {
                return Err(at(
                    Some(spanned.span()),
                    format!("`{text}`: `~` is not expanded; write the full path"),
                ));
            }
            if text.is_empty() {
                return Err(at(Some(spanned.span()), "empty path".into()));
            }
            let path = Path::new(text);
            Ok(if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            })
        };

        let mut roots = Vec::new();
        for root in &raw.roots {
            let kind = RootKind::parse(root.kind.get_ref()).ok_or_else(|| {
                at(
                    Some(root.kind.span()),
                    format!(
                        "unknown root kind `{}`; expected project, hf-cache or loose",
                        root.kind.get_ref()
                    ),
                )
            })?;
            roots.push(ModelRoot {
                path: resolve_path(&root.path)?,
                kind,
            });
        }

        // Every name in use, to refuse an alias that is taken.
        let mut taken: BTreeMap<String, String> = BTreeMap::new();
        for name in catalog::catalog_names() {
            let what = if name.alias {
                format!("an alias of the catalog's `{}`", name.id)
            } else {
                format!("the catalog's model `{}`", name.id)
            };
            taken.insert(name.name.to_string(), what);
        }
        for id in raw.models.keys() {
            taken
                .entry(id.clone())
                .or_insert_with(|| format!("the model `{id}` in this file"));
        }

        let mut models = BTreeMap::new();
        for (id, raw_model) in &raw.models {
            let architecture = match &raw_model.architecture {
                Some(a) => Some(
                    ModelArchitecture::parse(a.get_ref())
                        .map_err(|why| at(Some(a.span()), format!("models.{id}: {why}")))?,
                ),
                None => None,
            };
            let device = match &raw_model.device {
                Some(d) => Some(d.get_ref().parse::<Device>().map_err(|err| {
                    at(
                        Some(d.span()),
                        format!("models.{id}: {}", inner_message(&err)),
                    )
                })?),
                None => None,
            };
            let output_range = match &raw_model.output_range {
                Some(r) => Some(r.get_ref().parse::<OutputRange>().map_err(|err| {
                    at(
                        Some(r.span()),
                        format!("models.{id}: {}", inner_message(&err)),
                    )
                })?),
                None => None,
            };
            let mut aliases = Vec::new();
            for alias in &raw_model.aliases {
                let name = alias.get_ref();
                if let Some(owner) = taken.get(name) {
                    return Err(at(
                        Some(alias.span()),
                        format!("models.{id}: alias `{name}` is already {owner}"),
                    ));
                }
                taken.insert(name.clone(), format!("an alias of `{id}`"));
                aliases.push(name.clone());
            }
            let path = match &raw_model.path {
                Some(p) => Some(resolve_path(p)?),
                None => None,
            };
            if let Some(key) = &raw_model.api_key {
                return Err(at(
                    Some(key.span()),
                    format!(
                        "models.{id}: the API key is never stored in a config; set \
                         INPAINT_OPENAI_API_KEY or OPENAI_API_KEY instead"
                    ),
                ));
            }
            let optional_path = |p: &Option<Spanned<String>>| p.as_ref().map(resolve_path);
            let openai = OpenAiParams {
                base_url: raw_model.base_url.clone(),
                model: raw_model.model.clone(),
                quality: raw_model.quality.clone(),
                timeout_secs: raw_model.timeout_secs,
                prompt: raw_model.prompt.clone(),
                prices: optional_path(&raw_model.prices).transpose()?,
                budget_session: raw_model.budget_session,
                budget_day: raw_model.budget_day,
                budget_month: raw_model.budget_month,
                budget_db: optional_path(&raw_model.budget_db).transpose()?,
                dedup_window_secs: raw_model.dedup_window_secs,
                min_interval_secs: raw_model.min_interval_secs,
            };
            let is_remote = catalog::resolve(Some(id))
                .is_ok_and(|r| matches!(r.entry.architecture, ModelArchitecture::Api(_)));
            let openai = match (openai.is_empty(), is_remote) {
                (true, _) => None,
                (false, true) => Some(openai),
                (false, false) => {
                    return Err(at(
                        None,
                        format!(
                            "models.{id}: base_url, model, quality, prompt, prices, timeout_secs \
                             and the budget_* settings apply to `openai-compat` only"
                        ),
                    ));
                }
            };
            let remote = remote_params(id, raw_model, &at)?;
            models.insert(
                id.clone(),
                ModelParams {
                    path,
                    architecture,
                    aliases,
                    device,
                    output_range,
                    radius: raw_model.radius,
                    patch_size: raw_model.patch_size,
                    seed: raw_model.seed,
                    description: raw_model.description.clone(),
                    remote,
                    discovered: raw_model.discovered,
                    missing: raw_model.missing,
                    openai,
                },
            );
        }
        let default_at = raw
            .default_model
            .as_ref()
            .map_or((0, 0), |d| line_column(text, d.span().start));
        Ok(ModelsConfig {
            default_model: raw.default_model.map(Spanned::into_inner),
            roots,
            models,
            source: source.to_path_buf(),
            default_at,
        })
    }
}

/// The remote keys of entry `id`, checked: all or none of `endpoint` and `remote_name`, an
/// http(s) endpoint, positive timeouts, and no `path` or `device` beside them.
fn remote_params(
    id: &str,
    raw: &RawModel,
    at: &impl Fn(Option<Range<usize>>, String) -> Error,
) -> Result<Option<RemoteParams>> {
    let (endpoint, remote_name) = match (&raw.endpoint, &raw.remote_name) {
        (Some(endpoint), Some(name)) => (endpoint, name),
        (None, None) => {
            let stray = [
                raw.version.as_ref().map(|v| ("version", v.span())),
                raw.connect_timeout
                    .as_ref()
                    .map(|v| ("connect_timeout", v.span())),
                raw.timeout.as_ref().map(|v| ("timeout", v.span())),
            ];
            if let Some((key, span)) = stray.into_iter().flatten().next() {
                return Err(at(
                    Some(span),
                    format!("models.{id}: `{key}` applies to a remote model (with `endpoint`)"),
                ));
            }
            return Ok(None);
        }
        (Some(endpoint), None) => {
            return Err(at(
                Some(endpoint.span()),
                format!("models.{id}: a remote model needs `remote_name` with `endpoint`"),
            ));
        }
        (None, Some(name)) => {
            return Err(at(
                Some(name.span()),
                format!("models.{id}: a remote model needs `endpoint` with `remote_name`"),
            ));
        }
    };
    let text = endpoint.get_ref();
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err(at(
            Some(endpoint.span()),
            format!("models.{id}: endpoint `{text}` must start with http:// or https://"),
        ));
    }
    if raw.architecture.is_none() {
        return Err(at(
            Some(endpoint.span()),
            format!("models.{id}: a remote model needs `architecture` (its I/O contract)"),
        ));
    }
    for (key, span) in [
        ("path", raw.path.as_ref().map(|p| p.span())),
        ("device", raw.device.as_ref().map(|d| d.span())),
    ] {
        if let Some(span) = span {
            return Err(at(
                Some(span),
                format!(
                    "models.{id}: `{key}` does not apply to a remote model (the server runs it)"
                ),
            ));
        }
    }
    let seconds = |value: &Option<Spanned<f64>>, key: &str| -> Result<Option<Duration>> {
        match value {
            None => Ok(None),
            Some(v) => Duration::try_from_secs_f64(*v.get_ref())
                .ok()
                .filter(|d| !d.is_zero())
                .map(Some)
                .ok_or_else(|| {
                    at(
                        Some(v.span()),
                        format!("models.{id}: `{key}` must be a positive number of seconds"),
                    )
                }),
        }
    };
    Ok(Some(RemoteParams {
        endpoint: text.trim_end_matches('/').to_string(),
        remote_name: remote_name.get_ref().clone(),
        version: raw.version.as_ref().map(|v| v.get_ref().clone()),
        connect_timeout: seconds(&raw.connect_timeout, "connect_timeout")?,
        timeout: seconds(&raw.timeout, "timeout")?,
    }))
}

/// The message of an `inpaint_core::Error` without its category prefix.
fn inner_message(err: &inpaint_core::Error) -> String {
    match err {
        inpaint_core::Error::InvalidInput { message } => message.clone(),
        other => other.to_string(),
    }
}

/// What [`ConfigFile::merge`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeReport {
    /// Entries added for newly found models.
    pub added: Vec<String>,
    /// Entries whose file vanished, now `missing = true` (kept, with their parameters).
    pub marked_missing: Vec<String>,
    /// Entries that were `missing` and whose file is back.
    pub returned: Vec<String>,
    /// Discovered entries whose file vanished and was found elsewhere: `path` updated.
    pub moved: Vec<String>,
    /// Found models not added, with why (unusable: corrupt, unrecognised, not runnable).
    pub not_added: Vec<(String, String)>,
}

impl MergeReport {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        !(self.added.is_empty()
            && self.marked_missing.is_empty()
            && self.returned.is_empty()
            && self.moved.is_empty())
    }
}

/// What [`ConfigFile::save`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveReport {
    /// Whether the file was written (not when nothing changed).
    pub written: bool,
    /// Where the previous content was copied, when there was a previous file.
    pub backup: Option<PathBuf>,
}

/// A models config file: its parsed content, and the document to rewrite it with, keeping
/// the user's comments, order and every parameter.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    /// The file's content when loaded (`None`: there was no file).
    loaded: Option<String>,
    doc: DocumentMut,
    config: ModelsConfig,
}

impl ConfigFile {
    /// Reads and validates the config at `path`. A missing file is an empty config (created
    /// by [`save`](Self::save)); a malformed one is an [`Error::Config`] with line and column.
    pub fn load(path: impl Into<PathBuf>) -> Result<ConfigFile> {
        let path = path.into();
        let loaded = match fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(Error::io(&path, err)),
        };
        let text = loaded.as_deref().unwrap_or("");
        let config = ModelsConfig::parse(text, &path)?;
        let doc = text.parse::<DocumentMut>().map_err(|err| {
            let (line, column) = err.span().map_or((0, 0), |s| line_column(text, s.start));
            Error::Config {
                path: path.clone(),
                line,
                column,
                message: err.message().trim().to_string(),
            }
        })?;
        Ok(ConfigFile {
            path,
            loaded,
            doc,
            config,
        })
    }

    /// The parsed content.
    pub fn config(&self) -> &ModelsConfig {
        &self.config
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text [`save`](Self::save) would write.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Where [`save`](Self::save) copies the previous content: `<file>.bak`.
    pub fn backup_path(&self) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".bak");
        self.path.with_file_name(name)
    }

    /// Merges what a scan found: adds an entry (`path`, `architecture` for non-catalog
    /// files, `discovered = true`) for each usable model not in the config; marks an entry
    /// whose `path` no longer exists `missing = true` (keeping it and its parameters);
    /// clears `missing` when the file is back; updates `path` of a discovered entry whose
    /// file moved. Every other key, comment and entry is left as it is. Nothing is written
    /// until [`save`](Self::save).
    pub fn merge(&mut self, discovery: &Discovery) -> Result<MergeReport> {
        let mut report = MergeReport::default();
        let path = self.path.clone();
        let root = self.doc.as_table_mut();
        if !root.contains_key("models") {
            let mut table = Table::new();
            table.set_implicit(true);
            root.insert("models", Item::Table(table));
        }
        let Some(models) = root.get_mut("models").and_then(Item::as_table_like_mut) else {
            return Err(Error::Config {
                path,
                line: 0,
                column: 0,
                message: "`models` must be a table".into(),
            });
        };

        for model in &discovery.models {
            if !model.is_usable() {
                report
                    .not_added
                    .push((model.id.clone(), model.problems.join("; ")));
                continue;
            }
            let Some(found) = absolute(model.path()).to_str().map(str::to_string) else {
                report.not_added.push((
                    model.id.clone(),
                    "its path is not UTF-8 and cannot be written to TOML".into(),
                ));
                continue;
            };
            match models.get_mut(&model.id).and_then(Item::as_table_like_mut) {
                None => {
                    let mut table = Table::new();
                    table.insert("path", value(found));
                    if let (None, Some(architecture)) = (model.catalog, model.architecture) {
                        table.insert("architecture", value(architecture.name()));
                    }
                    table.insert("discovered", value(true));
                    models.insert(&model.id, Item::Table(table));
                    report.added.push(model.id.clone());
                }
                Some(entry) => {
                    let params = self.config.models.get(&model.id);
                    if params.is_some_and(|p| p.missing) {
                        entry.remove("missing");
                        report.returned.push(model.id.clone());
                    }
                    let old = params.and_then(|p| p.path.as_ref());
                    let moved = old.filter(|old| {
                        params.is_some_and(|p| p.discovered)
                            && !old.exists()
                            && absolute(old) != absolute(model.path())
                    });
                    if moved.is_some() {
                        entry.insert("path", value(found));
                        report.moved.push(model.id.clone());
                    }
                }
            }
        }

        for (id, params) in &self.config.models {
            let Some(path) = &params.path else {
                continue;
            };
            if params.missing || path.exists() || report.moved.contains(id) {
                continue;
            }
            if let Some(entry) = models.get_mut(id).and_then(Item::as_table_like_mut) {
                entry.insert("missing", value(true));
                report.marked_missing.push(id.clone());
            }
        }
        self.config = ModelsConfig::parse(&self.doc.to_string(), &self.path)?;
        Ok(report)
    }

    /// Writes the config if it changed: the previous file is first copied to
    /// [`backup_path`](Self::backup_path), then the new content goes to a temporary file in
    /// the same folder, is flushed to disk and renamed over the file. If the file changed on
    /// disk since it was loaded, nothing is written ([`Error::ConfigChanged`]).
    pub fn save(&mut self) -> Result<SaveReport> {
        let text = self.doc.to_string();
        // Never write what would not load back.
        ModelsConfig::parse(&text, &self.path)?;
        let current = match fs::read_to_string(&self.path) {
            Ok(current) => Some(current),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(Error::io(&self.path, err)),
        };
        if current != self.loaded {
            return Err(Error::ConfigChanged {
                path: self.path.clone(),
            });
        }
        if current.as_deref() == Some(text.as_str()) {
            return Ok(SaveReport::default());
        }
        let backup = match &current {
            Some(old) => {
                let backup = self.backup_path();
                write_atomic(&backup, old.as_bytes())?;
                Some(backup)
            }
            None => {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
                None
            }
        };
        write_atomic(&self.path, text.as_bytes())?;
        self.loaded = Some(text);
        Ok(SaveReport {
            written: true,
            backup,
        })
    }
}

/// `path` made absolute against the current folder, symlinks kept (a hub snapshot's link is
/// the stable name; its blob is not).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // "bé = " is 6 bytes but 5 characters.
        assert_eq!(line_column(text, 12), (2, 6));
    }

    #[test]
    fn aliases_must_be_free() {
        let err = ModelsConfig::parse(
            "[models.telea]\naliases = [\"big-lama\"]\n",
            Path::new("m.toml"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "m.toml:2:12: models.telea: alias `big-lama` is already an alias of the catalog's `lama`"
        );
        let err = ModelsConfig::parse(
            "[models.a]\naliases = [\"x\"]\n[models.b]\naliases = [\"x\"]\n",
            Path::new("m.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("m.toml:4:12: "), "{err}");
    }

    #[test]
    fn values_are_checked_where_they_are() {
        let err = ModelsConfig::parse("[models.lama]\ndevice = \"cdua\"\n", Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.toml:2:10: models.lama: unknown device `cdua`")
                && err.contains("did you mean `cuda`"),
            "{err}"
        );
        let err = ModelsConfig::parse(
            "[[roots]]\npath = \"~/models\"\nkind = \"loose\"\n",
            Path::new("m.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`~` is not expanded"), "{err}");
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let config = ModelsConfig::parse(
            "[[roots]]\npath = \"models\"\nkind = \"project\"\n",
            Path::new("/etc/inpaint/models.toml"),
        )
        .unwrap();
        assert_eq!(
            config.roots,
            vec![ModelRoot::project("/etc/inpaint/models")]
        );
    }
}
