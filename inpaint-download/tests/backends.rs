//! `Backends`: install from fake wheels and tarballs, list, resolve, remove.
//!
//! The archives are built here: a wheel (zip) laid out like the `onnxruntime` wheel on PyPI
//! (`onnxruntime/capi/libonnxruntime.so.1.31.1` plus Python files), and a tarball laid out like
//! the GitHub release (`onnxruntime-linux-x64-1.31.1/lib/…` with `.so` symlinks). The library
//! bytes are fake.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use inpaint_download::{
    BackendManifest, Backends, Downloader, Error, Hardware, backends::detect_hardware,
};

use crate::support::{Server, bytes, files_in, quick_config, sha256_hex};

const LIB: &str = "libonnxruntime.so.1.31.1";

/// Writes a zip at `path` with `(name, bytes)` entries; returns its sha256.
fn zip(path: &Path, entries: &[(&str, &[u8])]) -> String {
    let mut writer = zip::ZipWriter::new(File::create(path).unwrap());
    for (i, (name, data)) in entries.iter().enumerate() {
        let method = if i % 2 == 0 {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap();
    sha256_hex(&fs::read(path).unwrap())
}

/// A wheel like PyPI's `onnxruntime`, with junk around the library.
fn wheel(path: &Path) -> String {
    zip(
        path,
        &[
            ("onnxruntime/__init__.py", b"# python"),
            ("onnxruntime/capi/", b""),
            (&format!("onnxruntime/capi/{LIB}"), &bytes(50_000, 1)),
            (
                "onnxruntime/capi/libonnxruntime_providers_shared.so",
                &bytes(3_000, 2),
            ),
            (
                "onnxruntime/capi/onnxruntime_pybind11_state.so",
                &bytes(4_000, 3),
            ),
            ("onnxruntime-1.31.1.dist-info/RECORD", b"junk"),
        ],
    )
}

enum TarEntry {
    File(String, Vec<u8>),
    Link(String, String),
    /// A regular file whose raw header name is written as is (no path checks).
    RawName(Vec<u8>, Vec<u8>),
}

fn file(name: &str, data: &[u8]) -> TarEntry {
    TarEntry::File(name.to_owned(), data.to_vec())
}

fn link(name: &str, target: &str) -> TarEntry {
    TarEntry::Link(name.to_owned(), target.to_owned())
}

/// Writes a `.tgz` at `path`; returns its sha256.
fn tgz(path: &Path, entries: Vec<TarEntry>) -> String {
    let gz =
        flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        match entry {
            TarEntry::File(name, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                builder
                    .append_data(&mut header, name, data.as_slice())
                    .unwrap();
            }
            TarEntry::Link(name, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, name, target).unwrap();
            }
            TarEntry::RawName(name, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(&name);
                header.set_cksum();
                builder.append(&header, data.as_slice()).unwrap();
            }
        }
    }
    builder.into_inner().unwrap().finish().unwrap();
    sha256_hex(&fs::read(path).unwrap())
}

/// A release tarball like GitHub's `onnxruntime-linux-x64-gpu-1.31.1.tgz`.
fn release_tgz(path: &Path) -> String {
    let top = "onnxruntime-linux-x64-gpu-1.31.1";
    tgz(
        path,
        vec![
            file(&format!("{top}/LICENSE"), b"license"),
            file(&format!("{top}/include/onnxruntime_c_api.h"), b"/* h */"),
            file(&format!("{top}/lib/{LIB}"), &bytes(60_000, 4)),
            file(
                &format!("{top}/lib/libonnxruntime_providers_cuda.so"),
                &bytes(20_000, 5),
            ),
            link(&format!("{top}/lib/libonnxruntime.so.1"), LIB),
            link(
                &format!("{top}/lib/libonnxruntime.so"),
                "libonnxruntime.so.1",
            ),
        ],
    )
}

fn cpu_manifest(name: &str) -> BackendManifest {
    BackendManifest::new(name, "1.31.1", ["cpu"], Hardware::Any)
}

fn cuda_manifest(name: &str) -> BackendManifest {
    BackendManifest::new(name, "1.31.1", ["cpu", "cuda"], Hardware::NvidiaGpu)
}

fn ok_names(backends: &Backends) -> Vec<String> {
    backends
        .list()
        .unwrap()
        .into_iter()
        .map(|b| b.unwrap().name)
        .collect()
}

#[test]
fn install_list_resolve_remove() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backends");
    let backends = Backends::new(&root);
    assert!(
        backends.list().unwrap().is_empty(),
        "a missing root is an empty list"
    );

    // CPU build from a wheel.
    let whl = work
        .path()
        .join("onnxruntime-1.31.1-cp311-manylinux_2_28_x86_64.whl");
    let whl_sha = wheel(&whl);
    let cpu = backends
        .install_file(&whl, &whl_sha, cpu_manifest("ort-cpu"))
        .unwrap();
    assert_eq!(cpu.dir, root.join("ort-cpu"));
    assert_eq!(cpu.library, root.join("ort-cpu").join(LIB));
    assert_eq!(fs::read(&cpu.library).unwrap(), bytes(50_000, 1));
    assert_eq!(
        files_in(&cpu.dir),
        [LIB, "libonnxruntime_providers_shared.so", "manifest.toml"],
        "only the runtime libraries, flattened"
    );
    assert_eq!(cpu.manifest.library, LIB);
    assert_eq!(cpu.manifest.archive_sha256, whl_sha);
    let text = fs::read_to_string(cpu.dir.join("manifest.toml")).unwrap();
    assert!(
        text.contains("hardware = \"any\"") && text.contains("providers = [\"cpu\"]"),
        "{text}"
    );

    // Installing the same archive again is a no-op; another archive under the name is refused.
    assert_eq!(
        backends
            .install_file(&whl, &whl_sha, cpu_manifest("ort-cpu"))
            .unwrap(),
        cpu
    );

    // GPU build from a release tarball, with its symlinks.
    let tgz_path = work.path().join("onnxruntime-linux-x64-gpu-1.31.1.tgz");
    let tgz_sha = release_tgz(&tgz_path);
    let err = backends
        .install_file(&tgz_path, &tgz_sha, cpu_manifest("ort-cpu"))
        .unwrap_err();
    assert!(matches!(err, Error::BackendExists { .. }), "{err:?}");
    let cuda = backends
        .install_file(&tgz_path, &tgz_sha, cuda_manifest("ort-cuda"))
        .unwrap();
    assert_eq!(cuda.manifest.library, LIB, "the real file, not a symlink");
    assert_eq!(fs::read(&cuda.library).unwrap(), bytes(60_000, 4));
    #[cfg(unix)]
    {
        assert_eq!(
            fs::read_link(cuda.dir.join("libonnxruntime.so")).unwrap(),
            Path::new("libonnxruntime.so.1")
        );
        assert_eq!(
            fs::read(cuda.dir.join("libonnxruntime.so")).unwrap(),
            bytes(60_000, 4)
        );
    }
    assert!(cuda.dir.join("libonnxruntime_providers_cuda.so").is_file());
    assert!(!cuda.dir.join("LICENSE").exists());

    assert_eq!(ok_names(&backends), ["ort-cpu", "ort-cuda"]);
    assert_eq!(backends.get("ort-cuda").unwrap(), cuda);
    assert_eq!(backends.resolve_for(Hardware::Any).unwrap().name, "ort-cpu");
    assert_eq!(
        backends.resolve_for(Hardware::NvidiaGpu).unwrap().name,
        "ort-cuda"
    );
    let expected = match detect_hardware() {
        Hardware::NvidiaGpu => "ort-cuda",
        _ => "ort-cpu",
    };
    assert_eq!(backends.resolve_auto().unwrap().name, expected);

    backends.remove("ort-cpu").unwrap();
    assert_eq!(ok_names(&backends), ["ort-cuda"]);
    assert!(matches!(
        backends.remove("ort-cpu"),
        Err(Error::BackendNotFound { .. })
    ));
    // A CPU machine cannot use the CUDA build; the error lists what is installed.
    let err = backends.resolve_for(Hardware::Any).unwrap_err();
    assert!(matches!(err, Error::NoBackend { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("ort-cuda (nvidia-gpu)") && message.contains("install"),
        "{message}"
    );
    // An NVIDIA machine without a CUDA build falls back to a CPU build.
    backends.remove("ort-cuda").unwrap();
    backends
        .install_file(&whl, &whl_sha, cpu_manifest("ort-cpu"))
        .unwrap();
    assert_eq!(
        backends.resolve_for(Hardware::NvidiaGpu).unwrap().name,
        "ort-cpu"
    );
    assert_eq!(files_in(&root), ["ort-cpu"], "no staging folders left");
}

#[test]
fn wrong_sha256_installs_nothing() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backends");
    let whl = work.path().join("x.whl");
    let sha = wheel(&whl);
    let wrong = sha256_hex(b"something else");
    let err = Backends::new(&root)
        .install_file(&whl, &wrong, cpu_manifest("ort"))
        .unwrap_err();
    match &err {
        Error::ArchiveChecksum {
            expected, actual, ..
        } => {
            assert_eq!(*expected, wrong);
            assert_eq!(*actual, sha);
        }
        other => panic!("{other:?}"),
    }
    assert!(!root.exists(), "nothing left behind");
}

#[test]
fn traversal_entries_refuse_the_whole_archive() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backends");
    let backends = Backends::new(&root);
    let lib = bytes(1_000, 1);

    let whl = work.path().join("evil.whl");
    let sha = zip(
        &whl,
        &[
            (&format!("onnxruntime/capi/{LIB}"), &lib),
            ("../evil", b"evil"),
            ("../libonnxruntime.so.9", b"evil"),
        ],
    );
    let err = backends
        .install_file(&whl, &sha, cpu_manifest("ort"))
        .unwrap_err();
    assert!(matches!(err, Error::Archive { .. }), "{err:?}");
    assert!(err.to_string().contains("../evil"), "{err}");

    let tar_path = work.path().join("evil.tgz");
    let sha = tgz(
        &tar_path,
        vec![
            file("lib/libonnxruntime.so.1.31.1", &lib),
            TarEntry::RawName(b"../libonnxruntime.so.9".to_vec(), b"evil".to_vec()),
        ],
    );
    let err = backends
        .install_file(&tar_path, &sha, cpu_manifest("ort"))
        .unwrap_err();
    assert!(matches!(err, Error::Archive { .. }), "{err:?}");

    let link_path = work.path().join("link.tgz");
    let sha = tgz(
        &link_path,
        vec![
            file("lib/libonnxruntime.so.1.31.1", &lib),
            link("lib/libonnxruntime.so", "/etc/passwd"),
        ],
    );
    let err = backends
        .install_file(&link_path, &sha, cpu_manifest("ort"))
        .unwrap_err();
    assert!(matches!(err, Error::Archive { .. }), "{err:?}");

    assert!(!work.path().join("evil").exists());
    assert!(
        files_in(&root).is_empty(),
        "no backend, no staging folder: {:?}",
        files_in(&root)
    );
}

#[test]
fn an_archive_without_a_library_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backends");
    let whl = work.path().join("empty.whl");
    let sha = zip(&whl, &[("onnxruntime/__init__.py", b"")]);
    let err = Backends::new(&root)
        .install_file(&whl, &sha, cpu_manifest("ort"))
        .unwrap_err();
    assert!(
        err.to_string().contains("no main ONNX Runtime library"),
        "{err}"
    );
    assert!(files_in(&root).is_empty());

    let not_an_archive = work.path().join("x.whl");
    fs::write(&not_an_archive, b"hello").unwrap();
    let sha = sha256_hex(b"hello");
    let err = Backends::new(&root)
        .install_file(&not_an_archive, &sha, cpu_manifest("ort"))
        .unwrap_err();
    assert!(err.to_string().contains("not recognised"), "{err}");
}

#[test]
fn broken_backends_are_listed_as_errors() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().to_owned();
    let backends = Backends::new(&root);
    let whl = root.join("w.whl.src");
    let sha = wheel(&whl);
    backends
        .install_file(&whl, &sha, cpu_manifest("good"))
        .unwrap();
    fs::create_dir(root.join("no-manifest")).unwrap();
    fs::create_dir(root.join("bad-manifest")).unwrap();
    fs::write(root.join("bad-manifest/manifest.toml"), "name = 3").unwrap();
    fs::create_dir(root.join("x.partial-abc123")).unwrap(); // an install in progress
    fs::create_dir(root.join(".downloads")).unwrap();

    let listed = backends.list().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        matches!(&listed[0], Err(Error::BadManifest { .. })),
        "{:?}",
        listed[0]
    );
    assert_eq!(listed[1].as_ref().unwrap().name, "good");
    assert!(
        matches!(&listed[2], Err(Error::BadBackend { .. })),
        "{:?}",
        listed[2]
    );
    // Broken entries do not stop resolution.
    assert_eq!(backends.resolve_for(Hardware::Any).unwrap().name, "good");
}

#[test]
fn install_url_fetches_through_the_downloader() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backends");
    let whl = work.path().join("ort.whl");
    let sha = wheel(&whl);
    let server = Server::start();
    server.serve("/ort.whl", fs::read(&whl).unwrap());
    let downloader = Downloader::new(quick_config());
    let backends = Backends::new(&root);

    let installed = backends
        .install_url(
            &downloader,
            &server.url("/ort.whl"),
            &sha,
            cpu_manifest("ort"),
        )
        .unwrap();
    assert_eq!(installed.manifest.archive_sha256, sha);
    assert_eq!(server.count(), 1);
    assert!(
        files_in(&root.join(".downloads")).is_empty(),
        "archive removed"
    );
    // Already installed from this archive: no download.
    backends
        .install_url(
            &downloader,
            &server.url("/ort.whl"),
            &sha,
            cpu_manifest("ort"),
        )
        .unwrap();
    assert_eq!(server.count(), 1);
}

#[test]
fn default_root_is_a_backends_folder() {
    // Reads the real environment; only checks the shape of the answer.
    if let Ok(root) = Backends::default_root() {
        assert!(root.ends_with("backends"), "{}", root.display());
    }
}

/// Installs the real `onnxruntime` 1.31.1 wheel from PyPI. Fetch it first with
/// `pip download --no-deps --only-binary=:all: --python-version 3.11 --platform
/// manylinux_2_28_x86_64 onnxruntime==1.31.1` and point `INPAINT_TEST_ORT_WHEEL` at it.
#[test]
#[ignore = "needs the onnxruntime wheel from PyPI (INPAINT_TEST_ORT_WHEEL)"]
fn installs_the_real_onnxruntime_wheel() {
    let wheel =
        PathBuf::from(std::env::var_os("INPAINT_TEST_ORT_WHEEL").expect("INPAINT_TEST_ORT_WHEEL"));
    let work = tempfile::tempdir().unwrap();
    let backends = Backends::new(work.path());
    let installed = backends
        .install_file(
            &wheel,
            "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
            cpu_manifest("onnxruntime-1.31.1-cpu"),
        )
        .unwrap();
    eprintln!("{installed:#?}\n{:?}", files_in(&installed.dir));
    assert_eq!(installed.manifest.library, LIB);
    assert!(fs::metadata(&installed.library).unwrap().len() > 1_000_000);
    assert_eq!(backends.resolve_for(Hardware::Any).unwrap(), installed);
}
