//! Arbitrary bytes as a `.safetensors` file through the registry's header probe. Its
//! contract: `probe_file` fails only when the file cannot be read; a corrupt header is
//! `Probe::Invalid`, a valid one is recognised or `Probe::Unrecognized`.
//!
//! The probe takes a path, so each process writes its inputs to one temporary file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use inpaint_registry::Probe;
use inpaint_registry::probe::probe_file;
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("inpaint-fuzz-{}.safetensors", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch file");
    let probe = probe_file(path).expect("a readable .safetensors file is always probed");
    assert!(
        !matches!(probe, Probe::Onnx(_)),
        "a safetensors file identified as ONNX: {probe}"
    );
    let _ = (probe.to_string(), probe.problem());
});
