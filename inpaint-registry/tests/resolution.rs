//! Strict names: exact id, alias, unknown with a suggestion, the default only without a name;
//! the catalog and the download plan.

use std::path::Path;

use inpaint_models::onnx::{Architecture, Device, DevicePolicy, OutputRange};
use inpaint_registry::{
    CATALOG, DefaultSource, Error, Integrity, Matched, ModelArchitecture, ModelRoot, ModelsConfig,
    Registry, Scanner, catalog, download_plan,
};

use crate::support::*;

fn unknown(err: Error) -> (String, Vec<String>, Option<String>) {
    match err {
        Error::UnknownModel {
            requested,
            known,
            suggestion,
        } => (requested, known, suggestion),
        other => panic!("{other}"),
    }
}

#[test]
fn exact_ids_resolve_to_themselves() {
    for entry in CATALOG {
        let resolved = catalog::resolve(Some(entry.id)).unwrap();
        assert_eq!(resolved.entry.id, entry.id);
        assert_eq!(resolved.matched, Matched::Id);
    }
}

#[test]
fn aliases_resolve_and_say_so() {
    let resolved = catalog::resolve(Some("big-lama")).unwrap();
    assert_eq!(resolved.entry.id, "lama");
    assert_eq!(
        resolved.matched,
        Matched::Alias {
            alias: "big-lama".into()
        }
    );
    assert_eq!(
        catalog::resolve(Some("ns")).unwrap().entry.id,
        "navier-stokes"
    );
}

#[test]
fn unknown_names_list_the_ids_and_the_closest_one() {
    let err = catalog::resolve(Some("lamma")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown model `lamma`; known models: lama, lama-fp16, lama-manga, migan, \
         migan-pipeline, navier-stokes, openai-compat, patchmatch, sd15-inpaint-fp16, telea (did you \
         mean `lama`?)"
    );
    let (requested, known, suggestion) = unknown(catalog::resolve(Some("Telea")).unwrap_err());
    assert_eq!(requested, "Telea");
    assert_eq!(known.len(), CATALOG.len());
    assert_eq!(
        suggestion.as_deref(),
        Some("telea"),
        "ids are case-sensitive"
    );
    let (_, _, suggestion) = unknown(catalog::resolve(Some("stable-diffusion")).unwrap_err());
    assert_eq!(suggestion, None);
}

#[test]
fn the_default_applies_only_when_no_name_is_given() {
    let resolved = catalog::resolve(None).unwrap();
    assert_eq!(resolved.entry.id, "patchmatch");
    assert_eq!(
        resolved.matched,
        Matched::Default {
            source: DefaultSource::Catalog
        }
    );
    // An empty name is a name: it is unknown, not the default.
    assert!(matches!(
        catalog::resolve(Some("")),
        Err(Error::UnknownModel { .. })
    ));
    let registry = Registry::default();
    assert_eq!(registry.resolve(None).unwrap().id, "patchmatch");
    assert!(registry.resolve(Some("")).is_err());
}

#[test]
fn the_registry_adds_config_and_discovered_names() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture("migan.onnx", &dir.path().join("foo.onnx"));
    let discovery = Scanner::new().scan(&[ModelRoot::loose(dir.path())]);
    let config = ModelsConfig::parse(
        "default_model = \"quick\"\n\
         [models.telea]\naliases = [\"quick\"]\nradius = 3.0\n\
         [models.\"foo.onnx\"]\naliases = [\"foo\"]\ndevice = \"auto\"\n",
        Path::new("/etc/models.toml"),
    )
    .unwrap();
    let registry = Registry::new(Some(&config), Some(&discovery));

    let default = registry.resolve(None).unwrap();
    assert_eq!(default.id, "telea");
    assert_eq!(
        default.matched,
        Matched::Default {
            source: DefaultSource::Config
        }
    );
    assert_eq!(
        registry.resolve(Some("foo.onnx")).unwrap().matched,
        Matched::Id
    );
    let foo = registry.resolve(Some("foo")).unwrap();
    assert_eq!(foo.id, "foo.onnx");
    assert!(matches!(foo.matched, Matched::Alias { .. }));
    let (_, known, suggestion) = unknown(registry.resolve(Some("fooo")).unwrap_err());
    assert!(known.contains(&"foo.onnx".to_string()));
    assert_eq!(suggestion.as_deref(), Some("foo"));

    // Plans carry the config's parameters.
    let plan = registry.plan(Some("foo")).unwrap();
    assert_eq!(
        plan.architecture,
        ModelArchitecture::onnx(Architecture::Migan)
    );
    assert_eq!(
        plan.path.as_deref(),
        Some(dir.path().join("foo.onnx").as_path())
    );
    assert_eq!(plan.device, DevicePolicy::Prefer(vec![Device::Auto]));
    let plan = registry.plan(None).unwrap();
    assert_eq!(plan.options.radius, Some(3.0));
    assert_eq!(plan.device, DevicePolicy::Require(Device::Cpu));
}

#[test]
fn an_unknown_default_model_points_at_the_config_line() {
    let config = ModelsConfig::parse(
        "# models\ndefault_model = \"lamaa\"\n",
        Path::new("/etc/models.toml"),
    )
    .unwrap();
    let err = Registry::new(Some(&config), None)
        .resolve(None)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/etc/models.toml:2:17: default_model: unknown model `lamaa`"),
        "{err}"
    );
}

#[test]
fn plans_say_what_is_missing_and_refuse_stray_parameters() {
    let config = ModelsConfig::parse(
        "[[roots]]\npath = \"/models\"\nkind = \"project\"\n\
         [models.lama]\nradius = 3.0\n\
         [models.patchmatch]\nradius = 3.0\n",
        Path::new("/etc/models.toml"),
    )
    .unwrap();
    let registry = Registry::new(Some(&config), None);
    match registry.plan(Some("migan")).unwrap_err() {
        Error::NotInstalled {
            id,
            missing,
            reason,
        } => {
            assert_eq!(id, "migan");
            assert_eq!(missing, [Path::new("/models/migan/migan.onnx")]);
            assert!(reason.contains("not downloaded"), "{reason}");
        }
        other => panic!("{other}"),
    }
    let err = registry.plan(Some("patchmatch")).unwrap_err().to_string();
    assert!(
        err.contains("radius option does not apply to `patchmatch`"),
        "{err}"
    );
    let err = registry.plan(Some("lama")).unwrap_err().to_string();
    assert_eq!(
        err,
        "model `lama`: the radius parameter does not apply to lama (ONNX, output 0-255)"
    );
}

#[test]
fn the_catalog_pins_what_the_reference_records() {
    let lama = download_plan("lama").unwrap();
    assert_eq!(lama.len(), 1);
    assert_eq!(
        lama[0].url,
        "https://huggingface.co/Carve/LaMa-ONNX/resolve/main/lama_fp32.onnx"
    );
    assert_eq!(
        lama[0].sha256,
        Some("1faef5301d78db7dda502fe59966957ec4b79dd64e16f03ed96913c7a4eb68d6")
    );
    assert_eq!(lama[0].size, Some(208_044_816));
    assert_eq!(
        lama[0].url_for_endpoint("https://hf-mirror.com/"),
        "https://hf-mirror.com/Carve/LaMa-ONNX/resolve/main/lama_fp32.onnx"
    );

    let manga = download_plan("manga-lama").unwrap();
    assert_eq!(manga[0].model_id, "lama-manga");
    assert_eq!(
        manga[0].sha256,
        Some("de31ffa5ba26916b8ea35319f6c12151ff9654d4261bccf0583a69bb095315f9")
    );
    assert_eq!(manga[0].size, None);

    let fp16 = download_plan("lama-fp16").unwrap();
    assert_eq!(
        fp16[0].sha256,
        Some("2d6be6277c400d6f1b91819737f7c3da935e5c63d1b521d393be1196a2bfa82c")
    );
    assert_eq!(fp16[0].size, Some(111_545_583));

    for id in ["migan", "migan-pipeline"] {
        let plan = download_plan(id).unwrap();
        assert_eq!((plan[0].sha256, plan[0].size), (None, None), "{id}");
    }
    assert_eq!(
        download_plan("migan-pipeline").unwrap()[0].mirrors,
        ["https://github.com/Sanster/models/releases/download/migan/migan_pipeline_v2.onnx"]
    );
    for id in ["telea", "navier-stokes", "patchmatch"] {
        assert!(download_plan(id).unwrap().is_empty());
    }
    assert!(matches!(
        download_plan("big_lama"),
        Err(Error::UnknownModel { .. })
    ));
}

#[test]
fn every_entry_says_how_it_is_checked_and_what_it_outputs() {
    for entry in CATALOG {
        // The remote model and the diffusion pipelines take a prompt; only the remote one
        // the network.
        let remote = matches!(entry.architecture, ModelArchitecture::Api(_));
        let diffusion = matches!(entry.architecture, ModelArchitecture::Diffusion { .. });
        assert_eq!(entry.needs_prompt, remote || diffusion, "{}", entry.id);
        assert_eq!(entry.needs_network, remote, "{}", entry.id);
        for file in entry.files {
            match file.integrity {
                Integrity::Sha256 { digest, note, .. } => {
                    assert_eq!(digest.len(), 64);
                    assert!(!note.is_empty());
                }
                Integrity::Unverified { note } => assert!(!note.is_empty(), "{}", entry.id),
                _ => panic!("a new kind of integrity: test it"),
            }
        }
        if let ModelArchitecture::Onnx {
            architecture: Architecture::LamaDynamic,
            output_range,
        } = entry.architecture
        {
            assert!(output_range.is_some(), "{}: say the range", entry.id);
        }
    }
    let remote = catalog::resolve(Some("openai")).unwrap().entry;
    assert_eq!(remote.id, "openai-compat");
    assert!(remote.files.is_empty() && download_plan("openai-compat").unwrap().is_empty());
    assert_eq!(
        catalog::entry("lama-fp16").unwrap().architecture,
        ModelArchitecture::Onnx {
            architecture: Architecture::LamaDynamic,
            output_range: Some(OutputRange::Byte)
        }
    );
}
