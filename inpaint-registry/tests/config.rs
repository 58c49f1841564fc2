//! The models config: round trip, merging a scan, vanished files, backups, malformed files.

use std::fs;
use std::path::Path;

use inpaint_models::onnx::Device;
use inpaint_registry::{
    ConfigFile, Error, ModelArchitecture, ModelRoot, ModelsConfig, Registry, RootKind, Scanner,
};

use crate::support::*;

const USER_CONFIG: &str = r#"# my models
default_model = "telea"

[[roots]]
path = "loose"   # next to this file
kind = "loose"

[models.telea]
radius = 7.0 # wider than IOPaint's

[models."foo.onnx"]
path = "loose/foo.onnx"
architecture = "fcf"
device = "cpu"
description = "the FcF export, whatever the probe thinks"
discovered = true
"#;

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.toml");
    fs::write(&path, USER_CONFIG).unwrap();
    copy_fixture("fcf.onnx", &dir.path().join("loose/foo.onnx"));
    (dir, path)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_config_loads_and_saves_back_unchanged() {
    let (dir, path) = setup();
    let mut file = ConfigFile::load(&path).unwrap();
    let config = file.config();
    assert_eq!(config.default_model.as_deref(), Some("telea"));
    assert_eq!(config.roots, [ModelRoot::loose(dir.path().join("loose"))]);
    assert_eq!(config.models["telea"].radius, Some(7.0));
    let foo = &config.models["foo.onnx"];
    assert_eq!(
        foo.path.as_deref(),
        Some(dir.path().join("loose/foo.onnx").as_path())
    );
    assert_eq!(foo.device, Some(Device::Cpu));
    assert_eq!(foo.architecture.map(|a| a.name()), Some("fcf"));
    assert_eq!(file.text(), USER_CONFIG);
    let report = file.save().unwrap();
    assert!(!report.written && report.backup.is_none());
    assert_eq!(files_in(dir.path()), ["loose", "models.toml"]);
}

#[test]
fn merging_a_scan_adds_new_files_and_keeps_every_parameter() {
    let (dir, path) = setup();
    copy_fixture("lama_dynamic.onnx", &dir.path().join("loose/new.onnx"));
    write(&dir.path().join("loose/bad.onnx"), &random_bytes(100, 3));
    let mut file = ConfigFile::load(&path).unwrap();
    let discovery = Scanner::new().scan(&file.config().roots);

    let report = file.merge(&discovery).unwrap();
    assert_eq!(report.added, ["new.onnx"]);
    assert!(report.marked_missing.is_empty() && report.returned.is_empty());
    assert_eq!(report.not_added.len(), 1);
    assert_eq!(report.not_added[0].0, "bad.onnx");

    let text = file.text();
    // The user's text, comments included, is untouched; the new entry is appended.
    assert!(text.starts_with(USER_CONFIG), "{text}");
    assert!(text.contains("[models.\"new.onnx\"]"), "{text}");
    assert!(text.contains("architecture = \"lama-dynamic\""), "{text}");
    let config = file.config();
    // The user's architecture for foo.onnx wins over the probe's `migan`.
    assert_eq!(
        config.models["foo.onnx"].architecture,
        ModelArchitecture::parse("fcf").ok()
    );
    assert!(config.models["new.onnx"].discovered);

    let saved = file.save().unwrap();
    assert!(saved.written);
    // The backup holds exactly the previous file.
    let backup = saved.backup.unwrap();
    assert_eq!(backup, dir.path().join("models.toml.bak"));
    assert_eq!(fs::read_to_string(&backup).unwrap(), USER_CONFIG);
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    // No temporary file is left behind.
    assert_eq!(
        files_in(dir.path()),
        ["loose", "models.toml", "models.toml.bak"]
    );

    // Loading it again gives the same, and a second merge changes nothing.
    let mut again = ConfigFile::load(&path).unwrap();
    assert_eq!(again.config().models, file.config().models);
    let report = again.merge(&discovery).unwrap();
    assert!(!report.changed(), "{report:?}");
    assert!(!again.save().unwrap().written);
}

#[test]
fn a_vanished_file_is_marked_missing_not_deleted() {
    let (dir, path) = setup();
    fs::remove_file(dir.path().join("loose/foo.onnx")).unwrap();
    let mut file = ConfigFile::load(&path).unwrap();
    let report = file
        .merge(&Scanner::new().scan(&file.config().roots))
        .unwrap();
    assert_eq!(report.marked_missing, ["foo.onnx"]);
    let foo = &file.config().models["foo.onnx"];
    assert!(foo.missing);
    assert_eq!(foo.device, Some(Device::Cpu));
    assert!(foo.description.is_some());
    file.save().unwrap();
    assert!(
        fs::read_to_string(&path)
            .unwrap()
            .contains("missing = true")
    );

    // It comes back: `missing` goes, the rest stays.
    copy_fixture("fcf.onnx", &dir.path().join("loose/foo.onnx"));
    let mut file = ConfigFile::load(&path).unwrap();
    let report = file
        .merge(&Scanner::new().scan(&file.config().roots))
        .unwrap();
    assert_eq!(report.returned, ["foo.onnx"]);
    assert!(!file.config().models["foo.onnx"].missing);
    file.save().unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), USER_CONFIG);
}

#[test]
fn a_discovered_file_that_moved_gets_its_new_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.toml");
    let a = dir.path().join("a");
    copy_fixture("migan.onnx", &a.join("m.onnx"));
    fs::write(
        &path,
        "[[roots]]\npath = \"a\"\nkind = \"loose\"\n[[roots]]\npath = \"b\"\nkind = \"loose\"\n",
    )
    .unwrap();
    let mut file = ConfigFile::load(&path).unwrap();
    file.merge(&Scanner::new().scan(&file.config().roots))
        .unwrap();
    file.save().unwrap();

    copy_fixture("migan.onnx", &dir.path().join("b/m.onnx"));
    fs::remove_file(a.join("m.onnx")).unwrap();
    let mut file = ConfigFile::load(&path).unwrap();
    let report = file
        .merge(&Scanner::new().scan(&file.config().roots))
        .unwrap();
    assert_eq!(report.moved, ["m.onnx"]);
    assert!(report.marked_missing.is_empty());
    assert_eq!(
        file.config().models["m.onnx"].path.as_deref(),
        Some(
            std::path::absolute(dir.path().join("b/m.onnx"))
                .unwrap()
                .as_path()
        )
    );
}

#[test]
fn a_malformed_config_is_an_error_with_its_position_and_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.toml");
    for (text, line, column, says) in [
        (
            "[models.telea]\nradius = \n",
            2,
            10,
            "string values must be quoted",
        ),
        (
            "[models.telea]\nradus = 5.0\n",
            2,
            1,
            "unknown field `radus`",
        ),
        (
            "[models.x]\narchitecture = \"sdxl\"\n",
            2,
            16,
            "unknown architecture `sdxl`",
        ),
        (
            "[[roots]]\npath = \"/m\"\nkind = \"folder\"\n",
            3,
            8,
            "unknown root kind",
        ),
        (
            "[models.lama]\noutput_range = \"0-100\"\n",
            2,
            16,
            "unknown output range",
        ),
    ] {
        fs::write(&path, text).unwrap();
        let err = ConfigFile::load(&path).unwrap_err();
        let Error::Config {
            line: l,
            column: c,
            ref message,
            ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!((l, c), (line, column), "{text:?}: {err}");
        assert!(message.contains(says), "{text:?}: {message}");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:{line}:{column}: ", path.display())),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert_eq!(files_in(dir.path()), ["models.toml"]);
    }
}

#[test]
fn a_config_changed_on_disk_is_not_overwritten() {
    let (dir, path) = setup();
    copy_fixture("mat.onnx", &dir.path().join("loose/new.onnx"));
    let mut file = ConfigFile::load(&path).unwrap();
    file.merge(&Scanner::new().scan(&file.config().roots))
        .unwrap();
    let edited = format!("{USER_CONFIG}\n# edited meanwhile\n");
    fs::write(&path, &edited).unwrap();
    let err = file.save().unwrap_err();
    assert!(matches!(err, Error::ConfigChanged { .. }), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), edited);
    assert!(!dir.path().join("models.toml.bak").exists());
}

#[test]
fn a_missing_config_is_empty_and_created_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conf/models.toml");
    let mut file = ConfigFile::load(&path).unwrap();
    assert!(file.config().models.is_empty() && file.config().roots.is_empty());
    copy_fixture("migan_pipeline.onnx", &dir.path().join("m/x.onnx"));
    let d = Scanner::new().scan(&[ModelRoot {
        path: dir.path().join("m"),
        kind: RootKind::Loose,
    }]);
    assert_eq!(file.merge(&d).unwrap().added, ["x.onnx"]);
    let saved = file.save().unwrap();
    assert!(saved.written && saved.backup.is_none());
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("[models.\"x.onnx\"]\npath = "), "{text}");
    assert!(
        text.contains("architecture = \"migan-pipeline\"\ndiscovered = true\n"),
        "{text}"
    );
}

#[test]
fn the_remote_models_settings_are_read_and_its_key_never_is() {
    let source = std::path::Path::new("/etc/inpaint/models.toml");
    let config = ModelsConfig::parse(
        "[models.openai-compat]\nbase_url = \"http://127.0.0.1:8080/v1\"\nmodel = \"dall-e-2\"\n\
         budget_day = 0.5\nbudget_month = 0\nbudget_db = \"ledger.sqlite3\"\n",
        source,
    )
    .unwrap();
    let remote = config.models["openai-compat"].openai.clone().unwrap();
    assert_eq!(remote.base_url.as_deref(), Some("http://127.0.0.1:8080/v1"));
    assert_eq!(remote.model.as_deref(), Some("dall-e-2"));
    assert_eq!(
        (remote.budget_day, remote.budget_month),
        (Some(0.5), Some(0.0))
    );
    assert_eq!(
        remote.budget_db.as_deref(),
        Some(std::path::Path::new("/etc/inpaint/ledger.sqlite3"))
    );
    let err = ModelsConfig::parse(
        "[models.openai-compat]\napi_key = \"sk-secret-123\"\n",
        source,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("never stored in a config"), "{err}");
    assert!(!err.contains("sk-secret-123"), "{err}");
    let err = ModelsConfig::parse("[models.telea]\nbase_url = \"http://x\"\n", source)
        .unwrap_err()
        .to_string();
    assert!(err.contains("apply to `openai-compat` only"), "{err}");
    // The registry plans it (no file), and refuses parameters it does not take.
    let registry = Registry::new(Some(&config), None);
    let plan = registry.plan(Some("openai")).unwrap();
    assert_eq!(plan.architecture, ModelArchitecture::Api("openai-compat"));
    let with_radius =
        ModelsConfig::parse("[models.openai-compat]\nradius = 3.0\n", source).unwrap();
    assert!(
        Registry::new(Some(&with_radius), None)
            .plan(Some("openai-compat"))
            .is_err()
    );
}
