//! The request as sent, the answers as read, and the pipeline's guarantee.

use std::time::{Duration, Instant};

use image::{GrayImage, Luma, Rgb, RgbImage};
use inpaint_core::{Image, InpaintOptions, Mask, inpaint};
use inpaint_openai::ledger::{Caps, Ledger};
use inpaint_openai::{ApiKey, BudgetConfig, DEFAULT_PROMPT, Error, OpenAiCompat, OpenAiConfig};
use tempfile::TempDir;

use crate::fake::{FakeServer, Reply, png};

pub(crate) const KEY: &str = "sk-test-0123456789-secret";

/// A price table of small sizes, so that the tests move small images: `tiny-square` is
/// shaped like dall-e-2, `tiny-gpt` like gpt-image-1 (three sizes, qualities, no
/// `response_format`, token prices).
const TINY_PRICES: &str = r#"
read_on = "test"
[models.tiny-square]
per_image.standard = { "32x32" = 0.1, "64x64" = 0.2 }
[models.tiny-gpt]
response_format = false
input_allowance = 0.05
per_image.low = { "64x64" = 0.1, "96x64" = 0.15, "64x96" = 0.15 }
per_image.high = { "64x64" = 0.25, "96x64" = 0.3, "64x96" = 0.3 }
per_million_tokens = { text_input = 5.0, image_input = 10.0, image_output = 40.0 }
"#;

/// A model talking to `server`, with its ledger in `dir`; no caps, no de-dup unless the test
/// sets them.
pub(crate) fn model_with(
    server: &FakeServer,
    dir: &TempDir,
    api_model: &str,
    budget: impl FnOnce(&mut BudgetConfig),
) -> OpenAiCompat {
    model_timeout(server, dir, api_model, Duration::from_secs(20), budget)
}

/// [`model_with`] with this timeout.
pub(crate) fn model_timeout(
    server: &FakeServer,
    dir: &TempDir,
    api_model: &str,
    timeout: Duration,
    budget: impl FnOnce(&mut BudgetConfig),
) -> OpenAiCompat {
    let mut config = BudgetConfig::default();
    config.caps = Caps::UNLIMITED;
    config.dedup_window = Duration::ZERO;
    config.ledger = Some(dir.path().join("ledger.sqlite3"));
    budget(&mut config);
    let prices = api_model.starts_with("tiny-").then(|| {
        let path = dir.path().join("prices.toml");
        std::fs::write(&path, TINY_PRICES).unwrap();
        path
    });
    OpenAiCompat::new(
        OpenAiConfig::new()
            .with_prices(prices)
            .with_base_url(server.base_url())
            .with_model(api_model)
            .with_timeout(timeout)
            .with_budget(config)
            .with_api_key(ApiKey::new(KEY).unwrap()),
    )
    .expect("model builds")
}

fn model(server: &FakeServer, dir: &TempDir, api_model: &str) -> OpenAiCompat {
    model_with(server, dir, api_model, |_| {})
}

/// A gradient, so that every pixel differs from its neighbours.
pub(crate) fn photo(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    })
}

/// Fill inside the rectangle `[x0, x1) × [y0, y1)`.
pub(crate) fn rect_mask(width: u32, height: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> Mask {
    Mask::from_gray(GrayImage::from_fn(width, height, |x, y| {
        Luma([if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
            255
        } else {
            0
        }])
    }))
    .unwrap()
}

/// The ledger's statuses, oldest first.
pub(crate) fn statuses(ledger: &Ledger) -> Vec<String> {
    ledger
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.status)
        .collect()
}

#[test]
fn the_multipart_request_is_exactly_as_specified() {
    let server = FakeServer::start(|_| Reply::B64(png(256, 256, [1, 2, 3]), None));
    let dir = TempDir::new().unwrap();
    let mut model = model(&server, &dir, "dall-e-2");
    let (w, h) = (200, 150);
    let image = photo(w, h);
    let mask = rect_mask(w, h, (20, 30, 90, 100));
    let out = model.edit(&image, &mask, "a red kite").unwrap();
    assert_eq!(out.dimensions(), (w, h));
    assert_eq!(out.get_pixel(0, 0), &Rgb([1, 2, 3]));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/images/edits");
    assert_eq!(
        request.header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
    let names: Vec<_> = request
        .fields()
        .into_iter()
        .map(|(n, f, _)| (n, f))
        .collect();
    let text = |n: &str| (n.to_string(), None);
    assert_eq!(
        names,
        [
            ("image".to_string(), Some("image.png".to_string())),
            ("mask".to_string(), Some("mask.png".to_string())),
            text("prompt"),
            text("model"),
            text("n"),
            text("size"),
            text("response_format"),
        ]
    );
    assert_eq!(request.text("prompt").unwrap(), "a red kite");
    assert_eq!(request.text("model").unwrap(), "dall-e-2");
    assert_eq!(request.text("n").unwrap(), "1");
    assert_eq!(request.text("size").unwrap(), "256x256");
    assert_eq!(request.text("response_format").unwrap(), "b64_json");

    let sent = image::load_from_memory(&request.file("image")).unwrap();
    let sent_mask = image::load_from_memory(&request.file("mask")).unwrap();
    assert_eq!((sent.width(), sent.height()), (256, 256));
    assert_eq!((sent_mask.width(), sent_mask.height()), (256, 256));
    let sent = sent.to_rgba8();
    for (x, y, p) in sent.enumerate_pixels().filter(|(x, y, _)| *x < w && *y < h) {
        let Rgb([r, g, b]) = *image.get_pixel(x, y);
        assert_eq!(p.0, [r, g, b, 255], "image pixel ({x}, {y})");
    }
    let sent_mask = sent_mask.to_rgba8();
    for (x, y, p) in sent_mask.enumerate_pixels() {
        let fill = mask.is_fill(x, y).unwrap_or(false);
        assert_eq!(p.0[3] == 0, fill, "mask alpha at ({x}, {y})");
    }
    assert_eq!(statuses(model.ledger()), ["succeeded"]);
}

#[test]
fn gpt_image_models_get_their_sizes_quality_and_no_response_format() {
    let answer = png(1536, 1024, [9, 9, 9]);
    let server = FakeServer::start(move |_| Reply::B64(answer.clone(), None));
    let dir = TempDir::new().unwrap();
    let config = OpenAiConfig::new()
        .with_base_url(server.base_url())
        .with_quality(Some("low".into()))
        .with_budget({
            let mut b = BudgetConfig::default();
            b.ledger = Some(dir.path().join("l.sqlite3"));
            b
        })
        .with_api_key(ApiKey::new(KEY).unwrap());
    let mut model = OpenAiCompat::new(config).unwrap();
    let out = model
        .edit(&photo(1400, 900), &rect_mask(1400, 900, (0, 0, 10, 10)), "")
        .unwrap();
    assert_eq!(out.dimensions(), (1400, 900));
    let request = &server.requests()[0];
    assert_eq!(request.text("model").unwrap(), "gpt-image-1");
    assert_eq!(request.text("size").unwrap(), "1536x1024");
    assert_eq!(request.text("quality").unwrap(), "low");
    assert_eq!(request.text("response_format"), None);
    // An empty prompt sends the neutral default.
    assert_eq!(request.text("prompt").unwrap(), DEFAULT_PROMPT);
}

#[test]
fn a_url_answer_is_fetched_without_the_key() {
    let server = FakeServer::start(|_| Reply::Url(png(256, 256, [40, 50, 60])));
    let dir = TempDir::new().unwrap();
    let mut model = model(&server, &dir, "dall-e-2");
    let out = model
        .edit(&photo(256, 256), &rect_mask(256, 256, (5, 5, 9, 9)), "x")
        .unwrap();
    assert_eq!(out.get_pixel(100, 100), &Rgb([40, 50, 60]));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("GET", "/image.png")
    );
    assert_eq!(requests[1].header("authorization"), None);
}

#[test]
fn error_statuses_become_clear_errors_and_cost_nothing() {
    type IsExpected = fn(&Error) -> bool;
    let cases: [(u16, &str, IsExpected); 4] = [
        (400, "Invalid size", |e| {
            matches!(e, Error::Rejected { status: 400, .. })
        }),
        (
            401,
            "Incorrect API key provided: sk-test-0123456789-secret",
            |e| matches!(e, Error::Unauthorized),
        ),
        (429, "Rate limit reached", |e| {
            matches!(e, Error::RateLimited { .. })
        }),
        (500, "The server had an error", |e| {
            matches!(e, Error::Server { status: 500, .. })
        }),
    ];
    for (status, message, is_expected) in cases {
        let body = serde_json::json!({"error": {"message": message}}).to_string();
        let server = FakeServer::start(move |_| Reply::Status(status, body.clone()));
        let dir = TempDir::new().unwrap();
        let mut model = model(&server, &dir, "dall-e-2");
        let err = model
            .edit(&photo(64, 64), &rect_mask(64, 64, (1, 1, 3, 3)), "x")
            .unwrap_err();
        assert!(is_expected(&err), "{status}: {err:?}");
        let text = inpaint_core::error::full_message(&err);
        assert!(!text.contains(KEY), "the key leaked: {text}");
        assert!(!format!("{err:?}").contains(KEY), "the key leaked: {err:?}");
        if status == 401 {
            assert!(text.contains("API key") && text.contains("401"), "{text}");
        } else {
            assert!(
                text.contains(message) && text.contains(&status.to_string()),
                "{text}"
            );
        }
        let entries = model.ledger().entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].status, "failed");
        assert_eq!(entries[0].actual.map(|a| a.micros()), Some(0));
    }
}

#[test]
fn a_stalled_server_hits_the_timeout() {
    let server = FakeServer::start(|_| Reply::Stall);
    let dir = TempDir::new().unwrap();
    let mut model = model_timeout(&server, &dir, "dall-e-2", Duration::from_secs(1), |_| {});
    let started = Instant::now();
    let err = model
        .edit(&photo(64, 64), &rect_mask(64, 64, (1, 1, 3, 3)), "x")
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The server may have done the work: the estimate keeps counting.
    assert_eq!(statuses(model.ledger()), ["interrupted"]);
}

#[test]
fn non_image_answers_are_refused() {
    let not_json = || Reply::Status(200, "<html>gateway</html>".into());
    let not_image = || Reply::B64(b"hello, not a PNG".to_vec(), None);
    let wrong_size = || Reply::B64(png(512, 512, [0, 0, 0]), None);
    let no_data = || Reply::Status(200, "{\"data\": []}".into());
    for (reply, expect) in [
        (not_json(), "not JSON"),
        (not_image(), "not an image"),
        (wrong_size(), "asked for 256x256, got 512x512"),
        (no_data(), "no `data[0]`"),
    ] {
        let server = FakeServer::start(move |_| reply.clone());
        let dir = TempDir::new().unwrap();
        let mut model = model(&server, &dir, "dall-e-2");
        let err = model
            .edit(&photo(64, 64), &rect_mask(64, 64, (1, 1, 3, 3)), "x")
            .unwrap_err();
        assert!(matches!(err, Error::BadAnswer { .. }), "{err:?}");
        assert!(err.to_string().contains(expect), "{err}");
    }
}

#[test]
fn everything_outside_the_mask_is_byte_identical() {
    // The server answers magenta: the result is magenta inside the mask only.
    let server = FakeServer::start(|request| {
        let size = request.text("size").unwrap();
        let (w, h) = size.split_once('x').unwrap();
        Reply::B64(
            png(w.parse().unwrap(), h.parse().unwrap(), [255, 0, 255]),
            None,
        )
    });
    let dir = TempDir::new().unwrap();
    for (api_model, (w, h), holes) in [
        ("dall-e-2", (300, 200), vec![(40, 50, 120, 90)]),
        // Larger than the model's sizes: one crop per hole, each fitted to one of its sizes.
        (
            "tiny-gpt",
            (700, 300),
            vec![(10, 10, 40, 40), (500, 200, 600, 260)],
        ),
    ] {
        let mut model = model(&server, &dir, api_model);
        let image = photo(w, h);
        let mut gray = GrayImage::new(w, h);
        for &(x0, y0, x1, y1) in &holes {
            for y in y0..y1 {
                for x in x0..x1 {
                    gray.put_pixel(x, y, Luma([255]));
                }
            }
        }
        let mask = Mask::from_gray(gray).unwrap();
        let input = Image::from_rgb(image.clone()).unwrap();
        let out = inpaint(&mut model, &input, &mask, &InpaintOptions::default()).unwrap();
        let out = out.rgb();
        assert_eq!(out.dimensions(), (w, h));
        for (x, y, p) in out.enumerate_pixels() {
            if mask.is_fill(x, y).unwrap() {
                assert_eq!(p, &Rgb([255, 0, 255]), "{api_model} inside ({x}, {y})");
            } else {
                assert_eq!(p, image.get_pixel(x, y), "{api_model} outside ({x}, {y})");
            }
        }
    }
    // One request for the small image, one per hole for the large one.
    assert_eq!(server.edits(), 3);
    let mut sizes: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.text("size").unwrap())
        .collect();
    sizes.sort();
    assert_eq!(sizes, ["512x512", "64x64", "96x64"]);
}

#[test]
fn the_pipeline_sends_the_requests_prompt_and_refuses_a_negative_one() {
    use inpaint_core::{InpaintModel, Request};

    let server = FakeServer::start(|_| Reply::B64(png(256, 256, [0, 0, 0]), None));
    let dir = TempDir::new().unwrap();
    let mut model = model(&server, &dir, "dall-e-2");
    assert!(model.spec().takes_prompt);
    let input = Image::from_rgb(photo(100, 100)).unwrap();
    let mask = rect_mask(100, 100, (10, 10, 20, 20));
    let with = |request: Request| InpaintOptions::default().with_request(request);
    let steps = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = steps.clone();
    let progress = inpaint_core::Progress::new(move |step: &inpaint_core::ProgressStep| {
        assert_eq!((step.step, step.total), (1, 1));
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::ops::ControlFlow::Continue(())
    });
    let request = Request::new().with_prompt("a cat").with_progress(progress);
    inpaint(&mut model, &input, &mask, &with(request)).unwrap();
    assert_eq!(server.requests()[0].text("prompt").unwrap(), "a cat");
    // One finished step per region sent.
    assert_eq!(steps.load(std::sync::atomic::Ordering::SeqCst), 1);
    let err = inpaint(
        &mut model,
        &input,
        &mask,
        &with(
            Request::new()
                .with_prompt("a cat")
                .with_negative_prompt("dogs"),
        ),
    )
    .unwrap_err();
    assert!(err.to_string().contains("negative prompt"), "{err}");
    assert_eq!(server.edits(), 1);
}

#[test]
fn a_server_that_cannot_be_reached_got_nothing_and_costs_nothing() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new().unwrap();
    let mut budget = BudgetConfig::default();
    budget.ledger = Some(dir.path().join("l.sqlite3"));
    let mut model = OpenAiCompat::new(
        OpenAiConfig::new()
            .with_base_url(format!("http://127.0.0.1:{port}/v1"))
            .with_model("dall-e-2")
            .with_budget(budget)
            .with_api_key(ApiKey::new(KEY).unwrap()),
    )
    .unwrap();
    let err = model
        .edit(&photo(64, 64), &rect_mask(64, 64, (1, 1, 3, 3)), "x")
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(statuses(model.ledger()), ["failed"]);
}

#[test]
fn an_image_over_the_upload_limit_is_refused_before_sending() {
    let server = FakeServer::start(|_| Reply::B64(png(32, 32, [0, 0, 0]), None));
    let dir = TempDir::new().unwrap();
    let prices = dir.path().join("limit.toml");
    std::fs::write(
        &prices,
        "read_on = \"test\"\n[models.small]\nmax_upload_mb = 0.001\n\
         per_image.standard = { \"32x32\" = 0.01 }\n",
    )
    .unwrap();
    let mut budget = BudgetConfig::default();
    budget.ledger = Some(dir.path().join("l.sqlite3"));
    let mut model = OpenAiCompat::new(
        OpenAiConfig::new()
            .with_base_url(server.base_url())
            .with_model("small")
            .with_prices(Some(prices))
            .with_budget(budget)
            .with_api_key(ApiKey::new(KEY).unwrap()),
    )
    .unwrap();
    // Noise does not compress: a 32×32 RGBA PNG of it is over 1000 bytes.
    let noisy = RgbImage::from_fn(32, 32, |x, y| {
        let v = x
            .wrapping_mul(2_654_435_761)
            .wrapping_add(y.wrapping_mul(40_503))
            >> 7;
        Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    let err = model
        .edit(&noisy, &rect_mask(32, 32, (1, 1, 3, 3)), "x")
        .unwrap_err();
    assert!(matches!(err, Error::UploadTooLarge { .. }), "{err:?}");
    assert!(
        err.to_string().contains("takes files under 1000 bytes"),
        "{err}"
    );
    assert_eq!(server.edits(), 0);
    assert!(model.ledger().entries().unwrap().is_empty());
}
