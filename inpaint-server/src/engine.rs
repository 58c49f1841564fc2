//! The pool of model instances: which model is served, the queue in front of it, and
//! switching to another model without disturbing a running request.
//!
//! * `workers` instances of the same model, each behind its own lock (ONNX Runtime's `run`
//!   takes `&mut`, so one request per instance at a time).
//! * Admission: at most `workers + queue` requests are inside at once; the next one gets a
//!   503 with `Retry-After` at once, rather than waiting without bound.
//! * A run holds a read lock on the served model for its whole duration, released only when
//!   the blocking work finishes (even if its HTTP request timed out); a switch takes the
//!   write lock, so it starts once running requests are done, and requests that arrive
//!   meanwhile wait for the new model.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedRwLockReadGuard, OwnedSemaphorePermit, RwLock, Semaphore};

use inpaint_core::InpaintModel;
use inpaint_models::onnx::{Device, DevicePolicy, OnnxOptions};
use inpaint_openai::{OpenAiCompat, OpenAiConfig};
use inpaint_registry::{
    ActiveModel, CATALOG, LoadPlan, ModelArchitecture, ModelManager, ModelRoot, Registry, Scanner,
    catalog,
};

use crate::error::{ApiError, Error, Result};
use crate::schema::{ModelInfo, ModelType};

/// The served model, as the API describes it.
#[derive(Debug, Clone)]
pub struct Served {
    /// IOPaint's description.
    pub info: ModelInfo,
    /// The registry's (device, execution report, plan).
    pub active: ActiveModel,
}

/// Where models are found and how they are loaded.
pub(crate) struct Models {
    roots: Vec<ModelRoot>,
    scanner: Mutex<Scanner>,
    device: Device,
    onnx: OnnxOptions,
    openai: OpenAiConfig,
}

impl Models {
    pub(crate) fn new(
        dirs: &[PathBuf],
        device: Device,
        onnx: OnnxOptions,
        openai: OpenAiConfig,
    ) -> Self {
        let roots = if dirs.is_empty() {
            ModelRoot::defaults_from_env()
        } else {
            dirs.iter().map(ModelRoot::project).collect()
        };
        Models {
            roots,
            scanner: Mutex::new(Scanner::new()),
            device,
            onnx,
            openai,
        }
    }

    /// Scans the model folders (cached by path, size and time) and lists what can be served:
    /// the classical models, every usable model found, then the remote `openai-compat`
    /// (always: it needs no file; its key is checked when it is switched to).
    pub(crate) fn list(&self) -> Vec<ModelInfo> {
        let discovery = self.scan();
        let mut infos: Vec<ModelInfo> = CATALOG
            .iter()
            .filter(|e| matches!(e.architecture, ModelArchitecture::Classical(_)))
            .map(|e| ModelInfo::erase(e.id, e.id))
            .collect();
        for model in discovery.models.iter().filter(|m| m.is_usable()) {
            if infos.iter().any(|i| i.name == model.id) {
                continue;
            }
            infos.push(describe(
                &model.id,
                Some(model.path().display().to_string()),
                model.architecture,
            ));
        }
        for entry in CATALOG
            .iter()
            .filter(|e| matches!(e.architecture, ModelArchitecture::Api(_)))
        {
            infos.push(describe(entry.id, None, Some(entry.architecture)));
        }
        infos
    }

    fn scan(&self) -> inpaint_registry::Discovery {
        self.scanner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .scan(&self.roots)
    }

    /// How to load `name` (`None`: the default model) on the configured device.
    pub(crate) fn plan(&self, name: Option<&str>) -> Result<LoadPlan, inpaint_registry::Error> {
        // A classical catalog model needs no scan of the model folders.
        let classical = catalog::resolve(name)
            .ok()
            .filter(|r| matches!(r.entry.architecture, ModelArchitecture::Classical(_)));
        let plan = match classical {
            Some(resolved) => LoadPlan::classical(resolved.entry.id)?,
            None => {
                let discovery = self.scan();
                Registry::new(None, Some(&discovery)).plan(name)?
            }
        };
        Ok(plan.with_device(DevicePolicy::for_flag(self.device)))
    }

    fn manager(&self) -> ModelManager {
        ModelManager::new().with_onnx_options(self.onnx.clone())
    }

    /// Loads `plan` into `manager`; `openai-compat`, which the manager does not build, is
    /// built here from the server's options and handed to it. On failure the loaded model
    /// stays.
    fn load(&self, manager: &mut ModelManager, plan: LoadPlan) -> Result<ActiveModel> {
        if !matches!(plan.architecture, ModelArchitecture::Api(_)) {
            return Ok(manager.load(plan)?.clone());
        }
        if let Some(active) = manager.active().filter(|a| a.plan == plan) {
            return Ok(active.clone());
        }
        let model = OpenAiCompat::new(self.openai.clone())?;
        let remote = format!("remote:{}", model.config().base_url);
        Ok(manager.adopt(plan, Box::new(model), Some(remote)).clone())
    }
}

/// IOPaint's `ModelInfo` for model `id`: a prompt model when its architecture or the catalog
/// says so.
fn describe(id: &str, path: Option<String>, architecture: Option<ModelArchitecture>) -> ModelInfo {
    let takes_prompt = catalog::entry(id).is_some_and(|e| e.needs_prompt);
    describe_as(id, path, architecture, takes_prompt)
}

/// The Settings tab IOPaint's app shows a model under: a Stable Diffusion pipeline by its
/// family and UNet (IOPaint's `diffusers_sd_inpaint` / `diffusers_sdxl_inpaint` for an
/// inpainting UNet, `diffusers_sd` / `diffusers_sdxl` for a plain one); any other prompt model
/// as SD inpainting; the rest as erase models.
fn model_type(architecture: Option<ModelArchitecture>, takes_prompt: bool) -> ModelType {
    use inpaint_models::diffusion::DiffusionFamily::Sdxl;
    match architecture {
        Some(ModelArchitecture::Diffusion {
            family: Sdxl,
            unet_channels: 9,
        }) => ModelType::DiffusersSdxlInpaint,
        Some(ModelArchitecture::Diffusion { family: Sdxl, .. }) => ModelType::DiffusersSdxl,
        Some(ModelArchitecture::Diffusion {
            unet_channels: 9, ..
        }) => ModelType::DiffusersSdInpaint,
        Some(ModelArchitecture::Diffusion { .. }) => ModelType::DiffusersSd,
        _ if takes_prompt => ModelType::DiffusersSdInpaint,
        _ => ModelType::Inpaint,
    }
}

fn describe_as(
    id: &str,
    path: Option<String>,
    architecture: Option<ModelArchitecture>,
    takes_prompt: bool,
) -> ModelInfo {
    let model_type = model_type(architecture, takes_prompt);
    let mut info = ModelInfo::erase(id, path.unwrap_or_else(|| id.to_owned()));
    if model_type != ModelType::Inpaint {
        info.model_type = model_type;
        info.need_prompt = true;
        // A remote images API has no strength (nor steps, sampler or seed): it paints the
        // masked area from the prompt.
        info.support_strength = !matches!(architecture, Some(ModelArchitecture::Api(_)));
    }
    // The pipeline's extender runs on the models that see the whole image: the Stable
    // Diffusion pipelines (IOPaint offers it for its SD and SDXL models).
    info.support_outpainting = matches!(architecture, Some(ModelArchitecture::Diffusion { .. }));
    info
}

/// The served model, as its architecture and the loaded model (`ModelSpec::takes_prompt`)
/// describe it.
fn describe_active(active: &ActiveModel, manager: &mut ModelManager) -> Served {
    let path = active.path.as_ref().map(|p| p.display().to_string());
    let takes_prompt = manager.model_mut().is_some_and(|m| m.spec().takes_prompt);
    Served {
        info: describe_as(&active.id, path, Some(active.architecture), takes_prompt),
        active: active.clone(),
    }
}

/// How long a request waited and ran.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timing {
    /// From arrival until a model instance was free.
    pub(crate) queue_wait: Duration,
    /// The job itself.
    pub(crate) run: Duration,
}

/// The pool.
pub(crate) struct Engine {
    pub(crate) models: Models,
    slots: Vec<Mutex<ModelManager>>,
    free: Mutex<Vec<usize>>,
    workers: Arc<Semaphore>,
    admission: Arc<Semaphore>,
    queue: usize,
    served: Arc<RwLock<Served>>,
}

/// A place in the queue ([`Engine::admit`]).
pub(crate) struct Admission {
    permit: OwnedSemaphorePermit,
    served: OwnedRwLockReadGuard<Served>,
}

/// Everything a running job holds; dropped when the blocking work ends, whatever happened
/// to the request that started it.
struct Lease {
    engine: Arc<Engine>,
    slot: usize,
    _served: OwnedRwLockReadGuard<Served>,
    _worker: OwnedSemaphorePermit,
    _admission: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.engine
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.slot);
    }
}

impl Engine {
    /// Loads `name` (the default model when `None`) into `workers` instances.
    pub(crate) fn start(
        models: Models,
        name: Option<&str>,
        workers: usize,
        queue: usize,
    ) -> Result<Self> {
        if workers == 0 {
            return Err(Error::invalid_option("--workers must be at least 1"));
        }
        let plan = models.plan(name)?;
        let mut slots = Vec::new();
        let mut first = None;
        for _ in 0..workers {
            let mut manager = models.manager();
            let active = models.load(&mut manager, plan.clone())?;
            if first.is_none() {
                first = Some(describe_active(&active, &mut manager));
            }
            slots.push(Mutex::new(manager));
        }
        let served = first.ok_or_else(|| Error::invalid_option("no worker started"))?;
        Ok(Engine {
            models,
            slots,
            free: Mutex::new((0..workers).rev().collect()),
            workers: Arc::new(Semaphore::new(workers)),
            admission: Arc::new(Semaphore::new(workers + queue)),
            queue,
            served: Arc::new(RwLock::new(served)),
        })
    }

    /// The served model.
    pub(crate) async fn served(&self) -> Served {
        self.served.read().await.clone()
    }

    /// A place in the queue, or a 503 at once when it is full; then a hold on the served
    /// model (waiting while a switch is under way). Taken before the request's pictures are
    /// decoded, so that decoding is bounded too, and a switch waits for requests that are
    /// being decoded: each runs on the model that was served when it was admitted.
    pub(crate) async fn admit(&self) -> Result<Admission, ApiError> {
        let permit = self.admission.clone().try_acquire_owned().map_err(|_| {
            ApiError::unavailable(
                format!(
                    "busy: {} requests running and {} waiting; try again shortly",
                    self.slots.len(),
                    self.queue
                ),
                1,
            )
        })?;
        let served = self.served.clone().read_owned().await;
        Ok(Admission { permit, served })
    }

    /// Runs `job` on a free instance of the served model, after waiting in the queue.
    /// `job` gets the model and the served model's description.
    pub(crate) async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        admission: Admission,
        job: impl FnOnce(&mut (dyn InpaintModel + Send), &Served) -> R + Send + 'static,
    ) -> Result<(R, Timing), ApiError> {
        let arrived = Instant::now();
        let Admission {
            permit: admission,
            served,
        } = admission;
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::unavailable("the server is stopping", 1))?;
        let slot = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .ok_or_else(|| ApiError::internal("no free model instance behind a free permit"))?;
        let queue_wait = arrived.elapsed();
        let lease = Lease {
            engine: self.clone(),
            slot,
            _served: served,
            _worker: worker,
            _admission: admission,
        };
        let handle = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let description = (*lease._served).clone();
            let mut manager = lease.engine.slots[lease.slot]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let output = manager.model_mut().map(|model| job(model, &description));
            drop(manager);
            drop(lease);
            (output, started.elapsed())
        });
        match handle.await {
            Ok((Some(output), run)) => Ok((output, Timing { queue_wait, run })),
            Ok((None, _)) => Err(ApiError::internal("no model is loaded")),
            Err(err) => Err(ApiError::internal(format!("the model run failed: {err}"))),
        }
    }

    /// Switches every instance to `name`, once running requests are done. If any instance
    /// fails to load it, those already switched go back, and the old model keeps serving.
    pub(crate) async fn switch(self: &Arc<Self>, name: &str) -> Result<Served, ApiError> {
        let mut served = self.served.clone().write_owned().await;
        let this = self.clone();
        let name = name.to_owned();
        let result = tokio::task::spawn_blocking(move || -> Result<Served, ApiError> {
            let plan = this.models.plan(Some(&name))?;
            if plan == served.active.plan {
                return Ok(served.clone());
            }
            let old = served.active.plan.clone();
            let mut loaded = None;
            for (i, slot) in this.slots.iter().enumerate() {
                let mut manager = slot.lock().unwrap_or_else(PoisonError::into_inner);
                match this.models.load(&mut manager, plan.clone()) {
                    Ok(active) => {
                        if loaded.is_none() {
                            loaded = Some(describe_active(&active, &mut manager));
                        }
                    }
                    Err(err) => {
                        drop(manager);
                        // Instances before `i` run the new model now: put the old one back.
                        for slot in &this.slots[..i] {
                            let mut manager = slot.lock().unwrap_or_else(PoisonError::into_inner);
                            if let Err(rollback) = this.models.load(&mut manager, old.clone()) {
                                tracing::error!(
                                    "rolling back to `{}` failed: {}",
                                    old.id,
                                    inpaint_core::error::full_message(&rollback)
                                );
                            }
                        }
                        return Err(err.into());
                    }
                }
            }
            *served = loaded.ok_or_else(|| ApiError::internal("no model instance"))?;
            Ok(served.clone())
        })
        .await;
        match result {
            Ok(result) => result,
            Err(err) => Err(ApiError::internal(format!("the switch failed: {err}"))),
        }
    }
}
