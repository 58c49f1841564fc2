//! `Downloader::fetch` against the local test server.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use inpaint_download::{Downloader, Error, FetchRequest, NetworkMode, Phase, Progress};

use crate::support::{Fault, Recorder, Server, bytes, files_in, quick_config, sha256_hex};

const SIZE: usize = 200_000;

/// A server with `/m.bin` (200 kB), its sha256, and a temporary destination.
fn setup() -> (Server, Vec<u8>, String, tempfile::TempDir) {
    let server = Server::start();
    let body = bytes(SIZE, 7);
    let sha = sha256_hex(&body);
    server.serve("/m.bin", body.clone());
    (server, body, sha, tempfile::tempdir().unwrap())
}

#[test]
fn plain_download_is_verified_and_never_downloaded_again() {
    let (server, body, sha, dir) = setup();
    let url = server.url("/m.bin");
    let recorder = Recorder::default();
    let callback = recorder.callback();
    let request = FetchRequest::new(&url, dir.path(), "m.bin")
        .with_sha256(&sha)
        .with_size(SIZE as u64)
        .with_progress(&callback);
    let downloader = Downloader::new(quick_config());

    let path = downloader.fetch(&request).unwrap();
    assert_eq!(path, dir.path().join("m.bin"));
    assert_eq!(fs::read(&path).unwrap(), body);
    // Only the final file and the (harmless, kept) lock file remain.
    assert_eq!(files_in(dir.path()), ["m.bin", "m.bin.lock"]);
    assert_eq!(server.count(), 1);

    let events = recorder.events();
    let phases: Vec<Phase> = events.iter().map(|p| p.phase).collect();
    let first = |phase| phases.iter().position(|p| *p == phase).unwrap();
    assert!(first(Phase::Connecting) < first(Phase::Downloading));
    assert!(first(Phase::Downloading) < first(Phase::Verifying));
    assert_eq!(phases.last(), Some(&Phase::Done));
    let downloading: Vec<&Progress> = events
        .iter()
        .filter(|p| p.phase == Phase::Downloading)
        .collect();
    assert!(
        downloading.windows(2).all(|w| w[0].done <= w[1].done),
        "monotonic"
    );
    assert_eq!(downloading.last().unwrap().done, SIZE as u64);
    assert_eq!(downloading.last().unwrap().total, Some(SIZE as u64));

    // Cached and verified: no request, in every mode.
    for mode in [
        NetworkMode::Online,
        NetworkMode::PreferOffline,
        NetworkMode::Offline,
    ] {
        let again = Downloader::new(quick_config().with_mode(mode));
        assert_eq!(again.fetch(&request).unwrap(), path);
    }
    assert_eq!(server.count(), 1);
}

#[test]
fn resumes_after_a_cut_within_one_fetch() {
    let (server, body, sha, dir) = setup();
    server.fault_once("/m.bin", Fault::CutAfter(70_000));
    let url = server.url("/m.bin");
    let downloader = Downloader::new(quick_config().with_retries(2));
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);

    let path = downloader.fetch(&request).unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=70000-"));
    assert_eq!(
        seen[1].if_range.as_deref(),
        Some(server.etag("/m.bin").as_str())
    );
}

#[test]
fn truncated_body_keeps_the_partial_and_the_next_fetch_resumes() {
    let (server, body, sha, dir) = setup();
    server.fault_once("/m.bin", Fault::CutAfter(50_000));
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);

    let err = Downloader::new(quick_config()).fetch(&request).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Truncated {
                received: 50_000,
                expected: Some(200_000),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(
        !dir.path().join("m.bin").exists(),
        "never a partial under the final name"
    );
    assert_eq!(
        fs::metadata(dir.path().join("m.bin.partial"))
            .unwrap()
            .len(),
        50_000
    );
    assert!(dir.path().join("m.bin.partial.meta").exists());

    // A new downloader (think: a new process) resumes from the partial file.
    let path = Downloader::new(quick_config()).fetch(&request).unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    assert_eq!(server.seen()[1].range.as_deref(), Some("bytes=50000-"));
    assert_eq!(files_in(dir.path()), ["m.bin", "m.bin.lock"]);
}

#[test]
fn a_200_answer_to_a_range_request_restarts_from_zero() {
    let (server, body, sha, dir) = setup();
    server.fault_once("/m.bin", Fault::CutAfter(60_000));
    server.fault_always("/m.bin", Fault::IgnoreRange);
    let url = server.url("/m.bin");
    let downloader = Downloader::new(quick_config().with_retries(1));
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);

    let path = downloader.fetch(&request).unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].range.as_deref(),
        Some("bytes=60000-"),
        "it did try to resume"
    );
}

#[test]
fn a_changed_file_if_range_restarts_from_zero() {
    let (server, _, _, dir) = setup();
    server.fault_once("/m.bin", Fault::CutAfter(60_000));
    let url = server.url("/m.bin");
    let old_sha = "0".repeat(64);
    let first = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&old_sha);
    assert!(matches!(
        Downloader::new(quick_config()).fetch(&first).unwrap_err(),
        Error::Truncated { .. }
    ));
    // The file changes on the server (new ETag): If-Range fails, the server sends 200.
    let new_body = bytes(SIZE, 99);
    let new_sha = sha256_hex(&new_body);
    server.serve("/m.bin", new_body.clone());
    let second = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&new_sha);
    let path = Downloader::new(quick_config()).fetch(&second).unwrap();
    assert_eq!(fs::read(path).unwrap(), new_body);
    assert_eq!(server.seen()[1].range.as_deref(), Some("bytes=60000-"));
}

#[test]
fn corrupt_bytes_are_a_mismatch_naming_both_digests_and_leave_nothing() {
    let (server, body, sha, dir) = setup();
    server.fault_always("/m.bin", Fault::WrongBytes);
    let url = server.url("/m.bin");
    let downloader = Downloader::new(quick_config().with_retries(3));
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);

    let err = downloader.fetch(&request).unwrap_err();
    let mut corrupt = body.clone();
    corrupt[SIZE / 2] ^= 0xff;
    let actual = sha256_hex(&corrupt);
    match &err {
        Error::ChecksumMismatch {
            expected,
            actual: got,
            ..
        } => {
            assert_eq!(*expected, sha);
            assert_eq!(*got, actual);
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&sha) && message.contains(&actual),
        "{message}"
    );
    assert_eq!(server.count(), 1, "a checksum mismatch is not retried");
    assert_eq!(
        files_in(dir.path()),
        ["m.bin.lock"],
        "no final file, no partial"
    );
}

#[test]
fn not_found_names_url_and_status_and_is_not_retried() {
    let (server, _, sha, dir) = setup();
    let url = server.url("/missing.bin");
    let downloader = Downloader::new(quick_config().with_retries(3));
    let request = FetchRequest::new(&url, dir.path(), "missing.bin").with_sha256(&sha);

    let err = downloader.fetch(&request).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Http {
                status: 404,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&url) && message.contains("404"),
        "{message}"
    );
    assert_eq!(server.count(), 1);
}

#[test]
fn server_errors_are_retried() {
    let (server, body, sha, dir) = setup();
    server.fault_once("/m.bin", Fault::Status(503));
    server.fault_once("/m.bin", Fault::Status(503));
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);

    let path = Downloader::new(quick_config().with_retries(2))
        .fetch(&request)
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    assert_eq!(server.count(), 3);
}

#[test]
fn a_stall_aborts_the_attempt_and_the_retry_resumes() {
    let (server, body, sha, dir) = setup();
    server.fault_once("/m.bin", Fault::Stall { after: 10_000 });
    server.fault_once("/m.bin", Fault::Stall { after: 10_000 });
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);

    // No retries: the stall is reported after stall_timeout (300 ms), the partial kept.
    let start = Instant::now();
    let err = Downloader::new(quick_config()).fetch(&request).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Stalled {
                received: 10_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        fs::metadata(dir.path().join("m.bin.partial"))
            .unwrap()
            .len(),
        10_000
    );

    // With a retry: stalls again (now at 20 000 bytes), then the retry resumes and finishes.
    let path = Downloader::new(quick_config().with_retries(1))
        .fetch(&request)
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=10000-"));
    assert_eq!(seen[2].range.as_deref(), Some("bytes=20000-"));
}

#[test]
fn concurrent_downloaders_download_once() {
    let (server, body, sha, dir) = setup();
    // Slow enough that the second caller finds the lock taken (and below the stall timeout).
    server.fault_always("/m.bin", Fault::Delay(Duration::from_millis(200)));
    let url = server.url("/m.bin");

    let paths: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
                    let patient = quick_config().with_stall_timeout(Duration::from_secs(2));
                    Downloader::new(patient).fetch(&request)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert_eq!(paths[0], paths[1]);
    assert_eq!(fs::read(&paths[0]).unwrap(), body);
    assert_eq!(server.count(), 1, "exactly one GET of the body");
}

#[test]
fn lock_timeout_when_another_holds_the_lock_too_long() {
    let (server, _, sha, dir) = setup();
    server.fault_always("/m.bin", Fault::Delay(Duration::from_millis(600)));
    let url = server.url("/m.bin");
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| {
            let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
            let patient = quick_config().with_stall_timeout(Duration::from_secs(2));
            Downloader::new(patient).fetch(&request)
        });
        // Let the first take the lock, then give up after 100 ms.
        while !dir.path().join("m.bin.lock").exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
        let impatient = quick_config().with_lock_timeout(Duration::from_millis(100));
        let err = Downloader::new(impatient).fetch(&request).unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
        slow.join().unwrap().unwrap();
    });
    assert_eq!(server.count(), 1);
}

#[test]
fn offline_without_a_cached_file_never_connects() {
    let (server, _, sha, dir) = setup();
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
    let offline = Downloader::new(quick_config().with_mode(NetworkMode::Offline));

    let err = offline.fetch(&request).unwrap_err();
    assert!(matches!(err, Error::NotCachedOffline { .. }), "{err:?}");
    assert!(err.to_string().contains("offline"), "{err}");
    assert_eq!(server.count(), 0);
    assert!(files_in(dir.path()).is_empty(), "offline creates nothing");
}

#[test]
fn offline_with_a_cached_file_returns_it_without_connecting() {
    let (server, body, sha, dir) = setup();
    fs::write(dir.path().join("m.bin"), &body).unwrap();
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
    let offline = Downloader::new(quick_config().with_mode(NetworkMode::Offline));

    assert_eq!(offline.fetch(&request).unwrap(), dir.path().join("m.bin"));
    assert_eq!(server.count(), 0);
}

#[test]
fn an_existing_file_that_does_not_verify_is_an_error_and_left_alone() {
    let (server, _, sha, dir) = setup();
    fs::write(dir.path().join("m.bin"), b"the user's own file").unwrap();
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);

    for mode in [NetworkMode::Online, NetworkMode::Offline] {
        let err = Downloader::new(quick_config().with_mode(mode))
            .fetch(&request)
            .unwrap_err();
        assert!(matches!(err, Error::CachedMismatch { .. }), "{err:?}");
        assert!(err.to_string().contains("delete or move it away"), "{err}");
    }
    assert_eq!(
        fs::read(dir.path().join("m.bin")).unwrap(),
        b"the user's own file"
    );
    assert_eq!(server.count(), 0);
}

#[test]
fn path_traversal_is_refused_before_any_io() {
    let (server, _, sha, dir) = setup();
    let url = server.url("/m.bin");
    let nested = dir.path().join("a").join("b");
    for name in ["../../x", "..", "", "a/b", "a\\b", "/etc/passwd", "x\0y"] {
        let request = FetchRequest::new(&url, &nested, name).with_sha256(&sha);
        let err = Downloader::new(quick_config()).fetch(&request).unwrap_err();
        assert!(
            matches!(err, Error::InvalidFileName { .. }),
            "{name:?}: {err:?}"
        );
    }
    assert_eq!(server.count(), 0);
    assert!(files_in(dir.path()).is_empty(), "nothing created");
}

#[test]
fn unverified_is_refused_unless_allowed() {
    let (server, body, _, dir) = setup();
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin");

    let err = Downloader::new(quick_config()).fetch(&request).unwrap_err();
    assert!(matches!(err, Error::Unverified { .. }), "{err:?}");
    assert!(err.to_string().contains("allow_unverified"), "{err}");
    assert_eq!(server.count(), 0);

    let allowed = quick_config().with_allow_unverified(true);
    let path = Downloader::new(allowed.clone()).fetch(&request).unwrap();
    assert_eq!(fs::read(&path).unwrap(), body);
    assert_eq!(server.count(), 1);
    // PreferOffline uses the unverified cached file; Online fetches it again.
    let prefer = allowed.clone().with_mode(NetworkMode::PreferOffline);
    Downloader::new(prefer).fetch(&request).unwrap();
    assert_eq!(server.count(), 1);
    Downloader::new(allowed).fetch(&request).unwrap();
    assert_eq!(server.count(), 2);
}

#[test]
fn invalid_sha256_is_refused() {
    let (server, _, _, dir) = setup();
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256("abc");
    let err = Downloader::new(quick_config()).fetch(&request).unwrap_err();
    assert!(matches!(err, Error::InvalidSha256 { .. }), "{err:?}");
    assert_eq!(server.count(), 0);
}

#[test]
fn wrong_size_is_a_size_mismatch() {
    let (server, _, sha, dir) = setup();
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin")
        .with_sha256(&sha)
        .with_size(SIZE as u64 + 1);
    let err = Downloader::new(quick_config().with_retries(2))
        .fetch(&request)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SizeMismatch {
                expected: 200_001,
                actual: 200_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.count(), 1);
    assert_eq!(files_in(dir.path()), ["m.bin.lock"]);
}

#[test]
fn cancel_keeps_the_partial_and_the_next_fetch_resumes() {
    let (server, body, sha, dir) = setup();
    let url = server.url("/m.bin");
    let cancel = AtomicBool::new(false);
    let cancel_after_first_chunk = |p: Progress| {
        if p.phase == Phase::Downloading && p.done > 0 {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let request = FetchRequest::new(&url, dir.path(), "m.bin")
        .with_sha256(&sha)
        .with_progress(&cancel_after_first_chunk)
        .with_cancel(&cancel);

    let err = Downloader::new(quick_config().with_retries(3))
        .fetch(&request)
        .unwrap_err();
    let Error::Cancelled {
        received, partial, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(received > 0 && received < SIZE as u64, "{received}");
    assert_eq!(fs::metadata(&partial).unwrap().len(), received);
    assert!(!dir.path().join("m.bin").exists());

    cancel.store(false, Ordering::Relaxed);
    let resume = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
    let path = Downloader::new(quick_config()).fetch(&resume).unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    assert_eq!(server.seen()[1].range, Some(format!("bytes={received}-")));
}

#[test]
fn a_complete_partial_is_verified_without_a_request() {
    let (server, body, sha, dir) = setup();
    // A run that died between the last byte and the rename.
    fs::write(dir.path().join("m.bin.partial"), &body).unwrap();
    let url = server.url("/m.bin");
    fs::write(
        dir.path().join("m.bin.partial.meta"),
        format!("url = {url:?}\nvalidator = '\"x\"'\n"),
    )
    .unwrap();
    let request = FetchRequest::new(&url, dir.path(), "m.bin")
        .with_sha256(&sha)
        .with_size(SIZE as u64);
    let path = Downloader::new(quick_config()).fetch(&request).unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    assert_eq!(server.count(), 0);
}

#[test]
fn a_partial_from_another_url_is_discarded() {
    let (server, body, sha, dir) = setup();
    fs::write(dir.path().join("m.bin.partial"), &body[..1000]).unwrap();
    fs::write(
        dir.path().join("m.bin.partial.meta"),
        "url = \"http://elsewhere.invalid/m.bin\"\nvalidator = '\"x\"'\n",
    )
    .unwrap();
    let url = server.url("/m.bin");
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
    let path = Downloader::new(quick_config()).fetch(&request).unwrap();
    assert_eq!(fs::read(path).unwrap(), body);
    assert_eq!(server.seen()[0].range, None);
}

#[test]
fn a_malformed_url_is_an_invalid_request_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "0".repeat(64);
    for url in ["not a url", "ftp://127.0.0.1/m.bin"] {
        let request = FetchRequest::new(url, dir.path(), "m.bin").with_sha256(&sha);
        let start = Instant::now();
        let err = Downloader::new(quick_config().with_retries(3))
            .fetch(&request)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest { .. }),
            "{url}: {err:?}"
        );
        assert!(!err.is_transient());
        assert!(start.elapsed() < Duration::from_millis(50), "no backoff");
    }
}

#[test]
fn a_refused_connection_is_a_transient_network_error() {
    // Bind, then drop, a listener: nothing accepts on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/m.bin");
    let dir = tempfile::tempdir().unwrap();
    let sha = "0".repeat(64);
    let request = FetchRequest::new(&url, dir.path(), "m.bin").with_sha256(&sha);
    let err = Downloader::new(quick_config().with_retries(1))
        .fetch(&request)
        .unwrap_err();
    assert!(matches!(err, Error::Network { attempts: 2, .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(err.to_string().contains(&url), "{err}");
}
