//! `openai-compat` in the server: listed with the prompt box, built by the server (the
//! registry's manager does not build remote API models) when switched to, and run through
//! `/api/v1/inpaint` against inpaint-openai's fake `images/edits` server on 127.0.0.1.

use image::{DynamicImage, ImageFormat};
use inpaint_openai::{ApiKey, BudgetConfig, cap_from_dollars};
use inpaint_server::{OpenAiConfig, ServerOptions};
use serde_json::json;

use crate::fake::{FakeServer, Recorded, Reply, png};
use crate::support::{TestServer, encode, inpaint_body, photo, rect_mask};

const KEY: &str = "sk-server-test-0123456789";
const PROMPT: &str = "a wooden bench";
const FILL: [u8; 3] = [10, 200, 30];

/// dall-e-2 (256×256 for a small picture) at `fake`, with a fresh ledger in `ledger`.
fn config(base_url: &str, ledger: &std::path::Path) -> OpenAiConfig {
    let mut budget = BudgetConfig::default();
    budget.ledger = Some(ledger.join("ledger.sqlite3"));
    OpenAiConfig::new()
        .with_base_url(base_url)
        .with_model("dall-e-2")
        .with_api_key(ApiKey::new(KEY).unwrap())
        .with_budget(budget)
}

/// Answers a solid `FILL` picture of the size asked for, or 400 for another prompt.
fn paint(request: &Recorded) -> Reply {
    if request.text("prompt").as_deref() != Some(PROMPT) {
        return Reply::Status(400, r#"{"error":{"message":"wrong prompt"}}"#.into());
    }
    let size = request.text("size").unwrap();
    let (w, h) = size.split_once('x').unwrap();
    Reply::B64(png(w.parse().unwrap(), h.parse().unwrap(), FILL), None)
}

fn body(prompt: &str) -> serde_json::Value {
    let image = encode(&DynamicImage::ImageRgb8(photo(64, 48)), ImageFormat::Png);
    let mask = encode(
        &DynamicImage::ImageLuma8(rect_mask(64, 48, (16, 12, 20, 16))),
        ImageFormat::Png,
    );
    let mut body = inpaint_body(&image, &mask);
    body["prompt"] = json!(prompt);
    body
}

#[test]
fn openai_compat_is_listed_switched_to_and_paints_with_the_prompt() {
    let fake = FakeServer::start(paint);
    let ledger = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        ServerOptions::new()
            .with_model("telea")
            .with_openai(config(&fake.base_url(), ledger.path())),
    );

    let config = server.get("/api/v1/server-config").json();
    let infos = config["modelInfos"].as_array().unwrap();
    let info = infos
        .iter()
        .find(|m| m["name"] == "openai-compat")
        .unwrap_or_else(|| panic!("not listed: {infos:?}"));
    assert_eq!(info["need_prompt"], true, "{info}");
    assert_eq!(info["model_type"], "diffusers_sd_inpaint", "{info}");
    assert_eq!(info["support_strength"], false, "{info}");
    assert_eq!(info["path"], "openai-compat", "{info}");

    let switched = server.post_json("/api/v1/model", &json!({"name": "openai-compat"}));
    assert_eq!(
        switched.status,
        200,
        "{}",
        String::from_utf8_lossy(&switched.body)
    );
    let current = server.get("/api/v1/model").json();
    assert_eq!(current["name"], "openai-compat");
    assert_eq!(current["need_prompt"], true);
    assert_eq!(current["support_strength"], false);
    assert_eq!(fake.edits(), 0, "switching sends nothing");

    let reply = server.post_json("/api/v1/inpaint", &body(PROMPT));
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let out = image::load_from_memory(&reply.body).unwrap().to_rgb8();
    let photo = photo(64, 48);
    let mask = rect_mask(64, 48, (16, 12, 20, 16));
    for (x, y, pixel) in out.enumerate_pixels() {
        if mask.get_pixel(x, y).0[0] == 0 {
            assert_eq!(
                pixel,
                photo.get_pixel(x, y),
                "outside the mask at ({x}, {y})"
            );
        } else {
            for (got, want) in pixel.0.iter().zip(FILL) {
                assert!(
                    got.abs_diff(want) <= 2,
                    "inside the mask at ({x}, {y}): {pixel:?}"
                );
            }
        }
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(
        sent.header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(sent.text("model").as_deref(), Some("dall-e-2"));
    assert_eq!(sent.text("size").as_deref(), Some("256x256"));

    // The app's prompt box left empty: the neutral default prompt goes out, which this
    // fake refuses (400): the server's upstream failed, a 502 with the server's message.
    let error = server.post_json("/api/v1/inpaint", &body("")).error(502);
    assert!(error.contains("wrong prompt"), "{error}");
    assert_eq!(fake.edits(), 2);

    // Back to a local model.
    let back = server.post_json("/api/v1/model", &json!({"name": "telea"}));
    assert_eq!(back.status, 200);
    assert_eq!(server.get("/api/v1/model").json()["name"], "telea");
}

#[test]
fn a_budget_refusal_is_a_402_naming_the_cap_and_nothing_is_sent() {
    let fake = FakeServer::start(paint);
    let ledger = tempfile::tempdir().unwrap();
    let mut config = config(&fake.base_url(), ledger.path());
    config.budget.caps.session = cap_from_dollars(0.001).unwrap();
    let server = TestServer::start(
        ServerOptions::new()
            .with_model("openai-compat")
            .with_openai(config),
    );
    assert_eq!(server.get("/api/v1/model").json()["name"], "openai-compat");
    let error = server
        .post_json("/api/v1/inpaint", &body(PROMPT))
        .error(402);
    assert!(error.contains("session cap"), "{error}");
    assert!(error.contains("nothing was sent"), "{error}");
    assert_eq!(fake.edits(), 0);
}

#[test]
fn a_refused_key_is_a_502_that_does_not_quote_it() {
    let fake = FakeServer::start(|_| {
        Reply::Status(
            401,
            format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}"}}}}"#),
        )
    });
    let ledger = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        ServerOptions::new()
            .with_model("openai-compat")
            .with_openai(config(&fake.base_url(), ledger.path())),
    );
    let error = server
        .post_json("/api/v1/inpaint", &body(PROMPT))
        .error(502);
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains(KEY), "{error}");
    assert_eq!(fake.edits(), 1);
}

#[test]
fn a_switch_to_a_misconfigured_openai_compat_fails_and_keeps_the_old_model() {
    let ledger = tempfile::tempdir().unwrap();
    let server = TestServer::start(
        ServerOptions::new()
            .with_model("telea")
            .with_openai(config("ftp://127.0.0.1/v1", ledger.path())),
    );
    let error = server
        .post_json("/api/v1/model", &json!({"name": "openai-compat"}))
        .error(422);
    assert!(error.contains("base_url"), "{error}");
    assert_eq!(server.get("/api/v1/model").json()["name"], "telea");
}
