//! What the remote path (`inpaint_models::remote`, the Open Inference Protocol over loopback)
//! adds to a forward pass, and how requests scale with client threads (BENCHMARKS.md, "Remote
//! inference").
//!
//! ```text
//! cargo run --release -p inpaint-benches --bin remote-overhead -- [--runs N] [--big-lama PATH] \
//!     [--kserve URL]
//! ```
//!
//! * Overhead: at 512² and 2048², the same dynamic-LaMa-contract graph
//!   (`tests/fixtures/onnx/lama_dynamic.onnx`, a few additions) run locally on ONNX Runtime,
//!   and remotely against a minimal V2 server in this process (on 127.0.0.1, its own threads)
//!   that answers every request with a constant output of the right shape, binary or JSON as
//!   asked: so the remote time is the protocol's whole cost (encode, loopback transfer both
//!   ways, the server's parsing, decode) with no model run. The client's own share (encode +
//!   decode) is timed inside the client (`RemoteModel::client_time`).
//! * Anchor: with `--big-lama PATH` (benches/make_big_lama.py's graph), one 512² run of it in
//!   the same process, so the client's cost is given as a share of a real model's run.
//! * Throughput: 1, 2 and 4 client threads, each with its own `RemoteModel`, against the
//!   in-process server (the client side's scaling), and with `--kserve URL` against a KServe
//!   server serving `lama_dynamic` (scripts/kserve-predictor.py: one server process).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use image::{Luma, Rgb, RgbImage};
use inpaint_core::{HdStrategy, Image, InpaintModel, InpaintOptions, Mask, inpaint};
use inpaint_models::onnx::{Architecture, OnnxModel, OnnxOptions, OutputRange};
use inpaint_models::remote::{Encoding, RemoteModel, RemoteOptions};
use serde_json::{Value, json};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut runs, mut big_lama, mut kserve) = (5usize, None, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => runs = value.parse().expect("--runs N"),
            "--big-lama" => big_lama = Some(PathBuf::from(value)),
            "--kserve" => kserve = Some(value),
            other => panic!("unknown argument {other}"),
        }
    }
    let endpoint = start_null_server();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/onnx/lama_dynamic.onnx");
    let remote = |encoding| {
        let options = RemoteOptions::new(&endpoint, "lama")
            .with_output_range(OutputRange::Unit)
            .with_encoding(encoding);
        RemoteModel::connect(Architecture::LamaDynamic, &options).expect("connect")
    };

    println!("## overhead (median of {runs} runs; ms)");
    println!(
        "| size | local forward | remote binary | of which client | remote JSON | of which client |"
    );
    println!("|---|---|---|---|---|---|");
    let mut client_512 = None;
    for side in [512u32, 2048] {
        let (image, mask) = case(side);
        let mut local =
            OnnxModel::load(&fixture, Architecture::LamaDynamic, &OnnxOptions::default())
                .expect("load the fixture");
        let local_ms = median(runs, || time(|| forward(&mut local, &image, &mask)));
        let mut row = format!("| {side}² | {local_ms:.1} |");
        for encoding in [Encoding::Binary, Encoding::Json] {
            let mut model = remote(encoding);
            let mut client = Vec::new();
            let total = median(runs, || {
                let before = model.client_time();
                let ms = time(|| forward(&mut model, &image, &mask));
                client.push((model.client_time() - before).as_secs_f64() * 1e3);
                ms
            });
            let client = median_of(&mut client);
            if side == 512 && encoding == Encoding::Binary {
                client_512 = Some(client);
            }
            row.push_str(&format!(" {total:.1} | {client:.1} |"));
        }
        println!("{row}");
    }

    if let Some(path) = big_lama {
        let (image, mask) = case(512);
        let mut model = OnnxModel::load(&path, Architecture::Lama, &OnnxOptions::default())
            .expect("load the big-LaMa-shaped graph");
        let ms = median(runs.min(3), || time(|| forward(&mut model, &image, &mask)));
        let client = client_512.unwrap_or_default();
        println!(
            "\nbig-LaMa-shaped graph, 512² forward: {ms:.0} ms; the client's own cost at 512² \
             (binary): {client:.2} ms = {:.3} % of it",
            100.0 * client / ms
        );
    }

    println!("\n## throughput at 512², binary (images/s; {runs} images per thread)");
    let mut servers = vec![("in-process null server", endpoint.clone(), "lama")];
    if let Some(url) = &kserve {
        servers.push((
            "KServe 0.21 (one process), lama_dynamic",
            url.clone(),
            "lama_dynamic",
        ));
    }
    for (label, url, name) in servers {
        let mut row = format!("| {label} |");
        for threads in [1usize, 2, 4] {
            let options = RemoteOptions::new(&url, name).with_output_range(OutputRange::Unit);
            let started = Instant::now();
            thread::scope(|scope| {
                for _ in 0..threads {
                    let options = options.clone();
                    scope.spawn(move || {
                        let mut model = RemoteModel::connect(Architecture::LamaDynamic, &options)
                            .expect("connect");
                        let (image, mask) = case(512);
                        for _ in 0..runs {
                            forward(&mut model, &image, &mask);
                        }
                    });
                }
            });
            let rate = (threads * runs) as f64 / started.elapsed().as_secs_f64();
            row.push_str(&format!(" {threads}: {rate:.1} |"));
        }
        println!("{row}");
    }
}

/// A photo-like `side`² image with a hole covering 5 % of it.
fn case(side: u32) -> (Image, Mask) {
    let rgb = RgbImage::from_fn(side, side, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    });
    let hole = side / 5;
    let mask = image::GrayImage::from_fn(side, side, |x, y| {
        let inside =
            (side / 3..side / 3 + hole).contains(&x) && (side / 3..side / 3 + hole).contains(&y);
        Luma([if inside { 255 } else { 0 }])
    });
    (
        Image::from_rgb(rgb).expect("image"),
        Mask::from_gray(mask).expect("mask"),
    )
}

fn forward(model: &mut dyn InpaintModel, image: &Image, mask: &Mask) {
    inpaint(
        model,
        image,
        mask,
        &InpaintOptions::new(HdStrategy::Original),
    )
    .expect("inpaint");
}

fn time(f: impl FnOnce()) -> f64 {
    let started = Instant::now();
    f();
    started.elapsed().as_secs_f64() * 1e3
}

/// The median of `runs` timings, after one warm-up run.
fn median(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs).map(|_| f()).collect();
    median_of(&mut times)
}

fn median_of(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// A V2 server on 127.0.0.1 that runs no model: readiness, dynamic-LaMa metadata, and an
/// answer of 0.5 everywhere in the shape of the request's `image`, binary or JSON as asked.
fn start_null_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let _ = serve(stream);
            });
        }
    });
    endpoint
}

/// Answers requests on one connection until the client closes it (keep-alive, as servers do).
fn serve(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let (mut length, mut header_length) = (0usize, None);
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or_default();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "inference-header-content-length" => header_length = value.trim().parse().ok(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let (extra, answer) = if path.ends_with("/infer") {
            infer_answer(&body, header_length)
        } else if path.ends_with("/ready") {
            (String::new(), b"{}".to_vec())
        } else {
            let metadata = json!({
                "name": "lama",
                "inputs": [
                    {"name": "image", "datatype": "FP32", "shape": [1, 3, -1, -1]},
                    {"name": "mask", "datatype": "FP32", "shape": [1, 1, -1, -1]}
                ],
                "outputs": [{"name": "output", "datatype": "FP32", "shape": [1, 3, -1, -1]}]
            });
            (String::new(), metadata.to_string().into_bytes())
        };
        write!(
            writer,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n{extra}\r\n",
            answer.len()
        )?;
        writer.write_all(&answer)?;
    }
}

/// The answer to an inference request: extra headers and body.
fn infer_answer(body: &[u8], header_length: Option<usize>) -> (String, Vec<u8>) {
    #[derive(serde::Deserialize)]
    struct Request {
        inputs: Vec<Input>,
        outputs: Vec<Value>,
    }
    #[derive(serde::Deserialize)]
    struct Input {
        shape: Vec<i64>,
    }
    let header = &body[..header_length.unwrap_or(body.len())];
    let request: Request = serde_json::from_slice(header).expect("a V2 request");
    let shape = &request.inputs[0].shape;
    let count = (3 * shape[2] * shape[3]) as usize;
    let binary = request.outputs[0]["parameters"]["binary_data"] == json!(true);
    let mut output =
        json!({"name": "output", "datatype": "FP32", "shape": [1, 3, shape[2], shape[3]]});
    if binary {
        output["parameters"] = json!({"binary_data_size": 4 * count});
        let header = json!({"model_name": "lama", "outputs": [output]}).to_string();
        let mut answer = header.clone().into_bytes();
        answer.reserve(4 * count);
        for _ in 0..count {
            answer.extend(0.5f32.to_le_bytes());
        }
        (
            format!("inference-header-content-length: {}\r\n", header.len()),
            answer,
        )
    } else {
        output["data"] = json!(vec![0.5f32; count]);
        (
            String::new(),
            json!({"model_name": "lama", "outputs": [output]})
                .to_string()
                .into_bytes(),
        )
    }
}
