//! Serving many: the queue, the switch during a run, limits, the timeout, shutdown.

use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat};
use inpaint_server::{Limits, ServerOptions};
use serde_json::{Value, json};

use crate::support::{Reply, TestServer, encode, inpaint_body, photo, rect_mask};

/// A request that keeps a worker busy for a while even in a debug build: a large hole for
/// Telea in a large picture (HD strategy `Original`, so the model sees all of it).
fn slow_body() -> Value {
    let picture = photo(512, 512);
    let mask = rect_mask(512, 512, (96, 96, 320, 320));
    let mut body = inpaint_body(
        &encode(&DynamicImage::ImageRgb8(picture), ImageFormat::Png),
        &encode(&DynamicImage::ImageLuma8(mask), ImageFormat::Png),
    );
    body["hd_strategy"] = json!("Original");
    body
}

fn small_body() -> Value {
    inpaint_body(
        &encode(&DynamicImage::ImageRgb8(photo(24, 24)), ImageFormat::Png),
        &encode(
            &DynamicImage::ImageLuma8(rect_mask(24, 24, (4, 4, 6, 6))),
            ImageFormat::Png,
        ),
    )
}

/// Posts `body` from another thread.
fn post_in_background(server: &TestServer, body: &Value) -> std::thread::JoinHandle<Reply> {
    let url = format!("{}/api/v1/inpaint", server.url);
    let body = body.to_string();
    std::thread::spawn(move || {
        Reply::from(
            crate::support::agent()
                .post(url)
                .header("Content-Type", "application/json")
                .send(body.as_bytes()),
        )
    })
}

/// Gives a request sent in the background time to be read and admitted (its body is a few
/// MB on loopback; its run takes seconds).
fn settle() {
    std::thread::sleep(Duration::from_millis(1000));
}

#[test]
fn a_full_queue_is_a_503_with_retry_after_and_nothing_is_lost() {
    let server = TestServer::start(ServerOptions::new().with_workers(1).with_queue(0));
    let slow = post_in_background(&server, &slow_body());
    settle();
    let mut busy = None;
    while !slow.is_finished() {
        let reply = server.post_json("/api/v1/inpaint", &small_body());
        if reply.status == 503 {
            busy = Some(reply);
            break;
        }
    }
    let slow = slow.join().unwrap();
    assert_eq!(slow.status, 200, "{}", String::from_utf8_lossy(&slow.body));
    let busy = busy.expect("no request was refused while the only worker was busy");
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert!(busy.error(503).contains("busy"));
    // Once the worker is free, requests are served again.
    assert_eq!(
        server.post_json("/api/v1/inpaint", &small_body()).status,
        200
    );
}

#[test]
fn a_model_switch_waits_for_the_running_request() {
    let server = TestServer::start(ServerOptions::new().with_workers(2));
    let body = slow_body();
    let telea = server.post_json("/api/v1/inpaint", &body);
    assert_eq!(telea.status, 200);
    let running = post_in_background(&server, &body);
    settle();
    let started = Instant::now();
    let switched = server.post_json("/api/v1/model", &json!({"name": "navier-stokes"}));
    assert_eq!(switched.status, 200);
    let running = running.join().unwrap();
    // The request that was running when the switch came finished on the model it started
    // with, byte for byte.
    assert_eq!(running.status, 200);
    assert_eq!(
        running.body, telea.body,
        "the running request was disturbed"
    );
    assert!(started.elapsed() > Duration::from_millis(50));
    assert_eq!(server.get("/api/v1/model").json()["name"], "navier-stokes");
    let after = server.post_json("/api/v1/inpaint", &small_body());
    assert_eq!(after.status, 200);
}

#[test]
fn the_body_limit_is_a_413_and_image_limits_apply_to_the_mask_too() {
    let server = TestServer::start(
        ServerOptions::new()
            .with_max_body_bytes(4096)
            .with_limits(Limits::new(64, 64 * 64)),
    );
    let big = json!({"image": "A".repeat(8000), "mask": ""});
    assert!(server.post_json("/api/v1/inpaint", &big).error(413).len() > 3);
    let mut body = small_body();
    body["mask"] = json!(crate::support::data_url(
        &crate::api::png_header(65, 10),
        "image/png"
    ));
    assert!(
        server
            .post_json("/api/v1/inpaint", &body)
            .error(413)
            .starts_with("mask: ")
    );
    assert_eq!(
        server.post_json("/api/v1/inpaint", &small_body()).status,
        200
    );
}

#[test]
fn a_request_over_the_timeout_is_a_503_and_the_worker_comes_back() {
    let server =
        TestServer::start(ServerOptions::new().with_request_timeout(Duration::from_millis(300)));
    let reply = server.post_json("/api/v1/inpaint", &slow_body());
    assert!(reply.error(503).contains("limit of 0.3 s"));
    // The run goes on in the background; once it ends the worker serves again.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let reply = server.post_json("/api/v1/inpaint", &small_body());
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503);
        assert!(Instant::now() < deadline, "the worker never came back");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn shutdown_answers_the_running_request_first() {
    let mut server = TestServer::start(ServerOptions::new());
    let running = post_in_background(&server, &slow_body());
    settle();
    server.stop();
    let reply = running.join().unwrap();
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(image::load_from_memory(&reply.body).is_ok());
}
