//! Stable Diffusion folders (SD 1.5 and SDXL) in Optimum's ONNX layout: recognised by their UNet's contract (read
//! without ONNX Runtime) on the tiny pipelines of `inpaint-models/tests/fixtures/diffusion`
//! (made by `scripts/make-diffusion-fixtures.py`), found in model roots and the Hugging Face
//! cache; single-file checkpoints named with the export command.

use std::path::{Path, PathBuf};

use inpaint_models::diffusion::DiffusionFamily;
use inpaint_registry::diffusion::{self, inspect};
use inpaint_registry::{Error, ModelRoot};

fn tiny(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/diffusion")
        .join(format!("sd15-tiny-{kind}"))
}

fn tiny_xl(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inpaint-models/tests/fixtures/diffusion")
        .join(format!("sdxl-tiny-{kind}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn both_unet_kinds_are_recognised() {
    let inpaint = inspect(&tiny("inpaint")).unwrap();
    assert_eq!((inpaint.unet_channels, inpaint.float16), (9, false));
    assert_eq!(inpaint.family, DiffusionFamily::Sd15);
    assert_eq!(inspect(&tiny("plain")).unwrap().unet_channels, 4);
}

/// SDXL folders (`text_encoder_2/`, a UNet taking `text_embeds` and `time_ids`) are
/// recognised with both UNet kinds; `tokenizer_2` is required; an SDXL UNet in an SD 1.5
/// folder (or the reverse) is named.
#[test]
fn sdxl_folders_are_recognised_and_checked() {
    let inpaint = inspect(&tiny_xl("inpaint")).unwrap();
    assert_eq!(
        (inpaint.family, inpaint.unet_channels),
        (DiffusionFamily::Sdxl, 9)
    );
    assert_eq!(inspect(&tiny_xl("plain")).unwrap().unet_channels, 4);

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("xl");
    copy_dir(&tiny_xl("plain"), &copy);
    std::fs::remove_file(copy.join("tokenizer_2/merges.txt")).unwrap();
    let err = inspect(&copy).unwrap_err().to_string();
    assert!(err.contains("tokenizer_2/merges.txt"), "{err}");

    let sd = dir.path().join("sd");
    copy_dir(&tiny("plain"), &sd);
    std::fs::copy(
        tiny_xl("plain").join("unet/model.onnx"),
        sd.join("unet/model.onnx"),
    )
    .unwrap();
    let err = inspect(&sd).unwrap_err().to_string();
    assert!(
        err.contains("a Stable Diffusion XL UNet in a Stable Diffusion 1.5 folder"),
        "{err}"
    );
}

/// SDXL exports made by Optimum before 1.24 (stabilityai's own on
/// `stable-diffusion-xl-base-1.0`'s main branch is Optimum 1.10's) and TensorStack's Olive
/// exports give the UNet a `timestep` of shape `[steps]`: such a folder is named as not having
/// the UNet's contract, which is why the catalog has no SDXL entry (this crate's README). The
/// same ports with a scalar float `timestep` are an SDXL inpainting UNet.
#[test]
fn an_sdxl_unet_with_a_timestep_per_step_is_refused() {
    use crate::support::{D, graph, model, value_info, write};

    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("xl");
    copy_dir(&tiny_xl("inpaint"), &folder);
    let unet = |timestep: Vec<u8>| {
        let b = || D::P("batch_size");
        let spatial = |c| [b(), D::N(c), D::P("height"), D::P("width")];
        let inputs = [
            value_info("sample", 1, &spatial(9)),
            timestep,
            value_info(
                "encoder_hidden_states",
                1,
                &[b(), D::P("sequence_length"), D::N(2048)],
            ),
            value_info("text_embeds", 1, &[b(), D::N(1280)]),
            value_info("time_ids", 1, &[b(), D::N(6)]),
        ];
        let outputs = [value_info("out_sample", 1, &spatial(4))];
        model(&graph(&[], &inputs, &outputs), &[])
    };
    // Optimum 1.10: int64, one per step.
    write(
        &folder.join("unet/model.onnx"),
        &unet(value_info("timestep", 7, &[D::P("steps")])),
    );
    let err = inspect(&folder).unwrap_err().to_string();
    assert!(
        err.contains("not a Stable Diffusion UNet") && err.contains("`timestep`"),
        "{err}"
    );
    // TensorStack's: float, one per batch item.
    write(
        &folder.join("unet/model.onnx"),
        &unet(value_info("timestep", 1, &[D::P("batch")])),
    );
    let err = inspect(&folder).unwrap_err().to_string();
    assert!(err.contains("`timestep`"), "{err}");

    write(
        &folder.join("unet/model.onnx"),
        &unet(value_info("timestep", 1, &[])),
    );
    let found = inspect(&folder).unwrap();
    assert_eq!(
        (found.family, found.unet_channels),
        (DiffusionFamily::Sdxl, 9)
    );
}

#[test]
fn a_missing_graph_or_a_wrong_unet_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sd");
    copy_dir(&tiny("plain"), &copy);
    std::fs::remove_file(copy.join("vae_encoder/model.onnx")).unwrap();
    let err = inspect(&copy).unwrap_err().to_string();
    assert!(err.contains("vae_encoder/model.onnx"), "{err}");

    copy_dir(&tiny("plain"), &copy);
    std::fs::copy(
        copy.join("vae_decoder/model.onnx"),
        copy.join("unet/model.onnx"),
    )
    .unwrap();
    let err = inspect(&copy).unwrap_err();
    assert!(matches!(err, Error::NotIdentified { .. }), "{err}");
    assert!(
        err.to_string().contains("no input named `timestep`"),
        "{err}"
    );
}

#[test]
fn folders_are_found_in_project_roots_and_the_hf_cache() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("models");
    copy_dir(&tiny("inpaint"), &project.join("sd15-tiny"));
    let hub = dir.path().join("hub");
    copy_dir(
        &tiny("plain"),
        &hub.join("models--someone--sd15-onnx/snapshots/0123abc"),
    );
    // A broken folder is reported, not dropped silently.
    std::fs::create_dir_all(project.join("half")).unwrap();
    std::fs::write(project.join("half/model_index.json"), "{}").unwrap();

    let (found, problems) =
        diffusion::find(&[ModelRoot::project(&project), ModelRoot::hf_cache(&hub)]);
    let channels: Vec<usize> = found.iter().map(|f| f.unet_channels).collect();
    assert_eq!(channels, [9, 4]);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].to_string().contains("half"), "{}", problems[0]);
}

#[test]
fn the_export_command_names_the_checkpoint() {
    let command = diffusion::export_command(
        Path::new("/models/dreamshaper-inpainting.safetensors"),
        DiffusionFamily::Sd15,
    );
    assert!(command.contains(
        "import StableDiffusionInpaintPipeline as P; \
         P.from_single_file('/models/dreamshaper-inpainting.safetensors')"
    ));
    assert!(command.contains(
        "optimum-cli export onnx --model /models/dreamshaper-inpainting-diffusers --task inpainting \
         /models/dreamshaper-inpainting-onnx"
    ));
    // SDXL checkpoints go through diffusers' SDXL pipeline, as IOPaint loads them.
    let command = diffusion::export_command(
        Path::new("/m/juggernautXL.safetensors"),
        DiffusionFamily::Sdxl,
    );
    assert!(command.contains(
        "import StableDiffusionXLInpaintPipeline as P; \
         P.from_single_file('/m/juggernautXL.safetensors').save_pretrained('/m/juggernautXL-diffusers')"
    ));
}

#[test]
fn a_single_file_checkpoint_is_not_runnable_and_names_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sd-inpainting.safetensors");
    crate::support::write(
        &path,
        &crate::support::safetensors(&[("conv_in.weight", "F16", &[320, 9, 3, 3])]),
    );
    let err = inpaint_registry::LoadPlan::from_file(&path, &mut inpaint_registry::Scanner::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Stable Diffusion inpainting UNet"), "{err}");
    assert!(err.contains("optimum-cli export onnx --model"), "{err}");
    assert!(err.contains("sd-inpainting-onnx"), "{err}");

    // A plain SDXL checkpoint (IOPaint's Juggernaut XL, RealVisXL, …) in the original layout
    // is named as SDXL, with SDXL's export.
    let path = dir.path().join("juggernautXL.safetensors");
    crate::support::write(
        &path,
        &crate::support::safetensors(&[
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
    let err = inpaint_registry::LoadPlan::from_file(&path, &mut inpaint_registry::Scanner::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Stable Diffusion XL UNet (not an inpainting one)")
            && err.contains("StableDiffusionXLInpaintPipeline as P")
            && err.contains("juggernautXL-onnx"),
        "{err}"
    );
}

/// A scanned SD folder is one model whose id is its folder in the root; `plan` gives its folder
/// and the manager loads it with `StableDiffusion::load` (ONNX Runtime, the tiny pipelines) and
/// runs it with a prompt. A plain (4-channel) pipeline in the hub cache is the repository.
#[test]
fn scanned_folders_plan_load_and_run() {
    use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};
    use inpaint_core::{Image, InpaintOptions, Mask, Request, inpaint};
    use inpaint_registry::{ModelArchitecture, ModelManager, Registry, Scanner};

    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("models");
    copy_dir(&tiny("inpaint"), &project.join("sd15-tiny"));
    let hub = dir.path().join("hub");
    copy_dir(
        &tiny("plain"),
        &hub.join("models--someone--sd15-onnx/snapshots/0123abc"),
    );
    let discovery = Scanner::new().scan(&[ModelRoot::project(&project), ModelRoot::hf_cache(&hub)]);
    let ids: Vec<(&str, Option<ModelArchitecture>)> = discovery
        .models
        .iter()
        .map(|m| (m.id.as_str(), m.architecture))
        .collect();
    assert_eq!(
        ids,
        [
            (
                "sd15-tiny",
                Some(ModelArchitecture::Diffusion {
                    family: DiffusionFamily::Sd15,
                    unet_channels: 9
                })
            ),
            (
                "someone/sd15-onnx",
                Some(ModelArchitecture::Diffusion {
                    family: DiffusionFamily::Sd15,
                    unet_channels: 4
                })
            ),
        ],
        "the graphs inside are not models of their own: {:?}",
        discovery.models
    );
    assert!(discovery.models.iter().all(|m| m.is_usable()));
    let shown = discovery.models[0].architecture.unwrap().to_string();
    assert!(
        shown.contains("9-channel inpainting") && shown.contains("needs a prompt"),
        "{shown}"
    );

    let registry = Registry::new(None, Some(&discovery));
    let plan = registry.plan(Some("sd15-tiny")).unwrap();
    assert_eq!(
        plan.path.as_deref(),
        Some(project.join("sd15-tiny").as_path())
    );
    assert!(plan.architecture.needs_prompt());

    let mut manager = ModelManager::new();
    let active = manager.load(plan).unwrap();
    assert_eq!(active.id, "sd15-tiny");
    assert!(active.execution.is_some());
    let image = Image::from_rgb(RgbImage::from_pixel(64, 64, Rgb([100, 100, 100]))).unwrap();
    let mut mask = GrayImage::new(64, 64);
    for y in 16..48 {
        for x in 16..48 {
            mask.put_pixel(x, y, Luma([255]));
        }
    }
    let mask = Mask::from_gray(mask).unwrap();
    let options = InpaintOptions::default()
        .with_request(Request::new().with_prompt("a wooden bench").with_steps(2));
    let out = inpaint(manager.model_mut().unwrap(), &image, &mask, &options).unwrap();
    assert_eq!(out.rgb().dimensions(), (64, 64));
    assert_eq!(out.rgb().get_pixel(0, 0).0, [100, 100, 100]);

    // Switching to the plain pipeline goes through the same path.
    let plan = registry.plan(Some("someone/sd15-onnx")).unwrap();
    assert_eq!(manager.load(plan).unwrap().id, "someone/sd15-onnx");
}

/// An SDXL folder is discovered, planned, loaded by the manager and run the same way, under
/// the architecture names `sdxl-inpaint` and `sdxl`.
#[test]
fn sdxl_folders_plan_load_and_run() {
    use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};
    use inpaint_core::{Image, InpaintOptions, Mask, Request, inpaint};
    use inpaint_registry::{ModelManager, Registry, Scanner};

    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("models");
    copy_dir(&tiny_xl("inpaint"), &project.join("xl-inpaint"));
    copy_dir(&tiny_xl("plain"), &project.join("xl-plain"));
    let discovery = Scanner::new().scan(&[ModelRoot::project(&project)]);
    let names: Vec<(&str, &str)> = discovery
        .models
        .iter()
        .map(|m| (m.id.as_str(), m.architecture.unwrap().name()))
        .collect();
    assert_eq!(
        names,
        [("xl-inpaint", "sdxl-inpaint"), ("xl-plain", "sdxl")]
    );
    let shown = discovery.models[0].architecture.unwrap().to_string();
    assert!(shown.contains("Stable Diffusion XL"), "{shown}");

    let registry = Registry::new(None, Some(&discovery));
    let mut manager = ModelManager::new();
    manager
        .load(registry.plan(Some("xl-inpaint")).unwrap())
        .unwrap();
    let image = Image::from_rgb(RgbImage::from_pixel(40, 30, Rgb([90, 120, 150]))).unwrap();
    let mut mask = GrayImage::new(40, 30);
    for y in 5..20 {
        for x in 10..30 {
            mask.put_pixel(x, y, Luma([255]));
        }
    }
    let mask = Mask::from_gray(mask).unwrap();
    let options = InpaintOptions::default()
        .with_request(Request::new().with_prompt("a wooden bench").with_steps(2));
    let out = inpaint(manager.model_mut().unwrap(), &image, &mask, &options).unwrap();
    assert_eq!(out.rgb().dimensions(), (40, 30));
    assert_eq!(out.rgb().get_pixel(0, 0).0, [90, 120, 150]);
}

/// Parameters that a diffusion model does not take are refused by name.
#[test]
fn config_parameters_a_diffusion_model_does_not_take_are_refused() {
    use inpaint_registry::{ModelsConfig, Registry, Scanner};

    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("models");
    copy_dir(&tiny("plain"), &project.join("sd"));
    let discovery = Scanner::new().scan(&[ModelRoot::project(&project)]);
    let config = ModelsConfig::parse(
        "[models.sd]\nradius = 3.0\n",
        &dir.path().join("models.toml"),
    )
    .unwrap();
    let err = Registry::new(Some(&config), Some(&discovery))
        .plan(Some("sd"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("radius"), "{err}");
}

/// The catalog's SD 1.5 pipeline installed in a project root (`<root>/<id>/`, as `models
/// download` puts it) is one catalog model: its folder, each catalog file listed for
/// verification, its UNet checked against the catalog's kind. A download's staging folder
/// beside it is never a model.
#[test]
fn a_catalog_pipeline_is_found_in_its_folder_and_checked() {
    use inpaint_registry::{ModelArchitecture, Registry, Scanner, Verification, catalog};

    let entry = catalog::entry("sd15-inpaint-fp16").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("models");
    let folder = project.join(entry.id);

    // Not there: the error names the folder and the command, not each of the 14 files.
    std::fs::create_dir_all(&project).unwrap();
    let discovery = Scanner::new().scan(&[ModelRoot::project(&project)]);
    let err = Registry::new(None, Some(&discovery))
        .plan(Some("sd15-inpaint"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("models download sd15-inpaint-fp16")
            && err.ends_with(&format!("missing {}", folder.display())),
        "{err}"
    );
    copy_dir(&tiny("inpaint"), &folder);
    // An unfinished download of another copy: hidden and `.partial`, so skipped.
    copy_dir(&tiny("inpaint"), &project.join(".other.partial"));
    copy_dir(&tiny("plain"), &project.join("half.partial"));

    let discovery = Scanner::new().scan(&[ModelRoot::project(&project)]);
    let ids: Vec<&str> = discovery.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [entry.id], "{:?}", discovery.models);
    let model = &discovery.models[0];
    assert!(model.is_usable(), "{:?}", model.problems);
    assert_eq!(model.catalog.map(|c| c.id), Some(entry.id));
    assert_eq!(
        model.architecture,
        Some(ModelArchitecture::Diffusion {
            family: DiffusionFamily::Sd15,
            unet_channels: 9,
        })
    );
    assert_eq!(model.path(), folder);
    assert_eq!(model.files.len(), entry.files.len());
    assert!(
        model
            .files
            .iter()
            .all(|f| f.verification == Verification::NoDigest && f.size.is_some())
    );
    assert!(
        discovery
            .skipped
            .iter()
            .any(|note| note.path.ends_with("half.partial")),
        "{:?}",
        discovery.skipped
    );
    let plan = Registry::new(None, Some(&discovery))
        .plan(Some("sd15-inpaint"))
        .unwrap();
    assert_eq!(plan.path.as_deref(), Some(folder.as_path()));

    // A plain UNet where the catalog has an inpainting one, or a missing file, is named.
    std::fs::remove_dir_all(&folder).unwrap();
    copy_dir(&tiny("plain"), &folder);
    std::fs::remove_file(folder.join("tokenizer/special_tokens_map.json")).unwrap();
    let discovery = Scanner::new().scan(&[ModelRoot::project(&project)]);
    let problems = discovery.models[0].problems.join("\n");
    assert!(problems.contains("not the expected model"), "{problems}");
    assert!(
        problems.contains("special_tokens_map.json is missing"),
        "{problems}"
    );
    let err = Registry::new(None, Some(&discovery))
        .plan(Some(entry.id))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not the expected model"), "{err}");

    // The same repository's snapshot in the Hugging Face cache is that catalog model too.
    let hub = dir.path().join("hub");
    let snapshot = hub.join(
        "models--jdp8--optimum-sd-inpainting-onnx-fp16/snapshots/\
         0b50b86000000000000000000000000000000000",
    );
    copy_dir(&tiny("inpaint"), &snapshot);
    let discovery = Scanner::new().scan(&[ModelRoot::hf_cache(&hub)]);
    let ids: Vec<&str> = discovery.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [entry.id]);
    assert!(discovery.models[0].is_usable(), "{:?}", discovery.models[0]);
    assert_eq!(discovery.models[0].path(), snapshot);
}

/// The models config's `architecture` names a diffusion folder as `sd-inpaint` (9-channel
/// UNet) or `sd` (4-channel), checked against the folder's UNet; a file where a folder is
/// expected, or a folder where one ONNX file is, is named too.
#[test]
fn the_config_names_diffusion_folders_by_their_unet() {
    use inpaint_registry::{ModelArchitecture, ModelsConfig, Registry};

    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    copy_dir(&tiny("plain"), &plain);
    let onnx = plain.join("unet/model.onnx");
    let plan = |architecture: &str, path: &Path| {
        let text = format!(
            "[models.mine]\npath = {:?}\narchitecture = \"{architecture}\"\n",
            path.display().to_string()
        );
        let config = ModelsConfig::parse(&text, &dir.path().join("models.toml")).unwrap();
        Registry::new(Some(&config), None)
            .plan(Some("mine"))
            .map_err(|e| e.to_string())
    };

    let ok = plan("sd", &plain).unwrap();
    assert_eq!(
        ok.architecture,
        ModelArchitecture::Diffusion {
            family: DiffusionFamily::Sd15,
            unet_channels: 4,
        }
    );
    assert_eq!(ok.path.as_deref(), Some(plain.as_path()));
    assert_eq!(
        plan("sd-inpaint", &tiny("inpaint")).unwrap().architecture,
        ModelArchitecture::Diffusion {
            family: DiffusionFamily::Sd15,
            unet_channels: 9,
        }
    );

    let err = plan("sd-inpaint", &plain).unwrap_err();
    assert!(
        err.contains("names a 9-channel UNet")
            && err.contains("takes 4 channels")
            && err.contains("set `architecture = \"sd\"`"),
        "{err}"
    );
    let err = plan("sd-inpaint", &onnx).unwrap_err();
    assert!(err.contains("is a file"), "{err}");
    let err = plan("lama-dynamic", &plain).unwrap_err();
    assert!(
        err.contains("is a folder") && err.contains("sd-inpaint"),
        "{err}"
    );
    let err = ModelsConfig::parse(
        "[models.mine]\narchitecture = \"sd3\"\n",
        &dir.path().join("models.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("sd-inpaint, sd, sdxl-inpaint, sdxl"), "{err}");

    // SDXL folders: `sdxl-inpaint` / `sdxl`, and the family is checked too.
    assert_eq!(
        plan("sdxl", &tiny_xl("plain")).unwrap().architecture,
        ModelArchitecture::Diffusion {
            family: DiffusionFamily::Sdxl,
            unet_channels: 4,
        }
    );
    let err = plan("sd", &tiny_xl("plain")).unwrap_err();
    assert!(
        err.contains("names a Stable Diffusion 1.5 pipeline")
            && err.contains("set `architecture = \"sdxl\"`"),
        "{err}"
    );
}

/// Merging a scan that found a diffusion folder writes `architecture = "sd-inpaint"`, and the
/// config reads back.
#[test]
fn a_merged_diffusion_folder_reads_back() {
    use inpaint_registry::{ConfigFile, ModelArchitecture, Scanner};

    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("models");
    copy_dir(&tiny("inpaint"), &project.join("mine"));
    let path = dir.path().join("models.toml");
    let mut file = ConfigFile::load(&path).unwrap();
    let report = file
        .merge(&Scanner::new().scan(&[ModelRoot::project(&project)]))
        .unwrap();
    assert_eq!(report.added, ["mine"]);
    assert!(file.text().contains("architecture = \"sd-inpaint\""));
    file.save().unwrap();
    let again = ConfigFile::load(&path).unwrap();
    assert_eq!(
        again.config().models["mine"].architecture,
        Some(ModelArchitecture::Diffusion {
            family: DiffusionFamily::Sd15,
            unet_channels: 9,
        })
    );
}
