//! Arbitrary bytes as an ONNX model: `OnnxModel::from_bytes` must refuse them with an error
//! (or accept a graph that has the architecture's contract), never crash. The first byte
//! picks the architecture.
//!
//! Most of the work here is ONNX Runtime's own protobuf and graph checks; a crash inside
//! `libonnxruntime` would be an ONNX Runtime bug, reported as such (see RELIABILITY.md).
#![no_main]

use inpaint_models::onnx::{Architecture, OnnxModel, OnnxOptions, Runtime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // Without the runtime every input would fail the same way and test nothing.
        if let Err(err) = Runtime::load(&OnnxOptions::default().runtime) {
            panic!("ONNX Runtime is needed (scripts/fetch-onnxruntime.sh): {err}");
        }
    },
    |data: &[u8]| {
        let Some((&selector, model)) = data.split_first() else {
            return;
        };
        let architecture = Architecture::ALL[usize::from(selector) % Architecture::ALL.len()];
        match OnnxModel::from_bytes(model, architecture, &OnnxOptions::default()) {
            Ok(loaded) => assert_eq!(loaded.architecture(), architecture),
            // A file ONNX Runtime cannot read, or one that breaks the contract: `Error::Model`.
            Err(err) => drop(err.to_string()),
        }
    }
);
