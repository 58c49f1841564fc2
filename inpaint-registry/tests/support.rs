//! Fixtures and builders shared by the tests.
//!
//! The ONNX fixtures are `inpaint-models/tests/fixtures/onnx/*.onnx` (made by
//! `scripts/make-onnx-fixtures.py`; see the README there): tiny graphs with each
//! architecture's interface. Hand-built files (protobuf and safetensors) are made here, byte by
//! byte, so each test says exactly what is in its file.

use std::fs;
use std::path::{Path, PathBuf};

/// The ONNX fixture `name` of `inpaint-models`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/onnx")
        .join(name)
}

/// Copies fixture `name` to `to` (creating folders).
pub(crate) fn copy_fixture(name: &str, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(fixture(name), to).unwrap();
}

/// Writes `bytes` to `to` (creating folders).
pub(crate) fn write(to: &Path, bytes: &[u8]) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::write(to, bytes).unwrap();
}

/// `len` deterministic pseudo-random bytes.
pub(crate) fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        })
        .collect()
}

// --- a tiny protobuf writer, for hand-built ONNX files ---------------------------------------

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Field `field` (wire type LEN) holding `payload`.
pub(crate) fn len_field(field: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(field) << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// Field `field` (wire type VARINT) holding `v`.
pub(crate) fn varint_field(field: u32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(field) << 3, &mut out);
    varint(v, &mut out);
    out
}

/// A dimension: a fixed size, or a symbolic name.
pub(crate) enum D {
    N(i64),
    P(&'static str),
}

/// A `ValueInfoProto` for a tensor `name` of ONNX element type `elem` and shape `dims`.
pub(crate) fn value_info(name: &str, elem: u64, dims: &[D]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let dim = match d {
            D::N(n) => varint_field(1, *n as u64),
            D::P(p) => len_field(2, p.as_bytes()),
        };
        shape.extend(len_field(1, &dim));
    }
    let mut tensor = varint_field(1, elem);
    tensor.extend(len_field(2, &shape));
    let type_proto = len_field(1, &tensor);
    let mut info = len_field(1, name.as_bytes());
    info.extend(len_field(2, &type_proto));
    info
}

/// A `TensorProto` initializer `name` with `raw` bytes of data.
pub(crate) fn initializer(name: &str, raw: &[u8]) -> Vec<u8> {
    let mut t = varint_field(1, (raw.len() / 4) as u64); // dims
    t.extend(varint_field(2, 1)); // float
    t.extend(len_field(8, name.as_bytes()));
    t.extend(len_field(9, raw)); // raw_data
    t
}

/// A `ModelProto` with IR version 8, opset 17, `graph` (GraphProto bytes) and metadata.
pub(crate) fn model(graph: &[u8], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut m = varint_field(1, 8);
    m.extend(len_field(2, b"hand-built"));
    m.extend(len_field(7, graph));
    let mut opset = len_field(1, b"");
    opset.extend(varint_field(2, 17));
    m.extend(len_field(8, &opset));
    for (k, v) in metadata {
        let mut entry = len_field(1, k.as_bytes());
        entry.extend(len_field(2, v.as_bytes()));
        m.extend(len_field(14, &entry));
    }
    m
}

/// A graph with `initializers` (name, bytes) first, then `inputs` and `outputs`.
pub(crate) fn graph(
    initializers: &[(&str, &[u8])],
    inputs: &[Vec<u8>],
    outputs: &[Vec<u8>],
) -> Vec<u8> {
    let mut g = len_field(2, b"g");
    for (name, raw) in initializers {
        g.extend(len_field(5, &initializer(name, raw)));
    }
    for i in inputs {
        g.extend(len_field(11, i));
    }
    for o in outputs {
        g.extend(len_field(12, o));
    }
    g
}

/// The dynamic LaMa interface: `image`, `mask` float32 [1,C,height,width] → `output`.
pub(crate) fn lama_dynamic_ports() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dims = |c| [D::N(1), D::N(c), D::P("height"), D::P("width")];
    (
        vec![
            value_info("image", 1, &dims(3)),
            value_info("mask", 1, &dims(1)),
        ],
        vec![value_info("output", 1, &dims(3))],
    )
}

/// The 4-channel 512 generator interface (MI-GAN, FcF).
pub(crate) fn generator_ports() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dims = |c| [D::N(1), D::N(c), D::N(512), D::N(512)];
    (
        vec![value_info("input", 1, &dims(4))],
        vec![value_info("output", 1, &dims(3))],
    )
}

// --- safetensors ------------------------------------------------------------------------------

/// A safetensors file with these tensors (name, dtype, shape), their data zeroed.
pub(crate) fn safetensors(tensors: &[(&str, &str, &[u64])]) -> Vec<u8> {
    let mut offset = 0u64;
    let mut entries = Vec::new();
    for (name, dtype, shape) in tensors {
        let width = match *dtype {
            "F32" | "I32" => 4,
            "F16" | "BF16" => 2,
            other => panic!("add {other}'s size"),
        };
        let bytes = shape.iter().product::<u64>() * width;
        entries.push(format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{offset},{}]}}",
            offset + bytes
        ));
        offset += bytes;
    }
    let header = format!(
        "{{\"__metadata__\":{{\"format\":\"pt\"}},{}}}",
        entries.join(",")
    );
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + offset as usize, 0);
    out
}
