//! The neural architectures, each an I/O contract on one ONNX graph, and [`OnnxModel`], the
//! [`InpaintModel`] that runs them.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use half::f16;
use image::RgbImage;
use inpaint_core::{Error, InpaintModel, Mask, ModelSpec, Request, Result};
use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorElementType};

use super::contract::{self, Checked, Dim, Element, Elements, GraphPort, Port, Spatial};
use super::device::{DevicePolicy, ExecutionReport, ModelSource, SessionOptions, build_session};
use super::runtime::{Runtime, RuntimeSearch};
use inpaint_core::error::unknown_name;

/// A neural inpainting architecture: how its graph is fed and read. Contracts follow IOPaint's
/// pre- and post-processing and the public ONNX exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Architecture {
    /// LaMa fixed at 512×512, the `Carve/LaMa-ONNX` `lama_fp32.onnx` contract: `image` RGB
    /// 0–1 and `mask` (1 = hole) in, `output` 0–255 out, already composited.
    Lama,
    /// LaMa with symbolic height and width (padded to a multiple of 8): the AnimeLaMa / manga
    /// exports, float32 or float16. Output 0–1 or 0–255, as declared (see [`OutputRange`]).
    LamaDynamic,
    /// The raw MI-GAN generator, 512×512: `input` = cat(known − 0.5, image·known) with the
    /// image in −1…1; `output` −1…1.
    Migan,
    /// MI-GAN's `migan_pipeline_v2` graph: uint8 `image` and `mask` (255 = known) of any size
    /// in, the whole uint8 `result` out. It crops and blends inside the graph.
    MiganPipeline,
    /// MAT, 512×512: `image` −1…1, `mask` 1 = known, and a `noise` vector when the graph has
    /// one (fixed by the seed).
    Mat,
    /// FcF, 512×512, with MI-GAN's input contract.
    Fcf,
}

impl Architecture {
    /// Every architecture, in [`NAMES`](Self::NAMES) order.
    pub const ALL: [Architecture; 6] = [
        Architecture::Lama,
        Architecture::LamaDynamic,
        Architecture::Migan,
        Architecture::MiganPipeline,
        Architecture::Mat,
        Architecture::Fcf,
    ];

    /// The names [`FromStr`] takes.
    pub const NAMES: [&'static str; 6] = [
        "lama",
        "lama-dynamic",
        "migan",
        "migan-pipeline",
        "mat",
        "fcf",
    ];

    /// This architecture's name.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL
            .iter()
            .position(|&a| a == self)
            .expect("every architecture is in ALL")]
    }

    /// The graph's inputs, outputs and spatial rule.
    fn contract(self) -> Contract {
        const IMAGE: &[Dim] = &[Dim::Batch, Dim::Fixed(3), Dim::Spatial, Dim::Spatial];
        const MASK: &[Dim] = &[Dim::Batch, Dim::Fixed(1), Dim::Spatial, Dim::Spatial];
        const STACKED: &[Dim] = &[Dim::Batch, Dim::Fixed(4), Dim::Spatial, Dim::Spatial];
        const LAMA_IN: &[Port] = &[
            Port::new("image", Elements::Float, IMAGE),
            Port::new("mask", Elements::Float, MASK),
        ];
        const FLOAT_OUT: &[Port] = &[Port::new("output", Elements::Float, IMAGE)];
        const STACKED_IN: &[Port] = &[Port::new("input", Elements::Float, STACKED)];
        const BYTE_IN: &[Port] = &[
            Port::new("image", Elements::Byte, IMAGE),
            Port::new("mask", Elements::Byte, MASK),
        ];
        const BYTE_OUT: &[Port] = &[Port::new("result", Elements::Byte, IMAGE)];
        const NOISE: Port = Port::new("noise", Elements::Float, &[Dim::Batch, Dim::Spatial]);
        match self {
            Architecture::Lama => Contract {
                inputs: LAMA_IN,
                optional: None,
                outputs: FLOAT_OUT,
                spatial: Spatial::Fixed(512),
            },
            Architecture::LamaDynamic => Contract {
                inputs: LAMA_IN,
                optional: None,
                outputs: FLOAT_OUT,
                spatial: Spatial::DynamicOrSquare,
            },
            Architecture::Migan | Architecture::Fcf => Contract {
                inputs: STACKED_IN,
                optional: None,
                outputs: FLOAT_OUT,
                spatial: Spatial::Fixed(512),
            },
            Architecture::MiganPipeline => Contract {
                inputs: BYTE_IN,
                optional: None,
                outputs: BYTE_OUT,
                spatial: Spatial::Dynamic,
            },
            Architecture::Mat => Contract {
                inputs: LAMA_IN,
                optional: Some(NOISE),
                outputs: FLOAT_OUT,
                spatial: Spatial::Fixed(512),
            },
        }
    }

    /// Checks a graph's ports against this architecture's contract: `Err` lists every
    /// mismatch.
    fn check_graph(
        self,
        inputs: &[GraphPort],
        outputs: &[GraphPort],
    ) -> std::result::Result<Checked, String> {
        let contract = self.contract();
        contract::check(
            inputs,
            outputs,
            contract.inputs,
            contract.optional.as_ref(),
            contract.outputs,
            contract.spatial,
        )
    }

    /// The contract check as a load error naming `source` and every mismatch: the one check
    /// every backend's loader makes.
    pub(crate) fn check_ports(
        self,
        inputs: &[GraphPort],
        outputs: &[GraphPort],
        source: &str,
    ) -> Result<Checked> {
        self.check_graph(inputs, outputs).map_err(|problems| {
            Error::model(
                self.name(),
                format!("{source} does not have the `{self}` contract: {problems}"),
            )
        })
    }

    /// Whether a graph with these ports has this architecture's contract; `Err` names each
    /// mismatch. The same check [`OnnxModel::load`] makes, for tools that read a file's ports
    /// without loading it.
    pub fn accepts(
        self,
        inputs: &[GraphPort],
        outputs: &[GraphPort],
    ) -> std::result::Result<(), String> {
        self.check_graph(inputs, outputs).map(drop)
    }

    /// The architecture whose contract a graph with these ports has, in [`ALL`](Self::ALL)
    /// order (a fixed 512×512 LaMa is `lama`, not `lama-dynamic`); `Err` gives each
    /// architecture's mismatches.
    pub fn identify(
        inputs: &[GraphPort],
        outputs: &[GraphPort],
    ) -> std::result::Result<Architecture, String> {
        let mut reasons = Vec::new();
        for arch in Self::ALL {
            match arch.accepts(inputs, outputs) {
                Ok(()) => return Ok(arch),
                Err(why) => reasons.push(format!("not {arch}: {why}")),
            }
        }
        Err(reasons.join(" | "))
    }

    /// The pipeline spec for a graph of this architecture; `fixed_side` from the graph.
    pub(crate) fn spec(self, fixed_side: Option<u32>) -> ModelSpec {
        let spec = ModelSpec::new(self.name());
        let spec = match fixed_side {
            // IOPaint's MI-GAN/FcF path: crop around each hole, fit, pad to a square.
            Some(side) => spec
                .with_pad_multiple(side)
                .with_min_size(Some(side))
                .with_pad_to_square(true)
                .with_fixed_size(Some(side)),
            None if self == Architecture::MiganPipeline => spec,
            None => spec.with_pad_multiple(8),
        };
        spec.with_mask_threshold(match self {
            Architecture::Lama | Architecture::LamaDynamic => 0,
            Architecture::Migan | Architecture::Fcf => 120,
            Architecture::Mat | Architecture::MiganPipeline => 127,
        })
    }
}

struct Contract {
    inputs: &'static [Port],
    optional: Option<Port>,
    outputs: &'static [Port],
    spatial: Spatial,
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Architecture {
    type Err = Error;

    fn from_str(name: &str) -> Result<Architecture> {
        match Self::NAMES.iter().position(|&n| n == name) {
            Some(index) => Ok(Self::ALL[index]),
            None => Err(Error::invalid_input(unknown_name(
                "architecture",
                name,
                &Self::NAMES,
            ))),
        }
    }
}

/// The range of a LaMa graph's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputRange {
    /// 0–1 (the manga / AnimeLaMa exports).
    Unit,
    /// 0–255 (Carve's export, RapidRAW's fp16 export).
    Byte,
}

impl OutputRange {
    /// The key in an ONNX file's metadata that declares the range: `0-1` or `0-255`.
    pub const METADATA_KEY: &'static str = "inpaint.output_range";

    fn scale(self) -> f32 {
        match self {
            OutputRange::Unit => 255.0,
            OutputRange::Byte => 1.0,
        }
    }
}

impl FromStr for OutputRange {
    type Err = Error;

    fn from_str(text: &str) -> Result<OutputRange> {
        match text {
            "0-1" => Ok(OutputRange::Unit),
            "0-255" => Ok(OutputRange::Byte),
            _ => Err(Error::invalid_input(format!(
                "unknown output range `{text}`; expected `0-1` or `0-255`"
            ))),
        }
    }
}

/// How to load an ONNX model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OnnxOptions {
    /// Where to find ONNX Runtime (used when none is loaded yet in this process).
    pub runtime: RuntimeSearch,
    /// Which device to run on.
    pub device: DevicePolicy,
    /// Threads and graph optimisation.
    pub session: SessionOptions,
    /// `lama-dynamic`: the output range, when the file does not declare it in its metadata
    /// (key [`OutputRange::METADATA_KEY`]). Without either, 0–1 is assumed and a run whose
    /// output leaves 0–1 is an error asking for this option.
    pub output_range: Option<OutputRange>,
    /// `mat`: the seed of its noise input (IOPaint seeds 240).
    pub seed: u64,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions {
            runtime: RuntimeSearch::from_env(),
            device: DevicePolicy::default(),
            session: SessionOptions::default(),
            output_range: None,
            seed: 240,
        }
    }
}

impl OnnxOptions {
    /// Sets [`device`](Self::device).
    pub fn with_device(mut self, device: DevicePolicy) -> Self {
        self.device = device;
        self
    }

    /// Sets [`runtime`](Self::runtime).
    pub fn with_runtime(mut self, runtime: RuntimeSearch) -> Self {
        self.runtime = runtime;
        self
    }

    /// Sets [`session`](Self::session).
    pub fn with_session(mut self, session: SessionOptions) -> Self {
        self.session = session;
        self
    }

    /// Sets [`output_range`](Self::output_range).
    pub fn with_output_range(mut self, range: OutputRange) -> Self {
        self.output_range = Some(range);
        self
    }

    /// Sets [`seed`](Self::seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A neural model on ONNX Runtime: one loaded graph of one [`Architecture`].
///
/// Its [`ModelSpec`] comes from the architecture and the graph (fixed 512 models crop, fit and
/// pad; dynamic ones pad to a multiple of 8), so it runs through
/// [`inpaint`](inpaint_core::inpaint) like every model. One instance runs one image at a time
/// (`forward` takes `&mut self`); load one per thread to run in parallel.
pub struct OnnxModel {
    architecture: Architecture,
    spec: ModelSpec,
    session: Session,
    report: ExecutionReport,
    runtime: Arc<Runtime>,
    codec: TensorCodec,
    /// Time spent inside ONNX Runtime's `run` since the model was loaded.
    session_time: Duration,
}

/// An architecture's pre- and post-processing, apart from what runs the graph: images and
/// masks to named input tensors, the output tensor back to RGB. ONNX Runtime ([`OnnxModel`])
/// and a remote inference server (`remote::RemoteModel`) are two backends of this one code
/// path, so a model gives the same bytes wherever its forward pass runs.
#[derive(Debug, Clone)]
pub(crate) struct TensorCodec {
    reading: OutputReading,
    noise: Option<Vec<f32>>,
}

/// A named tensor in host memory, row-major: what a backend is fed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostTensor {
    pub(crate) name: &'static str,
    pub(crate) shape: Vec<i64>,
    pub(crate) data: TensorData,
}

/// A tensor's elements, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TensorData {
    F32(Vec<f32>),
    F16(Vec<f16>),
    U8(Vec<u8>),
}

/// A tensor's elements, borrowed from whatever holds them (a session's output, a response).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TensorView<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
    U8(&'a [u8]),
}

impl TensorView<'_> {
    /// The element type's name, as in messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            TensorView::F32(_) => "float32",
            TensorView::F16(_) => "float16",
            TensorView::U8(_) => "uint8",
        }
    }
}

impl TensorData {
    #[cfg(feature = "remote")]
    pub(crate) fn view(&self) -> TensorView<'_> {
        match self {
            TensorData::F32(v) => TensorView::F32(v),
            TensorData::F16(v) => TensorView::F16(v),
            TensorData::U8(v) => TensorView::U8(v),
        }
    }
}

/// How a graph's output becomes RGB bytes.
#[derive(Debug, Clone, Copy)]
struct OutputReading {
    architecture: Architecture,
    /// Whether the float ports are float16 (else float32).
    float16: bool,
    range: OutputRange,
    /// Whether the range was only assumed (then every run checks it).
    range_assumed: bool,
}

impl fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxModel")
            .field("architecture", &self.architecture)
            .field("spec", &self.spec)
            .field("device", &self.report)
            .field("float16", &self.codec.reading.float16)
            .finish_non_exhaustive()
    }
}

impl OnnxModel {
    /// Loads the graph at `path` as `architecture`, checking it against the contract.
    pub fn load(
        path: impl AsRef<Path>,
        architecture: Architecture,
        options: &OnnxOptions,
    ) -> Result<Self> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such model file"),
            });
        }
        Self::build(ModelSource::File(path), architecture, options)
    }

    /// Loads a graph from memory as `architecture`, checking it against the contract.
    pub fn from_bytes(
        bytes: &[u8],
        architecture: Architecture,
        options: &OnnxOptions,
    ) -> Result<Self> {
        Self::build(ModelSource::Bytes(bytes), architecture, options)
    }

    fn build(
        source: ModelSource<'_>,
        architecture: Architecture,
        options: &OnnxOptions,
    ) -> Result<Self> {
        let _span = tracing::info_span!("load", architecture = %architecture, %source).entered();
        let runtime = Runtime::load(&options.runtime)?;
        let contract = architecture.contract();
        let variable_size = contract.spatial != Spatial::Fixed(512);
        let (session, report) = build_session(
            &runtime,
            architecture.name(),
            source,
            &options.device,
            &options.session,
            variable_size,
        )?;
        let checked = architecture.check_ports(
            &graph_ports(session.inputs()),
            &graph_ports(session.outputs()),
            &source.to_string(),
        )?;

        let declared = session
            .metadata()
            .ok()
            .and_then(|metadata| metadata.custom(OutputRange::METADATA_KEY))
            .map(|text| text.parse::<OutputRange>())
            .transpose()
            .map_err(|err| {
                Error::model(
                    architecture.name(),
                    format!("{source}: metadata {}: {err}", OutputRange::METADATA_KEY),
                )
            })?;
        let codec = TensorCodec::new(
            architecture,
            &checked,
            options.output_range.or(declared),
            options.seed,
            || noise_length(&session),
        );
        tracing::info!(
            device = %report.device,
            fixed_side = checked.fixed_side,
            output_range = ?options.output_range.or(declared),
            "model loaded"
        );
        Ok(OnnxModel {
            architecture,
            spec: architecture.spec(checked.fixed_side),
            session,
            report,
            runtime,
            codec,
            session_time: Duration::ZERO,
        })
    }

    /// The architecture this model was loaded as.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// The device the model runs on, and why others were refused.
    pub fn execution(&self) -> &ExecutionReport {
        &self.report
    }

    /// The time spent inside ONNX Runtime's `run` since the model was loaded: with the
    /// wall-clock time of [`inpaint`](inpaint_core::inpaint), what the rest of the pipeline
    /// costs.
    pub fn session_time(&self) -> Duration {
        self.session_time
    }

    /// The ONNX Runtime this model runs on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Whether the graph's float ports are float16.
    pub fn is_f16(&self) -> bool {
        self.codec.reading.float16
    }

    /// Runs the bare session on tensors already prepared from `image` and `mask` (whose sizes
    /// match the spec): for benchmarks that separate the runtime from the rest.
    pub fn run_prepared(&mut self, inputs: &PreparedInputs) -> Result<()> {
        self.session
            .run(named(&inputs.values))
            .map(drop)
            .map_err(|err| Error::model_with(self.architecture.name(), "ONNX Runtime failed", err))
    }

    /// The tensors `forward` would feed for this image and mask (sizes as the spec says).
    pub fn prepare(&self, image: &RgbImage, mask: &Mask) -> Result<PreparedInputs> {
        session_inputs(self.codec.inputs(image, mask)).map(|values| PreparedInputs { values })
    }
}

impl TensorCodec {
    /// The codec of a graph of `architecture` that passed the contract check. `range`: the
    /// output range given or declared (`lama-dynamic`; without one, 0–1 is assumed and
    /// checked on every run); `noise_length`: the length of the optional noise input.
    pub(crate) fn new(
        architecture: Architecture,
        checked: &Checked,
        range: Option<OutputRange>,
        seed: u64,
        noise_length: impl FnOnce() -> usize,
    ) -> TensorCodec {
        let (range, range_assumed) = match architecture {
            Architecture::Lama => (OutputRange::Byte, false),
            _ => match range {
                Some(range) => (range, false),
                None => (OutputRange::Unit, true),
            },
        };
        TensorCodec {
            reading: OutputReading {
                architecture,
                float16: checked.float == Element::Float16,
                range,
                range_assumed: range_assumed && architecture == Architecture::LamaDynamic,
            },
            noise: checked
                .has_optional
                .then(|| normal_noise(seed, noise_length())),
        }
    }

    /// The name of the output the codec reads.
    pub(crate) fn output_name(&self) -> &'static str {
        self.reading.architecture.contract().outputs[0].name
    }

    /// The output's conversion to RGB (`shape` and `data` as the backend returned them).
    pub(crate) fn output(
        &self,
        shape: &[i64],
        data: TensorView<'_>,
        width: u32,
        height: u32,
    ) -> Result<RgbImage> {
        self.reading.output(shape, data, width, height)
    }

    /// The named input tensors for this image and mask (sizes as the spec says).
    pub(crate) fn inputs(&self, image: &RgbImage, mask: &Mask) -> Vec<HostTensor> {
        let (width, height) = image.dimensions();
        let (w, h) = (width as usize, height as usize);
        let plane = w * h;
        let hole: Vec<bool> = mask.as_gray().as_raw().iter().map(|&m| m > 0).collect();
        let rgb = image.as_raw();
        // Planar CHW from interleaved RGB, through `value` per channel byte.
        let planar = |value: &dyn Fn(u8, bool) -> f32| -> Vec<f32> {
            let mut out = vec![0.0f32; 3 * plane];
            for (i, pixel) in rgb.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    out[c * plane + i] = value(pixel[c], hole[i]);
                }
            }
            out
        };
        let shape = |channels: i64| vec![1, channels, i64::from(height), i64::from(width)];
        let float = |name, shape, data| self.float_tensor(name, shape, data);
        match self.reading.architecture {
            Architecture::Lama | Architecture::LamaDynamic => {
                let image = planar(&|v, _| f32::from(v) / 255.0);
                let mask: Vec<f32> = hole.iter().map(|&h| if h { 1.0 } else { 0.0 }).collect();
                vec![
                    float("image", shape(3), image),
                    float("mask", shape(1), mask),
                ]
            }
            Architecture::Migan | Architecture::Fcf => {
                let mut input: Vec<f32> =
                    hole.iter().map(|&h| if h { -0.5 } else { 0.5 }).collect();
                input.extend(planar(&|v, h| {
                    if h { 0.0 } else { f32::from(v) / 127.5 - 1.0 }
                }));
                vec![float("input", shape(4), input)]
            }
            Architecture::Mat => {
                let image = planar(&|v, _| f32::from(v) / 127.5 - 1.0);
                let known: Vec<f32> = hole.iter().map(|&h| if h { 0.0 } else { 1.0 }).collect();
                let mut values = vec![
                    float("image", shape(3), image),
                    float("mask", shape(1), known),
                ];
                if let Some(noise) = &self.noise {
                    values.push(float("noise", vec![1, noise.len() as i64], noise.clone()));
                }
                values
            }
            Architecture::MiganPipeline => {
                let mut image = vec![0u8; 3 * plane];
                for (i, pixel) in rgb.chunks_exact(3).enumerate() {
                    for c in 0..3 {
                        image[c * plane + i] = pixel[c];
                    }
                }
                let known: Vec<u8> = hole.iter().map(|&h| if h { 0 } else { 255 }).collect();
                vec![
                    HostTensor {
                        name: "image",
                        shape: shape(3),
                        data: TensorData::U8(image),
                    },
                    HostTensor {
                        name: "mask",
                        shape: shape(1),
                        data: TensorData::U8(known),
                    },
                ]
            }
        }
    }

    fn float_tensor(&self, name: &'static str, shape: Vec<i64>, data: Vec<f32>) -> HostTensor {
        let data = if self.reading.float16 {
            TensorData::F16(data.into_iter().map(f16::from_f32).collect())
        } else {
            TensorData::F32(data)
        };
        HostTensor { name, shape, data }
    }
}

impl OutputReading {
    /// The graph's output as RGB bytes, converted as the architecture says.
    fn output(
        &self,
        shape: &[i64],
        data: TensorView<'_>,
        width: u32,
        height: u32,
    ) -> Result<RgbImage> {
        let name = self.architecture.contract().outputs[0].name;
        let plane = width as usize * height as usize;
        let expected = [1, 3, i64::from(height), i64::from(width)];
        let fail = |what: String| Error::model(self.architecture.name(), what);
        if shape != expected {
            return Err(fail(format!(
                "output `{name}` has shape {shape:?}, expected {expected:?}"
            )));
        }
        let to_byte: Box<dyn Fn(f32) -> u8> = match self.architecture {
            Architecture::MiganPipeline => Box::new(|v| v as u8),
            // IOPaint clips then truncates LaMa's output (`astype(uint8)`).
            Architecture::Lama | Architecture::LamaDynamic => {
                let scale = self.range.scale();
                Box::new(move |v| (v * scale).clamp(0.0, 255.0) as u8)
            }
            // …and rounds the −1…1 models' output.
            Architecture::Migan | Architecture::Fcf | Architecture::Mat => {
                Box::new(|v| (v * 127.5 + 127.5).round().clamp(0.0, 255.0) as u8)
            }
        };
        let pipeline = self.architecture == Architecture::MiganPipeline;
        let planar: Cow<'_, [f32]> = match data {
            TensorView::U8(data) if pipeline => data.iter().map(|&v| f32::from(v)).collect(),
            TensorView::F16(data) if !pipeline && self.float16 => {
                data.iter().map(|v| v.to_f32()).collect()
            }
            TensorView::F32(data) if !pipeline && !self.float16 => Cow::Borrowed(data),
            other => {
                let expected = match (pipeline, self.float16) {
                    (true, _) => "uint8",
                    (false, true) => "float16",
                    (false, false) => "float32",
                };
                return Err(fail(format!(
                    "output `{name}` is {}, expected {expected}",
                    other.type_name()
                )));
            }
        };
        if planar.len() != 3 * plane {
            return Err(fail(format!(
                "output `{name}` holds {} values for shape {shape:?}",
                planar.len()
            )));
        }
        if let Some(bad) = planar.iter().find(|v| !v.is_finite()) {
            return Err(fail(format!("output `{name}` holds {bad}")));
        }
        if self.range_assumed {
            let max = planar.iter().copied().fold(f32::MIN, f32::max);
            if max > 1.5 {
                return Err(fail(format!(
                    "output reaches {max}, outside the assumed 0–1 range; the file does not \
                     declare its range ({}), so set the output range to 0-255",
                    OutputRange::METADATA_KEY
                )));
            }
        }
        let mut rgb = vec![0u8; 3 * plane];
        for (i, pixel) in rgb.chunks_exact_mut(3).enumerate() {
            for c in 0..3 {
                pixel[c] = to_byte(planar[c * plane + i]);
            }
        }
        RgbImage::from_raw(width, height, rgb).ok_or_else(|| fail("output buffer size".into()))
    }
}

/// Tensors prepared for [`OnnxModel::run_prepared`].
pub struct PreparedInputs {
    values: Vec<(&'static str, DynValue)>,
}

/// Inputs by name, since a graph may list them in another order.
fn named<'v>(values: &'v [(&'static str, DynValue)]) -> Vec<(&'static str, &'v DynValue)> {
    values.iter().map(|(name, value)| (*name, value)).collect()
}

impl fmt::Debug for PreparedInputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedInputs")
            .field("count", &self.values.len())
            .finish()
    }
}

/// The codec's tensors as ONNX Runtime values: the buffers move, nothing is copied.
fn session_inputs(tensors: Vec<HostTensor>) -> Result<Vec<(&'static str, DynValue)>> {
    fn value<T>(shape: Vec<i64>, data: Vec<T>) -> Result<DynValue>
    where
        T: ort::value::PrimitiveTensorElementType + Clone + fmt::Debug + 'static,
    {
        Tensor::from_array((shape, data))
            .map(|t| t.into_dyn())
            .map_err(|err| Error::runtime_with("cannot create an input tensor", err))
    }
    tensors
        .into_iter()
        .map(|HostTensor { name, shape, data }| {
            let value = match data {
                TensorData::F32(data) => value(shape, data),
                TensorData::F16(data) => value(shape, data),
                TensorData::U8(data) => value(shape, data),
            }?;
            Ok((name, value))
        })
        .collect()
}

/// A session's output `name`, as the codec reads it.
fn read_output(
    codec: &TensorCodec,
    outputs: &ort::session::SessionOutputs<'_>,
    width: u32,
    height: u32,
) -> Result<RgbImage> {
    let name = codec.output_name();
    let architecture = codec.reading.architecture.name();
    let fail = |err: ort::Error| Error::model_with(architecture, format!("output `{name}`"), err);
    let value = outputs
        .get(name)
        .ok_or_else(|| Error::model(architecture, format!("the session returned no `{name}`")))?;
    match value.dtype().tensor_type() {
        Some(TensorElementType::Uint8) => {
            let (shape, data) = value.try_extract_tensor::<u8>().map_err(fail)?;
            codec.output(shape, TensorView::U8(data), width, height)
        }
        Some(TensorElementType::Float16) => {
            let (shape, data) = value.try_extract_tensor::<f16>().map_err(fail)?;
            codec.output(shape, TensorView::F16(data), width, height)
        }
        _ => {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(fail)?;
            codec.output(shape, TensorView::F32(data), width, height)
        }
    }
}

/// A tensor of `shape` holding `data`, as an ONNX Runtime value.
pub(crate) fn tensor<T, const N: usize>(shape: [usize; N], data: Vec<T>) -> Result<DynValue>
where
    T: ort::value::PrimitiveTensorElementType + Clone + fmt::Debug + 'static,
{
    Tensor::from_array((shape, data))
        .map(|t| t.into_dyn())
        .map_err(|err| Error::runtime_with("cannot create an input tensor", err))
}

impl InpaintModel for OnnxModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, _request: &Request) -> Result<RgbImage> {
        let inputs = session_inputs(self.codec.inputs(image, mask))?;
        let (width, height) = image.dimensions();
        let name = self.architecture.name();
        let started = Instant::now();
        let outputs = self.session.run(named(&inputs));
        let elapsed = started.elapsed();
        self.session_time += elapsed;
        tracing::debug!(model = name, width, height, ?elapsed, "session run");
        let outputs = outputs.map_err(|err| {
            Error::model_with(
                name,
                format!("ONNX Runtime failed on a {width}×{height} input"),
                err,
            )
        })?;
        read_output(&self.codec, &outputs, width, height)
    }
}

/// ONNX Runtime's description of a session's inputs or outputs, as plain ports.
pub(crate) fn graph_ports(outlets: &[ort::value::Outlet]) -> Vec<GraphPort> {
    outlets
        .iter()
        .map(|outlet| {
            let dtype = outlet.dtype();
            GraphPort {
                name: outlet.name().to_string(),
                element: dtype.tensor_type().map(|ty| match ty {
                    TensorElementType::Float32 => Element::Float32,
                    TensorElementType::Float16 => Element::Float16,
                    TensorElementType::Uint8 => Element::Uint8,
                    TensorElementType::Int64 => Element::Int64,
                    other => Element::Other(other.to_string()),
                }),
                dims: dtype
                    .tensor_shape()
                    .map(|shape| shape.to_vec())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The length of the graph's `noise` input ([1, N]); 512 (MAT's) when it is symbolic.
fn noise_length(session: &Session) -> usize {
    session
        .inputs()
        .iter()
        .find(|o| o.name() == "noise")
        .and_then(|o| o.dtype().tensor_shape().and_then(|s| s.get(1).copied()))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .unwrap_or(512)
}

/// `length` standard-normal samples from `seed` (xorshift64* and Box–Muller): deterministic,
/// not numpy's stream.
fn normal_noise(seed: u64, length: usize) -> Vec<f32> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut uniform = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..length)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_names_round_trip() {
        for arch in Architecture::ALL {
            assert_eq!(arch.name().parse::<Architecture>().unwrap(), arch);
        }
        let err = "lamma".parse::<Architecture>().unwrap_err().to_string();
        assert!(err.contains("did you mean `lama`"), "{err}");
    }

    #[test]
    fn specs_follow_iopaint() {
        let lama = Architecture::Lama.spec(Some(512));
        assert_eq!(
            (
                lama.fixed_size,
                lama.mask_threshold,
                lama.honours_hd_strategy
            ),
            (Some(512), 0, false)
        );
        let dynamic = Architecture::LamaDynamic.spec(None);
        assert_eq!(
            (
                dynamic.pad_multiple,
                dynamic.fixed_size,
                dynamic.honours_hd_strategy
            ),
            (8, None, true)
        );
        assert_eq!(Architecture::Migan.spec(Some(512)).mask_threshold, 120);
        assert_eq!(Architecture::Fcf.spec(Some(512)).mask_threshold, 120);
        assert_eq!(Architecture::Mat.spec(Some(512)).mask_threshold, 127);
        assert_eq!(Architecture::MiganPipeline.spec(None).pad_multiple, 1);
        for arch in Architecture::ALL {
            arch.spec(Some(512)).validate().unwrap();
            arch.spec(None).validate().unwrap();
        }
    }

    #[test]
    fn graphs_are_identified_by_their_ports() {
        let f32_port =
            |name: &str, dims: &[i64]| GraphPort::tensor(name, Element::Float32, dims.to_vec());
        let carve = (
            [
                f32_port("image", &[-1, 3, 512, 512]),
                f32_port("mask", &[-1, 1, 512, 512]),
            ],
            [f32_port("output", &[-1, 3, 512, 512])],
        );
        assert_eq!(
            Architecture::identify(&carve.0, &carve.1),
            Ok(Architecture::Lama)
        );
        let dynamic = (
            [
                f32_port("image", &[1, 3, -1, -1]),
                f32_port("mask", &[1, 1, -1, -1]),
            ],
            [f32_port("output", &[1, 3, -1, -1])],
        );
        assert_eq!(
            Architecture::identify(&dynamic.0, &dynamic.1),
            Ok(Architecture::LamaDynamic)
        );
        let migan = (
            [f32_port("input", &[1, 4, 512, 512])],
            [f32_port("output", &[1, 3, 512, 512])],
        );
        // MI-GAN and FcF share a contract: the first in `ALL` is named.
        assert_eq!(
            Architecture::identify(&migan.0, &migan.1),
            Ok(Architecture::Migan)
        );
        assert!(Architecture::Fcf.accepts(&migan.0, &migan.1).is_ok());
        let why = Architecture::identify(&[f32_port("x", &[1])], &[]).unwrap_err();
        assert!(why.contains("not lama: no input named `image`"), "{why}");
    }

    #[test]
    fn noise_is_deterministic_and_roughly_normal() {
        let a = normal_noise(240, 4096);
        assert_eq!(a, normal_noise(240, 4096));
        assert_ne!(a, normal_noise(241, 4096));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.1, "{mean} {var}");
    }
}
