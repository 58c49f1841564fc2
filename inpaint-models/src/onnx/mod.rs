//! Neural models on ONNX Runtime (feature `onnx`, on by default).
//!
//! * [`Runtime`]: finds and loads the ONNX Runtime shared library ([`RuntimeSearch`]: an
//!   explicit path, `ORT_DYLIB_PATH` through [`RuntimeSearch::from_env`], the project's runtime
//!   folder, then the system loader) and checks its version.
//! * [`Device`] and [`DevicePolicy`]: which execution provider runs a model; every loaded model
//!   reports the one it got and why others were refused ([`ExecutionReport`]).
//! * [`OnnxModel`]: one graph of one [`Architecture`] (LaMa, dynamic LaMa, MI-GAN, the MI-GAN
//!   pipeline, MAT, FcF), checked against its contract at load, run through the shared
//!   pipeline like every model.
//! * [`triton_config`]: the Triton model configuration that serves such a graph, for the
//!   forward pass on an inference server (`remote::RemoteModel`, feature `remote`).
//!
//! ```no_run
//! use inpaint_core::{inpaint, io, InpaintOptions, Limits};
//! use inpaint_models::onnx::{Architecture, Device, DevicePolicy, OnnxModel, OnnxOptions};
//!
//! let options = OnnxOptions::default().with_device(DevicePolicy::Prefer(vec![Device::Auto]));
//! let mut model = OnnxModel::load("lama_fp32.onnx", Architecture::Lama, &options)?;
//! println!("running on {}", model.execution());
//! let image = io::load_image("photo.jpg", &Limits::default())?;
//! let mask = io::load_mask("mask.png", &Limits::default())?;
//! let result = inpaint(&mut model, &image, &mask, &InpaintOptions::default())?;
//! io::save_image(&result, "out.png")?;
//! # Ok::<(), inpaint_core::Error>(())
//! ```

pub(crate) mod contract;
pub(crate) mod device;
pub(crate) mod model;
mod runtime;
mod triton;

pub use contract::{Element, GraphPort};
pub use device::{Device, DevicePolicy, ExecutionReport, SessionOptions};
pub use model::{Architecture, OnnxModel, OnnxOptions, OutputRange, PreparedInputs};
#[cfg(feature = "remote")]
pub(crate) use model::{HostTensor, TensorCodec, TensorData, TensorView};
pub use runtime::{REQUIRED_VERSION, Runtime, RuntimeSearch, project_runtime_dir};
pub use triton::triton_config;
