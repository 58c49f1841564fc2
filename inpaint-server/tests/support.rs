//! A real server on 127.0.0.1 (an ephemeral port), one per test, and an HTTP client for it.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use inpaint_server::{Server, ServerOptions};
use serde_json::Value;

/// A running server; stopped (gracefully) when dropped.
pub(crate) struct TestServer {
    pub(crate) url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    pub(crate) agent: ureq::Agent,
}

impl TestServer {
    pub(crate) fn start(options: ServerOptions) -> Self {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let server = Server::new(options).unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                server
                    .serve(listener, async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let address = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start");
        TestServer {
            url: format!("http://{address}"),
            stop: Some(stop_tx),
            thread: Some(thread),
            agent: agent(),
        }
    }

    /// Asks the server to stop and waits until it has (running requests answered first).
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server thread panicked");
        }
    }

    pub(crate) fn get(&self, path: &str) -> Reply {
        Reply::from(self.agent.get(format!("{}{path}", self.url)).call())
    }

    pub(crate) fn post(&self, path: &str, body: &[u8]) -> Reply {
        Reply::from(
            self.agent
                .post(format!("{}{path}", self.url))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    pub(crate) fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post(path, body.to_string().as_bytes())
    }

    /// A multipart form with one `file` field, as the app's `FormData` sends it.
    pub(crate) fn post_file(&self, path: &str, file_name: &str, bytes: &[u8]) -> Reply {
        let boundary = "----inpaint-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Reply::from(
            self.agent
                .post(format!("{}{path}", self.url))
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..]),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A finished HTTP exchange.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn from(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Self {
        let mut response = result.expect("no HTTP answer");
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Checks IOPaint's error shape and returns the message the app shows (`errors`).
    pub(crate) fn error(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        let json = self.json();
        for key in ["error", "detail", "body", "errors"] {
            assert!(json.get(key).is_some(), "no `{key}` in {json}");
        }
        assert_eq!(json["detail"], json["errors"]);
        json["errors"].as_str().unwrap().to_owned()
    }
}

/// A picture with texture (so a fill is visibly different from what it replaces).
pub(crate) fn photo(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x * y) % 253) as u8,
        ])
    })
}

/// A mask with a filled rectangle.
pub(crate) fn rect_mask(width: u32, height: u32, rect: (u32, u32, u32, u32)) -> image::GrayImage {
    let (x0, y0, w, h) = rect;
    image::GrayImage::from_fn(width, height, |x, y| {
        let inside = (x0..x0 + w).contains(&x) && (y0..y0 + h).contains(&y);
        image::Luma([if inside { 255 } else { 0 }])
    })
}

pub(crate) fn encode(image: &image::DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub(crate) fn data_url(bytes: &[u8], mime: &str) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The app's inpaint body for a PNG picture and mask (the fields it sends, misspellings and
/// nulls included).
pub(crate) fn inpaint_body(image_png: &[u8], mask_png: &[u8]) -> Value {
    serde_json::json!({
        "image": data_url(image_png, "image/png"),
        "mask": data_url(mask_png, "image/png"),
        "ldm_steps": 30, "ldm_sampler": "ddim", "zits_wireframe": true,
        "cv2_flag": "INPAINT_NS", "cv2_radius": 5,
        "hd_strategy": "Crop", "hd_strategy_crop_triger_size": 640,
        "hd_strategy_crop_margin": 128, "hd_trategy_resize_imit": 2048,
        "prompt": "", "negative_prompt": "", "use_croper": false,
        "croper_x": 0, "croper_y": 0, "croper_height": 512, "croper_width": 512,
        "sd_mask_blur": 12, "sd_seed": 42, "sd_match_histograms": false, "sd_lcm_lora": false,
        "paint_by_example_example_image": null,
        "controlnet_method": "", "brushnet_method": "", "powerpaint_task": "text-guided"
    })
}

pub(crate) fn rgba(image: &RgbImage, alpha: u8) -> RgbaImage {
    RgbaImage::from_fn(image.width(), image.height(), |x, y| {
        let [r, g, b] = image.get_pixel(x, y).0;
        Rgba([r, g, b, alpha.wrapping_add((x % 7) as u8)])
    })
}

/// The ONNX fixture `name` of `inpaint-models`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/onnx")
        .join(name)
}
