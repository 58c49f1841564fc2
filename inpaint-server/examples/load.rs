//! A small load client for `POST /api/v1/inpaint`: N clients in parallel, each sending the same
//! request back to back; prints requests/s, p50/p99 latency, errors, and the server's resident
//! memory before and after (Linux, from `/proc/PID/status`).
//!
//! ```text
//! cargo run --release -p inpaint-server --example load -- --url http://127.0.0.1:8080 \
//!     --size 512 --concurrency 1,4,16 --requests 64 [--pid PID] [--max-rss-growth-mib 64]
//! ```
//!
//! The picture is a synthetic 512² (or `--size`) PNG with a centred square hole of a tenth of
//! its area, sent with HD strategy `Original`, so every request does the same work. Exits
//! non-zero when any request failed or (with `--max-rss-growth-mib`) memory grew more than that.
//! `oha` does the same job; this client builds in seconds from crates the tests already use.

use std::io::Cursor;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Parser;
use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage};

/// Load test for inpaint-server's inpaint route.
#[derive(Debug, Parser)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Side of the square test picture, in pixels.
    #[arg(long, default_value_t = 512)]
    size: u32,
    /// Concurrency levels to run, one after another.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// Requests per level.
    #[arg(long, default_value_t = 64)]
    requests: usize,
    /// The server's process id, to read its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Fail when resident memory grows more than this many MiB over the whole run.
    #[arg(long)]
    max_rss_growth_mib: Option<u64>,
}

fn body(size: u32) -> String {
    let picture = RgbImage::from_fn(size, size, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x ^ y) % 251) as u8,
        ])
    });
    let hole = size / 3;
    let (lo, hi) = ((size - hole) / 2, (size + hole) / 2);
    let mask = GrayImage::from_fn(size, size, |x, y| {
        Luma([if (lo..hi).contains(&x) && (lo..hi).contains(&y) {
            255
        } else {
            0
        }])
    });
    let png = |image: DynamicImage| {
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, ImageFormat::Png)
            .expect("encoding a PNG in memory");
        base64::engine::general_purpose::STANDARD.encode(out.into_inner())
    };
    serde_json::json!({
        "image": format!("data:image/png;base64,{}", png(DynamicImage::ImageRgb8(picture))),
        "mask": format!("data:image/png;base64,{}", png(DynamicImage::ImageLuma8(mask))),
        "hd_strategy": "Original",
    })
    .to_string()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() -> ExitCode {
    let args = Args::parse();
    let body = body(args.size);
    let url = format!("{}/api/v1/inpaint", args.url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into();
    // Warm-up at the highest concurrency, so that the allocator's and the worker pool's first
    // growth is not counted as a leak.
    let warm = args.concurrency.iter().copied().max().unwrap_or(1).max(1);
    std::thread::scope(|scope| {
        for _ in 0..warm {
            let (agent, url, body) = (agent.clone(), &url, &body);
            scope.spawn(move || {
                let _ = agent
                    .post(url)
                    .header("Content-Type", "application/json")
                    .send(body.as_bytes())
                    .and_then(|mut r| r.body_mut().with_config().limit(1 << 30).read_to_vec());
            });
        }
    });
    let rss_before = args.pid.and_then(rss_kib);
    println!(
        "{}² PNG, {} requests per level, {} bytes per request",
        args.size,
        args.requests,
        body.len()
    );
    println!("concurrency  req/s    p50 ms   p99 ms   errors  rss MiB");
    let mut failed = false;
    for &clients in &args.concurrency {
        let clients = clients.max(1);
        let started = Instant::now();
        let per_client = args.requests.div_ceil(clients);
        let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..clients)
                .map(|_| {
                    let (agent, url, body) = (agent.clone(), &url, &body);
                    scope.spawn(move || {
                        let mut latencies = Vec::new();
                        let mut errors = 0;
                        for _ in 0..per_client {
                            let sent = Instant::now();
                            let ok = agent
                                .post(url)
                                .header("Content-Type", "application/json")
                                .send(body.as_bytes())
                                .ok()
                                .and_then(|mut r| {
                                    let status = r.status().as_u16();
                                    let bytes =
                                        r.body_mut().with_config().limit(1 << 30).read_to_vec();
                                    (status == 200 && bytes.is_ok()).then_some(())
                                })
                                .is_some();
                            if ok {
                                latencies.push(sent.elapsed());
                            } else {
                                errors += 1;
                            }
                        }
                        (latencies, errors)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or((Vec::new(), per_client)))
                .collect()
        });
        let elapsed = started.elapsed();
        let mut latencies: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
        let errors: usize = results.iter().map(|r| r.1).sum();
        latencies.sort();
        let rss = args
            .pid
            .and_then(rss_kib)
            .map_or("-".to_string(), |k| format!("{:.0}", k as f64 / 1024.0));
        println!(
            "{clients:>11}  {:>6.2}  {:>7.1}  {:>7.1}  {errors:>6}  {rss:>7}",
            latencies.len() as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        );
        failed |= errors > 0;
    }
    let rss_after = args.pid.and_then(rss_kib);
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        println!(
            "server RSS: {:.0} MiB after warm-up, {:.0} MiB after the run",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
        if let Some(limit) = args.max_rss_growth_mib
            && after.saturating_sub(before) > limit * 1024
        {
            eprintln!("RSS grew more than {limit} MiB");
            failed = true;
        }
    }
    if failed {
        eprintln!("load test FAILED");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
