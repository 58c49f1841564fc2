//! The model manager: loading, switching, rollback. The ONNX parts need ONNX Runtime (found
//! as `OnnxOptions::default()` finds it) and use the tiny fixture graphs.

use std::path::Path;

use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};
use inpaint_core::{Image, InpaintOptions, Mask, inpaint};
use inpaint_models::onnx::{Architecture, Device, DevicePolicy};
use inpaint_registry::{
    Error, LoadPlan, ModelArchitecture, ModelManager, ModelRoot, ModelsConfig, Registry, Scanner,
    SwitchPolicy,
};

use crate::support::*;

/// Runs the active model on a 16×16 grey image with a 4×4 hole; returns the hole's centre.
fn run(manager: &mut ModelManager) -> [u8; 3] {
    let image = Image::from_rgb(RgbImage::from_pixel(16, 16, Rgb([100, 100, 100]))).unwrap();
    let mut mask = GrayImage::new(16, 16);
    for y in 6..10 {
        for x in 6..10 {
            mask.put_pixel(x, y, Luma([255]));
        }
    }
    let mask = Mask::from_gray(mask).unwrap();
    let model = manager.model_mut().expect("a model is loaded");
    let out = inpaint(model, &image, &mask, &InpaintOptions::default()).unwrap();
    out.rgb().get_pixel(8, 8).0
}

fn switch_failed(err: Error) -> (String, Option<String>, Box<Error>, Option<Box<Error>>) {
    match err {
        Error::SwitchFailed {
            requested,
            kept,
            source,
            rollback,
        } => (requested, kept, source, rollback),
        other => panic!("{other}"),
    }
}

/// A file that is not ONNX at all, under an `.onnx` name.
fn broken(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("broken.onnx");
    write(&path, &random_bytes(3000, 11));
    path
}

#[test]
fn load_switch_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut manager = ModelManager::new();
    assert!(manager.active().is_none() && manager.model_mut().is_none());

    let active = manager.load(LoadPlan::classical("telea").unwrap()).unwrap();
    assert_eq!(
        (active.id.as_str(), active.device, active.path.as_ref()),
        ("telea", Device::Cpu, None)
    );
    let telea_fill = run(&mut manager);

    // Switch to an ONNX graph by path, named anything; identified by content.
    let path = dir.path().join("whatever.onnx");
    copy_fixture("lama_dynamic.onnx", &path);
    let mut scanner = Scanner::new();
    let plan = LoadPlan::from_file(&path, &mut scanner).unwrap();
    assert_eq!(
        plan.architecture,
        ModelArchitecture::Onnx {
            architecture: Architecture::LamaDynamic,
            output_range: Some(inpaint_models::onnx::OutputRange::Unit)
        }
    );
    let active = manager.load(plan).unwrap();
    assert_eq!(active.device, Device::Cpu);
    assert_eq!(active.path.as_deref(), Some(path.as_path()));
    assert!(active.execution.as_deref().unwrap().starts_with("cpu"));
    // The fixture fills with C + α·mean: (0.6, 0.1, 0.3)·255 + 25 = (178, 50, 101).
    assert_eq!(run(&mut manager), [178, 50, 101]);
    assert_ne!(telea_fill, [178, 50, 101]);

    // A broken file is refused by the probe before anything is loaded…
    let bad = broken(dir.path());
    let err = LoadPlan::from_file(&bad, &mut scanner).unwrap_err();
    assert!(matches!(err, Error::NotIdentified { .. }), "{err}");
    // …and forced through as an architecture, it fails to load: the old model stays.
    let err = manager
        .load(LoadPlan::onnx(&bad, Architecture::Lama))
        .unwrap_err();
    assert!(
        err.to_string().contains("is still loaded and usable"),
        "{err}"
    );
    let (requested, kept, source, rollback) = switch_failed(err);
    assert_eq!(requested, bad.display().to_string());
    assert_eq!(kept.as_deref(), Some(path.display().to_string().as_str()));
    assert!(matches!(*source, Error::Load { .. }), "{source}");
    assert!(rollback.is_none());
    assert_eq!(
        manager.active().unwrap().path.as_deref(),
        Some(path.as_path())
    );
    assert_eq!(run(&mut manager), [178, 50, 101]);

    // Back to a classical model; unload.
    manager.load(LoadPlan::classical("ns").unwrap()).unwrap();
    assert_eq!(manager.active().unwrap().id, "navier-stokes");
    run(&mut manager);
    assert_eq!(manager.unload().unwrap().id, "navier-stokes");
    assert!(manager.active().is_none());
}

#[test]
fn release_first_reloads_the_old_model_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut manager = ModelManager::new().with_switch_policy(SwitchPolicy::ReleaseFirst);
    let good = dir.path().join("good.onnx");
    copy_fixture("migan_pipeline.onnx", &good);
    manager
        .load(LoadPlan::onnx(&good, Architecture::MiganPipeline))
        .unwrap();
    let before = run(&mut manager);

    let bad = broken(dir.path());
    let (_, kept, _, rollback) = switch_failed(
        manager
            .load(LoadPlan::onnx(&bad, Architecture::Mat))
            .unwrap_err(),
    );
    assert!(kept.is_some() && rollback.is_none());
    assert_eq!(run(&mut manager), before);

    // If the old model cannot be reloaded either, nothing is loaded and the error says both.
    std::fs::remove_file(&good).unwrap();
    let err = manager
        .load(LoadPlan::onnx(&bad, Architecture::Mat))
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("reloading the previous model failed too")
            && message.contains("no model is loaded"),
        "{message}"
    );
    let (_, kept, _, rollback) = switch_failed(err);
    assert!(kept.is_none() && rollback.is_some());
    assert!(manager.active().is_none());
}

#[test]
fn classical_models_run_on_the_cpu_only() {
    let mut manager = ModelManager::new();
    manager.load(LoadPlan::classical("telea").unwrap()).unwrap();
    let plan = LoadPlan::classical("patchmatch")
        .unwrap()
        .with_device(DevicePolicy::Require(Device::Cuda { device_id: 0 }));
    let (_, kept, source, _) = switch_failed(manager.load(plan).unwrap_err());
    assert_eq!(kept.as_deref(), Some("telea"));
    assert!(source.to_string().contains("CPU only"), "{source}");
    // Preferring a GPU is fine: the CPU is the fallback.
    let plan = LoadPlan::classical("patchmatch")
        .unwrap()
        .with_device(DevicePolicy::Prefer(vec![Device::Auto]));
    assert_eq!(manager.load(plan).unwrap().device, Device::Cpu);
}

#[test]
fn the_registry_plans_what_the_manager_loads() {
    let dir = tempfile::tempdir().unwrap();
    // A catalog model installed in the project layout (the fixture has its interface).
    copy_fixture("migan.onnx", &dir.path().join("models/migan/migan.onnx"));
    let config_path = dir.path().join("models.toml");
    let config = ModelsConfig::parse(
        "default_model = \"mi-gan\"\n\
         [[roots]]\npath = \"models\"\nkind = \"project\"\n\
         [models.migan]\ndevice = \"cpu\"\n",
        &config_path,
    )
    .unwrap();
    let discovery = Scanner::new().scan(&config.roots);
    assert_eq!(
        discovery.models[0].root,
        ModelRoot::project(dir.path().join("models"))
    );
    let registry = Registry::new(Some(&config), Some(&discovery));
    let mut manager = ModelManager::new();
    let active = manager.load(registry.plan(None).unwrap()).unwrap();
    assert_eq!(active.id, "migan");
    assert_eq!(
        active.architecture,
        ModelArchitecture::onnx(Architecture::Migan)
    );
    run(&mut manager);

    let err = manager.load(registry.plan(Some("lama")).unwrap_or_else(|e| {
        assert!(matches!(e, Error::NotInstalled { .. }), "{e}");
        LoadPlan::onnx(dir.path().join("absent.onnx"), Architecture::Lama)
    }));
    assert!(err.is_err());
    assert_eq!(manager.active().unwrap().id, "migan");
}
