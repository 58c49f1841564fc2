//! Models, their options, and running them.

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::OnceLock;

use inpaint_core::{CropBox, HdStrategy, InpaintModel, InpaintOptions, Sampler, inpaint};
use inpaint_models::{MODEL_NAMES, ModelOptions, by_name};

use crate::diffusion::{self, DiffusionSettings};
use crate::error::inpaint_error;
use crate::ffi::{self, Failure, call, try_mut, try_ref, try_str};
use crate::image::{inpaint_image_view, write_packed};
use crate::openai::{self, OpenAiSettings};
use crate::status::inpaint_status;

/// What a model needs besides an image and a mask: a set of `INPAINT_NEEDS_*` bits
/// (0: nothing). New bits may appear in later versions.
pub type inpaint_needs = u32;

/// The model paints from a text prompt (`inpaint_run_options_set_prompt`).
pub const INPAINT_NEEDS_PROMPT: inpaint_needs = 1;
/// The model sends the image over the network (a remote API or inference server).
pub const INPAINT_NEEDS_NETWORK: inpaint_needs = 2;

/// A loaded model, ready to inpaint.
///
/// Thread safety: a model may be moved to another thread, but calls on one model must not
/// overlap (`inpaint_model_run` mutates it); distinct models may run on distinct threads at
/// the same time. After a call on it returned `INPAINT_STATUS_PANIC`, only
/// `inpaint_model_free` may be called on it.
pub struct inpaint_model {
    model: Box<dyn InpaintModel + Send>,
    name: CString,
    /// Where it runs, and why devices tried before were refused: `inpaint_model_device`.
    device: CString,
    /// `inpaint_model_needs`.
    needs: inpaint_needs,
    /// Set while a run is in progress: still set afterwards means that run panicked.
    poisoned: bool,
}

impl inpaint_model {
    /// A handle for `model`, named by its spec, running where `device` says.
    pub(crate) fn new(model: Box<dyn InpaintModel + Send>, device: &str) -> Self {
        let name = ffi::c_string(&model.spec().name);
        let needs = if model.spec().takes_prompt {
            INPAINT_NEEDS_PROMPT
        } else {
            0
        };
        inpaint_model {
            model,
            name,
            device: ffi::c_string(device),
            needs,
            poisoned: false,
        }
    }

    /// Marks a model whose forward pass goes over the network.
    #[cfg_attr(
        not(any(feature = "remote", feature = "openai")),
        expect(dead_code, reason = "only network models use it")
    )]
    pub(crate) fn over_network(mut self) -> Self {
        self.needs |= INPAINT_NEEDS_NETWORK;
        self
    }
}

/// Parameters for `inpaint_model_load` and `inpaint_model_load_diffusion_with_options`: each
/// applies to some models only, and giving one to a model that does not take it is an error
/// when loading. Made by `inpaint_model_options_new`, freed by `inpaint_model_options_free`;
/// no concurrent calls on one object.
pub struct inpaint_model_options {
    options: ModelOptions,
    /// "openai-compat"'s settings (`inpaint_model_options_set_openai_*`, `_set_budget_*`).
    pub(crate) openai: OpenAiSettings,
    /// Diffusion pipelines' settings (`_set_load_stages_on_demand`, `_set_memory_limit`,
    /// `_set_cpu_arena`).
    pub(crate) diffusion: DiffusionSettings,
}

impl inpaint_model_options {
    /// Every setting at its default.
    fn defaults() -> Self {
        inpaint_model_options {
            options: ModelOptions::new(),
            openai: OpenAiSettings::default(),
            diffusion: DiffusionSettings::default(),
        }
    }
}

/// The error for a diffusion setting given to the model `name`, which does not take it.
fn diffusion_setting_refused(setting: &str, name: &str) -> Failure {
    Failure::invalid_input(format!(
        "the {setting} setting applies to diffusion pipelines only \
         (inpaint_model_load_diffusion_with_options), not to {name}"
    ))
}

/// How one run handles large images (the HD strategy); the defaults are IOPaint's. Made by
/// `inpaint_run_options_new`, freed by `inpaint_run_options_free`. Not to be changed while
/// another thread uses it; runs on several threads may share one unchanging object.
pub struct inpaint_run_options {
    options: InpaintOptions,
}

/// The device the classical models run on.
const CPU: &str = "cpu";

/// The names `inpaint_model_load` knows, what each needs, NUL-terminated, made once: the
/// classical models, then (with the `openai` feature) "openai-compat".
fn model_names() -> &'static [(CString, inpaint_needs)] {
    static NAMES: OnceLock<Vec<(CString, inpaint_needs)>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let classical = MODEL_NAMES.iter().map(|&name| (name, 0));
        let remote =
            openai::LISTED.then_some((openai::NAME, INPAINT_NEEDS_PROMPT | INPAINT_NEEDS_NETWORK));
        classical
            .chain(remote)
            .map(|(name, needs)| (ffi::c_string(name), needs))
            .collect()
    })
}

/// The ONNX model at `path`, of architecture `arch`, on `device` (a name as
/// `inpaint_model_load_onnx` takes it).
#[cfg(feature = "onnx")]
fn load_onnx(path: &str, arch: &str, device: &str) -> Result<inpaint_model, Failure> {
    use inpaint_models::onnx::{Architecture, Device, DevicePolicy, OnnxModel, OnnxOptions};

    let architecture: Architecture = arch.parse()?;
    let device: Device = device.parse()?;
    let options = OnnxOptions::default().with_device(DevicePolicy::for_flag(device));
    let model = OnnxModel::load(path, architecture, &options)?;
    let report = model.execution().to_string();
    Ok(inpaint_model::new(Box::new(model), &report))
}

/// Without the `onnx` feature: `INPAINT_STATUS_UNSUPPORTED`, saying so.
#[cfg(not(feature = "onnx"))]
fn load_onnx(path: &str, arch: &str, device: &str) -> Result<inpaint_model, Failure> {
    Err(Failure::new(
        inpaint_status::Unsupported,
        format!(
            "cannot load `{path}` ({arch} on {device}): this build of the inpaint library has \
             no ONNX support (build inpaint-ffi with its `onnx` feature, on by default); \
             available models: {} (load them with inpaint_model_load)",
            MODEL_NAMES.join(", ")
        ),
    ))
}

/// The model `model` (version `version`, else the server's choice) served at `endpoint`, of
/// architecture `arch`, as `inpaint_model_load_remote` takes them.
#[cfg(feature = "remote")]
fn load_remote(
    endpoint: &str,
    model: &str,
    version: Option<&str>,
    arch: &str,
) -> Result<inpaint_model, Failure> {
    use inpaint_models::onnx::Architecture;
    use inpaint_models::remote::{RemoteModel, RemoteOptions};

    let architecture: Architecture = arch.parse()?;
    let mut options = RemoteOptions::new(endpoint, model);
    if let Some(version) = version {
        options = options.with_version(version);
    }
    let model = RemoteModel::connect(architecture, &options)?;
    let device = model.device_name();
    Ok(inpaint_model::new(Box::new(model), &device).over_network())
}

/// Without the `remote` feature: `INPAINT_STATUS_UNSUPPORTED`, saying so.
#[cfg(not(feature = "remote"))]
fn load_remote(
    endpoint: &str,
    model: &str,
    _version: Option<&str>,
    arch: &str,
) -> Result<inpaint_model, Failure> {
    Err(Failure::new(
        inpaint_status::Unsupported,
        format!(
            "cannot load `{model}` ({arch}) from {endpoint}: this build of the inpaint library \
             has no remote inference (build inpaint-ffi with its `remote` feature, on by default)"
        ),
    ))
}

/// Loads `name` with `options` into `*model_out`.
///
/// # Safety
///
/// As for `inpaint_model_load`.
unsafe fn load(
    name: *const c_char,
    options: *const inpaint_model_options,
    model_out: *mut *mut inpaint_model,
    err_out: *mut *mut inpaint_error,
) -> inpaint_status {
    let body = || {
        if !model_out.is_null() {
            // SAFETY: not NULL, and writable by the caller's guarantee.
            unsafe { model_out.write(ptr::null_mut()) };
        }
        // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
        let name = unsafe { try_str(name, "name") }?;
        let defaults = inpaint_model_options::defaults();
        let options = if options.is_null() {
            &defaults
        } else {
            // SAFETY: not NULL, so a live options object, by the caller's guarantee.
            unsafe { try_ref(options, "opts") }?
        };
        if model_out.is_null() {
            return Err(Failure::null("model_out"));
        }
        if let Some(setting) = options.diffusion.first_set() {
            return Err(diffusion_setting_refused(setting, name));
        }
        let loaded = if name == openai::NAME {
            // (Without the feature, that it is unsupported is what matters.)
            if openai::LISTED && options.options != defaults.options {
                return Err(Failure::invalid_input(format!(
                    "radius, patch size and seed do not apply to {name}"
                )));
            }
            openai::load(&options.openai)?
        } else {
            if let Some(setting) = options.openai.first_set() {
                return Err(Failure::invalid_input(format!(
                    "the {setting} setting applies to {} only, not to {name}",
                    openai::NAME
                )));
            }
            let model = by_name(name, &options.options).map_err(openai::mention)?;
            inpaint_model::new(model, CPU)
        };
        let model = ffi::into_raw(loaded);
        // SAFETY: checked not NULL above; writable by the caller's guarantee.
        unsafe { model_out.write(model) };
        Ok(())
    };
    // SAFETY: the caller guarantees `err_out` is NULL or writable.
    unsafe { call(err_out, body) }
}

impl inpaint_model {
    /// Loads the model called `name` (one of those `inpaint_model_name_at` lists, e.g. "telea")
    /// with `opts`, or every default when `opts` is NULL.
    ///
    /// "openai-compat" (with the `openai` feature, on by default) sends each masked region,
    /// with the run options' prompt, to an OpenAI-compatible `images/edits` API: set where
    /// and which model with `inpaint_model_options_set_openai_base_url` and
    /// `_set_openai_model` (default: OpenAI's API and "gpt-image-1"), the spending caps and
    /// the ledger with `inpaint_model_options_set_budget_cap` and `_set_budget_db`. The API
    /// key is read from the environment only: `INPAINT_OPENAI_API_KEY`, else
    /// `OPENAI_API_KEY`; no message ever contains it. Loading reads the price table, opens
    /// the ledger (a SQLite file) and opens no connection; a missing key, an unusable
    /// setting or a model not in the price table is `INPAINT_STATUS_INVALID_INPUT`, a ledger
    /// that cannot be opened `INPAINT_STATUS_IO`. Each run then either returns the stored
    /// answer of an identical request, or is refused before anything is sent with
    /// `INPAINT_STATUS_BUDGET` when its estimated cost would cross a cap, or sends the
    /// request: a server that refuses (a wrong key: HTTP 401) or fails is
    /// `INPAINT_STATUS_MODEL`, one that cannot be reached or does not answer in time
    /// `INPAINT_STATUS_RUNTIME`. `inpaint_model_device` reports "remote:" and the base URL.
    ///
    /// On success `*model_out` receives a new model, freed with `inpaint_model_free`. On
    /// failure `*model_out` is set to NULL; an unknown name is `INPAINT_STATUS_UNSUPPORTED`,
    /// and its message lists the known names. A setting given to a model that does not take
    /// it (a radius to "openai-compat", a base URL or a memory limit to "telea") is
    /// `INPAINT_STATUS_INVALID_INPUT`.
    ///
    /// # Safety
    ///
    /// `name` is NULL or a NUL-terminated string; `opts` is NULL or a live options object;
    /// `model_out` and `err_out` are NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_load(
        name: *const c_char,
        opts: *const inpaint_model_options,
        model_out: *mut *mut inpaint_model,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: the same guarantees, forwarded.
        unsafe { load(name, opts, model_out, err_out) }
    }

    /// `inpaint_model_load(name, NULL, model_out, err_out)`: a model that needs no weights
    /// ("telea", "navier-stokes"), with its default parameters.
    ///
    /// # Safety
    ///
    /// As for `inpaint_model_load`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_load_classical(
        name: *const c_char,
        model_out: *mut *mut inpaint_model,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: the same guarantees, forwarded.
        unsafe { load(name, ptr::null(), model_out, err_out) }
    }

    /// Loads a neural model from an ONNX file: `path` to the file, `arch` its architecture
    /// ("lama", "lama-dynamic", "migan", "migan-pipeline", "mat", "fcf"), `device` the
    /// execution provider to run on ("cpu", "cuda", "tensorrt", "coreml", "directml",
    /// "openvino", "rocm", a GPU's ordinal after a colon as in "cuda:1", or "auto"); NULL means
    /// "cpu". A named device is required: if it cannot be used, loading fails. "auto" tries
    /// this platform's accelerators and falls back to the CPU; `inpaint_model_device` says
    /// which one it got and why the others were refused.
    ///
    /// The file is checked against the architecture's contract (input and output names,
    /// element types, shapes). ONNX Runtime (a shared library, version 1.31 or later) is
    /// loaded on first use from `ORT_DYLIB_PATH` when set, else from the source tree's
    /// `.runtime/onnxruntime` (`scripts/fetch-onnxruntime.sh`; a path compiled into the
    /// library), else through the system loader (`LD_LIBRARY_PATH`, …).
    ///
    /// On success `*model_out` receives a new model, freed with `inpaint_model_free`. On
    /// failure `*model_out` is set to NULL, and the status says why: an unknown architecture
    /// or device is `INPAINT_STATUS_INVALID_INPUT` (the message lists the known names), a
    /// missing file `INPAINT_STATUS_IO`, a file ONNX Runtime cannot read (not ONNX, truncated,
    /// an invalid graph) or a graph that breaks the contract `INPAINT_STATUS_MODEL`, ONNX
    /// Runtime missing or too old or the device refused `INPAINT_STATUS_RUNTIME`, and a build
    /// without the `onnx` feature `INPAINT_STATUS_UNSUPPORTED`.
    ///
    /// # Safety
    ///
    /// `path`, `arch` and `device` are NULL or NUL-terminated strings; `model_out` and
    /// `err_out` are NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_load_onnx(
        path: *const c_char,
        arch: *const c_char,
        device: *const c_char,
        model_out: *mut *mut inpaint_model,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            if !model_out.is_null() {
                // SAFETY: not NULL, and writable by the caller's guarantee.
                unsafe { model_out.write(ptr::null_mut()) };
            }
            // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
            let path = unsafe { try_str(path, "path") }?;
            // SAFETY: as above.
            let arch = unsafe { try_str(arch, "arch") }?;
            let device = if device.is_null() {
                CPU
            } else {
                // SAFETY: not NULL, so NUL-terminated by the caller's guarantee.
                unsafe { try_str(device, "device") }?
            };
            if model_out.is_null() {
                return Err(Failure::null("model_out"));
            }
            let model = ffi::into_raw(load_onnx(path, arch, device)?);
            // SAFETY: checked not NULL above; writable by the caller's guarantee.
            unsafe { model_out.write(model) };
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Loads a model whose forward pass runs on an inference server that speaks the Open
    /// Inference Protocol (KServe v2: NVIDIA Triton, KServe, OpenVINO Model Server, Seldon):
    /// `endpoint` is the server's base URL ("http://triton:8000"), `model` the model's name
    /// there, `version` its version or NULL for the server's choice, `arch` its architecture
    /// as for `inpaint_model_load_onnx`. Everything but the forward pass (masks, HD
    /// strategies, padding, paste-back) runs in this process, exactly as for a local model.
    ///
    /// Loading asks the server whether it and the model are ready, then checks the model's
    /// metadata against the architecture's contract. Each request may take 120 s; a
    /// connection that fails before anything was sent is retried twice; nothing falls back to
    /// local inference. `inpaint_model_device` reports "remote:" followed by `endpoint`.
    ///
    /// On success `*model_out` receives a new model, freed with `inpaint_model_free`. On
    /// failure `*model_out` is set to NULL, and the status says why: an unknown architecture
    /// or a malformed endpoint or name `INPAINT_STATUS_INVALID_INPUT`, a server that cannot
    /// be reached or does not answer in time `INPAINT_STATUS_RUNTIME`, a server that refuses
    /// (not ready, no such model, an error) or serves a model of another contract
    /// `INPAINT_STATUS_MODEL`, and a build without the `remote` feature
    /// `INPAINT_STATUS_UNSUPPORTED`. The error message names the server, the model and what
    /// the server said.
    ///
    /// Thread safety: as for every model; runs block the calling thread for the round trip.
    ///
    /// # Safety
    ///
    /// `endpoint`, `model`, `version` and `arch` are NULL or NUL-terminated strings;
    /// `model_out` and `err_out` are NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_load_remote(
        endpoint: *const c_char,
        model: *const c_char,
        version: *const c_char,
        arch: *const c_char,
        model_out: *mut *mut inpaint_model,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            if !model_out.is_null() {
                // SAFETY: not NULL, and writable by the caller's guarantee.
                unsafe { model_out.write(ptr::null_mut()) };
            }
            // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
            let endpoint = unsafe { try_str(endpoint, "endpoint") }?;
            // SAFETY: as above.
            let model = unsafe { try_str(model, "model") }?;
            // SAFETY: as above.
            let arch = unsafe { try_str(arch, "arch") }?;
            let version = if version.is_null() {
                None
            } else {
                // SAFETY: not NULL, so NUL-terminated by the caller's guarantee.
                Some(unsafe { try_str(version, "version") }?)
            };
            if model_out.is_null() {
                return Err(Failure::null("model_out"));
            }
            let loaded = ffi::into_raw(load_remote(endpoint, model, version, arch)?);
            // SAFETY: checked not NULL above; writable by the caller's guarantee.
            unsafe { model_out.write(loaded) };
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Loads a Stable Diffusion 1.5 or SDXL inpainting pipeline from `dir`, a folder in Hugging
    /// Face Optimum's ONNX layout (`model_index.json`, `text_encoder/`, `unet/`, `vae_encoder/`,
    /// `vae_decoder/`, `tokenizer/`, `scheduler/`, and for SDXL `text_encoder_2/` and
    /// `tokenizer_2/`, as `optimum-cli export onnx --task inpainting` writes it), on `device`
    /// (as for `inpaint_model_load_onnx`; NULL is "cpu"), with every default setting: see
    /// `inpaint_model_load_diffusion_with_options`.
    ///
    /// # Safety
    ///
    /// `dir` and `device` are NULL or NUL-terminated strings; `model_out` and `err_out` are
    /// NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_load_diffusion(
        dir: *const c_char,
        device: *const c_char,
        model_out: *mut *mut inpaint_model,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: the same guarantees, forwarded; NULL options are allowed.
        unsafe {
            Self::inpaint_model_load_diffusion_with_options(
                dir,
                device,
                ptr::null(),
                model_out,
                err_out,
            )
        }
    }

    /// Loads a Stable Diffusion 1.5 or SDXL inpainting pipeline from `dir` on `device` (as for
    /// `inpaint_model_load_diffusion`) with `opts`, or every default when `opts` is NULL. The
    /// settings that apply are the memory ones: `inpaint_model_options_set_load_stages_on_demand`,
    /// `_set_memory_limit` and `_set_cpu_arena`; any other setting in `opts` (a radius, an
    /// "openai-compat" setting) is `INPAINT_STATUS_INVALID_INPUT`, as is a memory setting
    /// given to `inpaint_model_load`.
    /// Every graph is checked against its contract. The model takes a prompt: set it, the
    /// sampler, steps, guidance, seed and strength on the run options
    /// (`inpaint_run_options_set_prompt`, …).
    ///
    /// On success `*model_out` receives a new model, freed with `inpaint_model_free`. On
    /// failure `*model_out` is set to NULL: a missing file is `INPAINT_STATUS_IO` (the
    /// message names it), a graph that breaks its contract `INPAINT_STATUS_MODEL`, ONNX
    /// Runtime missing, the device refused or weights larger than the memory limit (checked
    /// before anything is loaded; the message gives the sizes) `INPAINT_STATUS_RUNTIME`, and a
    /// build without the `onnx` feature `INPAINT_STATUS_UNSUPPORTED`.
    ///
    /// # Safety
    ///
    /// `dir` and `device` are NULL or NUL-terminated strings; `opts` is NULL or a live options
    /// object; `model_out` and `err_out` are NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_load_diffusion_with_options(
        dir: *const c_char,
        device: *const c_char,
        opts: *const inpaint_model_options,
        model_out: *mut *mut inpaint_model,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            if !model_out.is_null() {
                // SAFETY: not NULL, and writable by the caller's guarantee.
                unsafe { model_out.write(ptr::null_mut()) };
            }
            // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
            let dir = unsafe { try_str(dir, "dir") }?;
            let device = if device.is_null() {
                CPU
            } else {
                // SAFETY: not NULL, so NUL-terminated by the caller's guarantee.
                unsafe { try_str(device, "device") }?
            };
            let defaults = inpaint_model_options::defaults();
            let options = if opts.is_null() {
                &defaults
            } else {
                // SAFETY: not NULL, so a live options object, by the caller's guarantee.
                unsafe { try_ref(opts, "opts") }?
            };
            if model_out.is_null() {
                return Err(Failure::null("model_out"));
            }
            if options.options != defaults.options {
                return Err(Failure::invalid_input(
                    "radius, patch size and seed do not apply to a diffusion pipeline (its \
                     seed is a run option: inpaint_run_options_set_seed)",
                ));
            }
            if let Some(setting) = options.openai.first_set() {
                return Err(Failure::invalid_input(format!(
                    "the {setting} setting applies to {} only, not to a diffusion pipeline",
                    openai::NAME
                )));
            }
            let model = ffi::into_raw(diffusion::load(dir, device, &options.diffusion)?);
            // SAFETY: checked not NULL above; writable by the caller's guarantee.
            unsafe { model_out.write(model) };
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Inpaints `image` where `mask` is above 127, with the default run options; see
    /// `inpaint_model_run_with_options`.
    ///
    /// # Safety
    ///
    /// As for `inpaint_model_run_with_options`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_run(
        model: *mut inpaint_model,
        image: *const inpaint_image_view,
        mask: *const inpaint_image_view,
        out: *mut u8,
        out_len: usize,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        // SAFETY: the same guarantees, forwarded.
        unsafe {
            Self::inpaint_model_run_with_options(
                model,
                image,
                mask,
                ptr::null(),
                out,
                out_len,
                err_out,
            )
        }
    }

    /// Inpaints `image` where `mask` is above 127 and writes the result to `out`: same size
    /// and pixel format as `image`, rows tightly packed (`width * height * bytes per pixel`
    /// bytes). Pixels outside the mask are copied unchanged; an RGBA image keeps its alpha
    /// untouched; a GRAY8 image is inpainted as grey.
    ///
    /// With an extender (`inpaint_run_options_set_extender`, outpainting) the result is
    /// LARGER than `image`: `inpaint_run_options_output_size` gives its size, and `out` must
    /// hold `out_width * out_height * bytes per pixel` bytes. The mask is then not used (it
    /// must still be GRAY8 and the image's size), and an RGBA result is opaque outside the
    /// image.
    ///
    /// `mask` must be `INPAINT_PIXEL_FORMAT_GRAY8` and the image's size. `opts` NULL means the
    /// default run options. `out` may be the image's own buffer when that is tightly packed
    /// (the input is copied first). If `out_len` is too short, the call returns
    /// `INPAINT_STATUS_INSUFFICIENT_SIZE` before running; on any failure nothing is written
    /// to `out`.
    ///
    /// # Safety
    ///
    /// `model` is NULL or a live model that no other call is using; `image` and `mask` are NULL
    /// or valid views (their `data` readable for `len` bytes); `opts` is NULL or a live run
    /// options object; `out` is NULL or writable for `out_len` bytes; `err_out` is NULL or
    /// valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_run_with_options(
        model: *mut inpaint_model,
        image: *const inpaint_image_view,
        mask: *const inpaint_image_view,
        opts: *const inpaint_run_options,
        out: *mut u8,
        out_len: usize,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            // SAFETY: NULL or a live model that no other call uses, by the caller's guarantee.
            let model = unsafe { try_mut(model, "model") }?;
            // SAFETY: NULL or a valid view, by the caller's guarantee.
            let image = unsafe { try_ref(image, "image")?.check("image") }?;
            // SAFETY: as above.
            let mask = unsafe { try_ref(mask, "mask")?.check("mask") }?;
            let defaults = InpaintOptions::default();
            let options = if opts.is_null() {
                &defaults
            } else {
                // SAFETY: not NULL, so live options, by the caller's guarantee.
                &unsafe { try_ref(opts, "opts") }?.options
            };
            if out.is_null() {
                return Err(Failure::null("out"));
            }
            let (width, height) = options.output_size(image.width, image.height)?;
            let needed = if options.extender.is_none() {
                image.packed_len()
            } else {
                // Within the default limits (output_size checked), so no overflow.
                width as usize * height as usize * image.bytes_per_pixel
            };
            if out_len < needed {
                return Err(Failure::new(
                    inpaint_status::InsufficientSize,
                    format!(
                        "out: {out_len} bytes, but a {width}×{height} result needs {needed} \
                         ({} bytes per pixel)",
                        image.bytes_per_pixel
                    ),
                ));
            }
            let format = image.format;
            let (image, mask) = (image.to_image()?, mask.to_mask()?);
            if model.poisoned {
                return Err(Failure::new(
                    inpaint_status::Panic,
                    "the model is unusable after a panic in an earlier call; free it",
                ));
            }
            model.poisoned = true;
            let result = inpaint(&mut model.model, &image, &mask, options);
            model.poisoned = false;
            let result = result?;
            // SAFETY: not NULL, writable for `out_len >= needed` bytes by the caller's
            // guarantee; the input views are no longer used, so `out` may alias them.
            let out = unsafe { std::slice::from_raw_parts_mut(out, needed) };
            write_packed(result, format, out);
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// The model's name (e.g. "telea"), valid until the model is freed; do not free it. NULL
    /// if `model` is NULL.
    ///
    /// # Safety
    ///
    /// `model` is NULL or a live model.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_name(model: *const inpaint_model) -> *const c_char {
        ffi::guard(ptr::null(), || {
            // SAFETY: NULL or live, by the caller's guarantee.
            unsafe { model.as_ref() }.map_or(ptr::null(), |m| m.name.as_ptr())
        })
    }

    /// Where the model actually runs: the execution provider it got, named as
    /// `inpaint_model_load_onnx` takes it ("cpu", "cuda", "cuda:1", …), then, when "auto" was
    /// asked for or devices were tried before it, in parentheses, what the platform checks
    /// found and why the others were refused: e.g. "cpu (cuda refused: ...)". The text up to
    /// the first space is the device. "cpu" for the classical models `inpaint_model_load`
    /// loads; "remote:" and the server's URL for those of `inpaint_model_load_remote` and
    /// for "openai-compat". Valid
    /// until the model is freed; do not free it. NULL if `model` is NULL.
    ///
    /// # Safety
    ///
    /// `model` is NULL or a live model.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_device(model: *const inpaint_model) -> *const c_char {
        ffi::guard(ptr::null(), || {
            // SAFETY: NULL or live, by the caller's guarantee.
            unsafe { model.as_ref() }.map_or(ptr::null(), |m| m.device.as_ptr())
        })
    }

    /// How many models `inpaint_model_load` knows by name.
    #[unsafe(no_mangle)]
    pub extern "C" fn inpaint_model_name_count() -> usize {
        ffi::guard(0, || model_names().len())
    }

    /// The name of known model `index` (0 is the default model), or NULL when `index` is not
    /// below `inpaint_model_name_count()`. Static; do not free. The classical models come
    /// first ("patchmatch", "telea", "navier-stokes"), then, in a build with the `openai`
    /// feature, "openai-compat".
    #[unsafe(no_mangle)]
    pub extern "C" fn inpaint_model_name_at(index: usize) -> *const c_char {
        ffi::guard(ptr::null(), || {
            model_names()
                .get(index)
                .map_or(ptr::null(), |(name, _)| name.as_ptr())
        })
    }

    /// What known model `index` needs besides an image and a mask: `INPAINT_NEEDS_*`
    /// bits, e.g. `INPAINT_NEEDS_PROMPT | INPAINT_NEEDS_NETWORK` for
    /// "openai-compat"; 0 for the classical models, and when `index` is not below
    /// `inpaint_model_name_count()`.
    #[unsafe(no_mangle)]
    pub extern "C" fn inpaint_model_needs_at(index: usize) -> inpaint_needs {
        ffi::guard(0, || {
            model_names().get(index).map_or(0, |&(_, needs)| needs)
        })
    }

    /// What a loaded model needs besides an image and a mask: `INPAINT_NEEDS_PROMPT`
    /// for a model that paints from a prompt (a diffusion pipeline, "openai-compat"),
    /// `INPAINT_NEEDS_NETWORK` for one whose forward pass runs elsewhere
    /// ("openai-compat", `inpaint_model_load_remote`). 0 if `model` is NULL.
    ///
    /// # Safety
    ///
    /// `model` is NULL or a live model.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_needs(model: *const inpaint_model) -> inpaint_needs {
        ffi::guard(0, || {
            // SAFETY: NULL or live, by the caller's guarantee.
            unsafe { model.as_ref() }.map_or(0, |m| m.needs)
        })
    }

    /// Frees a model. NULL is a no-op; freeing twice is forbidden.
    ///
    /// # Safety
    ///
    /// `model` is NULL or a model from this library that has not been freed and that no other
    /// call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_free(model: *mut inpaint_model) {
        // SAFETY: NULL or a live model made by `ffi::into_raw`, by the caller's guarantee.
        ffi::guard((), || unsafe { ffi::free(model) });
    }
}

/// Applies `change` to live model options: the body of every `inpaint_model_options_set_*`.
///
/// # Safety
///
/// `opts` is NULL or live options that no other call is using.
unsafe fn update_model_options(
    opts: *mut inpaint_model_options,
    change: impl FnOnce(ModelOptions) -> ModelOptions,
) -> inpaint_status {
    let body = || {
        // SAFETY: NULL or live, by the caller's guarantee.
        let opts = unsafe { try_mut(opts, "opts") }?;
        opts.options = change(opts.options.clone());
        Ok(())
    };
    // SAFETY: a NULL `err_out` is allowed.
    unsafe { call(ptr::null_mut(), body) }
}

impl inpaint_model_options {
    /// New model options, every parameter at the model's default; free with
    /// `inpaint_model_options_free`. NULL only if memory ran out.
    #[unsafe(no_mangle)]
    pub extern "C" fn inpaint_model_options_new() -> *mut inpaint_model_options {
        ffi::guard(ptr::null_mut(), || {
            ffi::into_raw(inpaint_model_options::defaults())
        })
    }

    /// Sets the radius, in pixels, around each hole pixel that "telea" and "navier-stokes"
    /// draw from (default 4). Checked when a model is loaded with these options.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_radius(
        opts: *mut inpaint_model_options,
        radius: f64,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe { update_model_options(opts, |o| o.with_radius(radius)) }
    }

    /// Sets the side, in pixels, of the patches "patchmatch" compares (odd, default 7).
    /// Checked when a model is loaded with these options.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_patch_size(
        opts: *mut inpaint_model_options,
        patch_size: u32,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe { update_model_options(opts, |o| o.with_patch_size(patch_size)) }
    }

    /// Sets the seed of "patchmatch"'s random search (default 0); the same seed gives the same
    /// bytes.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_set_seed(
        opts: *mut inpaint_model_options,
        seed: u64,
    ) -> inpaint_status {
        // SAFETY: forwarded from the caller.
        unsafe { update_model_options(opts, |o| o.with_seed(seed)) }
    }

    /// Frees model options. NULL is a no-op; freeing twice is forbidden.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or options from this library that have not been freed.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_model_options_free(opts: *mut inpaint_model_options) {
        // SAFETY: NULL or live options made by `ffi::into_raw`, by the caller's guarantee.
        ffi::guard((), || unsafe { ffi::free(opts) });
    }
}

impl inpaint_run_options {
    /// New run options with IOPaint's defaults: strategy "crop", crop trigger size 800, crop
    /// margin 128, resize limit 1280. Free with `inpaint_run_options_free`. NULL only if memory
    /// ran out.
    #[unsafe(no_mangle)]
    pub extern "C" fn inpaint_run_options_new() -> *mut inpaint_run_options {
        ffi::guard(ptr::null_mut(), || {
            ffi::into_raw(inpaint_run_options {
                options: InpaintOptions::default(),
            })
        })
    }

    /// Sets how large images are handled: "original" (the model sees the whole image),
    /// "resize" (shrunk to the resize limit) or "crop" (one crop per masked region; regions
    /// whose crops overlap share one). Another name is `INPAINT_STATUS_INVALID_INPUT`, and
    /// `err_out` lists the known ones.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `strategy` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_hd_strategy(
        opts: *mut inpaint_run_options,
        strategy: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            // SAFETY: NULL or live, by the caller's guarantee.
            let opts = unsafe { try_mut(opts, "opts") }?;
            // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
            let strategy: HdStrategy = unsafe { try_str(strategy, "strategy") }?.parse()?;
            opts.options.hd_strategy = strategy;
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Sets the longer side above which "crop" applies (default 800).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_crop_trigger_size(
        opts: *mut inpaint_run_options,
        size: u32,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.crop_trigger_size = size) }
    }

    /// Sets the pixels of context added around each masked region by "crop" (default 128).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_crop_margin(
        opts: *mut inpaint_run_options,
        margin: u32,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.crop_margin = margin) }
    }

    /// Sets the longer side above which "resize" applies, and to which it shrinks (default
    /// 1280; 0 is refused when running).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_resize_limit(
        opts: *mut inpaint_run_options,
        limit: u32,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.resize_limit = limit) }
    }

    /// Sets the prompt and the negative prompt of a model that takes one (a diffusion model,
    /// "openai-compat"; other models ignore them). Both are NUL-terminated UTF-8; NULL for
    /// `negative_prompt` is the empty string. Default: both empty. "openai-compat" sends a
    /// neutral "fill the masked area naturally" text for an empty prompt, and refuses a
    /// non-empty negative prompt when running (the images API has none).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `prompt` and
    /// `negative_prompt` are NULL or NUL-terminated strings; `err_out` is NULL or valid for
    /// writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_prompt(
        opts: *mut inpaint_run_options,
        prompt: *const c_char,
        negative_prompt: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            // SAFETY: NULL or live, by the caller's guarantee.
            let opts = unsafe { try_mut(opts, "opts") }?;
            // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
            let prompt = unsafe { try_str(prompt, "prompt") }?;
            let negative = if negative_prompt.is_null() {
                ""
            } else {
                // SAFETY: not NULL, so NUL-terminated by the caller's guarantee.
                unsafe { try_str(negative_prompt, "negative_prompt") }?
            };
            opts.options.request.prompt = prompt.to_owned();
            opts.options.request.negative_prompt = negative.to_owned();
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Sets the sampler of a diffusion model by IOPaint's name ("DPM++ 2M", "Euler a",
    /// "UniPC", … — 19 names, spelled as IOPaint spells them; default "UniPC"). Another name is
    /// `INPAINT_STATUS_INVALID_INPUT`, and `err_out` lists the known ones.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `name` is NULL or a
    /// NUL-terminated string; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_sampler(
        opts: *mut inpaint_run_options,
        name: *const c_char,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            // SAFETY: NULL or live, by the caller's guarantee.
            let opts = unsafe { try_mut(opts, "opts") }?;
            // SAFETY: NULL or NUL-terminated, by the caller's guarantee.
            let sampler: Sampler = unsafe { try_str(name, "name") }?.parse()?;
            opts.options.request.sampler = sampler;
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Sets a diffusion model's denoising steps (default 50; 0 is refused when running).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_steps(
        opts: *mut inpaint_run_options,
        steps: u32,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.request.steps = steps) }
    }

    /// Sets a diffusion model's guidance scale (default 7.5; 1 or less skips the
    /// unconditional pass; negative or not finite is refused when running).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_guidance_scale(
        opts: *mut inpaint_run_options,
        scale: f32,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.request.guidance_scale = scale) }
    }

    /// Sets a diffusion model's seed (default 42, IOPaint's): the same seed, prompt and options
    /// give the same picture.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_seed(
        opts: *mut inpaint_run_options,
        seed: u64,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.request.seed = seed) }
    }

    /// Sets a diffusion model's strength, in (0, 1] (default 1: the masked area is painted
    /// from noise; below 1 it starts from the image; other values are refused when running).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_strength(
        opts: *mut inpaint_run_options,
        strength: f32,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.request.strength = strength) }
    }

    /// Feathers a diffusion model's paste with a Gaussian of `2·blur + 1` pixels (IOPaint's
    /// `sd_mask_blur`). This CHANGES PIXELS OUTSIDE THE MASK, up to about `blur` pixels away;
    /// the default, 0, leaves every pixel outside the mask as it was. Other models refuse a
    /// blur other than 0 when running.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_sd_mask_blur(
        opts: *mut inpaint_run_options,
        blur: u32,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.sd_mask_blur = blur) }
    }

    /// Turns on IOPaint's extender (outpainting, its `use_extender` with `extender_x`,
    /// `extender_y`, `extender_width`, `extender_height`): the result becomes a canvas that
    /// holds the image and this box, in image coordinates (`x`, `y` negative reach left of and
    /// above the image). A diffusion model paints the pixels the box adds, and the image's own
    /// pixels are kept (see `inpaint_model_run_with_options` for the output size). To add
    /// `left`, `top`, `right`, `bottom` pixels to a `w`×`h` image, pass `x = -left`,
    /// `y = -top`, `width = w + left + right`, `height = h + top + bottom`.
    ///
    /// A width or height below 1 is `INPAINT_STATUS_INVALID_INPUT` at once; a box that does not
    /// overlap the image is refused when running (or by `inpaint_run_options_output_size`), as
    /// are a croper set too (not offered by this ABI) and a model that is not a diffusion model.
    /// Default: off.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using; `err_out` is NULL or valid
    /// for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_set_extender(
        opts: *mut inpaint_run_options,
        x: i64,
        y: i64,
        width: i64,
        height: i64,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            // SAFETY: NULL or live, by the caller's guarantee.
            let opts = unsafe { try_mut(opts, "opts") }?;
            let side = |value: i64, name: &str| {
                u32::try_from(value).ok().filter(|&v| v > 0).ok_or_else(|| {
                    Failure::invalid_input(format!(
                        "extender {name} must be between 1 and {}, got {value}",
                        u32::MAX
                    ))
                })
            };
            let extender = CropBox {
                x,
                y,
                width: side(width, "width")?,
                height: side(height, "height")?,
            };
            opts.options.extender = Some(extender);
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Turns the extender off again (the default).
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live options that no other call is using.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_clear_extender(
        opts: *mut inpaint_run_options,
    ) -> inpaint_status {
        // SAFETY: forwarded to the caller.
        unsafe { set(opts, |o| o.extender = None) }
    }

    /// Writes the size of the result a run with these options gives for a `width`×`height`
    /// image to `*out_width` and `*out_height`: the image's own, or with an extender the
    /// canvas. `INPAINT_STATUS_INVALID_INPUT` for an empty image or an extender box that does
    /// not overlap it, `INPAINT_STATUS_LIMITS_EXCEEDED` for a canvas beyond the limits; the
    /// outputs are written only on success. `opts` NULL means the default run options.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or live run options; `out_width` and `out_height` are NULL or valid for
    /// writing one `uint32_t`; `err_out` is NULL or valid for writing one pointer.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_output_size(
        opts: *const inpaint_run_options,
        width: u32,
        height: u32,
        out_width: *mut u32,
        out_height: *mut u32,
        err_out: *mut *mut inpaint_error,
    ) -> inpaint_status {
        let body = || {
            let defaults = InpaintOptions::default();
            let options = if opts.is_null() {
                &defaults
            } else {
                // SAFETY: not NULL, so live options, by the caller's guarantee.
                &unsafe { try_ref(opts, "opts") }?.options
            };
            if out_width.is_null() {
                return Err(Failure::null("out_width"));
            }
            if out_height.is_null() {
                return Err(Failure::null("out_height"));
            }
            let (w, h) = options.output_size(width, height)?;
            // SAFETY: checked not NULL above; writable by the caller's guarantee.
            unsafe {
                out_width.write(w);
                out_height.write(h);
            }
            Ok(())
        };
        // SAFETY: the caller guarantees `err_out` is NULL or writable.
        unsafe { call(err_out, body) }
    }

    /// Frees run options. NULL is a no-op; freeing twice is forbidden.
    ///
    /// # Safety
    ///
    /// `opts` is NULL or options from this library that have not been freed.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn inpaint_run_options_free(opts: *mut inpaint_run_options) {
        // SAFETY: NULL or live options made by `ffi::into_raw`, by the caller's guarantee.
        ffi::guard((), || unsafe { ffi::free(opts) });
    }
}

/// Applies `change` to the options behind `opts`.
///
/// # Safety
///
/// `opts` is NULL or live options that no other call is using.
unsafe fn set(
    opts: *mut inpaint_run_options,
    change: impl FnOnce(&mut InpaintOptions),
) -> inpaint_status {
    let body = || {
        // SAFETY: NULL or live, by the caller's guarantee.
        change(&mut unsafe { try_mut(opts, "opts") }?.options);
        Ok(())
    };
    // SAFETY: a NULL `err_out` is allowed.
    unsafe { call(ptr::null_mut(), body) }
}
