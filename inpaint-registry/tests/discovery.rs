//! Scanning model roots: the project layout, a hub cache, loose files, shadowing, skipping,
//! caching and verification.

use std::fs;
use std::path::{Path, PathBuf};

use inpaint_models::onnx::{Architecture, OutputRange};
use inpaint_registry::probe::{Probe, SafetensorsKind};
use inpaint_registry::{
    Discovery, ModelArchitecture, ModelInfo, ModelRoot, RootKind, Scanner, Verification,
};

use crate::support::*;

/// The full commit a hand-made hub cache pins `Carve/LaMa-ONNX` at: it starts with the
/// catalog's abbreviated `a3ee2fc`.
const PINNED: &str = "a3ee2fc0000000000000000000000000000000aa";

#[cfg(unix)]
fn symlink(target: &str, link: &Path) {
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// A hub cache: `Carve/LaMa-ONNX` with `lama_fp32.onnx` at the pinned commit (really the
/// fixed-512 fixture) and `someone/thing` with `onnx/model.onnx` (the MI-GAN pipeline), both
/// as relative symlinks into `blobs/`, plus a dangling link and an unfinished blob.
#[cfg(unix)]
fn hub_cache(root: &Path) {
    let lama = root.join("models--Carve--LaMa-ONNX");
    copy_fixture("lama_fixed512.onnx", &lama.join("blobs/1111"));
    write(&lama.join("refs/main"), PINNED.as_bytes());
    symlink(
        "../../blobs/1111",
        &lama.join("snapshots").join(PINNED).join("lama_fp32.onnx"),
    );
    write(&lama.join("blobs/2222.incomplete"), b"partial");
    symlink(
        "../../blobs/2222",
        &lama.join("snapshots").join(PINNED).join("lama.onnx"),
    );

    let thing = root.join("models--someone--thing");
    copy_fixture("migan_pipeline.onnx", &thing.join("blobs/3333"));
    write(&thing.join("refs/main"), b"bbbb");
    symlink(
        "../../../blobs/3333",
        &thing.join("snapshots/bbbb/onnx/model.onnx"),
    );
}

/// The tree the main test scans. Returns the roots in scanning order.
fn tree(base: &Path) -> Vec<ModelRoot> {
    // 1. Project layout.
    let project = base.join("project");
    copy_fixture("lama_fixed512.onnx", &project.join("lama/lama_fp32.onnx"));
    copy_fixture("migan.onnx", &project.join("migan/migan.onnx"));
    write(
        &project.join("migan-pipeline/migan_pipeline_v2.onnx.partial"),
        b"half",
    );
    copy_fixture("fcf.onnx", &project.join("migan/extra.onnx"));

    // 2. Loose files, named anything.
    let loose = base.join("loose");
    copy_fixture("migan.onnx", &loose.join("foo.onnx"));
    copy_fixture("lama_dynamic_fp16.onnx", &loose.join("bar.onnx"));
    copy_fixture("mat.onnx", &loose.join("sub/deep/weights.onnx"));
    let whole = fs::read(fixture("lama_dynamic.onnx")).unwrap();
    write(&loose.join("corrupt.onnx"), &whole[..whole.len() - 40]);
    write(&loose.join("random.onnx"), &random_bytes(2000, 7));
    write(&loose.join("download.onnx.partial"), &whole);
    write(&loose.join("model.onnx.lock"), b"");
    write(&loose.join("notes.txt"), b"not a model");
    copy_fixture("migan.onnx", &loose.join(".hidden.onnx"));
    write(
        &loose.join("sd-inpaint.safetensors"),
        &safetensors(&[("conv_in.weight", "F16", &[320, 9, 3, 3])]),
    );
    write(
        &loose.join("sd.safetensors"),
        &safetensors(&[("conv_in.weight", "F16", &[320, 4, 3, 3])]),
    );
    let mut broken = 1_000_000u64.to_le_bytes().to_vec();
    broken.extend_from_slice(b"{\"a\":1}");
    write(&loose.join("broken.safetensors"), &broken);

    // 3. A hub cache.
    let hub = base.join("hub");
    #[cfg(unix)]
    hub_cache(&hub);

    // 4. Another loose root with a `foo.onnx` too (really FcF-shaped).
    let other = base.join("other");
    copy_fixture("fcf.onnx", &other.join("foo.onnx"));

    vec![
        ModelRoot::project(&project),
        ModelRoot::loose(&loose),
        ModelRoot::hf_cache(&hub),
        ModelRoot::loose(&other),
        ModelRoot::loose(base.join("does-not-exist")),
    ]
}

fn get<'a>(d: &'a Discovery, id: &str) -> &'a ModelInfo {
    d.get(id).unwrap_or_else(|| {
        let ids: Vec<&str> = d.models.iter().map(|m| m.id.as_str()).collect();
        panic!("no `{id}` in {ids:?}")
    })
}

fn onnx_arch(m: &ModelInfo) -> Architecture {
    match m.architecture {
        Some(ModelArchitecture::Onnx { architecture, .. }) => architecture,
        other => panic!("{}: {other:?} ({:?})", m.id, m.problems),
    }
}

#[test]
fn a_tree_of_roots_is_scanned_in_order_and_identified_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let roots = tree(dir.path());
    let mut scanner = Scanner::new();
    let d = scanner.scan(&roots);

    // Loose files are identified by content, whatever their names.
    let foo = get(&d, "foo.onnx");
    assert_eq!(onnx_arch(foo), Architecture::Migan);
    assert!(foo.is_usable() && foo.catalog.is_none());
    assert!(foo.notes[0].contains("also fits fcf"), "{:?}", foo.notes);
    assert_eq!(foo.root, roots[1]);
    assert_eq!(foo.files[0].verification, Verification::NoDigest);
    let bar = get(&d, "bar.onnx");
    assert_eq!(
        bar.architecture,
        Some(ModelArchitecture::Onnx {
            architecture: Architecture::LamaDynamic,
            output_range: Some(OutputRange::Unit)
        })
    );
    assert_eq!(
        onnx_arch(get(&d, "sub/deep/weights.onnx")),
        Architecture::Mat
    );

    // Broken files are reported with the reason, never loaded.
    let corrupt = get(&d, "corrupt.onnx");
    assert!(!corrupt.is_usable() && corrupt.architecture.is_none());
    assert!(
        corrupt.problems[0].contains("truncated"),
        "{:?}",
        corrupt.problems
    );
    let random = get(&d, "random.onnx");
    assert!(
        random.problems[0].starts_with("invalid ONNX file: "),
        "{:?}",
        random.problems
    );
    let broken = get(&d, "broken.safetensors");
    assert!(
        broken.problems[0].contains("runs beyond the file"),
        "{:?}",
        broken.problems
    );

    // Safetensors checkpoints are recognised and said to be unusable here.
    let sd = get(&d, "sd-inpaint.safetensors");
    assert!(matches!(
        &sd.files[0].probe,
        Some(Probe::Safetensors(s)) if s.kind == SafetensorsKind::StableDiffusionInpainting
    ));
    assert!(!sd.is_usable() && sd.problems[0].contains("ONNX graphs only"));
    assert!(matches!(
        &get(&d, "sd.safetensors").files[0].probe,
        Some(Probe::Safetensors(s)) if s.kind == SafetensorsKind::StableDiffusion
    ));

    // Unfinished downloads and locks are skipped, and said to be; other files are ignored.
    let skipped: Vec<PathBuf> = d.skipped.iter().map(|s| s.path.clone()).collect();
    for name in [
        "loose/download.onnx.partial",
        "loose/model.onnx.lock",
        "project/migan-pipeline/migan_pipeline_v2.onnx.partial",
    ] {
        assert!(
            skipped.contains(&dir.path().join(name)),
            "{name}: {skipped:?}"
        );
    }
    assert!(d.get("notes.txt").is_none() && d.get(".hidden.onnx").is_none());
    // A folder with only a partial download is not an install.
    assert!(d.get("migan-pipeline").is_none());

    // Project layout: catalog ids, checked against the catalog.
    let lama = get(&d, "lama");
    assert_eq!(lama.root.kind, RootKind::Project);
    assert_eq!(onnx_arch(lama), Architecture::Lama);
    assert!(matches!(
        lama.files[0].verification,
        Verification::SizeMismatch {
            expected: 208_044_816,
            ..
        }
    ));
    assert!(
        lama.problems[0].contains("the catalog's file is 208044816"),
        "{:?}",
        lama.problems
    );
    let migan = get(&d, "migan");
    assert!(migan.is_usable(), "{:?}", migan.problems);
    assert_eq!(migan.files[0].verification, Verification::NoDigest);
    assert_eq!(onnx_arch(get(&d, "migan/extra.onnx")), Architecture::Migan);

    // The second `foo.onnx` is shadowed by the first.
    let foo_shadow = d
        .shadowed
        .iter()
        .find(|s| s.model.id == "foo.onnx")
        .unwrap();
    assert_eq!(foo_shadow.model.root, roots[3]);
    assert_eq!(foo_shadow.by, dir.path().join("loose/foo.onnx"));

    assert_eq!(d.missing_roots, [dir.path().join("does-not-exist")]);

    #[cfg(unix)]
    {
        // The hub cache's `lama` is shadowed by the project's; it followed the symlink and
        // matched the pinned revision.
        let hub_lama = d.shadowed.iter().find(|s| s.model.id == "lama").unwrap();
        assert_eq!(hub_lama.by, dir.path().join("project/lama/lama_fp32.onnx"));
        let hf = hub_lama.model.hf.as_ref().unwrap();
        assert_eq!(
            (hf.repo.as_str(), hf.commit.as_str(), hf.is_main),
            ("Carve/LaMa-ONNX", PINNED, true)
        );
        assert!(
            hub_lama.model.notes.is_empty(),
            "{:?}",
            hub_lama.model.notes
        );
        assert_eq!(onnx_arch(&hub_lama.model), Architecture::Lama);
        // Other hub files: `owner/name/path`, identified by content.
        let thing = get(&d, "someone/thing/onnx/model.onnx");
        assert_eq!(onnx_arch(thing), Architecture::MiganPipeline);
        assert_eq!(thing.root.kind, RootKind::HfCache);
        assert!(thing.path().ends_with("snapshots/bbbb/onnx/model.onnx"));
        // The link to an unfinished blob is reported.
        let dangling = dir
            .path()
            .join("hub/models--Carve--LaMa-ONNX/snapshots")
            .join(PINNED)
            .join("lama.onnx");
        assert!(
            d.errors
                .iter()
                .any(|e| e.path == dangling && e.reason.contains("symlink to a missing file")),
            "{:?}",
            d.errors
        );
    }
}

#[test]
fn a_second_scan_reads_nothing_that_did_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let roots = tree(dir.path());
    let mut scanner = Scanner::new();
    let first = scanner.scan(&roots);
    let probed = scanner.cache().stats().probed;
    assert!(probed >= 10, "{probed}");
    let second = scanner.scan(&roots);
    assert_eq!(first, second);
    assert_eq!(scanner.cache().stats().probed, probed);
    assert!(scanner.cache().stats().hits >= probed);

    // One file changes: only it is read again.
    copy_fixture("lama_dynamic.onnx", &dir.path().join("loose/foo.onnx"));
    let third = scanner.scan(&roots);
    assert_eq!(scanner.cache().stats().probed, probed + 1);
    assert_eq!(
        onnx_arch(get(&third, "foo.onnx")),
        Architecture::LamaDynamic
    );
}

#[test]
fn verification_hashes_on_demand_and_reports_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let root = ModelRoot::project(dir.path());
    // `lama-manga` has a digest but no recorded size: the file is not what it should be, and
    // only hashing can tell.
    copy_fixture(
        "lama_dynamic.onnx",
        &dir.path().join("lama-manga/lama-manga-dynamic.onnx"),
    );
    copy_fixture("migan.onnx", &dir.path().join("migan/migan.onnx"));
    let mut scanner = Scanner::new();
    let d = scanner.scan(std::slice::from_ref(&root));
    let mut manga = get(&d, "lama-manga").clone();
    assert!(manga.is_usable());
    assert_eq!(manga.files[0].verification, Verification::NotChecked);
    assert_eq!(scanner.cache().stats().hashed, 0, "a scan hashes nothing");

    assert!(!scanner.verify(&mut manga).unwrap());
    let actual = inpaint_registry::probe::sha256_file(&manga.files[0].path).unwrap();
    assert_eq!(
        manga.files[0].verification,
        Verification::Mismatch {
            expected: "de31ffa5ba26916b8ea35319f6c12151ff9654d4261bccf0583a69bb095315f9".into(),
            actual
        }
    );
    assert!(!manga.is_usable() && manga.problems[0].contains("download again"));
    assert_eq!(scanner.cache().stats().hashed, 1);

    // Files without a digest stay unverified, without hashing.
    let mut migan = get(&d, "migan").clone();
    assert!(!scanner.verify(&mut migan).unwrap());
    assert_eq!(migan.files[0].verification, Verification::NoDigest);
    assert_eq!(scanner.cache().stats().hashed, 1);
}

#[test]
fn a_loose_file_like_a_catalog_file_gets_a_hint_not_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    // Same name as the catalog's MI-GAN file (whose size is unknown), MI-GAN content.
    copy_fixture("migan.onnx", &dir.path().join("migan.onnx"));
    let d = Scanner::new().scan(&[ModelRoot::loose(dir.path())]);
    let m = get(&d, "migan.onnx");
    assert_eq!(m.catalog_hint, Some("migan"));
    assert!(m.catalog.is_none());
    assert!(m.notes.iter().any(|n| n.contains("not verified")));
}

#[test]
fn default_roots_come_from_the_environment_only_when_asked() {
    // Only checks the shape: two roots, project first, then the hub cache.
    let roots = ModelRoot::defaults_from_env();
    if roots.len() == 2 {
        assert_eq!(roots[0].kind, RootKind::Project);
        assert_eq!(roots[1].kind, RootKind::HfCache);
        assert!(
            roots[0].path.ends_with("inpaint/models")
                || std::env::var_os("INPAINT_MODELS_DIR").is_some()
        );
    }
}
