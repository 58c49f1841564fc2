//! Diffusion pipelines: their memory settings on `inpaint_model_options`, and loading a
//! pipeline folder (feature `onnx`).

use std::ptr;

use inpaint_models::diffusion::memory::MemoryLimit;

use crate::error::inpaint_error;
use crate::ffi::{Failure, call, try_mut};
use crate::model::{inpaint_model, inpaint_model_options};
use crate::status::inpaint_status;

/// Which memory a diffusion model's weights are checked against before loading: one of the
/// `INPAINT_MEMORY_LIMIT_*` values, for `inpaint_model_options_set_memory_limit`. New values
/// may appear in later versions.
pub type inpaint_memory_limit = u32;

/// The memory the system says is available when loading (`MemAvailable` in `/proc/meminfo`;
/// no check where that cannot be read, off Linux). The default.
pub const INPAINT_MEMORY_LIMIT_AVAILABLE: inpaint_memory_limit = 0;
/// A number of bytes, whatever the system says (a container's limit, a test).
pub const INPAINT_MEMORY_LIMIT_BYTES: inpaint_memory_limit = 1;
/// No check.
pub const INPAINT_MEMORY_LIMIT_UNCHECKED: inpaint_memory_limit = 2;

/// A diffusion pipeline's settings as C gave them; `None`: the default. They apply to
/// `inpaint_model_load_diffusion_with_options` only.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DiffusionSettings {
    on_demand: Option<bool>,
    memory_limit: Option<MemoryLimit>,
    cpu_arena: Option<bool>,
}

impl DiffusionSettings {
    /// The name of a setting that was given, if any (for "does not apply" errors).
    pub(crate) fn first_set(&self) -> Option<&'static str> {
        [
            ("load-stages-on-demand", self.on_demand.is_some()),
            ("memory limit", self.memory_limit.is_some()),
            ("CPU arena", self.cpu_arena.is_some()),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
    }
}

/// The Stable Diffusion folder at `dir` on `device`, with `settings`.
#[cfg(feature = "onnx")]
pub(crate) fn load(
    dir: &str,
    device: &str,
    settings: &DiffusionSettings,
) -> Result<inpaint_model, Failure> {
    use inpaint_models::diffusion::{DiffusionOptions, StableDiffusion};
    use inpaint_models::onnx::{Device, DevicePolicy, OnnxOptions, SessionOptions};

    let device: Device = device.parse()?;
    let mut session = SessionOptions::default();
    if let Some(arena) = settings.cpu_arena {
        session = session.with_cpu_arena(arena);
    }
    let onnx = OnnxOptions::default()
        .with_device(DevicePolicy::for_flag(device))
        .with_session(session);
    let mut options = DiffusionOptions::default().with_onnx(onnx);
    if let Some(on_demand) = settings.on_demand {
        options = options.with_load_stages_on_demand(on_demand);
    }
    if let Some(limit) = settings.memory_limit {
        options = options.with_memory_limit(limit);
    }
    let model = StableDiffusion::load(dir, &options)?;
    let report = model.execution().to_string();
    Ok(inpaint_model::new(Box::new(model), &report))
}

/// Without the `onnx` feature: `INPAINT_STATUS_UNSUPPORTED`, saying so.
#[cfg(not(feature = "onnx"))]
pub(crate) fn load(
    dir: &str,
    device: &str,
    _settings: &DiffusionSettings,
) -> Result<inpaint_model, Failure> {
    Err(Failure::new(
        inpaint_status::Unsupported,
        format!(
            "cannot load `{dir}` on {device}: this build of the inpaint library has no ONNX \
             support (build inpaint-ffi with its `onnx` feature, on by default)"
        ),
    ))
}

/// Applies `change` to the diffusion settings of `opts`; `err_out` receives its failure.
///
/// # Safety
///
/// `opts` is NULL or live options that no other call is using; `err_out` is NULL or valid
/// for writing one pointer.
unsafe fn set(
    opts: *mut inpaint_model_options,
    err_out: *mut *mut inpaint_error,
    change: impl FnOnce(&mut DiffusionSettings) -> Result<(), Failure>,
) -> inpaint_status {
    let body = || {
        // SAFETY: NULL or live, by the caller's guarantee.
        change(&mut unsafe { try_mut(opts, "opts") }?.diffusion)
    };
    // SAFETY: the caller guarantees `err_out` is NULL or writable.
    unsafe { call(err_out, body) }
}

impl inpaint_model_options {
    /// Diffusion pipelines (`inpaint_model_load_diffusion_with_options`): with `on_demand`
    /// true, only the UNet stays loaded between runs; the text encoders and the VAE are loaded
    /// for their stage of each run and freed after it. That saves their memory (SDXL's text
    /// encoders take 1.6 GB in float32) for the time to load them on every run; the pixels
    /// are the same. Default false.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_load_stages_on_demand(
        opts: *mut inpaint_model_options,
        on_demand: bool,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller; a NULL `err_out` is allowed.
        unsafe {
            set(opts, ptr::null_mut(), |s| {
                s.on_demand = Some(on_demand);
                Ok(())
            })
        }
    }

    /// Diffusion pipelines (`inpaint_model_load_diffusion_with_options`): the memory the
    /// weights must fit in, checked before anything is loaded, so that a machine too small
    /// gets `INPAINT_STATUS_RUNTIME` with a message giving each graph's size and what is
    /// available (and whether loading the stages on demand would fit) instead of a visit
    /// from the out-of-memory killer. `kind` is `INPAINT_MEMORY_LIMIT_AVAILABLE` (the
    /// default: what the system says is available when loading),
    /// `INPAINT_MEMORY_LIMIT_BYTES` (`bytes` bytes) or `INPAINT_MEMORY_LIMIT_UNCHECKED` (no
    /// check). `bytes` must be 0 unless `kind` is `INPAINT_MEMORY_LIMIT_BYTES`; another
    /// `kind` is `INPAINT_STATUS_INVALID_INPUT`, and the options are left as they were. The
    /// weights count once each, in their files' precision; what a run adds grows with the
    /// image.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `err_out` is NULL or valid
    /// for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_memory_limit(
        opts: *mut inpaint_model_options,
        kind: inpaint_memory_limit,
        bytes: u64,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe {
            set(opts, err_out, |s| {
                let limit = match kind {
                    INPAINT_MEMORY_LIMIT_BYTES => MemoryLimit::Bytes(bytes),
                    INPAINT_MEMORY_LIMIT_AVAILABLE if bytes == 0 => MemoryLimit::Available,
                    INPAINT_MEMORY_LIMIT_UNCHECKED if bytes == 0 => MemoryLimit::Unchecked,
                    INPAINT_MEMORY_LIMIT_AVAILABLE | INPAINT_MEMORY_LIMIT_UNCHECKED => {
                        return Err(Failure::invalid_input(format!(
                            "memory limit: {bytes} bytes given with a kind that takes none \
                             (pass 0, or INPAINT_MEMORY_LIMIT_BYTES)"
                        )));
                    }
                    other => {
                        return Err(Failure::invalid_input(format!(
                            "unknown memory limit kind {other}; known: \
                             INPAINT_MEMORY_LIMIT_AVAILABLE ({INPAINT_MEMORY_LIMIT_AVAILABLE}), \
                             INPAINT_MEMORY_LIMIT_BYTES ({INPAINT_MEMORY_LIMIT_BYTES}), \
                             INPAINT_MEMORY_LIMIT_UNCHECKED ({INPAINT_MEMORY_LIMIT_UNCHECKED})"
                        )));
                    }
                };
                s.memory_limit = Some(limit);
                Ok(())
            })
        }
    }

    /// Diffusion pipelines (`inpaint_model_load_diffusion_with_options`): ONNX Runtime's CPU
    /// memory arena, on by default. The arena keeps the peak of every size it has served and
    /// never gives it back to the system; off, each buffer is freed when done, which lowers
    /// the resident memory of a long-lived model (a UNet at a large size) for some speed. The
    /// pixels are the same.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_cpu_arena(
        opts: *mut inpaint_model_options,
        arena: bool,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller; a NULL `err_out` is allowed.
        unsafe {
            set(opts, ptr::null_mut(), |s| {
                s.cpu_arena = Some(arena);
                Ok(())
            })
        }
    }
}
