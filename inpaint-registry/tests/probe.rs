//! Identifying files by content: the ONNX fixtures, hand-built ONNX and safetensors files,
//! and broken ones.

use std::path::Path;

use inpaint_models::onnx::{Architecture, OnnxModel, OnnxOptions, OutputRange};
use inpaint_registry::probe::{self, Format, OnnxIdentity, Probe, SafetensorsKind};
use inpaint_registry::{Error, ProbeCache};

use crate::support::*;

fn identity(path: &Path) -> OnnxIdentity {
    match probe::probe_file(path).unwrap() {
        Probe::Onnx(identity) => identity,
        other => panic!("{}: {other:?}", path.display()),
    }
}

fn reason(path: &Path) -> (Format, String, bool) {
    match probe::probe_file(path).unwrap() {
        Probe::Unrecognized { format, reason } => (format, reason, false),
        Probe::Invalid { format, reason } => (format, reason, true),
        other => panic!("{}: identified as {other}", path.display()),
    }
}

use Architecture::*;

/// Every fixture, what the probe attributes it to, and what else its interface fits.
/// `wrong_size.onnx` (a fixed 256×256 LaMa interface) is `lama-dynamic`: that contract
/// accepts a fixed square of any side, and so does the loader.
/// A fixture's expected attribution: the architecture and the alternatives, or none.
type Expected = Option<(Architecture, &'static [Architecture])>;

const FIXTURES: &[(&str, Expected)] = &[
    ("lama_fixed512.onnx", Some((Lama, &[LamaDynamic, Mat]))),
    ("lama_dynamic.onnx", Some((LamaDynamic, &[]))),
    ("lama_dynamic_255.onnx", Some((LamaDynamic, &[]))),
    ("lama_dynamic_undeclared.onnx", Some((LamaDynamic, &[]))),
    ("lama_dynamic_fp16.onnx", Some((LamaDynamic, &[]))),
    ("migan.onnx", Some((Migan, &[Fcf]))),
    ("fcf.onnx", Some((Migan, &[Fcf]))),
    ("migan_pipeline.onnx", Some((MiganPipeline, &[]))),
    ("mat.onnx", Some((Mat, &[]))),
    ("mat_no_noise.onnx", Some((Lama, &[LamaDynamic, Mat]))),
    ("wrong_size.onnx", Some((LamaDynamic, &[]))),
    ("wrong_names.onnx", None),
    ("wrong_dtype.onnx", None),
    ("wrong_rank.onnx", None),
];

#[test]
fn every_fixture_is_identified_by_its_interface() {
    for &(name, expected) in FIXTURES {
        let path = fixture(name);
        match expected {
            Some((arch, alternatives)) => {
                let id = identity(&path);
                assert_eq!(id.architecture, arch, "{name}");
                assert_eq!(id.alternatives, alternatives, "{name}");
                assert!(!id.declared, "{name}");
            }
            None => {
                let (format, reason, invalid) = reason(&path);
                assert_eq!(format, Format::Onnx);
                assert!(!invalid, "{name}: {reason}");
                assert!(reason.contains("fits no known architecture"), "{reason}");
            }
        }
    }
    let fp16 = identity(&fixture("lama_dynamic_fp16.onnx"));
    assert!(fp16.float16);
    assert_eq!(fp16.output_range, Some(OutputRange::Unit));
    assert_eq!(fp16.fixed_side, None);
    assert_eq!(
        identity(&fixture("lama_dynamic_255.onnx")).output_range,
        Some(OutputRange::Byte)
    );
    assert_eq!(
        identity(&fixture("lama_dynamic_undeclared.onnx")).output_range,
        None
    );
    let lama = identity(&fixture("lama_fixed512.onnx"));
    assert_eq!((lama.fixed_side, lama.opset), (Some(512), Some(17)));
    assert_eq!(identity(&fixture("migan.onnx")).opset, Some(12));
    assert_eq!(identity(&fixture("wrong_size.onnx")).fixed_side, Some(256));
}

#[test]
fn refusals_name_each_mismatch() {
    let (_, why, _) = reason(&fixture("wrong_names.onnx"));
    assert!(why.contains("not lama: no input named `image`"), "{why}");
    assert!(why.contains("unexpected input `x`"), "{why}");
    let (_, why, _) = reason(&fixture("wrong_dtype.onnx"));
    assert!(
        why.contains("input `mask` float32 or float16 [batch,1,H/W,H/W] expected, found i64"),
        "{why}"
    );
    let (_, why, _) = reason(&fixture("wrong_rank.onnx"));
    assert!(why.contains("found f32 [3, 512, 512]"), "{why}");
    // The summary lists the ports as read.
    assert!(
        why.contains("inputs `image` float32 [3,512,512], `mask` float32 [1,1,512,512]"),
        "{why}"
    );
}

/// The probe mirrors `inpaint-models`' contracts: whatever it attributes a fixture to (or
/// lists as an alternative) loads on ONNX Runtime as that architecture, and nothing else
/// does. Needs ONNX Runtime (found as `OnnxOptions::default()` finds it).
#[test]
fn probe_agrees_with_the_loader() {
    let options = OnnxOptions::default();
    for &(name, _) in FIXTURES {
        let path = fixture(name);
        let fits: Vec<Architecture> = match probe::probe_file(&path).unwrap() {
            Probe::Onnx(id) => std::iter::once(id.architecture)
                .chain(id.alternatives)
                .collect(),
            _ => Vec::new(),
        };
        for arch in Architecture::ALL {
            let loaded = OnnxModel::load(&path, arch, &options);
            assert_eq!(
                loaded.is_ok(),
                fits.contains(&arch),
                "{name} as {arch}: probe says {fits:?}, loader says {:?}",
                loaded.err().map(|e| e.full_message())
            );
        }
    }
}

#[test]
fn weights_are_skipped_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let (inputs, outputs) = lama_dynamic_ports();
    // 8 MiB of "weights" before the inputs, as exporters write them.
    let weights = vec![7u8; 8 << 20];
    let bytes = model(
        &graph(&[("w", &weights), ("v", &weights)], &inputs, &outputs),
        &[],
    );
    let path = dir.path().join("weights.onnx");
    write(&path, &bytes);
    let graph = probe::read_onnx(&path).unwrap();
    assert_eq!(graph.inputs.len(), 2);
    assert!(
        graph.bytes_read < 256 * 1024,
        "read {} of {} bytes",
        graph.bytes_read,
        bytes.len()
    );
    assert_eq!(identity(&path).architecture, LamaDynamic);
}

#[test]
fn initializers_listed_as_inputs_are_not_inputs() {
    // Older exports (IR < 4, or keep_initializers_as_inputs) list every weight as an input.
    let dir = tempfile::tempdir().unwrap();
    let (mut inputs, outputs) = generator_ports();
    inputs.push(value_info("conv.weight", 1, &[D::N(4)]));
    let bytes = model(&graph(&[("conv.weight", &[0; 16])], &inputs, &outputs), &[]);
    let path = dir.path().join("old.onnx");
    write(&path, &bytes);
    let graph = probe::read_onnx(&path).unwrap();
    assert_eq!(graph.inputs.len(), 1);
    assert_eq!(identity(&path).architecture, Migan);
}

#[test]
fn metadata_can_declare_the_architecture_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let (inputs, outputs) = generator_ports();
    let path = dir.path().join("a.onnx");
    write(
        &path,
        &model(
            &graph(&[], &inputs, &outputs),
            &[("inpaint.architecture", "fcf")],
        ),
    );
    let id = identity(&path);
    assert_eq!((id.architecture, id.declared), (Fcf, true));
    assert_eq!(id.alternatives, [Migan]);

    // A declaration the interface contradicts is refused, with the reason.
    write(
        &path,
        &model(
            &graph(&[], &inputs, &outputs),
            &[("inpaint.architecture", "lama")],
        ),
    );
    let (_, why, _) = reason(&path);
    assert!(
        why.contains("declares inpaint.architecture = lama")
            && why.contains("no input named `image`"),
        "{why}"
    );

    // A fixed 512 LaMa interface declaring 0–1 is the dynamic contract (Carve's is 0–255).
    let fixed = |c| [D::P("batch"), D::N(c), D::N(512), D::N(512)];
    let lama = graph(
        &[],
        &[
            value_info("image", 1, &fixed(3)),
            value_info("mask", 1, &fixed(1)),
        ],
        &[value_info("output", 1, &fixed(3))],
    );
    write(&path, &model(&lama, &[("inpaint.output_range", "0-1")]));
    let id = identity(&path);
    assert_eq!(id.architecture, LamaDynamic);
    assert_eq!(id.output_range, Some(OutputRange::Unit));
    assert!(id.alternatives.contains(&Lama));

    // A range the loader would refuse is refused here too.
    write(&path, &model(&lama, &[("inpaint.output_range", "0-100")]));
    let (_, why, _) = reason(&path);
    assert!(why.contains("inpaint.output_range"), "{why}");
}

#[test]
fn broken_onnx_files_are_invalid_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.onnx");

    let whole = std::fs::read(fixture("lama_dynamic.onnx")).unwrap();
    write(&path, &whole[..whole.len() / 2]);
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.starts_with("truncated: "), "{why}");
    assert!(why.contains("declares") && why.contains("only"), "{why}");

    write(&path, &random_bytes(4096, 1));
    let (_, why, invalid) = reason(&path);
    assert!(invalid, "{why}");

    write(&path, b"");
    assert_eq!(reason(&path).1, "empty file");

    // A valid protobuf without a graph.
    write(&path, &varint_field(1, 8));
    assert_eq!(
        reason(&path).1,
        "no graph (ModelProto field 7): not an ONNX model"
    );

    // Absurd sizes are refused, not allocated.
    let long_name = "n".repeat(5000);
    let g = graph(&[], &[value_info(&long_name, 1, &[D::N(1)])], &[]);
    write(&path, &model(&g, &[]));
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.contains("limit 4096"), "{why}");
    let dims: Vec<D> = (0..65).map(|_| D::N(1)).collect();
    write(
        &path,
        &model(&graph(&[], &[value_info("image", 1, &dims)], &[]), &[]),
    );
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.contains("over 64 dims"), "{why}");

    // `read_onnx` says the same as an error.
    let err = probe::read_onnx(&path).unwrap_err();
    assert!(matches!(err, Error::NotIdentified { .. }), "{err}");
}

#[test]
fn safetensors_are_identified_by_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unet.safetensors");
    let kind = |path: &Path| match probe::probe_file(path).unwrap() {
        Probe::Safetensors(s) => s,
        other => panic!("{other:?}"),
    };

    write(
        &path,
        &safetensors(&[
            ("conv_in.weight", "F16", &[320, 9, 3, 3]),
            ("conv_in.bias", "F16", &[320]),
        ]),
    );
    let s = kind(&path);
    assert_eq!(s.kind, SafetensorsKind::StableDiffusionInpainting);
    assert_eq!(s.evidence, "conv_in.weight [320, 9, 3, 3]");
    assert_eq!(s.tensors, 2);

    write(
        &path,
        &safetensors(&[("conv_in.weight", "F16", &[320, 4, 3, 3])]),
    );
    assert_eq!(kind(&path).kind, SafetensorsKind::StableDiffusion);

    write(
        &path,
        &safetensors(&[(
            "model.diffusion_model.input_blocks.0.0.weight",
            "F32",
            &[320, 9, 3, 3],
        )]),
    );
    assert_eq!(kind(&path).kind, SafetensorsKind::StableDiffusionInpainting);

    // SDXL: the added-conditioning projection (2816 wide; the refiner's 2560), in diffusers'
    // layout and the original one; another width (SD 2 unCLIP's image embedding) is not SDXL.
    write(
        &path,
        &safetensors(&[
            ("conv_in.weight", "F16", &[320, 9, 3, 3]),
            ("add_embedding.linear_1.weight", "F16", &[1280, 2816]),
        ]),
    );
    let s = kind(&path);
    assert_eq!(s.kind, SafetensorsKind::StableDiffusionXlInpainting);
    assert_eq!(
        s.evidence,
        "conv_in.weight [320, 9, 3, 3], add_embedding.linear_1.weight [1280, 2816]"
    );
    write(
        &path,
        &safetensors(&[
            (
                "model.diffusion_model.input_blocks.0.0.weight",
                "F16",
                &[320, 4, 3, 3],
            ),
            (
                "model.diffusion_model.label_emb.0.0.weight",
                "F16",
                &[1280, 2816],
            ),
        ]),
    );
    assert_eq!(kind(&path).kind, SafetensorsKind::StableDiffusionXl);
    write(
        &path,
        &safetensors(&[
            (
                "model.diffusion_model.input_blocks.0.0.weight",
                "F16",
                &[384, 4, 3, 3],
            ),
            (
                "model.diffusion_model.label_emb.0.0.weight",
                "F16",
                &[1536, 2560],
            ),
        ]),
    );
    assert_eq!(kind(&path).kind, SafetensorsKind::StableDiffusionXl);
    write(
        &path,
        &safetensors(&[
            ("conv_in.weight", "F16", &[320, 4, 3, 3]),
            ("class_embedding.linear_1.weight", "F16", &[1280, 2048]),
            ("label_emb.0.0.weight", "F16", &[1280, 2048]),
        ]),
    );
    assert_eq!(kind(&path).kind, SafetensorsKind::StableDiffusion);

    write(
        &path,
        &safetensors(&[(
            "synthesis.first_stage.conv_first.conv.resample_filter",
            "F32",
            &[4, 4],
        )]),
    );
    assert_eq!(kind(&path).kind, SafetensorsKind::MatWeights);

    write(
        &path,
        &safetensors(&[("conv_in.weight", "F16", &[320, 7, 3, 3])]),
    );
    let (format, why, invalid) = reason(&path);
    assert!(!invalid && format == Format::Safetensors);
    assert!(why.contains("7 input channels"), "{why}");

    write(&path, &safetensors(&[("text.embed", "F16", &[10, 10])]));
    assert!(reason(&path).1.contains("none that tells"));
}

#[test]
fn broken_safetensors_are_invalid_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");

    // Header length beyond the file.
    let mut bytes = 1000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    write(&path, &bytes);
    let (_, why, invalid) = reason(&path);
    assert!(
        invalid && why.contains("runs beyond the file's 10 bytes"),
        "{why}"
    );

    // Header length over the limit.
    let bytes = u64::MAX.to_le_bytes();
    write(&path, &bytes);
    let (_, why, invalid) = reason(&path);
    assert!(
        invalid && why.contains("exceeds the 100000000-byte limit"),
        "{why}"
    );

    // Tensor data cut off.
    let whole = safetensors(&[("conv_in.weight", "F16", &[320, 9, 3, 3])]);
    write(&path, &whole[..whole.len() - 10]);
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.contains("truncated or corrupt"), "{why}");

    // Bytes after the last tensor: the safetensors readers refuse such a file.
    let mut padded = whole.clone();
    padded.extend_from_slice(&[0; 4]);
    write(&path, &padded);
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.contains("trailing bytes"), "{why}");

    // A tensor whose byte range does not match its shape and dtype (validated by the
    // safetensors crate).
    let mut bytes = Vec::new();
    let header = br#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}"#;
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 8]);
    write(&path, &bytes);
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.starts_with("invalid header: "), "{why}");

    // An unknown dtype.
    let header = br#"{"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 8]);
    write(&path, &bytes);
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.contains("F33"), "{why}");

    // Not JSON.
    let mut bytes = 4u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"\xff\xfe{}");
    write(&path, &bytes);
    let (_, why, invalid) = reason(&path);
    assert!(invalid && why.contains("not a JSON object"), "{why}");

    write(&path, b"abc");
    assert!(reason(&path).2);
}

#[test]
fn the_cache_answers_until_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    copy_fixture("migan.onnx", &path);
    let mut cache = ProbeCache::new();
    let first = cache.probe(&path).unwrap();
    let second = cache.probe(&path).unwrap();
    assert_eq!(first, second);
    assert_eq!((cache.stats().probed, cache.stats().hits), (1, 1));

    copy_fixture("mat.onnx", &path); // another size, another content
    assert_eq!(
        cache.probe(&path).unwrap().architecture().unwrap().name(),
        "mat"
    );
    assert_eq!(cache.stats().probed, 2);

    let digest = cache.sha256(&path).unwrap();
    assert_eq!(digest, probe::sha256_file(&path).unwrap());
    assert_eq!(cache.sha256(&path).unwrap(), digest);
    assert_eq!((cache.stats().hashed, cache.stats().hash_hits), (1, 1));
}

#[test]
fn the_cache_file_is_reused_and_a_corrupt_one_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    copy_fixture("lama_dynamic_fp16.onnx", &path);
    let cache_file = dir.path().join("cache/probes.json");

    let (mut cache, warning) = ProbeCache::open(&cache_file);
    assert!(warning.is_none());
    let probed = cache.probe(&path).unwrap();
    cache.sha256(&path).unwrap();
    cache.save().unwrap();
    assert!(cache_file.is_file());

    let (mut again, warning) = ProbeCache::open(&cache_file);
    assert!(warning.is_none());
    assert_eq!(again.probe(&path).unwrap(), probed);
    again.sha256(&path).unwrap();
    let stats = again.stats();
    assert_eq!(
        (stats.probed, stats.hits, stats.hashed, stats.hash_hits),
        (0, 1, 0, 1)
    );

    std::fs::write(&cache_file, b"{not json").unwrap();
    let (mut fresh, warning) = ProbeCache::open(&cache_file);
    assert!(warning.unwrap().contains("corrupt probe cache"));
    fresh.probe(&path).unwrap();
    assert_eq!(fresh.stats().probed, 1);
}
