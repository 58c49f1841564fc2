//! Stable Diffusion pipelines on disk (SD 1.5 and SDXL): folders in Optimum's ONNX layout
//! (`model_index.json`, `unet/model.onnx`, …), found in model roots and the Hugging Face cache
//! and identified by their UNet's contract — read from the file without ONNX Runtime, judged by
//! the same check that
//! [`StableDiffusion::load`](inpaint_models::diffusion::StableDiffusion::load) applies.
//!
//! A single-file checkpoint (`.safetensors` holding a Stable Diffusion UNet) is not runnable
//! here; [`export_command`] gives the commands that turn it into such a folder.

use std::fs;
use std::path::{Path, PathBuf};

use inpaint_models::diffusion::DiffusionFamily;
use inpaint_models::onnx::{Element, GraphPort};

use crate::discover::{ModelRoot, RootKind};
use crate::error::{Error, Result};
use crate::probe::{self, Dim, ValueKind};

/// The graph folders an SD 1.5 inpainting export must hold.
pub const GRAPHS: [&str; 4] = ["text_encoder", "unet", "vae_encoder", "vae_decoder"];

/// The graph folder whose presence makes a folder an SDXL export (which also needs
/// `tokenizer_2/`).
pub const SDXL_GRAPH: &str = "text_encoder_2";

/// A folder that holds a Stable Diffusion pipeline in Optimum's ONNX layout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffusionFolder {
    /// The folder (the one holding `model_index.json`).
    pub path: PathBuf,
    /// SD 1.5 or SDXL, by the UNet's inputs.
    pub family: DiffusionFamily,
    /// The UNet's input channels: 9 for an inpainting UNet, 4 for a plain one.
    pub unet_channels: usize,
    /// Whether the UNet is float16.
    pub float16: bool,
}

/// Checks that `dir` is an SD 1.5 or SDXL pipeline in Optimum's ONNX layout:
/// `model_index.json`, the four graphs (SDXL: and `text_encoder_2`), the tokenizer (SDXL: and
/// `tokenizer_2`) and the scheduler config, and a UNet with the contract of its family. Reads
/// the UNet's inputs and outputs only (the weights are skipped). Each missing file is named.
pub fn inspect(dir: &Path) -> Result<DiffusionFolder> {
    let xl = dir.join(SDXL_GRAPH).is_dir();
    let mut required: Vec<PathBuf> = vec![dir.join("model_index.json")];
    required.extend(GRAPHS.iter().map(|g| dir.join(g).join("model.onnx")));
    let mut tokenizers = vec!["tokenizer"];
    if xl {
        required.push(dir.join(SDXL_GRAPH).join("model.onnx"));
        tokenizers.push("tokenizer_2");
    }
    required.push(dir.join("scheduler").join("scheduler_config.json"));
    for tokenizer in tokenizers {
        if !dir.join(tokenizer).join("tokenizer.json").is_file() {
            required.push(dir.join(tokenizer).join("vocab.json"));
            required.push(dir.join(tokenizer).join("merges.txt"));
        }
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::NotIdentified {
            path: dir.to_path_buf(),
            reason: format!(
                "not a complete Optimum ONNX export: missing {}",
                missing.join(", ")
            ),
        });
    }
    let unet = dir.join("unet").join("model.onnx");
    let graph = probe::read_onnx(&unet)?;
    let inputs: Vec<GraphPort> = graph.inputs.iter().map(graph_port).collect();
    let outputs: Vec<GraphPort> = graph.outputs.iter().map(graph_port).collect();
    let kind = inpaint_models::diffusion::unet_kind(&inputs, &outputs).map_err(|reason| {
        Error::NotIdentified {
            path: unet.clone(),
            reason: format!("not a Stable Diffusion UNet: {reason}"),
        }
    })?;
    let expected = if xl {
        DiffusionFamily::Sdxl
    } else {
        DiffusionFamily::Sd15
    };
    if kind.family != expected {
        return Err(Error::NotIdentified {
            path: unet,
            reason: format!("a {} UNet in a {expected} folder", kind.family),
        });
    }
    let float16 = inputs
        .iter()
        .any(|p| p.name == "sample" && p.element == Some(Element::Float16));
    Ok(DiffusionFolder {
        path: dir.to_path_buf(),
        family: kind.family,
        unet_channels: kind.channels,
        float16,
    })
}

/// The probe's port as the model crate's contract check reads it.
fn graph_port(port: &probe::Port) -> GraphPort {
    match &port.kind {
        ValueKind::Tensor { elem_type, shape } => GraphPort {
            name: port.name.clone(),
            element: Some(Element::from_onnx_code(i64::from(*elem_type))),
            dims: shape
                .iter()
                .flatten()
                .map(|d| match d {
                    Dim::Fixed(n) => *n,
                    Dim::Symbolic(_) => -1,
                })
                .collect(),
        },
        ValueKind::Other(_) => GraphPort {
            name: port.name.clone(),
            element: None,
            dims: Vec::new(),
        },
    }
}

/// Every folder holding a `model_index.json` under the roots (a project root's
/// `<root>/<id>/`, a Hugging Face cache's `models--*/snapshots/<commit>/`, a loose root's folders
/// up to 4 levels deep), each inspected: the good ones, and the others with why.
pub fn find(roots: &[ModelRoot]) -> (Vec<DiffusionFolder>, Vec<Error>) {
    let mut candidates = Vec::new();
    for root in roots {
        let depth = match root.kind {
            RootKind::Project => 1,
            // models--org--name/snapshots/<commit>
            RootKind::HfCache => 3,
            _ => 4,
        };
        collect(&root.path, depth, &mut candidates);
    }
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for dir in candidates {
        match inspect(&dir) {
            Ok(folder) => found.push(folder),
            Err(err) => problems.push(err),
        }
    }
    (found, problems)
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join("model_index.json").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    // Hidden folders are skipped, as discovery does: a download's staging folder
    // (`.<id>.partial`) is not a model yet.
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    dirs.sort();
    for sub in dirs {
        collect(&sub, depth - 1, out);
    }
}

/// The commands that turn a single-file Stable Diffusion checkpoint of `family` into a folder
/// this project runs: diffusers converts it to its folder layout with the inpainting pipeline
/// IOPaint loads it with (`StableDiffusionInpaintPipeline`, SDXL:
/// `StableDiffusionXLInpaintPipeline`), then Optimum exports the ONNX graphs (in float32, so an
/// SDXL VAE needs no fp16 fix).
pub fn export_command(checkpoint: &Path, family: DiffusionFamily) -> String {
    let stem = checkpoint
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let parent = checkpoint.parent().unwrap_or(Path::new("."));
    let diffusers_dir = parent.join(format!("{stem}-diffusers"));
    let onnx_dir = parent.join(format!("{stem}-onnx"));
    let pipeline = if family == DiffusionFamily::Sdxl {
        "StableDiffusionXLInpaintPipeline"
    } else {
        "StableDiffusionInpaintPipeline"
    };
    format!(
        "python -c \"from diffusers import {pipeline} as P; \
         P.from_single_file('{}').save_pretrained('{}')\" && optimum-cli export onnx --model {} \
         --task inpainting {}",
        checkpoint.display(),
        diffusers_dir.display(),
        diffusers_dir.display(),
        onnx_dir.display()
    )
}
