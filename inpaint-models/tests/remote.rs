//! The remote backend (`remote::RemoteModel`) against a mock Open Inference Protocol server on
//! 127.0.0.1 that replays what real servers send: binary answers chunked and with lower-case
//! headers, JSON-only answers, the error bodies of each server family, a stall, a truncated
//! body, a large payload, a model with the wrong contract. Every server here is a thread of
//! this test and stops with it; every wait is bounded by the client's timeouts.
//!
//! The real engine (KServe's model server running the ONNX fixtures) is `scripts/test-remote.sh`,
//! which runs the `#[ignore]`d test at the end of this file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use inpaint_core::{HdStrategy, Image, InpaintOptions, Mask, inpaint};
use inpaint_models::onnx::{Architecture, OutputRange};
use inpaint_models::remote::{Encoding, RemoteModel, RemoteOptions};
use serde_json::{Value, json};

/// A request as the mock received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

/// What the mock sends back.
enum Reply {
    /// Status, extra headers, body; chunked transfer encoding when `chunked`.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        chunked: bool,
    },
    /// Bytes as they are, then the connection closes.
    Raw(Vec<u8>),
    /// Nothing for this long, then close.
    Stall(Duration),
}

fn json_reply(status: u16, body: &Value) -> Reply {
    Reply::Http {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        chunked: false,
    }
}

fn text_reply(status: u16, text: &str) -> Reply {
    Reply::Http {
        status,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: text.as_bytes().to_vec(),
        chunked: false,
    }
}

type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

/// A mock server on 127.0.0.1: answers readiness and `metadata` itself, and every inference
/// with `infer`. Records what it received.
struct Mock {
    endpoint: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Mock {
    fn start(metadata: Value, infer: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let infer: Arc<Handler> = Arc::new(infer);
        let metadata = Arc::new(metadata);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (log, infer, metadata) =
                    (Arc::clone(&log), Arc::clone(&infer), Arc::clone(&metadata));
                thread::spawn(move || serve(stream, &log, &*infer, &metadata));
            }
        });
        Mock { endpoint, received }
    }

    fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// One connection: one request, one reply, then close (`Connection: close`).
fn serve(stream: TcpStream, log: &Mutex<Vec<Received>>, infer: &Handler, metadata: &Value) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request = Received {
        method,
        path,
        headers,
        body,
    };
    log.lock().unwrap().push(request.clone());
    let reply = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v2/health/ready") => text_reply(200, ""),
        ("GET", path) if path.ends_with("/ready") => text_reply(200, ""),
        ("GET", _) => json_reply(200, metadata),
        _ => infer(&request),
    };
    let mut stream = stream;
    match reply {
        Reply::Http {
            status,
            headers,
            body,
            chunked,
        } => {
            let mut head = format!("HTTP/1.1 {status} Whatever\r\nconnection: close\r\n");
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            if chunked {
                head.push_str("transfer-encoding: chunked\r\n\r\n");
                let _ = stream.write_all(head.as_bytes());
                // Odd-sized chunks, so no tensor boundary falls on one.
                for chunk in body.chunks(65_521) {
                    let _ = write!(stream, "{:x}\r\n", chunk.len());
                    let _ = stream.write_all(chunk);
                    let _ = stream.write_all(b"\r\n");
                }
                let _ = stream.write_all(b"0\r\n\r\n");
            } else {
                head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        }
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Reply::Stall(time) => thread::sleep(time),
    }
    let _ = stream.flush();
}

/// Model metadata of a dynamic LaMa (float32, any size).
fn lama_dynamic_metadata() -> Value {
    json!({
        "name": "lama",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [
            {"name": "image", "datatype": "FP32", "shape": [1, 3, -1, -1]},
            {"name": "mask", "datatype": "FP32", "shape": [1, 1, -1, -1]}
        ],
        "outputs": [{"name": "output", "datatype": "FP32", "shape": [1, 3, -1, -1]}]
    })
}

/// A request's inputs: (name, datatype, shape, data as f32), binary or JSON.
fn inputs_of(request: &Received) -> Vec<(String, String, Vec<i64>, Vec<f32>)> {
    let (header, mut binary) = match request.header("Inference-Header-Content-Length") {
        Some(length) => request.body.split_at(length.parse().unwrap()),
        None => (&request.body[..], &[][..]),
    };
    let header: Value = serde_json::from_slice(header).unwrap();
    let mut inputs = Vec::new();
    for input in header["inputs"].as_array().unwrap() {
        let shape: Vec<i64> = serde_json::from_value(input["shape"].clone()).unwrap();
        let datatype = input["datatype"].as_str().unwrap().to_string();
        let data: Vec<f32> = match input["parameters"]["binary_data_size"].as_u64() {
            Some(size) => {
                let (bytes, rest) = binary.split_at(size as usize);
                binary = rest;
                assert_eq!(datatype, "FP32");
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect()
            }
            None => serde_json::from_value(input["data"].clone()).unwrap(),
        };
        inputs.push((
            input["name"].as_str().unwrap().to_string(),
            datatype,
            shape,
            data,
        ));
    }
    inputs
}

/// The fill the mock's model paints everywhere (0–1), and what it becomes in bytes (LaMa
/// truncates: 0.5·255 = 127.5 → 127).
const FILL: f32 = 0.5;
const FILL_BYTE: u8 = 127;

/// An answer to a dynamic-LaMa request: `output` = FILL everywhere, binary (after a header
/// whose length header is spelt in lower case, as some proxies and servers send it) or JSON.
fn fill_answer(request: &Received, binary: bool, chunked: bool) -> Reply {
    let inputs = inputs_of(request);
    let shape = &inputs[0].2;
    let count = (shape[2] * shape[3] * 3) as usize;
    let mut output =
        json!({"name": "output", "datatype": "FP32", "shape": [1, 3, shape[2], shape[3]]});
    if binary {
        output["parameters"] = json!({"binary_data_size": 4 * count});
        let header = json!({"model_name": "lama", "outputs": [output]}).to_string();
        let mut body = header.clone().into_bytes();
        for _ in 0..count {
            body.extend(FILL.to_le_bytes());
        }
        Reply::Http {
            status: 200,
            headers: vec![
                (
                    "inference-header-content-length".into(),
                    header.len().to_string(),
                ),
                // Some servers label the whole binary answer JSON: the header decides.
                ("content-type".into(), "application/json".into()),
            ],
            body,
            chunked,
        }
    } else {
        output["data"] = json!(vec![FILL; count]);
        json_reply(200, &json!({"model_name": "lama", "outputs": [output]}))
    }
}

/// A 61×45 image (not a multiple of 8: the pipeline pads it) with a rectangular hole.
fn case() -> (Image, Mask) {
    let rgb = RgbImage::from_fn(61, 45, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 200]));
    let mut mask = image::GrayImage::new(61, 45);
    for y in 10..30 {
        for x in 5..40 {
            mask.put_pixel(x, y, image::Luma([255]));
        }
    }
    (
        Image::from_rgb(rgb).unwrap(),
        Mask::from_gray(mask).unwrap(),
    )
}

fn options(mock: &Mock) -> RemoteOptions {
    RemoteOptions::new(&mock.endpoint, "lama")
        .with_output_range(OutputRange::Unit)
        .with_timeout(Duration::from_secs(10))
}

fn connect(options: &RemoteOptions) -> RemoteModel {
    RemoteModel::connect(Architecture::LamaDynamic, options)
        .unwrap_or_else(|err| panic!("connect: {}", err.full_message()))
}

fn run(model: &mut RemoteModel) -> Result<Image, String> {
    let (image, mask) = case();
    inpaint(
        model,
        &image,
        &mask,
        &InpaintOptions::new(HdStrategy::Original),
    )
    .map_err(|e| e.full_message())
}

/// The result must be the image outside the hole and FILL inside it.
fn assert_filled(result: &Image) {
    let (image, mask) = case();
    assert_eq!(result.dimensions(), image.dimensions());
    for (x, y, pixel) in result.rgb().enumerate_pixels() {
        if mask.as_gray().get_pixel(x, y).0[0] > 0 {
            assert_eq!(pixel.0, [FILL_BYTE; 3], "hole pixel at {x},{y}");
        } else {
            assert_eq!(pixel, image.rgb().get_pixel(x, y), "known pixel at {x},{y}");
        }
    }
}

/// Binary both ways, the answer chunked with a lower-case length header: the request carries
/// LaMa's tensors (names, shapes, 0–1 image, 1 = hole mask), the answer becomes the fill.
#[test]
fn binary_chunked_answers_with_lower_case_headers_are_read() {
    let mock = Mock::start(lama_dynamic_metadata(), |r| fill_answer(r, true, true));
    let mut model = connect(&options(&mock));
    assert_eq!(model.device_name(), format!("remote:{}", mock.endpoint));
    let result = run(&mut model).unwrap();
    assert_filled(&result);

    let requests = mock.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v2/health/ready",
            "/v2/models/lama/ready",
            "/v2/models/lama",
            "/v2/models/lama/infer"
        ]
    );
    let infer = &requests[3];
    assert_eq!(
        infer.header("content-type"),
        Some("application/octet-stream")
    );
    let inputs = inputs_of(infer);
    let (image, mask) = case();
    // Padded to a multiple of 8: 64×48.
    assert_eq!(inputs[0].0, "image");
    assert_eq!(inputs[0].2, [1, 3, 48, 64]);
    assert_eq!(inputs[1].0, "mask");
    assert_eq!(inputs[1].2, [1, 1, 48, 64]);
    let (x, y) = (20usize, 15usize);
    let pixel = image.rgb().get_pixel(x as u32, y as u32);
    for c in 0..3 {
        assert_eq!(
            inputs[0].3[c * 64 * 48 + y * 64 + x],
            f32::from(pixel.0[c]) / 255.0
        );
    }
    assert_eq!(inputs[1].3[y * 64 + x], 1.0);
    assert_eq!(inputs[1].3[2 * 64 + 2], 0.0);
    assert_eq!(mask.as_gray().get_pixel(2, 2).0[0], 0);
}

/// A server that ignores the binary ask and answers JSON `data` gives the same bytes; so does
/// a client that sends JSON.
#[test]
fn json_answers_and_json_requests_give_the_same_result() {
    let mock = Mock::start(lama_dynamic_metadata(), |r| fill_answer(r, false, false));
    let mut model = connect(&options(&mock));
    assert_filled(&run(&mut model).unwrap());

    let mut json = connect(&options(&mock).with_encoding(Encoding::Json));
    assert_filled(&run(&mut json).unwrap());
    let requests = mock.requests();
    let last = requests.last().unwrap();
    assert_eq!(last.header("Inference-Header-Content-Length"), None);
    assert_eq!(last.header("content-type"), Some("application/json"));
    let (image, _) = case();
    let pixel = image.rgb().get_pixel(3, 4);
    assert_eq!(
        inputs_of(last)[0].3[4 * 64 + 3],
        f32::from(pixel.0[0]) / 255.0
    );
}

/// Each server family's error body becomes an error naming the server, the model, the status
/// and what the server said.
#[test]
fn error_bodies_of_each_server_family_are_reported() {
    let cases: Vec<(Reply, &str)> = vec![
        (
            json_reply(400, &json!({"error": "unexpected shape for input 'mask'"})),
            "HTTP 400: unexpected shape for input 'mask'",
        ),
        (
            json_reply(
                404,
                &json!({"error": "Request for unknown model: 'lama' is not found"}),
            ),
            "HTTP 404: Request for unknown model: 'lama' is not found",
        ),
        (
            json_reply(
                422,
                &json!({"detail": [{"loc": ["body", "inputs"], "msg": "Field required"}]}),
            ),
            r#"HTTP 422: [{"loc":["body","inputs"],"msg":"Field required"}]"#,
        ),
        (
            text_reply(500, "Internal Server Error"),
            "HTTP 500: Internal Server Error",
        ),
    ];
    for (reply, said) in cases {
        let reply = Mutex::new(Some(reply));
        let mock = Mock::start(lama_dynamic_metadata(), move |_| {
            reply
                .lock()
                .unwrap()
                .take()
                .unwrap_or(text_reply(500, "asked twice"))
        });
        let mut model = connect(&options(&mock));
        let err = run(&mut model).unwrap_err();
        assert!(
            err.contains(&format!("server {} model `lama`", mock.endpoint)),
            "{err}"
        );
        assert!(err.contains(&format!("inference: {said}")), "{err}");
        // Never retried: the server saw one inference.
        let infers = mock
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count();
        assert_eq!(infers, 1);
    }
}

/// A server that never answers is an error after the timeout, not a hang.
#[test]
fn a_stalled_server_times_out() {
    let mock = Mock::start(lama_dynamic_metadata(), |_| {
        Reply::Stall(Duration::from_secs(20))
    });
    let mut model = connect(&options(&mock).with_timeout(Duration::from_millis(800)));
    let started = Instant::now();
    let err = run(&mut model).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("no complete answer within the timeout"),
        "{err}"
    );
    assert!(err.contains(&mock.endpoint), "{err}");
}

/// A body cut short (the connection closes before Content-Length bytes) is an error.
#[test]
fn a_truncated_body_is_an_error() {
    let mock = Mock::start(lama_dynamic_metadata(), |r| {
        let Reply::Http { body, headers, .. } = fill_answer(r, true, false) else {
            unreachable!()
        };
        let mut head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend(&body[..body.len() / 2]);
        Reply::Raw(bytes)
    });
    let mut model = connect(&options(&mock));
    let err = run(&mut model).unwrap_err();
    assert!(
        err.contains("inference: the answer could not be read"),
        "{err}"
    );
}

/// A binary header that promises more data than came is an error (the server's own lengths
/// disagree), not a read past the end.
#[test]
fn binary_sizes_beyond_the_body_are_an_error() {
    let mock = Mock::start(lama_dynamic_metadata(), |r| {
        let Reply::Http {
            headers, mut body, ..
        } = fill_answer(r, true, false)
        else {
            unreachable!()
        };
        body.truncate(body.len() - 4);
        Reply::Http {
            status: 200,
            headers,
            body,
            chunked: false,
        }
    });
    let mut model = connect(&options(&mock));
    let err = run(&mut model).unwrap_err();
    assert!(
        err.contains("declares 36864 bytes of binary data, 36860 remain"),
        "{err}"
    );
}

/// A 1024² float32 answer (12.6 MB, over ureq's default 10 MB cap) is read whole; with a
/// 4 MiB limit it is refused by name.
#[test]
fn payloads_over_4_mib_are_read_and_the_limit_is_explicit() {
    let mock = Mock::start(lama_dynamic_metadata(), |r| fill_answer(r, true, true));
    let big = Image::from_rgb(RgbImage::from_pixel(1024, 1024, Rgb([9, 9, 9]))).unwrap();
    let mut hole = image::GrayImage::new(1024, 1024);
    hole.put_pixel(500, 500, image::Luma([255]));
    let hole = Mask::from_gray(hole).unwrap();
    let run_options = InpaintOptions::new(HdStrategy::Original);

    let mut model = connect(&options(&mock));
    let result = inpaint(&mut model, &big, &hole, &run_options).unwrap();
    assert_eq!(result.rgb().get_pixel(500, 500).0, [FILL_BYTE; 3]);
    assert_eq!(result.rgb().get_pixel(0, 0).0, [9; 3]);

    let mut capped = connect(&options(&mock).with_max_response_bytes(4 << 20));
    let err = inpaint(&mut capped, &big, &hole, &run_options)
        .unwrap_err()
        .full_message();
    assert!(
        err.contains("larger than the 4194304-byte limit (RemoteOptions::max_response_bytes)"),
        "{err}"
    );
}

/// A server serving a model of another contract is refused at load, every mismatch named.
#[test]
fn a_wrong_contract_model_is_refused_at_load() {
    let metadata = json!({
        "name": "lama",
        "inputs": [
            {"name": "image", "datatype": "FP32", "shape": [1, 3, 256, 256]},
            {"name": "mask", "datatype": "INT64", "shape": [1, 1, 256, 256]}
        ],
        "outputs": [{"name": "out", "datatype": "FP32", "shape": [1, 3, 256, 256]}]
    });
    let mock = Mock::start(metadata, |_| text_reply(500, "never asked"));
    let err = RemoteModel::connect(Architecture::Lama, &options(&mock))
        .unwrap_err()
        .full_message();
    assert!(
        err.contains(&format!(
            "server {} model `lama` does not have the `lama` contract",
            mock.endpoint
        )),
        "{err}"
    );
    for mismatch in [
        "input `mask` float32 or float16 [batch,1,H/W,H/W] expected, found i64 [1, 1, 256, 256]",
        "no output named `output`",
        "expected a fixed 512×512 input, found 256×256",
    ] {
        assert!(err.contains(mismatch), "{mismatch} not in {err}");
    }
    assert!(mock.requests().iter().all(|r| r.method == "GET"));
}

/// An unready model and a missing model are load errors with what the server said.
#[test]
fn an_unready_server_is_refused_at_load() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let body = r#"{"error":"Model lama is not ready"}"#;
            let _ = write!(
                &stream,
                "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let err = RemoteModel::connect(Architecture::Lama, &RemoteOptions::new(&endpoint, "lama"))
        .unwrap_err()
        .full_message();
    assert!(
        err.contains(&format!(
            "server {endpoint} model `lama`: server readiness: HTTP 503: Model lama is not ready"
        )),
        "{err}"
    );
}

/// Nothing listening: connection refused is retried (it was never sent), then reported.
#[test]
fn refused_connections_are_retried_then_reported() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let err = RemoteModel::connect(
        Architecture::Lama,
        &RemoteOptions::new(&endpoint, "lama").with_connect_retries(2),
    )
    .unwrap_err()
    .full_message();
    assert!(
        err.contains(&format!(
            "server {endpoint} model `lama`: server readiness: cannot connect (after 2 retries)"
        )),
        "{err}"
    );
    // 100 ms + 200 ms of backoff.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// Bad endpoints and names are caller errors, before any connection.
#[test]
fn bad_endpoints_and_names_are_refused() {
    let err = RemoteModel::connect(
        Architecture::Lama,
        &RemoteOptions::new("triton:8000", "lama"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("must start with http:// or https://"), "{err}");
    let err = RemoteModel::connect(
        Architecture::Lama,
        &RemoteOptions::new("http://127.0.0.1:1", "a/b"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("without `/`"), "{err}");
}

/// Against a real engine: KServe's model server (`kserve` from PyPI, stock) running the ONNX
/// fixtures of `tests/fixtures/onnx` through onnxruntime, from the Triton repository that
/// `models export-triton` wrote, each model named by its file's stem. Started and stopped by
/// `scripts/test-remote.sh`, which passes its URL in `INPAINT_TEST_V2_ENDPOINT`. For every
/// architecture, the whole pipeline gives the same bytes remotely as locally.
#[test]
#[ignore = "needs an inference server: scripts/test-remote.sh starts one"]
fn remote_results_are_byte_identical_to_local_ones_on_kserve() {
    use inpaint_models::onnx::{OnnxModel, OnnxOptions};

    let endpoint = std::env::var("INPAINT_TEST_V2_ENDPOINT")
        .expect("INPAINT_TEST_V2_ENDPOINT: the server's URL (scripts/test-remote.sh sets it)");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx");
    // (served name = fixture stem, architecture, the range a server's metadata cannot carry)
    let cases = [
        ("lama_fixed512", Architecture::Lama, None),
        (
            "lama_dynamic",
            Architecture::LamaDynamic,
            Some(OutputRange::Unit),
        ),
        (
            "lama_dynamic_255",
            Architecture::LamaDynamic,
            Some(OutputRange::Byte),
        ),
        (
            "lama_dynamic_fp16",
            Architecture::LamaDynamic,
            Some(OutputRange::Unit),
        ),
        ("migan", Architecture::Migan, None),
        ("fcf", Architecture::Fcf, None),
        ("migan_pipeline", Architecture::MiganPipeline, None),
        ("mat", Architecture::Mat, None),
        ("mat_no_noise", Architecture::Mat, None),
    ];
    let mut covered = Vec::new();
    for (name, arch, range) in cases {
        let mut local = OnnxModel::load(
            fixtures.join(format!("{name}.onnx")),
            arch,
            &OnnxOptions::default(),
        )
        .unwrap_or_else(|err| panic!("{name} local: {}", err.full_message()));
        let mut options =
            RemoteOptions::new(&endpoint, name).with_timeout(Duration::from_secs(120));
        if let Some(range) = range {
            options = options.with_output_range(range);
        }
        let mut remote = RemoteModel::connect(arch, &options)
            .unwrap_or_else(|err| panic!("{name} remote: {}", err.full_message()));
        for strategy in [HdStrategy::Original, HdStrategy::Crop] {
            let (image, mask) = case();
            let run_options = InpaintOptions::new(strategy);
            let here = inpaint(&mut local, &image, &mask, &run_options).unwrap();
            let there = inpaint(&mut remote, &image, &mask, &run_options)
                .unwrap_or_else(|err| panic!("{name} remote run: {}", err.full_message()));
            assert!(
                here.rgb() == there.rgb(),
                "{name} ({arch}, {strategy}): remote differs from local"
            );
            // The fixtures fill the hole with a colour of their own: the hole changed.
            assert_ne!(
                here.rgb().get_pixel(20, 15),
                image.rgb().get_pixel(20, 15),
                "{name}"
            );
        }
        assert!(remote.server_time() > Duration::ZERO);
        covered.push(arch);
    }
    // Every architecture ran remotely (a new one in `ALL` fails here until it is added).
    for arch in Architecture::ALL {
        assert!(covered.contains(&arch), "{arch} not covered");
    }

    // The server's wrong model is refused at load, every mismatch named.
    let err = RemoteModel::connect(
        Architecture::Lama,
        &RemoteOptions::new(&endpoint, "wrong_names"),
    )
    .unwrap_err()
    .full_message();
    assert!(
        err.contains("does not have the `lama` contract: no input named `image`; no input named `mask`; no output named `output`"),
        "{err}"
    );
    // A model the server does not have: KServe's 404, with its words.
    let err = RemoteModel::connect(Architecture::Lama, &RemoteOptions::new(&endpoint, "nope"))
        .unwrap_err()
        .full_message();
    assert!(err.contains("model readiness: HTTP 404"), "{err}");
}
