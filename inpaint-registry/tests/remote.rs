//! Models-config entries for remote models (`endpoint`, `remote_name`, …): parsed and checked
//! where they are written, planned without a file, and loaded through the remote backend
//! (against a port with nothing listening: the error comes from the client, not a fallback).

use std::path::Path;
use std::time::Duration;

use inpaint_models::onnx::Architecture;
use inpaint_registry::{ModelArchitecture, ModelManager, ModelsConfig, Registry};

const ENTRY: &str = r#"
[models.lama-remote]
architecture = "lama"
endpoint = "http://127.0.0.1:9/"
remote_name = "big-lama"
version = "3"
connect_timeout = 0.5
timeout = 30
aliases = ["lr"]
"#;

fn parse(text: &str) -> Result<ModelsConfig, String> {
    ModelsConfig::parse(text, Path::new("m.toml")).map_err(|e| e.to_string())
}

#[test]
fn remote_entries_parse_and_plan_without_a_file() {
    let config = parse(ENTRY).unwrap();
    let remote = config.models["lama-remote"].remote.clone().unwrap();
    assert_eq!(remote.endpoint, "http://127.0.0.1:9");
    assert_eq!(remote.remote_name, "big-lama");
    assert_eq!(remote.version.as_deref(), Some("3"));
    assert_eq!(remote.connect_timeout, Some(Duration::from_millis(500)));
    assert_eq!(remote.timeout, Some(Duration::from_secs(30)));

    let registry = Registry::new(Some(&config), None);
    let plan = registry.plan(Some("lr")).unwrap();
    assert_eq!(plan.id, "lama-remote");
    assert_eq!(plan.path, None);
    assert_eq!(plan.remote, Some(remote));
    assert_eq!(
        plan.architecture,
        ModelArchitecture::onnx(Architecture::Lama)
    );
}

#[test]
fn remote_entries_are_checked_where_they_are_written() {
    let cases = [
        (
            "[models.r]\narchitecture = \"lama\"\nendpoint = \"http://h:8000\"\n",
            "m.toml:3:12: models.r: a remote model needs `remote_name` with `endpoint`",
        ),
        (
            "[models.r]\narchitecture = \"lama\"\nendpoint = \"h:8000\"\nremote_name = \"x\"\n",
            "m.toml:3:12: models.r: endpoint `h:8000` must start with http:// or https://",
        ),
        (
            "[models.r]\nendpoint = \"http://h\"\nremote_name = \"x\"\n",
            "m.toml:2:12: models.r: a remote model needs `architecture` (its I/O contract)",
        ),
        (
            "[models.r]\narchitecture = \"lama\"\nendpoint = \"http://h\"\nremote_name = \"x\"\npath = \"a.onnx\"\n",
            "m.toml:5:8: models.r: `path` does not apply to a remote model (the server runs it)",
        ),
        (
            "[models.r]\narchitecture = \"lama\"\nendpoint = \"http://h\"\nremote_name = \"x\"\ntimeout = -1\n",
            "m.toml:5:11: models.r: `timeout` must be a positive number of seconds",
        ),
        (
            "[models.lama]\nversion = \"1\"\n",
            "m.toml:2:11: models.lama: `version` applies to a remote model (with `endpoint`)",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text).unwrap_err(), expected);
    }
    let classical = parse(
        "[models.r]\narchitecture = \"telea\"\nendpoint = \"http://h\"\nremote_name = \"x\"\n",
    )
    .unwrap();
    let err = Registry::new(Some(&classical), None)
        .plan(Some("r"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("telea runs in this process; it cannot be remote"),
        "{err}"
    );
}

/// Loading goes to the server (nothing listens on port 9 here): the error is the client's,
/// and nothing local is loaded in its place.
#[test]
fn remote_plans_load_through_the_remote_backend() {
    let config = parse(ENTRY).unwrap();
    let plan = Registry::new(Some(&config), None)
        .plan(Some("lama-remote"))
        .unwrap();
    let mut manager = ModelManager::new();
    let err = inpaint_core::error::full_message(&manager.load(plan).unwrap_err());
    if cfg!(feature = "remote") {
        assert!(
            err.contains("server http://127.0.0.1:9 model `big-lama` version 3: server readiness: cannot connect"),
            "{err}"
        );
    } else {
        assert!(err.contains("this build has no remote inference"), "{err}");
    }
    assert!(manager.active().is_none());
}
