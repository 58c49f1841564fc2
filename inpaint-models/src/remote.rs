//! The forward pass on an inference server (feature `remote`): the Open Inference Protocol
//! (KServe v2) over REST, as NVIDIA Triton, KServe, OpenVINO Model Server and Seldon serve it.
//!
//! Only the forward pass moves. Binarising, HD strategies, crops, padding and paste-back stay
//! in this process, in [`inpaint`](inpaint_core::inpaint); a [`RemoteModel`] is an
//! [`InpaintModel`] whose `forward` sends the same named tensors [`OnnxModel`] would feed ONNX
//! Runtime, built and read by the same code (one path, two backends), so a model served
//! remotely gives the bytes it gives locally.
//!
//! * Load: `GET /v2/health/ready`, `GET /v2/models/{name}[/versions/{v}]/ready`, then the
//!   model's metadata, checked with the contract check [`OnnxModel::load`] makes: a server
//!   serving the wrong model is refused at load with every mismatch named.
//! * Run: `POST /v2/models/{name}[/versions/{v}]/infer` with the inputs in the binary tensor
//!   data extension (`Inference-Header-Content-Length`, `binary_data_size`) and the output
//!   asked for in binary; a JSON `data` answer is read too, for servers that ignore the ask.
//! * Errors name the server, the model and what the server said. A connection that fails
//!   before anything was sent is retried ([`RemoteOptions::connect_retries`]); nothing else is,
//!   and nothing ever falls back to local inference.
//!
//! ```no_run
//! use inpaint_core::{inpaint, io, InpaintOptions, Limits};
//! use inpaint_models::onnx::Architecture;
//! use inpaint_models::remote::{RemoteModel, RemoteOptions};
//!
//! let options = RemoteOptions::new("http://triton.internal:8000", "lama");
//! let mut model = RemoteModel::connect(Architecture::Lama, &options)?;
//! println!("running on {}", model.device_name()); // remote:http://triton.internal:8000
//! let image = io::load_image("photo.jpg", &Limits::default())?;
//! let mask = io::load_mask("mask.png", &Limits::default())?;
//! let result = inpaint(&mut model, &image, &mask, &InpaintOptions::default())?;
//! io::save_image(&result, "out.png")?;
//! # Ok::<(), inpaint_core::Error>(())
//! ```
//!
//! [`OnnxModel`]: crate::onnx::OnnxModel
//! [`OnnxModel::load`]: crate::onnx::OnnxModel::load

use std::fmt;
use std::io::Write as _;
use std::time::{Duration, Instant};

use half::f16;
use image::RgbImage;
use inpaint_core::{Error, InpaintModel, Mask, ModelSpec, Result};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use ureq::Agent;

use crate::onnx::{
    Architecture, Element, GraphPort, HostTensor, OutputRange, TensorCodec, TensorData, TensorView,
};

/// How tensors travel in a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// The binary tensor data extension, both ways: raw little-endian bytes after a JSON
    /// header. What every server named above speaks; 4–10× smaller and faster than JSON.
    #[default]
    Binary,
    /// Tensors as JSON numbers (`data`), for a server without the binary extension.
    Json,
}

/// Where the model is served and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// The server's base URL, e.g. `http://triton:8000` (Triton's and KServe's REST port);
    /// `/v2/...` is appended.
    pub endpoint: String,
    /// The model's name on the server.
    pub model: String,
    /// The model version, when the server holds several (else the server's choice).
    pub version: Option<String>,
    /// How long to wait for a connection (default 5 s).
    pub connect_timeout: Duration,
    /// How long one request may take in all, upload, inference and download (default 120 s:
    /// a big model on a busy CPU server takes seconds).
    pub timeout: Duration,
    /// How many times to retry a connection that failed before anything was sent (default
    /// 2, after 100 ms then 200 ms). Nothing else is retried: a request the server may have
    /// seen is never sent twice.
    pub connect_retries: u32,
    /// The largest answer read, in bytes (default 256 MiB: a 4096² float32 output is
    /// 201 MB). ureq's own cap, 10 MB, is below a 1024² float32 output (12.6 MB).
    pub max_response_bytes: u64,
    /// How tensors travel (default [`Encoding::Binary`]).
    pub encoding: Encoding,
    /// `lama-dynamic`: the output range (a server's metadata does not carry the ONNX file's
    /// declaration); without it 0–1 is assumed and checked on every run.
    pub output_range: Option<OutputRange>,
    /// `mat`: the seed of its noise input (IOPaint seeds 240), as in
    /// [`OnnxOptions`](crate::onnx::OnnxOptions).
    pub seed: u64,
}

impl RemoteOptions {
    /// The model `model` at `endpoint`, with the defaults above.
    pub fn new(endpoint: impl Into<String>, model: impl Into<String>) -> Self {
        RemoteOptions {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            model: model.into(),
            version: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(120),
            connect_retries: 2,
            max_response_bytes: 256 << 20,
            encoding: Encoding::Binary,
            output_range: None,
            seed: 240,
        }
    }

    /// Sets [`version`](Self::version).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`connect_retries`](Self::connect_retries).
    pub fn with_connect_retries(mut self, retries: u32) -> Self {
        self.connect_retries = retries;
        self
    }

    /// Sets [`max_response_bytes`](Self::max_response_bytes).
    pub fn with_max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sets [`encoding`](Self::encoding).
    pub fn with_encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
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

/// A model whose forward pass runs on an Open Inference Protocol server.
///
/// Its [`ModelSpec`] comes from the architecture and the server's metadata, exactly as an
/// [`OnnxModel`](crate::onnx::OnnxModel)'s comes from the graph. One instance sends one
/// request at a time (`forward` takes `&mut self`); use one per thread to keep several in
/// flight ([`Clone`] shares the connection pool).
#[derive(Clone)]
pub struct RemoteModel {
    architecture: Architecture,
    spec: ModelSpec,
    codec: TensorCodec,
    client: Client,
    client_time: Duration,
    server_time: Duration,
}

impl fmt::Debug for RemoteModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteModel")
            .field("architecture", &self.architecture)
            .field("endpoint", &self.client.options.endpoint)
            .field("model", &self.client.options.model)
            .field("version", &self.client.options.version)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl RemoteModel {
    /// Checks the server is ready and serves `options.model` with `architecture`'s contract.
    pub fn connect(architecture: Architecture, options: &RemoteOptions) -> Result<Self> {
        let client = Client::new(options.clone())?;
        client.get("/v2/health/ready", "server readiness")?;
        let model_path = client.model_path();
        client.get(&format!("{model_path}/ready"), "model readiness")?;
        let body = client.get(&model_path, "model metadata")?;
        let metadata: ModelMetadata = serde_json::from_slice(&body).map_err(|err| {
            client.error_with(
                format!(
                    "model metadata is not Open Inference Protocol JSON: {}",
                    quote(&body)
                ),
                err,
            )
        })?;
        let inputs = ports(&metadata.inputs);
        let outputs = ports(&metadata.outputs);
        let source = format!("{}", client.who());
        let checked = architecture.check_ports(&inputs, &outputs, &source)?;
        let codec = TensorCodec::new(
            architecture,
            &checked,
            options.output_range,
            options.seed,
            || {
                // MAT's noise is [1, N]; 512 when the server reports it as dynamic.
                inputs
                    .iter()
                    .find(|p| p.name == "noise")
                    .and_then(|p| p.dims.get(1).copied())
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .unwrap_or(512)
            },
        );
        Ok(RemoteModel {
            architecture,
            spec: architecture.spec(checked.fixed_side),
            codec,
            client,
            client_time: Duration::ZERO,
            server_time: Duration::ZERO,
        })
    }

    /// The architecture this model was loaded as.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// The options it was connected with.
    pub fn options(&self) -> &RemoteOptions {
        &self.client.options
    }

    /// `remote:<endpoint>`: where it runs, in the form the C ABI's `inpaint_model_device`
    /// reports.
    pub fn device_name(&self) -> String {
        format!("remote:{}", self.client.options.endpoint)
    }

    /// Time this client spent encoding requests and decoding answers since it connected
    /// (not the architecture's pre/post-processing, which local runs share): the client's own
    /// cost.
    pub fn client_time(&self) -> Duration {
        self.client_time
    }

    /// Time spent waiting on the server since it connected: transfer, queueing and inference.
    pub fn server_time(&self) -> Duration {
        self.server_time
    }
}

impl InpaintModel for RemoteModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    // The erase architectures take no prompt: the request has nothing for them (as locally).
    fn forward(
        &mut self,
        image: &RgbImage,
        mask: &Mask,
        _request: &inpaint_core::Request,
    ) -> Result<RgbImage> {
        let (width, height) = image.dimensions();
        let inputs = self.codec.inputs(image, mask);
        let output = self.codec.output_name();
        let started = Instant::now();
        let request = encode(&inputs, output, self.client.options.encoding)?;
        let sent = Instant::now();
        let answer = self.client.infer(request)?;
        let received = Instant::now();
        let tensor = decode(&answer, output).map_err(|what| self.client.error(what))?;
        self.client_time += (sent - started) + received.elapsed();
        self.server_time += received - sent;
        self.codec
            .output(&tensor.shape, tensor.data.view(), width, height)
    }
}

/// One server model's HTTP client.
#[derive(Clone)]
struct Client {
    agent: Agent,
    options: RemoteOptions,
}

/// A request body and its headers.
struct HttpRequest {
    body: Vec<u8>,
    /// `Some(n)`: binary extension, the JSON header is the first `n` bytes.
    header_length: Option<usize>,
}

/// An answer: the body and the binary header length, when the server sent one.
struct Answer {
    body: Vec<u8>,
    header_length: Option<usize>,
}

/// The binary extension's header: the JSON part's length.
const HEADER_LENGTH: &str = "Inference-Header-Content-Length";

impl Client {
    fn new(options: RemoteOptions) -> Result<Client> {
        if !(options.endpoint.starts_with("http://") || options.endpoint.starts_with("https://")) {
            return Err(Error::invalid_input(format!(
                "remote endpoint `{}` must start with http:// or https://",
                options.endpoint
            )));
        }
        if options.model.is_empty() || options.model.contains(['/', '?', '#']) {
            return Err(Error::invalid_input(format!(
                "remote model name `{}` must be non-empty, without `/`, `?` or `#`",
                options.model
            )));
        }
        let agent: Agent = Agent::config_builder()
            .timeout_connect(Some(options.connect_timeout))
            .timeout_global(Some(options.timeout))
            // Error bodies are read and reported, not turned into a bare status.
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { agent, options })
    }

    /// `/v2/models/{name}[/versions/{v}]`.
    fn model_path(&self) -> String {
        match &self.options.version {
            Some(version) => format!("/v2/models/{}/versions/{version}", self.options.model),
            None => format!("/v2/models/{}", self.options.model),
        }
    }

    fn who(&self) -> Who<'_> {
        Who(&self.options)
    }

    fn error(&self, what: String) -> Error {
        Error::model(&self.options.model, format!("{}: {what}", self.who()))
    }

    fn error_with(
        &self,
        what: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::model_with(
            &self.options.model,
            format!("{}: {what}", self.who()),
            source,
        )
    }

    /// A GET that must answer 200; its body.
    fn get(&self, path: &str, what: &str) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.options.endpoint);
        let response = self.send(what, || self.agent.get(&url).call())?;
        self.read(response, what).map(|answer| answer.body)
    }

    fn infer(&self, request: HttpRequest) -> Result<Answer> {
        let url = format!("{}{}/infer", self.options.endpoint, self.model_path());
        let response = self.send("inference", || {
            let post = self.agent.post(&url);
            match request.header_length {
                Some(length) => post
                    .header(HEADER_LENGTH, length.to_string())
                    .content_type("application/octet-stream")
                    .send(&request.body[..]),
                None => post
                    .content_type("application/json")
                    .send(&request.body[..]),
            }
        })?;
        self.read(response, "inference")
    }

    /// Sends with `call`, retrying only connections that failed before anything was sent.
    fn send(
        &self,
        what: &str,
        call: impl Fn() -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut attempt = 0;
        loop {
            match call() {
                Ok(response) => return Ok(response),
                Err(err) if attempt < self.options.connect_retries && not_connected(&err) => {
                    std::thread::sleep(Duration::from_millis(100 << attempt.min(6)));
                    attempt += 1;
                }
                Err(err) => return Err(self.transport_error(what, err, attempt)),
            }
        }
    }

    fn transport_error(&self, what: &str, err: ureq::Error, retries: u32) -> Error {
        let tried = if retries > 0 {
            format!(" (after {retries} retries)")
        } else {
            String::new()
        };
        let message = match &err {
            ureq::Error::Timeout(_) => format!(
                "{what}: no complete answer within the timeout{tried} (connect {:?}, overall {:?})",
                self.options.connect_timeout, self.options.timeout
            ),
            _ if not_connected(&err) => format!("{what}: cannot connect{tried}"),
            _ => format!("{what}: the request failed{tried}"),
        };
        Error::runtime_with(format!("{}: {message}", self.who()), err)
    }

    /// The answer's body, or an error with what the server said.
    fn read(&self, mut response: ureq::http::Response<ureq::Body>, what: &str) -> Result<Answer> {
        let status = response.status();
        let header_length = match response.headers().get(HEADER_LENGTH) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| {
                        self.error(format!("{what}: bad {HEADER_LENGTH} header {value:?}"))
                    })?,
            ),
        };
        let limit = self.options.max_response_bytes;
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|err| match err {
                ureq::Error::BodyExceedsLimit(_) => self.error(format!(
                    "{what}: the answer is larger than the {limit}-byte limit \
                     (RemoteOptions::max_response_bytes)"
                )),
                ureq::Error::Timeout(_) => self.transport_error(what, err, 0),
                err => self.error_with(format!("{what}: the answer could not be read"), err),
            })?;
        if !status.is_success() {
            return Err(self.error(format!(
                "{what}: HTTP {}: {}",
                status.as_u16(),
                server_message(&body)
            )));
        }
        Ok(Answer {
            body,
            header_length,
        })
    }
}

/// The server and model, for messages: `http://host:8000 model `lama` (version 1)`.
struct Who<'a>(&'a RemoteOptions);

impl fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server {} model `{}`", self.0.endpoint, self.0.model)?;
        if let Some(version) = &self.0.version {
            write!(f, " version {version}")?;
        }
        Ok(())
    }
}

/// Whether `err` happened before a connection was made (so nothing was sent).
fn not_connected(err: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    match err {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable
        ),
        _ => false,
    }
}

/// What an error body says: `{"error": …}` (Triton, KServe), `{"detail": …}` (FastAPI's
/// 422), else the text itself; cut to 500 characters.
fn server_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Said {
        error: Option<serde_json::Value>,
        detail: Option<serde_json::Value>,
    }
    let said = serde_json::from_slice::<Said>(body)
        .ok()
        .and_then(|said| said.error.or(said.detail))
        .map(|value| match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        });
    match said {
        Some(text) => cut(&text),
        None => quote(body),
    }
}

/// `body` as text for a message: lossy UTF-8, trimmed, cut to 500 characters.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        cut(text)
    }
}

fn cut(text: &str) -> String {
    const MAX: usize = 500;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// A tensor's description in model metadata.
#[derive(Deserialize)]
struct MetadataTensor {
    name: String,
    datatype: String,
    shape: Vec<i64>,
}

#[derive(Deserialize)]
struct ModelMetadata {
    inputs: Vec<MetadataTensor>,
    outputs: Vec<MetadataTensor>,
}

fn ports(tensors: &[MetadataTensor]) -> Vec<GraphPort> {
    tensors
        .iter()
        .map(|t| GraphPort::tensor(&t.name, element(&t.datatype), t.shape.clone()))
        .collect()
}

/// The protocol's datatype names.
fn element(datatype: &str) -> Element {
    match datatype {
        "FP32" => Element::Float32,
        "FP16" => Element::Float16,
        "UINT8" => Element::Uint8,
        "INT64" => Element::Int64,
        other => Element::Other(other.to_string()),
    }
}

fn datatype(data: &TensorData) -> &'static str {
    match data {
        TensorData::F32(_) => "FP32",
        TensorData::F16(_) => "FP16",
        TensorData::U8(_) => "UINT8",
    }
}

#[derive(Serialize)]
struct InferRequest<'a> {
    inputs: Vec<RequestInput<'a>>,
    outputs: [RequestOutput<'a>; 1],
}

#[derive(Serialize)]
struct RequestInput<'a> {
    name: &'a str,
    shape: &'a [i64],
    datatype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinarySize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonData<'a>>,
}

#[derive(Serialize)]
struct BinarySize {
    binary_data_size: usize,
}

#[derive(Serialize)]
#[serde(untagged)]
enum JsonData<'a> {
    Float(&'a [f32]),
    /// float16 values widened to float32 (JSON has no float16).
    Half(Vec<f32>),
    Byte(&'a [u8]),
}

#[derive(Serialize)]
struct RequestOutput<'a> {
    name: &'a str,
    parameters: BinaryData,
}

#[derive(Serialize)]
struct BinaryData {
    binary_data: bool,
}

/// The inference request for `inputs`, asking for `output`.
fn encode(inputs: &[HostTensor], output: &str, encoding: Encoding) -> Result<HttpRequest> {
    let binary = encoding == Encoding::Binary;
    let request = InferRequest {
        inputs: inputs
            .iter()
            .map(|t| RequestInput {
                name: t.name,
                shape: &t.shape,
                datatype: datatype(&t.data),
                parameters: binary.then(|| BinarySize {
                    binary_data_size: byte_length(&t.data),
                }),
                data: (!binary).then(|| match &t.data {
                    TensorData::F32(v) => JsonData::Float(v),
                    TensorData::F16(v) => JsonData::Half(v.iter().map(|h| h.to_f32()).collect()),
                    TensorData::U8(v) => JsonData::Byte(v),
                }),
            })
            .collect(),
        outputs: [RequestOutput {
            name: output,
            parameters: BinaryData {
                binary_data: binary,
            },
        }],
    };
    let mut body = serde_json::to_vec(&request)
        .map_err(|err| Error::runtime_with("cannot encode an inference request", err))?;
    if !binary {
        return Ok(HttpRequest {
            body,
            header_length: None,
        });
    }
    let header_length = body.len();
    body.reserve_exact(inputs.iter().map(|t| byte_length(&t.data)).sum());
    for tensor in inputs {
        // The extension's byte order is little-endian whatever the host's.
        match &tensor.data {
            TensorData::F32(v) => v.iter().for_each(|x| body.extend(x.to_le_bytes())),
            TensorData::F16(v) => v.iter().for_each(|x| body.extend(x.to_le_bytes())),
            TensorData::U8(v) => body
                .write_all(v)
                .map_err(|err| Error::runtime_with("cannot encode an inference request", err))?,
        }
    }
    Ok(HttpRequest {
        body,
        header_length: Some(header_length),
    })
}

fn byte_length(data: &TensorData) -> usize {
    match data {
        TensorData::F32(v) => 4 * v.len(),
        TensorData::F16(v) => 2 * v.len(),
        TensorData::U8(v) => v.len(),
    }
}

#[derive(Deserialize)]
struct InferResponse<'a> {
    #[serde(borrow)]
    outputs: Vec<ResponseOutput<'a>>,
}

#[derive(Deserialize)]
struct ResponseOutput<'a> {
    name: String,
    datatype: String,
    shape: Vec<i64>,
    #[serde(default)]
    parameters: Option<ResponseParameters>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ResponseParameters {
    binary_data_size: Option<usize>,
}

/// A decoded output tensor.
struct OutputTensor {
    shape: Vec<i64>,
    data: TensorData,
}

/// Output `name` of an answer, binary or JSON; `Err` says what is wrong with it.
fn decode(answer: &Answer, name: &str) -> std::result::Result<OutputTensor, String> {
    let body = &answer.body[..];
    let (header, mut binary) = match answer.header_length {
        Some(length) if length <= body.len() => body.split_at(length),
        Some(length) => {
            return Err(format!(
                "the answer is {} bytes, shorter than its {length}-byte JSON header",
                body.len()
            ));
        }
        None => (body, &[][..]),
    };
    let response: InferResponse<'_> = serde_json::from_slice(header).map_err(|err| {
        format!(
            "the answer is not an Open Inference Protocol response ({err}): {}",
            quote(header)
        )
    })?;
    for output in response.outputs {
        let size = output.parameters.as_ref().and_then(|p| p.binary_data_size);
        let bytes = match size {
            Some(size) if size > binary.len() => {
                return Err(format!(
                    "output `{}` declares {size} bytes of binary data, {} remain in the answer",
                    output.name,
                    binary.len()
                ));
            }
            Some(size) => {
                let (bytes, rest) = binary.split_at(size);
                binary = rest;
                Some(bytes)
            }
            None => None,
        };
        if output.name != name {
            continue;
        }
        let data = match (bytes, output.data) {
            (Some(bytes), _) => from_bytes(&output.datatype, bytes)?,
            (None, Some(json)) => from_json(&output.datatype, json.get())?,
            (None, None) => {
                return Err(format!("output `{name}` has neither data nor binary data"));
            }
        };
        let elements: i64 = output.shape.iter().product();
        let count = data.view().len();
        if output.shape.iter().any(|&d| d < 0) || usize::try_from(elements) != Ok(count) {
            return Err(format!(
                "output `{name}` has shape {:?} but {count} values",
                output.shape
            ));
        }
        return Ok(OutputTensor {
            shape: output.shape,
            data,
        });
    }
    Err(format!("the answer has no output `{name}`"))
}

fn unsupported(datatype: &str) -> String {
    format!("output datatype {datatype} is not one of FP32, FP16, UINT8")
}

fn from_bytes(datatype: &str, bytes: &[u8]) -> std::result::Result<TensorData, String> {
    let width = match datatype {
        "FP32" => 4,
        "FP16" => 2,
        "UINT8" => 1,
        other => return Err(unsupported(other)),
    };
    if bytes.len() % width != 0 {
        return Err(format!(
            "{} bytes of {datatype} binary data is not a whole number of values",
            bytes.len()
        ));
    }
    Ok(match width {
        4 => TensorData::F32(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        2 => TensorData::F16(
            bytes
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]))
                .collect(),
        ),
        _ => TensorData::U8(bytes.to_vec()),
    })
}

fn from_json(datatype: &str, json: &str) -> std::result::Result<TensorData, String> {
    let bad = |err: serde_json::Error| format!("output data is not a flat {datatype} list: {err}");
    Ok(match datatype {
        "FP32" => TensorData::F32(serde_json::from_str(json).map_err(bad)?),
        "FP16" => TensorData::F16(
            serde_json::from_str::<Vec<f32>>(json)
                .map_err(bad)?
                .into_iter()
                .map(f16::from_f32)
                .collect(),
        ),
        "UINT8" => TensorData::U8(serde_json::from_str(json).map_err(bad)?),
        other => return Err(unsupported(other)),
    })
}

impl TensorView<'_> {
    fn len(&self) -> usize {
        match self {
            TensorView::F32(v) => v.len(),
            TensorView::F16(v) => v.len(),
            TensorView::U8(v) => v.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_extracted() {
        assert_eq!(
            server_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(
            server_message(br#"{"detail":[{"loc":["body"],"msg":"field required"}]}"#),
            r#"[{"loc":["body"],"msg":"field required"}]"#
        );
        assert_eq!(
            server_message(b"Internal Server Error\n"),
            "Internal Server Error"
        );
        assert_eq!(server_message(b""), "(empty body)");
        assert_eq!(
            server_message("é".repeat(600).as_bytes()).chars().count(),
            501
        );
    }

    #[test]
    fn binary_requests_have_a_header_then_little_endian_data() {
        let inputs = [HostTensor {
            name: "image",
            shape: vec![1, 1, 1, 2],
            data: TensorData::F32(vec![1.0, -2.5]),
        }];
        let request = encode(&inputs, "output", Encoding::Binary).unwrap();
        let length = request.header_length.unwrap();
        let header: serde_json::Value = serde_json::from_slice(&request.body[..length]).unwrap();
        assert_eq!(header["inputs"][0]["parameters"]["binary_data_size"], 8);
        assert_eq!(header["inputs"][0]["datatype"], "FP32");
        assert_eq!(header["outputs"][0]["parameters"]["binary_data"], true);
        let data = &request.body[length..];
        assert_eq!(data[..4], 1.0f32.to_le_bytes());
        assert_eq!(data[4..], (-2.5f32).to_le_bytes());
    }

    #[test]
    fn answers_decode_by_offset_and_check_their_size() {
        let header = br#"{"outputs":[{"name":"other","datatype":"UINT8","shape":[2],"parameters":{"binary_data_size":2}},{"name":"output","datatype":"FP16","shape":[1],"parameters":{"binary_data_size":2}}]}"#;
        let mut body = header.to_vec();
        body.extend([7, 7]);
        body.extend(f16::from_f32(0.5).to_le_bytes());
        let answer = Answer {
            body: body.clone(),
            header_length: Some(header.len()),
        };
        let tensor = decode(&answer, "output").unwrap();
        assert_eq!(tensor.data, TensorData::F16(vec![f16::from_f32(0.5)]));
        body.pop();
        let cut = Answer {
            body,
            header_length: Some(header.len()),
        };
        let err = decode(&cut, "output").err().unwrap();
        assert!(
            err.contains("declares 2 bytes of binary data, 1 remain"),
            "{err}"
        );
        let json = Answer {
            body: br#"{"outputs":[{"name":"output","datatype":"FP32","shape":[1,2],"data":[0.25,1]}]}"#
                .to_vec(),
            header_length: None,
        };
        assert_eq!(
            decode(&json, "output").unwrap().data,
            TensorData::F32(vec![0.25, 1.0])
        );
        let wrong = Answer {
            body:
                br#"{"outputs":[{"name":"output","datatype":"FP32","shape":[3],"data":[0.25,1]}]}"#
                    .to_vec(),
            header_length: None,
        };
        assert!(
            decode(&wrong, "output")
                .err()
                .unwrap()
                .contains("shape [3] but 2 values")
        );
    }
}
