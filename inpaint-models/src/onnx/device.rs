//! Devices (ONNX Runtime execution providers), the policy for choosing one, and the one place
//! sessions are built.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use inpaint_core::error::unknown_name;
use inpaint_core::{Error, Result};
use ort::error::ErrorCode;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};

use super::runtime::Runtime;

/// Where a model runs: one ONNX Runtime execution provider.
///
/// `Auto` is not a device but a request for this platform's best: see [`Device::auto_order`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Device {
    /// ONNX Runtime's CPU provider; always available.
    Cpu,
    /// NVIDIA CUDA (`cuda` feature).
    Cuda {
        /// The CUDA device ordinal.
        device_id: i32,
    },
    /// NVIDIA TensorRT (`tensorrt` feature).
    TensorRt {
        /// The CUDA device ordinal.
        device_id: i32,
    },
    /// Apple Core ML (`coreml` feature).
    CoreMl,
    /// DirectML on Windows (`directml` feature).
    DirectMl {
        /// The adapter index.
        device_id: i32,
    },
    /// Intel OpenVINO (`openvino` feature).
    OpenVino,
    /// AMD ROCm (`rocm` feature).
    Rocm {
        /// The ROCm device ordinal.
        device_id: i32,
    },
    /// This platform's accelerators in order, then the CPU.
    Auto,
}

impl Device {
    /// The names [`FromStr`] takes, as in `--device NAME`.
    pub const NAMES: [&'static str; 8] = [
        "cpu", "cuda", "tensorrt", "coreml", "directml", "openvino", "rocm", "auto",
    ];

    /// The name of this device, as [`FromStr`] takes it (device ids are not part of it).
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda { .. } => "cuda",
            Device::TensorRt { .. } => "tensorrt",
            Device::CoreMl => "coreml",
            Device::DirectMl { .. } => "directml",
            Device::OpenVino => "openvino",
            Device::Rocm { .. } => "rocm",
            Device::Auto => "auto",
        }
    }

    /// The accelerators `Auto` tries on this machine, best first (the CPU comes after them):
    /// NVIDIA GPU: TensorRT, CUDA; AMD GPU (Linux): ROCm; macOS: Core ML; Windows: DirectML;
    /// Intel CPU: OpenVINO. With the reason each platform check gave, for the report.
    pub fn auto_order() -> (Vec<Device>, Vec<String>) {
        let mut devices = Vec::new();
        let mut notes = Vec::new();
        if cfg!(target_os = "macos") {
            devices.push(Device::CoreMl);
        }
        if cfg!(target_os = "windows") {
            devices.push(Device::DirectMl { device_id: 0 });
        }
        if cfg!(target_os = "linux") {
            if Path::new("/dev/nvidia0").exists() || Path::new("/proc/driver/nvidia").exists() {
                devices.extend([
                    Device::TensorRt { device_id: 0 },
                    Device::Cuda { device_id: 0 },
                ]);
            } else {
                notes.push("no NVIDIA GPU: no /dev/nvidia0".to_string());
            }
            if Path::new("/dev/kfd").exists() {
                devices.push(Device::Rocm { device_id: 0 });
            }
        }
        if is_intel_cpu() {
            devices.push(Device::OpenVino);
        }
        (devices, notes)
    }

    /// The `ort` execution provider for this device, registration failures being errors;
    /// `Err` with the reason when this build has no support for it.
    fn execution_provider(self) -> std::result::Result<ort::ep::ExecutionProviderDispatch, String> {
        let not_built = |feature: &str| {
            Err(format!(
                "this build has no {} support (build inpaint-models with the `{feature}` feature)",
                self.name()
            ))
        };
        let dispatch = match self {
            Device::Cpu => ort::ep::CPU::default().build(),
            #[cfg(feature = "cuda")]
            Device::Cuda { device_id } => {
                ort::ep::CUDA::default().with_device_id(device_id).build()
            }
            #[cfg(not(feature = "cuda"))]
            Device::Cuda { .. } => return not_built("cuda"),
            #[cfg(feature = "tensorrt")]
            Device::TensorRt { device_id } => ort::ep::TensorRT::default()
                .with_device_id(device_id)
                .build(),
            #[cfg(not(feature = "tensorrt"))]
            Device::TensorRt { .. } => return not_built("tensorrt"),
            #[cfg(feature = "coreml")]
            Device::CoreMl => ort::ep::CoreML::default().build(),
            #[cfg(not(feature = "coreml"))]
            Device::CoreMl => return not_built("coreml"),
            #[cfg(feature = "directml")]
            Device::DirectMl { device_id } => ort::ep::DirectML::default()
                .with_device_id(device_id)
                .build(),
            #[cfg(not(feature = "directml"))]
            Device::DirectMl { .. } => return not_built("directml"),
            #[cfg(feature = "openvino")]
            Device::OpenVino => ort::ep::OpenVINO::default().build(),
            #[cfg(not(feature = "openvino"))]
            Device::OpenVino => return not_built("openvino"),
            #[cfg(feature = "rocm")]
            Device::Rocm { device_id } => {
                ort::ep::ROCm::default().with_device_id(device_id).build()
            }
            #[cfg(not(feature = "rocm"))]
            Device::Rocm { .. } => return not_built("rocm"),
            Device::Auto => return Err("`auto` is a policy, not a device".to_string()),
        };
        Ok(dispatch.error_on_failure())
    }
}

fn is_intel_cpu() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let leaf = std::arch::x86_64::__cpuid(0);
        let vendor: Vec<u8> = [leaf.ebx, leaf.edx, leaf.ecx]
            .iter()
            .flat_map(|r| r.to_le_bytes())
            .collect();
        vendor == b"GenuineIntel"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cuda { device_id }
            | Device::TensorRt { device_id }
            | Device::DirectMl { device_id }
            | Device::Rocm { device_id }
                if *device_id != 0 =>
            {
                write!(f, "{}:{device_id}", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

impl FromStr for Device {
    type Err = Error;

    /// `cpu`, `cuda`, `tensorrt`, `coreml`, `directml`, `openvino`, `rocm` or `auto`; a GPU
    /// may carry its ordinal: `cuda:1`.
    fn from_str(text: &str) -> Result<Device> {
        let (name, id) = match text.split_once(':') {
            Some((name, id)) => {
                let id = id
                    .parse::<i32>()
                    .ok()
                    .filter(|id| *id >= 0)
                    .ok_or_else(|| {
                        Error::invalid_input(format!("bad device ordinal in `{text}`"))
                    })?;
                (name, Some(id))
            }
            None => (text, None),
        };
        let device_id = id.unwrap_or(0);
        let device = match name {
            "cpu" => Device::Cpu,
            "cuda" => Device::Cuda { device_id },
            "tensorrt" => Device::TensorRt { device_id },
            "coreml" => Device::CoreMl,
            "directml" => Device::DirectMl { device_id },
            "openvino" => Device::OpenVino,
            "rocm" => Device::Rocm { device_id },
            "auto" => Device::Auto,
            _ => {
                return Err(Error::invalid_input(unknown_name(
                    "device",
                    text,
                    &Device::NAMES,
                )));
            }
        };
        if id.is_some()
            && !matches!(
                device,
                Device::Cuda { .. }
                    | Device::TensorRt { .. }
                    | Device::DirectMl { .. }
                    | Device::Rocm { .. }
            )
        {
            return Err(Error::invalid_input(format!(
                "device `{name}` takes no ordinal (`{text}`)"
            )));
        }
        Ok(device)
    }
}

/// How to pick the device a model runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePolicy {
    /// This device or an error saying why it cannot be used. `Require(Auto)` requires the
    /// first accelerator of [`Device::auto_order`] that works, else fails.
    Require(Device),
    /// The first of these that can be used, then the CPU. `Auto` in the list stands for
    /// [`Device::auto_order`]. The [`ExecutionReport`] says which ran and why the others did
    /// not.
    Prefer(Vec<Device>),
}

impl Default for DevicePolicy {
    /// `Require(Cpu)`.
    fn default() -> Self {
        DevicePolicy::Require(Device::Cpu)
    }
}

impl DevicePolicy {
    /// The policy a `--device NAME` flag means: `auto` prefers this platform's accelerators
    /// and falls back to the CPU; any other name is required.
    pub fn for_flag(device: Device) -> Self {
        match device {
            Device::Auto => DevicePolicy::Prefer(vec![Device::Auto]),
            device => DevicePolicy::Require(device),
        }
    }
}

/// Which device a session got, and why the ones tried before it were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecutionReport {
    /// The device the session runs on.
    pub device: Device,
    /// Each device tried and refused before it, with ONNX Runtime's reason.
    pub refused: Vec<(Device, String)>,
    /// What the `auto` platform checks found, when `auto` was asked for.
    pub notes: Vec<String>,
}

impl fmt::Display for ExecutionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.device)?;
        let reasons: Vec<String> = self
            .notes
            .iter()
            .cloned()
            .chain(
                self.refused
                    .iter()
                    .map(|(d, why)| format!("{d} refused: {why}")),
            )
            .collect();
        if !reasons.is_empty() {
            write!(f, " ({})", reasons.join("; "))?;
        }
        Ok(())
    }
}

/// Session settings: the one place they are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionOptions {
    /// Threads inside one operator; 0 lets ONNX Runtime pick (one per physical core).
    pub intra_threads: usize,
    /// Threads across independent operators; 1 runs the graph sequentially.
    pub inter_threads: usize,
    /// Graph optimisation level 0–3 (3 = all, ONNX Runtime's default).
    pub optimization_level: u8,
    /// ONNX Runtime's CPU memory arena (on by default): one for the whole process, shared by
    /// every session that has it on. The arena keeps the peak it has served and never returns
    /// it to the system; off, each buffer is freed when done, which lowers the resident
    /// memory of a long-lived model (a diffusion UNet at a large size) at a cost in speed
    /// (SDXL at 1024² on the CPU: 1.4× slower per step, BENCHMARKS.md).
    pub cpu_arena: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            intra_threads: 0,
            inter_threads: 1,
            optimization_level: 3,
            cpu_arena: true,
        }
    }
}

impl SessionOptions {
    /// Sets [`intra_threads`](Self::intra_threads).
    pub fn with_intra_threads(mut self, threads: usize) -> Self {
        self.intra_threads = threads;
        self
    }

    /// Sets [`optimization_level`](Self::optimization_level).
    pub fn with_optimization_level(mut self, level: u8) -> Self {
        self.optimization_level = level;
        self
    }

    /// Sets [`cpu_arena`](Self::cpu_arena).
    pub fn with_cpu_arena(mut self, arena: bool) -> Self {
        self.cpu_arena = arena;
        self
    }
}

/// Where a model's bytes come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ModelSource<'a> {
    File(&'a Path),
    Bytes(&'a [u8]),
}

impl fmt::Display for ModelSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::File(path) => write!(f, "{}", path.display()),
            ModelSource::Bytes(bytes) => write!(f, "<{} bytes in memory>", bytes.len()),
        }
    }
}

/// Builds a session for `source` (a model named `model`) on the device `policy` picks.
/// `variable_size` turns the memory pattern off, which only pays when every run has the same
/// input shape.
pub(crate) fn build_session(
    runtime: &Runtime,
    model: &str,
    source: ModelSource<'_>,
    policy: &DevicePolicy,
    options: &SessionOptions,
    variable_size: bool,
) -> Result<(Session, ExecutionReport)> {
    let ort_failure = |err: ort::Error<SessionBuilder>| {
        Error::runtime_with(
            "cannot set up an ONNX Runtime session",
            ort::Error::<()>::from(err),
        )
    };
    let level = match options.optimization_level {
        0 => GraphOptimizationLevel::Disable,
        1 => GraphOptimizationLevel::Level1,
        2 => GraphOptimizationLevel::Level2,
        _ => GraphOptimizationLevel::All,
    };
    let builder = Session::builder(&runtime.environment)
        .map_err(|err| Error::runtime_with("cannot set up an ONNX Runtime session", err))?;
    let builder = builder
        .with_optimization_level(level)
        .map_err(ort_failure)?;
    let builder = builder
        .with_intra_threads(options.intra_threads)
        .map_err(ort_failure)?;
    let builder = builder
        .with_inter_threads(options.inter_threads.max(1))
        .map_err(ort_failure)?;
    let mut builder = builder
        .with_memory_pattern(!variable_size)
        .map_err(ort_failure)?;
    if options.cpu_arena {
        // The process's one CPU arena (runtime.rs), shared by every session.
        builder = builder.with_env_allocators().map_err(ort_failure)?;
    }

    let (candidates, required, notes) = match policy {
        DevicePolicy::Require(Device::Auto) => {
            let (devices, notes) = Device::auto_order();
            (devices, false, notes)
        }
        DevicePolicy::Require(device) => (vec![*device], true, Vec::new()),
        DevicePolicy::Prefer(devices) => {
            let mut notes = Vec::new();
            let mut expanded = Vec::new();
            for &device in devices {
                if device == Device::Auto {
                    let (auto, auto_notes) = Device::auto_order();
                    expanded.extend(auto);
                    notes.extend(auto_notes);
                } else {
                    expanded.push(device);
                }
            }
            (expanded, false, notes)
        }
    };

    for note in &notes {
        tracing::debug!(note = note.as_str(), "device search");
    }
    let mut refused = Vec::new();
    let mut chosen = None;
    for device in candidates {
        let (next, refusal) = try_register(builder, device);
        builder = next;
        match refusal {
            None => {
                chosen = Some(device);
                break;
            }
            Some(why) => {
                // A required device's refusal is the error the caller gets; any other is a
                // step down to the next candidate, which the user should hear of.
                if required {
                    tracing::debug!(%device, reason = why.as_str(), "execution provider refused");
                } else {
                    tracing::warn!(%device, reason = why.as_str(), "execution provider refused");
                }
                refused.push((device, why));
            }
        }
    }
    let device = match chosen {
        Some(device) => device,
        None if required => {
            let (device, why) = refused.pop().expect("a required device was tried");
            return Err(Error::runtime(format!("cannot use {device}: {why}")));
        }
        None if matches!(policy, DevicePolicy::Require(Device::Auto)) => {
            let mut why: Vec<String> = notes;
            why.extend(refused.iter().map(|(d, w)| format!("{d}: {w}")));
            return Err(Error::runtime(format!(
                "no accelerator could be used ({})",
                if why.is_empty() {
                    "none found".to_string()
                } else {
                    why.join("; ")
                }
            )));
        }
        None => Device::Cpu,
    };
    tracing::info!(%device, policy = ?policy, "execution provider chosen");
    if !options.cpu_arena {
        // Registering the CPU provider with its arena off is how ort turns the session's CPU
        // arena off (DisableCpuMemArena). Registered after the chosen device, so that device
        // keeps its priority.
        builder = builder
            .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
            .map_err(ort_failure)?;
    }

    let session = match source {
        ModelSource::File(path) => builder.commit_from_file(path),
        ModelSource::Bytes(bytes) => builder.commit_from_memory(bytes),
    }
    .map_err(|err| {
        let message = format!("ONNX Runtime cannot load the model {source}");
        if is_bad_model_file(err.code()) {
            Error::model_with(model, message, err)
        } else {
            Error::runtime_with(message, err)
        }
    })?;
    Ok((
        session,
        ExecutionReport {
            device,
            refused,
            notes,
        },
    ))
}

/// Whether ONNX Runtime refused a model because of the file itself (not ONNX, truncated, an
/// invalid graph, an operator it does not know), rather than for want of a device or memory:
/// a caller must replace the file, not the runtime.
fn is_bad_model_file(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::InvalidProtobuf
            | ErrorCode::InvalidGraph
            | ErrorCode::NoModel
            | ErrorCode::NotImplemented
    )
}

/// Registers `device` on `builder`: the builder back, and the reason when it was refused.
fn try_register(builder: SessionBuilder, device: Device) -> (SessionBuilder, Option<String>) {
    if device == Device::Cpu {
        // The CPU provider is always there; registering it explicitly would only matter for
        // its options, and we use none.
        return (builder, None);
    }
    let provider = match device.execution_provider() {
        Ok(provider) => provider,
        Err(why) => return (builder, Some(why)),
    };
    match builder.with_execution_providers([provider]) {
        Ok(registered) => (registered, None),
        Err(err) => {
            let why = err.message().to_string();
            (err.recover(), Some(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_round_trip() {
        for name in Device::NAMES {
            let device: Device = name.parse().unwrap();
            assert_eq!(device.name(), name);
            assert_eq!(device.to_string(), name);
        }
        assert_eq!(
            "cuda:1".parse::<Device>().unwrap(),
            Device::Cuda { device_id: 1 }
        );
        assert_eq!(Device::Cuda { device_id: 1 }.to_string(), "cuda:1");
    }

    #[test]
    fn bad_device_names_say_what_exists() {
        let err = "cdua".parse::<Device>().unwrap_err().to_string();
        assert!(
            err.contains("known devices: cpu, cuda") && err.contains("did you mean `cuda`"),
            "{err}"
        );
        assert!("cpu:1".parse::<Device>().is_err());
        assert!("cuda:-1".parse::<Device>().is_err());
        assert!("cuda:x".parse::<Device>().is_err());
    }

    #[test]
    fn devices_without_their_feature_say_which_feature() {
        #[cfg(not(feature = "cuda"))]
        {
            let why = Device::Cuda { device_id: 0 }
                .execution_provider()
                .err()
                .unwrap();
            assert!(why.contains("`cuda` feature"), "{why}");
        }
        assert!(Device::Cpu.execution_provider().is_ok());
        assert!(Device::Auto.execution_provider().is_err());
    }
}
