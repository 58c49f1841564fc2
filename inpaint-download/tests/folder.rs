//! `Downloader::fetch_folder` against the local test server: a three-file "model" put in place
//! all-or-nothing.

use std::fs;
use std::path::Path;

use inpaint_download::{Downloader, Error, FolderFile, FolderRequest, NetworkMode, staging_dir};

use crate::support::{Fault, Server, bytes, files_in, quick_config, sha256_hex};

/// A file of the model: its path in the folder, its body.
type ModelFile = (&'static str, Vec<u8>);

/// The files served.
fn model() -> Vec<ModelFile> {
    vec![
        ("model_index.json", b"{\"_class_name\": \"x\"}".to_vec()),
        ("unet/model.onnx", bytes(150_000, 3)),
        ("unet/config.json", b"{}".to_vec()),
    ]
}

/// A server with the model's files under `/repo/`, and their URLs.
fn setup() -> (Server, Vec<ModelFile>, Vec<String>, tempfile::TempDir) {
    let server = Server::start();
    let files = model();
    let urls = files
        .iter()
        .map(|(path, body)| {
            server.serve(&format!("/repo/{path}"), body.clone());
            server.url(&format!("/repo/{path}"))
        })
        .collect();
    (server, files, urls, tempfile::tempdir().unwrap())
}

fn digests(files: &[(&str, Vec<u8>)]) -> Vec<String> {
    files.iter().map(|(_, body)| sha256_hex(body)).collect()
}

fn requests<'a>(
    files: &'a [(&'static str, Vec<u8>)],
    urls: &'a [String],
    shas: &'a [String],
) -> Vec<FolderFile<'a>> {
    files
        .iter()
        .zip(urls)
        .zip(shas)
        .map(|(((path, body), url), sha)| FolderFile {
            url,
            path,
            sha256: Some(sha),
            size: Some(body.len() as u64),
        })
        .collect()
}

fn requested(server: &Server, path: &str) -> usize {
    server
        .seen()
        .iter()
        .filter(|s| s.path == format!("/repo/{path}"))
        .count()
}

fn assert_complete(dest: &Path, files: &[(&str, Vec<u8>)]) {
    for (path, body) in files {
        assert_eq!(&fs::read(dest.join(path)).unwrap(), body, "{path}");
    }
    // No partials, metas or locks inside the model; no staging folder beside it.
    assert_eq!(files_in(dest), ["model_index.json", "unet"]);
    assert_eq!(files_in(&dest.join("unet")), ["config.json", "model.onnx"]);
    assert!(!staging_dir(dest).unwrap().exists());
}

#[test]
fn every_file_is_verified_and_the_folder_appears_once_complete() {
    let (server, files, urls, root) = setup();
    let shas = digests(&files);
    let list = requests(&files, &urls, &shas);
    let dest = root.path().join("sd");
    let downloader = Downloader::new(quick_config());

    let path = downloader
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap();
    assert_eq!(path, dest);
    assert_complete(&dest, &files);
    assert_eq!(server.count(), 3);

    // In place and verified: no request, in every mode.
    for mode in [NetworkMode::Online, NetworkMode::Offline] {
        let again = Downloader::new(quick_config().with_mode(mode));
        assert_eq!(
            again
                .fetch_folder(&FolderRequest::new(&list, &dest))
                .unwrap(),
            dest
        );
    }
    assert_eq!(server.count(), 3);
}

#[test]
fn a_digest_mismatch_puts_nothing_in_place_and_a_retry_downloads_only_what_failed() {
    let (server, files, urls, root) = setup();
    server.fault_once("/repo/unet/model.onnx", Fault::WrongBytes);
    let shas = digests(&files);
    let list = requests(&files, &urls, &shas);
    let dest = root.path().join("sd");
    let downloader = Downloader::new(quick_config());

    let err = downloader
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, Error::FolderFile { file, source, .. }
            if file == "unet/model.onnx" && matches!(**source, Error::ChecksumMismatch { .. })),
        "{err:?}"
    );
    assert!(message.starts_with("unet/model.onnx of "), "{message}");
    assert!(message.contains("sha256 mismatch"), "{message}");
    assert!(!dest.exists(), "nothing in place after a mismatch");
    assert_eq!(files_in(root.path()), [".sd.partial", ".sd.partial.lock"]);

    // The retry asks only for the file that failed; the verified one is reused.
    downloader
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap();
    assert_complete(&dest, &files);
    assert_eq!(requested(&server, "model_index.json"), 1);
    assert_eq!(requested(&server, "unet/model.onnx"), 2);
}

#[test]
fn an_interrupted_transfer_resumes_with_a_range_request() {
    let (server, files, urls, root) = setup();
    server.fault_once("/repo/unet/model.onnx", Fault::CutAfter(60_000));
    let shas = digests(&files);
    let list = requests(&files, &urls, &shas);
    let dest = root.path().join("sd");

    let err = Downloader::new(quick_config())
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap_err();
    assert!(
        matches!(&err, Error::FolderFile { source, .. }
            if matches!(**source, Error::Truncated { received: 60_000, .. })),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(!dest.exists());
    let partial = staging_dir(&dest).unwrap().join("unet/model.onnx.partial");
    assert_eq!(fs::metadata(partial).unwrap().len(), 60_000);

    // A new downloader (a new process) continues from byte 60 000.
    Downloader::new(quick_config())
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap();
    assert_complete(&dest, &files);
    let resumed: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.path == "/repo/unet/model.onnx")
        .map(|s| s.range)
        .collect();
    assert_eq!(resumed, [None, Some("bytes=60000-".to_string())]);
}

#[test]
fn retries_within_one_call_after_a_server_error() {
    let (server, files, urls, root) = setup();
    server.fault_once("/repo/unet/config.json", Fault::Status(503));
    let shas = digests(&files);
    let list = requests(&files, &urls, &shas);
    let dest = root.path().join("sd");

    Downloader::new(quick_config().with_retries(1))
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap();
    assert_complete(&dest, &files);
    assert_eq!(requested(&server, "unet/config.json"), 2);
}

#[test]
fn an_existing_incomplete_folder_is_left_alone() {
    let (server, files, urls, root) = setup();
    let shas = digests(&files);
    let list = requests(&files, &urls, &shas);
    let dest = root.path().join("sd");
    fs::create_dir_all(&dest).unwrap();
    fs::write(dest.join("model_index.json"), &files[0].1).unwrap();

    let err = Downloader::new(quick_config())
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap_err();
    assert!(
        matches!(&err, Error::FolderConflict { reason, .. }
            if reason == "missing unet/model.onnx, unet/config.json"),
        "{err:?}"
    );
    assert_eq!(files_in(&dest), ["model_index.json"]);
    assert_eq!(server.count(), 0);
}

#[test]
fn offline_without_the_folder_never_connects() {
    let (server, files, urls, root) = setup();
    let shas = digests(&files);
    let list = requests(&files, &urls, &shas);
    let dest = root.path().join("sd");
    let err = Downloader::new(quick_config().with_mode(NetworkMode::Offline))
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap_err();
    assert!(matches!(err, Error::NotCachedOffline { .. }), "{err:?}");
    assert_eq!(server.count(), 0);
    assert!(files_in(root.path()).is_empty());
}

#[test]
fn unverified_files_an_earlier_attempt_finished_are_kept() {
    let (server, files, urls, root) = setup();
    server.fault_once("/repo/unet/config.json", Fault::Status(404));
    let list: Vec<FolderFile<'_>> = files
        .iter()
        .zip(&urls)
        .map(|((path, _), url)| FolderFile {
            url,
            path,
            sha256: None,
            size: None,
        })
        .collect();
    let dest = root.path().join("sd");
    let downloader = Downloader::new(quick_config().with_allow_unverified(true));
    let err = downloader
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap_err();
    assert!(
        matches!(&err, Error::FolderFile { file, .. } if file == "unet/config.json"),
        "{err:?}"
    );
    assert!(!dest.exists());

    downloader
        .fetch_folder(&FolderRequest::new(&list, &dest))
        .unwrap();
    assert_complete(&dest, &files);
    assert_eq!(requested(&server, "unet/model.onnx"), 1);
    assert_eq!(requested(&server, "unet/config.json"), 2);
}
