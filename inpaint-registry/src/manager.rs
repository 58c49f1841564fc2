//! Holding one loaded model, and switching to another without losing it on failure.

use std::path::{Path, PathBuf};

use inpaint_core::InpaintModel;
use inpaint_models::diffusion::{DiffusionOptions, StableDiffusion};
use inpaint_models::onnx::{Device, DevicePolicy, ExecutionReport, OnnxModel, OnnxOptions};

use crate::catalog::ModelArchitecture;
use crate::config::RemoteParams;
use crate::error::{Error, Result};
use crate::registry::LoadPlan;

/// What to do with the loaded model while another loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchPolicy {
    /// Load the new model while the old one stays loaded; drop the old one only once the new
    /// one works. Rollback is certain (the old model is never touched), at the cost of both
    /// models in memory during the switch. The default: the models here are 0.1–0.5 GB, and
    /// a failed reload (file gone, GPU taken) would leave nothing loaded.
    #[default]
    KeepUntilLoaded,
    /// Drop the old model first, so peak memory is one model (IOPaint's order); if the new
    /// one fails, reload the old one from its plan. If that fails too, nothing is loaded and
    /// the error says both why.
    ReleaseFirst,
}

/// The loaded model: which, from where, on what.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActiveModel {
    /// Its id.
    pub id: String,
    /// What runs it.
    pub architecture: ModelArchitecture,
    /// Its file (ONNX models) or folder (diffusion models).
    pub path: Option<PathBuf>,
    /// The device it runs on (for a remote model, [`Device::Cpu`]: the pipeline's own part;
    /// the forward pass runs where [`remote`](Self::remote) says).
    pub device: Device,
    /// For a remote model, where its forward pass runs: `remote:<endpoint>`.
    pub remote: Option<String>,
    /// For ONNX models, ONNX Runtime's execution report (the device, and why others were
    /// refused).
    pub execution: Option<String>,
    /// The plan it was loaded from (used to reload it).
    pub plan: LoadPlan,
}

struct Loaded {
    model: Box<dyn InpaintModel + Send>,
    info: ActiveModel,
}

impl Loaded {
    /// A model loaded from `path` on ONNX Runtime, which ran on `report`'s device.
    fn on_runtime(
        plan: &LoadPlan,
        path: &Path,
        model: Box<dyn InpaintModel + Send>,
        report: ExecutionReport,
    ) -> Self {
        Loaded {
            model,
            info: ActiveModel {
                id: plan.id.clone(),
                architecture: plan.architecture,
                path: Some(path.to_path_buf()),
                device: report.device,
                remote: None,
                execution: Some(report.to_string()),
                plan: plan.clone(),
            },
        }
    }
}

/// Holds at most one loaded model and switches between models with rollback.
///
/// ```
/// use inpaint_registry::{LoadPlan, ModelManager};
///
/// let mut manager = ModelManager::new();
/// manager.load(LoadPlan::classical("telea")?)?;
/// assert_eq!(manager.active().unwrap().id, "telea");
/// // A broken plan: the error says `telea` is still loaded, and it is.
/// let broken = LoadPlan::onnx("/no/such/file.onnx", inpaint_models::onnx::Architecture::Lama);
/// let err = manager.load(broken).unwrap_err();
/// assert!(err.to_string().contains("`telea` is still loaded"), "{err}");
/// assert_eq!(manager.active().unwrap().id, "telea");
/// # Ok::<(), inpaint_registry::Error>(())
/// ```
pub struct ModelManager {
    loaded: Option<Loaded>,
    policy: SwitchPolicy,
    onnx: OnnxOptions,
    diffusion: DiffusionOptions,
}

impl std::fmt::Debug for ModelManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelManager")
            .field("active", &self.active())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for ModelManager {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelManager {
    /// No model loaded; [`SwitchPolicy::KeepUntilLoaded`]; ONNX Runtime found as
    /// [`OnnxOptions::default`] finds it.
    pub fn new() -> Self {
        ModelManager {
            loaded: None,
            policy: SwitchPolicy::default(),
            onnx: OnnxOptions::default(),
            diffusion: DiffusionOptions::default(),
        }
    }

    /// Sets the switch policy.
    pub fn with_switch_policy(mut self, policy: SwitchPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the base ONNX options (runtime search, session settings); each plan's device,
    /// output range and seed are applied on top.
    pub fn with_onnx_options(mut self, options: OnnxOptions) -> Self {
        self.onnx = options;
        self
    }

    /// Sets what a diffusion model is loaded with beyond the ONNX options (stages loaded on
    /// demand, the memory check, guidance batching); its `onnx` field is replaced by the
    /// manager's ONNX options with the plan's device.
    pub fn with_diffusion_options(mut self, options: DiffusionOptions) -> Self {
        self.diffusion = options;
        self
    }

    /// The loaded model's description, if one is loaded.
    pub fn active(&self) -> Option<&ActiveModel> {
        self.loaded.as_ref().map(|l| &l.info)
    }

    /// The loaded model, to run (e.g. with [`inpaint_core::inpaint`]).
    pub fn model_mut(&mut self) -> Option<&mut (dyn InpaintModel + Send + 'static)> {
        self.loaded.as_mut().map(|l| l.model.as_mut())
    }

    /// Holds `model`, built by the caller, as the model of `plan`, dropping the loaded one:
    /// for the models this manager does not build ([`ModelArchitecture::Api`]:
    /// `openai-compat`, whose key, budget and ledger belong to `inpaint-openai`). `remote`
    /// says where its forward pass runs ([`ActiveModel::remote`]); the pipeline's part runs
    /// on the CPU. Building it first and adopting it once built keeps the old model loaded
    /// when building fails.
    ///
    /// ```
    /// use inpaint_registry::{ModelManager, Registry};
    ///
    /// let plan = Registry::new(None, None).plan(Some("openai-compat"))?;
    /// let mut manager = ModelManager::new();
    /// assert!(manager.load(plan.clone()).is_err()); // not the manager's to build
    /// // Built elsewhere (a stand-in here), then held like any other model.
    /// let model = inpaint_models::by_name("telea", &Default::default()).unwrap();
    /// manager.adopt(plan, model, Some("remote:https://api.openai.com/v1".into()));
    /// assert_eq!(manager.active().unwrap().id, "openai-compat");
    /// assert!(manager.model_mut().is_some());
    /// # Ok::<(), inpaint_registry::Error>(())
    /// ```
    pub fn adopt(
        &mut self,
        plan: LoadPlan,
        model: Box<dyn InpaintModel + Send>,
        remote: Option<String>,
    ) -> &ActiveModel {
        let info = ActiveModel {
            id: plan.id.clone(),
            architecture: plan.architecture,
            path: plan.path.clone(),
            device: Device::Cpu,
            remote,
            execution: None,
            plan,
        };
        tracing::info!(id = %info.id, "model adopted");
        &self.loaded.insert(Loaded { model, info }).info
    }

    /// Drops the loaded model, freeing its memory; returns what it was.
    pub fn unload(&mut self) -> Option<ActiveModel> {
        self.loaded.take().map(|l| l.info)
    }

    /// Loads `plan`, replacing the loaded model. The same plan as the loaded one is a no-op.
    /// On failure the previous model stays loaded (see [`SwitchPolicy`]) and the error
    /// ([`Error::SwitchFailed`]) names it.
    pub fn load(&mut self, plan: LoadPlan) -> Result<&ActiveModel> {
        let _span = tracing::info_span!("manager_load", id = %plan.id).entered();
        if self.active().is_some_and(|a| a.plan == plan) {
            tracing::debug!("already loaded");
            return self.loaded_info();
        }
        match self.policy {
            SwitchPolicy::KeepUntilLoaded => match self.build(&plan) {
                Ok(loaded) => {
                    // The old model is dropped here, after the new one loaded.
                    self.loaded = Some(loaded);
                }
                Err(err) => {
                    return Err(Error::SwitchFailed {
                        requested: plan.id,
                        kept: self.active().map(|a| a.id.clone()),
                        source: Box::new(err),
                        rollback: None,
                    });
                }
            },
            SwitchPolicy::ReleaseFirst => {
                let previous = self.loaded.take().map(|l| l.info.plan);
                match self.build(&plan) {
                    Ok(loaded) => self.loaded = Some(loaded),
                    Err(err) => {
                        let (kept, rollback) = match previous {
                            None => (None, None),
                            Some(previous) => match self.build(&previous) {
                                Ok(reloaded) => {
                                    let id = reloaded.info.id.clone();
                                    self.loaded = Some(reloaded);
                                    (Some(id), None)
                                }
                                Err(rollback) => (None, Some(Box::new(rollback))),
                            },
                        };
                        return Err(Error::SwitchFailed {
                            requested: plan.id,
                            kept,
                            source: Box::new(err),
                            rollback,
                        });
                    }
                }
            }
        }
        let active = self.loaded_info()?;
        tracing::info!(
            architecture = active.architecture.name(),
            device = %active.device,
            "model active"
        );
        Ok(active)
    }

    /// The loaded model's description; only called where one is loaded (a borrow returned
    /// from inside `load`'s branches would keep `self` borrowed for the rest of it).
    fn loaded_info(&self) -> Result<&ActiveModel> {
        self.active().ok_or_else(|| Error::Unsupported {
            id: "(none)".into(),
            reason: "no model is loaded".into(),
        })
    }

    /// Builds the model of `plan`.
    fn build(&self, plan: &LoadPlan) -> Result<Loaded> {
        let load_error = |source| Error::Load {
            id: plan.id.clone(),
            source,
        };
        if let Some(remote) = &plan.remote {
            return self.build_remote(plan, remote);
        }
        match plan.architecture {
            ModelArchitecture::Api(name) => Err(Error::Unsupported {
                id: plan.id.clone(),
                reason: format!(
                    "`{name}` is a remote model: build it with inpaint-openai's OpenAiCompat \
                     (its key, budget and ledger are not the manager's to hold)"
                ),
            }),
            ModelArchitecture::Classical(name) => {
                match &plan.device {
                    DevicePolicy::Require(Device::Cpu) | DevicePolicy::Prefer(_) => {}
                    DevicePolicy::Require(device) => {
                        return Err(Error::Unsupported {
                            id: plan.id.clone(),
                            reason: format!("{name} runs on the CPU only, not on {device}"),
                        });
                    }
                }
                let model = inpaint_models::by_name(name, &plan.options).map_err(load_error)?;
                Ok(Loaded {
                    model,
                    info: ActiveModel {
                        id: plan.id.clone(),
                        architecture: plan.architecture,
                        path: None,
                        device: Device::Cpu,
                        remote: None,
                        execution: None,
                        plan: plan.clone(),
                    },
                })
            }
            ModelArchitecture::Onnx { architecture, .. } => {
                let Some(path) = &plan.path else {
                    return Err(Error::InvalidParameter {
                        id: plan.id.clone(),
                        message: "an ONNX model needs a file".into(),
                    });
                };
                if plan.options != inpaint_models::ModelOptions::new() {
                    return Err(Error::InvalidParameter {
                        id: plan.id.clone(),
                        message: "radius and patch size apply to classical models only".into(),
                    });
                }
                let mut options = self.onnx.clone().with_device(plan.device.clone());
                if let Some(range) = plan.output_range {
                    options = options.with_output_range(range);
                }
                if let Some(seed) = plan.seed {
                    options = options.with_seed(seed);
                }
                let model = OnnxModel::load(path, architecture, &options).map_err(load_error)?;
                let report = model.execution().clone();
                Ok(Loaded::on_runtime(plan, path, Box::new(model), report))
            }
            ModelArchitecture::Diffusion { .. } => {
                let Some(path) = &plan.path else {
                    return Err(Error::InvalidParameter {
                        id: plan.id.clone(),
                        message: "a diffusion model needs its folder".into(),
                    });
                };
                if plan.options != inpaint_models::ModelOptions::new() {
                    return Err(Error::InvalidParameter {
                        id: plan.id.clone(),
                        message: "radius and patch size apply to classical models only".into(),
                    });
                }
                let options = self
                    .diffusion
                    .clone()
                    .with_onnx(self.onnx.clone().with_device(plan.device.clone()));
                let model = StableDiffusion::load(path, &options).map_err(load_error)?;
                let report = model.execution().clone();
                Ok(Loaded::on_runtime(plan, path, Box::new(model), report))
            }
        }
    }

    /// Connects to the server of a remote `plan`.
    #[cfg(feature = "remote")]
    fn build_remote(&self, plan: &LoadPlan, remote: &RemoteParams) -> Result<Loaded> {
        use inpaint_models::remote::{RemoteModel, RemoteOptions};

        let ModelArchitecture::Onnx { architecture, .. } = plan.architecture else {
            return Err(Error::InvalidParameter {
                id: plan.id.clone(),
                message: format!("{} cannot be remote", plan.architecture),
            });
        };
        if let DevicePolicy::Require(device) = &plan.device {
            if *device != Device::Cpu {
                return Err(Error::Unsupported {
                    id: plan.id.clone(),
                    reason: format!(
                        "its forward pass runs on {}, whose devices the server chooses; \
                         {device} cannot be required here",
                        remote.endpoint
                    ),
                });
            }
        }
        let mut options = RemoteOptions::new(&remote.endpoint, &remote.remote_name)
            .with_seed(plan.seed.unwrap_or(self.onnx.seed));
        if let Some(version) = &remote.version {
            options = options.with_version(version);
        }
        if let Some(timeout) = remote.connect_timeout {
            options = options.with_connect_timeout(timeout);
        }
        if let Some(timeout) = remote.timeout {
            options = options.with_timeout(timeout);
        }
        if let Some(range) = plan.output_range {
            options = options.with_output_range(range);
        }
        let model = RemoteModel::connect(architecture, &options).map_err(|source| Error::Load {
            id: plan.id.clone(),
            source,
        })?;
        let device = model.device_name();
        Ok(Loaded {
            model: Box::new(model),
            info: ActiveModel {
                id: plan.id.clone(),
                architecture: plan.architecture,
                path: None,
                device: Device::Cpu,
                execution: Some(format!("{device} (model `{}`)", remote.remote_name)),
                remote: Some(device),
                plan: plan.clone(),
            },
        })
    }

    #[cfg(not(feature = "remote"))]
    fn build_remote(&self, plan: &LoadPlan, remote: &RemoteParams) -> Result<Loaded> {
        Err(Error::Unsupported {
            id: plan.id.clone(),
            reason: format!(
                "it is served by {}, and this build has no remote inference (feature `remote` \
                 of inpaint-registry)",
                remote.endpoint
            ),
        })
    }
}
