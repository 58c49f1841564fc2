//! Arbitrary bytes as a `.onnx` file through the registry's probe (a bounded protobuf reader
//! that seeks past the weights). Its contract: `probe_file` fails only when the file cannot
//! be read; a corrupt file is `Probe::Invalid`. `read_onnx` agrees with it.
//!
//! The probe takes a path, so each process writes its inputs to one temporary file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use inpaint_registry::Probe;
use inpaint_registry::probe::{probe_file, read_onnx};
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("inpaint-fuzz-{}.onnx", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch file");
    let probe = probe_file(path).expect("a readable .onnx file is always probed");
    let graph = read_onnx(path);
    match &probe {
        Probe::Invalid { reason, .. } => {
            assert!(
                graph.is_err(),
                "probe says invalid ({reason}), read_onnx read it"
            );
        }
        _ => {
            assert!(
                graph.is_ok(),
                "probe says {probe}, read_onnx failed: {graph:?}"
            );
        }
    }
    let _ = (probe.to_string(), probe.problem(), probe.architecture());
});
