//! A Triton model repository for one model: the deployment half of remote inference
//! (`inpaint_models::remote`, feature `remote`).

use std::fs;
use std::path::{Path, PathBuf};

use inpaint_models::onnx::triton_config;

use crate::catalog::ModelArchitecture;
use crate::error::{Error, Result};
use crate::fsutil::{copy_atomic, write_atomic};
use crate::probe::read_onnx;
use crate::registry::LoadPlan;

/// What [`export_triton`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TritonExport {
    /// `OUT_DIR/<name>`: the model's folder in the repository.
    pub dir: PathBuf,
    /// `OUT_DIR/<name>/config.pbtxt`.
    pub config: PathBuf,
    /// `OUT_DIR/<name>/1/model.onnx`, a copy of the model file.
    pub model: PathBuf,
}

/// Writes the model of `plan` into the Triton model repository `out_dir` as model `name`:
/// `<name>/config.pbtxt` (ONNX Runtime backend, the graph's shapes with its dynamic
/// dimensions as `-1`) and `<name>/1/model.onnx`. Triton, KServe (its Triton runtime) and any
/// server that reads this layout then serve it to a `RemoteModel` of the same architecture.
///
/// The file's ports are checked against the architecture first; each file is written to a
/// temporary name and renamed, so a failed export never leaves a half-written model.
pub fn export_triton(plan: &LoadPlan, out_dir: &Path, name: &str) -> Result<TritonExport> {
    let unsupported = |reason: String| Error::Unsupported {
        id: plan.id.clone(),
        reason,
    };
    let ModelArchitecture::Onnx { architecture, .. } = plan.architecture else {
        return Err(unsupported(format!(
            "{} runs in this process (no graph to serve); only ONNX models can be exported",
            plan.architecture
        )));
    };
    let Some(path) = &plan.path else {
        return Err(unsupported("the plan names no model file".into()));
    };
    let graph = read_onnx(path)?;
    let (inputs, outputs) = graph.ports();
    let config = triton_config(name, architecture, &inputs, &outputs).map_err(|err| {
        Error::InvalidParameter {
            id: plan.id.clone(),
            message: err.full_message(),
        }
    })?;
    let dir = out_dir.join(name);
    let version = dir.join("1");
    fs::create_dir_all(&version).map_err(|e| Error::io(&version, e))?;
    let model = version.join("model.onnx");
    copy_atomic(path, &model)?;
    let config_path = dir.join("config.pbtxt");
    write_atomic(&config_path, config.as_bytes())?;
    Ok(TritonExport {
        dir,
        config: config_path,
        model,
    })
}
