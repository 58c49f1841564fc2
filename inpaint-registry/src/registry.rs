//! The catalog, the models config and what discovery found, seen together: one namespace of
//! model ids and aliases, and the plan for loading one.

use std::path::{Path, PathBuf};

use inpaint_models::ModelOptions;
use inpaint_models::onnx::{Architecture, DevicePolicy, OutputRange};

use crate::catalog::{self, ModelArchitecture};
use crate::config::{ModelParams, ModelsConfig, RemoteParams};
use crate::discover::{Discovery, ModelInfo, RootKind, Scanner};
use crate::error::{Error, Result};
use crate::names::{DefaultSource, Matched, Name, resolve_in};
use crate::probe::Probe;

/// A name resolved to a model id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolution {
    /// The model's id.
    pub id: String,
    /// The name given (`None` when the default was used).
    pub requested: Option<String>,
    /// How it matched.
    pub matched: Matched,
}

/// Everything needed to load one model: what [`ModelManager::load`](crate::ModelManager::load)
/// takes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoadPlan {
    /// The model's id (or the file's path, for [`from_file`](Self::from_file)).
    pub id: String,
    /// What runs it.
    pub architecture: ModelArchitecture,
    /// The model file (ONNX models), or folder (diffusion models).
    pub path: Option<PathBuf>,
    /// Which device to run on.
    pub device: DevicePolicy,
    /// Parameters of the classical models.
    pub options: ModelOptions,
    /// `lama-dynamic`: the output range (else the file's declaration, else 0–1 checked).
    pub output_range: Option<OutputRange>,
    /// `mat`: the noise seed (else `inpaint-models`' default).
    pub seed: Option<u64>,
    /// Where the forward pass runs, for a remote model (then `path` is `None`).
    pub remote: Option<RemoteParams>,
}

impl LoadPlan {
    /// A classical model by catalog name or alias (strict).
    pub fn classical(name: &str) -> Result<LoadPlan> {
        let entry = catalog::resolve(Some(name))?.entry;
        match entry.architecture {
            ModelArchitecture::Classical(_) => Ok(LoadPlan::new(entry.id, entry.architecture)),
            _ => Err(Error::InvalidParameter {
                id: entry.id.into(),
                message: "not a classical model; it needs a file (use Registry::plan)".into(),
            }),
        }
    }

    /// The ONNX file at `path` as `architecture`, without probing it (the loader still checks
    /// the contract).
    pub fn onnx(path: impl Into<PathBuf>, architecture: Architecture) -> LoadPlan {
        let path = path.into();
        let mut plan = LoadPlan::new(
            &path.display().to_string(),
            ModelArchitecture::onnx(architecture),
        );
        plan.path = Some(path);
        plan
    }

    /// The model file at `path`, identified by content (through `scanner`'s cache), or the
    /// Stable Diffusion folder at `path` (one holding `model_index.json`, checked by
    /// [`diffusion::inspect`](crate::diffusion::inspect)). A file that fits no architecture is
    /// an [`Error::NotIdentified`] with the reason; it is never loaded to see.
    pub fn from_file(path: impl AsRef<Path>, scanner: &mut Scanner) -> Result<LoadPlan> {
        let path = path.as_ref();
        if path.join("model_index.json").is_file() {
            let folder = crate::diffusion::inspect(path)?;
            let mut plan = LoadPlan::new(
                &path.display().to_string(),
                ModelArchitecture::Diffusion {
                    family: folder.family,
                    unet_channels: folder.unet_channels,
                },
            );
            plan.path = Some(path.to_path_buf());
            return Ok(plan);
        }
        let probe = scanner.probe(path)?;
        let Some(architecture) = probe.architecture() else {
            let mut reason = probe.problem().unwrap_or_default();
            if let Probe::Safetensors(s) = &probe {
                if let Some(family) = s.kind.diffusion_family() {
                    reason.push_str(&format!(
                        ". To export it: {}",
                        crate::diffusion::export_command(path, family)
                    ));
                }
            }
            return Err(Error::NotIdentified {
                path: path.to_path_buf(),
                reason,
            });
        };
        let mut plan = LoadPlan::new(&path.display().to_string(), architecture);
        plan.path = Some(path.to_path_buf());
        if let Probe::Onnx(identity) = probe {
            plan.output_range = identity.output_range;
        }
        Ok(plan)
    }

    fn new(id: &str, architecture: ModelArchitecture) -> LoadPlan {
        let output_range = match architecture {
            ModelArchitecture::Onnx { output_range, .. } => output_range,
            ModelArchitecture::Classical(_)
            | ModelArchitecture::Api(_)
            | ModelArchitecture::Diffusion { .. } => None,
        };
        LoadPlan {
            id: id.to_string(),
            architecture,
            path: None,
            device: DevicePolicy::default(),
            options: ModelOptions::new(),
            output_range,
            seed: None,
            remote: None,
        }
    }

    /// Sets [`device`](Self::device).
    pub fn with_device(mut self, device: DevicePolicy) -> Self {
        self.device = device;
        self
    }

    /// Sets [`options`](Self::options).
    pub fn with_options(mut self, options: ModelOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets [`output_range`](Self::output_range).
    pub fn with_output_range(mut self, range: OutputRange) -> Self {
        self.output_range = Some(range);
        self
    }
}

/// The catalog, an optional models config and an optional scan result, as one namespace.
///
/// Names resolve in this order, with no fallback: an exact id (catalog, config, or
/// discovered), then an alias (catalog or config). The default model applies only when no
/// name is given: the config's `default_model`, else [`DEFAULT_MODEL`](crate::DEFAULT_MODEL).
#[derive(Debug, Clone, Copy, Default)]
pub struct Registry<'a> {
    config: Option<&'a ModelsConfig>,
    discovery: Option<&'a Discovery>,
}

impl<'a> Registry<'a> {
    /// The registry over the catalog, `config` and `discovery`.
    pub fn new(config: Option<&'a ModelsConfig>, discovery: Option<&'a Discovery>) -> Self {
        Registry { config, discovery }
    }

    fn names(&self) -> Vec<Name<'a>> {
        let mut names = catalog::catalog_names();
        if let Some(config) = self.config {
            for (id, params) in &config.models {
                names.push(Name {
                    name: id,
                    id,
                    alias: false,
                });
                for alias in &params.aliases {
                    names.push(Name {
                        name: alias,
                        id,
                        alias: true,
                    });
                }
            }
        }
        if let Some(discovery) = self.discovery {
            for model in &discovery.models {
                names.push(Name {
                    name: &model.id,
                    id: &model.id,
                    alias: false,
                });
            }
        }
        names
    }

    /// Resolves `name` strictly; `None` gives the default model, and
    /// [`Resolution::matched`] says so.
    pub fn resolve(&self, name: Option<&str>) -> Result<Resolution> {
        let names = self.names();
        match name {
            Some(name) => {
                let (id, matched) = resolve_in(name, &names)?;
                Ok(Resolution {
                    id,
                    requested: Some(name.to_string()),
                    matched,
                })
            }
            None => {
                let configured = self
                    .config
                    .and_then(|c| c.default_model.as_deref().map(|d| (c, d.to_string())));
                match configured {
                    Some((config, default)) => {
                        let (id, _) = resolve_in(&default, &names).map_err(|err| {
                            let (line, column) = config.default_at;
                            Error::Config {
                                path: config.source.clone(),
                                line,
                                column,
                                message: format!("default_model: {err}"),
                            }
                        })?;
                        Ok(Resolution {
                            id,
                            requested: None,
                            matched: Matched::Default {
                                source: DefaultSource::Config,
                            },
                        })
                    }
                    None => Ok(Resolution {
                        id: catalog::DEFAULT_MODEL.to_string(),
                        requested: None,
                        matched: Matched::Default {
                            source: DefaultSource::Catalog,
                        },
                    }),
                }
            }
        }
    }

    /// The discovered model with this id.
    pub fn found(&self, id: &str) -> Option<&'a ModelInfo> {
        self.discovery.and_then(|d| d.get(id))
    }

    /// Resolves `name` and works out how to load it: the architecture (config, else
    /// catalog, else the file's content), the file (config `path`, else where discovery
    /// found it), the device and parameters (config). A catalog model that is not on disk
    /// is an [`Error::NotInstalled`] saying where it was looked for.
    pub fn plan(&self, name: Option<&str>) -> Result<LoadPlan> {
        let resolution = self.resolve(name)?;
        let id = resolution.id;
        let params = self.config.and_then(|c| c.models.get(&id));
        let entry = catalog::entry(&id);
        let found = self.found(&id);

        let architecture = params
            .and_then(|p| p.architecture)
            .or(entry.map(|e| e.architecture))
            .or(found.and_then(|f| f.architecture));
        let Some(architecture) = architecture else {
            let reason = match found {
                Some(found) if !found.problems.is_empty() => found.problems.join("; "),
                _ => "no architecture: set `architecture` in the models config".to_string(),
            };
            return Err(Error::Unsupported { id, reason });
        };

        let mut plan = LoadPlan::new(&id, architecture);
        // Parameters first: a mistake in the config shows even when the file is missing.
        if let Some(params) = params {
            apply_params(&mut plan, params)?;
        }
        if let Some(remote) = params.and_then(|p| p.remote.as_ref()) {
            if let ModelArchitecture::Classical(name) = architecture {
                return Err(Error::InvalidParameter {
                    id,
                    message: format!("{name} runs in this process; it cannot be remote"),
                });
            }
            // The server holds the file; the config checked there is no `path`.
            plan.remote = Some(remote.clone());
        } else if let ModelArchitecture::Onnx { .. } | ModelArchitecture::Diffusion { .. } =
            architecture
        {
            let path = self.model_file(&id, params, found)?;
            let named = params.and_then(|p| p.architecture).is_some();
            check_kind(&id, architecture, &path, named)?;
            plan.path = Some(path);
        } else if let Some(path) = params.and_then(|p| p.path.as_ref()) {
            return Err(Error::InvalidParameter {
                id,
                message: format!(
                    "`path = {}` given, but {architecture} takes no file",
                    path.display()
                ),
            });
        }
        Ok(plan)
    }

    /// The file of ONNX model `id` (the folder of a diffusion model).
    fn model_file(
        &self,
        id: &str,
        params: Option<&ModelParams>,
        found: Option<&ModelInfo>,
    ) -> Result<PathBuf> {
        if let Some(path) = params.and_then(|p| p.path.as_ref()) {
            // A file or a folder: `check_kind` says whether it is the right one.
            if path.exists() {
                return Ok(path.clone());
            }
            return Err(Error::NotInstalled {
                id: id.into(),
                missing: vec![path.clone()],
                reason: if params.is_some_and(|p| p.missing) {
                    "its file vanished (the models config marks it `missing`)".into()
                } else {
                    "the file named by `path` in the models config is not there".into()
                },
            });
        }
        if let Some(found) = found {
            if !found.problems.is_empty() {
                return Err(Error::Unsupported {
                    id: id.into(),
                    reason: found.problems.join("; "),
                });
            }
            return Ok(found.path().to_path_buf());
        }
        let entry = catalog::entry(id);
        // The config's roots, else the ones the scan looked at.
        let roots = match self.config {
            Some(config) if !config.roots.is_empty() => config.roots.as_slice(),
            _ => self
                .discovery
                .map(|d| d.roots.as_slice())
                .unwrap_or_default(),
        };
        let project_roots: Vec<&Path> = roots
            .iter()
            .filter(|r| r.kind == RootKind::Project)
            .map(|r| r.path.as_path())
            .collect();
        let is_folder =
            entry.is_some_and(|e| matches!(e.architecture, ModelArchitecture::Diffusion { .. }));
        let missing = match entry {
            // A pipeline is one folder: name it, not its 14 files.
            Some(entry) if is_folder => project_roots
                .iter()
                .map(|root| entry.install_dir(root))
                .collect(),
            Some(entry) => project_roots
                .iter()
                .flat_map(|root| {
                    entry
                        .files
                        .iter()
                        .map(|f| entry.install_dir(root).join(f.file_name))
                })
                .collect(),
            None => Vec::new(),
        };
        let reason = match entry {
            Some(entry) if is_folder => format!(
                "not downloaded (download it, e.g. `models download {}`, or put the pipeline's \
                 folder in Optimum's ONNX layout at <model folder>/{}/)",
                entry.id, entry.id
            ),
            Some(entry) => format!(
                "not downloaded (download it, e.g. `models download {}`, or put {} in \
                 <model folder>/{}/)",
                entry.id,
                entry
                    .files
                    .iter()
                    .map(|f| f.file_name)
                    .collect::<Vec<_>>()
                    .join(", "),
                entry.id
            ),
            None => "the models config names it without a `path`, and no root holds it".into(),
        };
        Err(Error::NotInstalled {
            id: id.into(),
            missing,
            reason,
        })
    }
}

/// Checks that `path` is what `architecture` runs: a Stable Diffusion folder for `sd`,
/// `sd-inpaint`, `sdxl` and `sdxl-inpaint` — of that family with a UNet of that kind when the
/// models config `named` the architecture — and a file for an ONNX architecture.
fn check_kind(id: &str, architecture: ModelArchitecture, path: &Path, named: bool) -> Result<()> {
    let is_pipeline = path.join("model_index.json").is_file();
    let refuse = |message: String| {
        Err(Error::InvalidParameter {
            id: id.into(),
            message,
        })
    };
    match architecture {
        ModelArchitecture::Diffusion {
            family,
            unet_channels,
        } => {
            if !is_pipeline {
                let what = if path.is_dir() {
                    "a folder without model_index.json"
                } else {
                    "a file"
                };
                return refuse(format!(
                    "`{}` is a Stable Diffusion folder in Optimum's ONNX layout (one holding \
                     model_index.json), but {} is {what}",
                    architecture.name(),
                    path.display()
                ));
            }
            if !named {
                return Ok(());
            }
            let folder = crate::diffusion::inspect(path)?;
            let found = folder.unet_channels;
            let actual = ModelArchitecture::Diffusion {
                family: folder.family,
                unet_channels: found,
            };
            if folder.family != family {
                return refuse(format!(
                    "`architecture = \"{}\"` names a {family} pipeline, but {} holds a {} one: \
                     set `architecture = \"{}\"`",
                    architecture.name(),
                    path.display(),
                    folder.family,
                    actual.name()
                ));
            }
            if found != unet_channels {
                return refuse(format!(
                    "`architecture = \"{}\"` names a {unet_channels}-channel UNet, but the UNet \
                     in {} takes {found} channels ({}): set `architecture = \"{}\"`",
                    architecture.name(),
                    path.display(),
                    if found == 9 {
                        "an inpainting UNet"
                    } else {
                        "a text-to-image UNet"
                    },
                    actual.name()
                ));
            }
            Ok(())
        }
        ModelArchitecture::Onnx { .. } if path.is_dir() => {
            let hint = if is_pipeline {
                " holding a Stable Diffusion pipeline: set `architecture = \"sd-inpaint\"` (or \
                 \"sd\" for a text-to-image UNet)"
            } else {
                ""
            };
            refuse(format!(
                "`{}` runs one ONNX file, but {} is a folder{hint}",
                architecture.name(),
                path.display()
            ))
        }
        _ => Ok(()),
    }
}

/// Applies a config entry's parameters to `plan`, refusing those the model does not take.
fn apply_params(plan: &mut LoadPlan, params: &ModelParams) -> Result<()> {
    let refuse = |what: &str| Error::InvalidParameter {
        id: plan.id.clone(),
        message: format!(
            "the {what} parameter does not apply to {}",
            plan.architecture
        ),
    };
    if let Some(device) = params.device {
        plan.device = DevicePolicy::for_flag(device);
    }
    match plan.architecture {
        ModelArchitecture::Api(_) => {
            for (name, set) in [
                ("device", params.device.is_some()),
                ("output_range", params.output_range.is_some()),
                ("radius", params.radius.is_some()),
                ("patch_size", params.patch_size.is_some()),
                ("seed", params.seed.is_some()),
            ] {
                if set {
                    return Err(refuse(name));
                }
            }
        }
        ModelArchitecture::Classical(name) => {
            if params.output_range.is_some() {
                return Err(refuse("output_range"));
            }
            let mut options = ModelOptions::new();
            if let Some(radius) = params.radius {
                options = options.with_radius(radius);
            }
            if let Some(size) = params.patch_size {
                options = options.with_patch_size(size);
            }
            if let Some(seed) = params.seed {
                options = options.with_seed(seed);
            }
            // Let the model crate say which of these the algorithm takes, now rather than at
            // load.
            inpaint_models::by_name(name, &options).map_err(|err| Error::InvalidParameter {
                id: plan.id.clone(),
                message: err.to_string(),
            })?;
            plan.options = options;
        }
        ModelArchitecture::Onnx { architecture, .. } => {
            if params.radius.is_some() {
                return Err(refuse("radius"));
            }
            if params.patch_size.is_some() {
                return Err(refuse("patch_size"));
            }
            if params.output_range.is_some() && architecture != Architecture::LamaDynamic {
                return Err(refuse("output_range"));
            }
            if params.seed.is_some() && architecture != Architecture::Mat {
                return Err(refuse("seed"));
            }
            plan.output_range = params.output_range.or(plan.output_range);
            plan.seed = params.seed;
        }
        ModelArchitecture::Diffusion { .. } => {
            // The seed of a diffusion model comes with each request (IOPaint's `sd_seed`).
            for (name, set) in [
                ("output_range", params.output_range.is_some()),
                ("radius", params.radius.is_some()),
                ("patch_size", params.patch_size.is_some()),
                ("seed", params.seed.is_some()),
            ] {
                if set {
                    return Err(refuse(name));
                }
            }
        }
    }
    Ok(())
}
