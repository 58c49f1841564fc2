//! The static catalog of known models: where each file comes from, its checksum, licence and
//! contract, and strict resolution of names against it.
//!
//! Digests and sizes are copied from the project's reference notes
//! (`iopaint-contracts.md` §6), never computed from guesses: a file whose digest is not known
//! is [`Integrity::Unverified`], with a note saying so.

use std::fmt;
use std::path::{Path, PathBuf};

use inpaint_models::diffusion::DiffusionFamily;
use inpaint_models::onnx::{Architecture, Device, OutputRange};

use crate::error::Result;
use crate::names::{DefaultSource, Matched, Name, resolve_in};

/// The model used when no name is given: PatchMatch, which needs no weights. Equal to
/// [`inpaint_models::DEFAULT_MODEL`].
pub const DEFAULT_MODEL: &str = "patchmatch";

/// The Hugging Face endpoint [`download_plan`] builds URLs for; a mirror is chosen with
/// [`PlannedFile::url_for_endpoint`].
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// What runs a model: one of `inpaint-models`' classical algorithms, or an ONNX graph of one
/// [`Architecture`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelArchitecture {
    /// A pure-Rust algorithm, built by [`inpaint_models::by_name`] with this name (one of
    /// [`inpaint_models::MODEL_NAMES`]).
    Classical(&'static str),
    /// A model served over the network, built by its own crate (`openai-compat`:
    /// `inpaint-openai`), not by this crate's manager.
    Api(&'static str),
    /// An ONNX graph with this architecture's contract.
    Onnx {
        /// The I/O contract.
        architecture: Architecture,
        /// For `lama-dynamic` graphs: the range of the output when it is known (from the
        /// catalog or the file's metadata). `None`: the file declares it, or the model
        /// assumes 0–1 and checks every run.
        output_range: Option<OutputRange>,
    },
    /// A Stable Diffusion pipeline (SD 1.5 or SDXL) in Optimum's ONNX layout (a folder), run
    /// by [`StableDiffusion`](inpaint_models::diffusion::StableDiffusion); it needs a prompt.
    Diffusion {
        /// SD 1.5 or SDXL.
        family: DiffusionFamily,
        /// The UNet's input channels: 9 for an inpainting UNet, 4 for a plain one (which
        /// inpaints by blending re-noised known latents, as diffusers does).
        unet_channels: usize,
    },
}

impl ModelArchitecture {
    /// An ONNX architecture with no output range given.
    pub const fn onnx(architecture: Architecture) -> Self {
        ModelArchitecture::Onnx {
            architecture,
            output_range: None,
        }
    }

    /// The names [`parse`](Self::parse) takes: the classical models', the ONNX
    /// architectures', then the Stable Diffusion folders' ([`DIFFUSION_NAMES`](Self::DIFFUSION_NAMES)).
    pub fn names() -> Vec<&'static str> {
        inpaint_models::MODEL_NAMES
            .iter()
            .chain(Architecture::NAMES.iter())
            .chain(Self::DIFFUSION_NAMES.iter())
            .copied()
            .collect()
    }

    /// The names of the Stable Diffusion folders, as [`name`](Self::name) gives them:
    /// `sd-inpaint` (a 9-channel inpainting UNet) and `sd` (a 4-channel text-to-image UNet),
    /// `sdxl-inpaint` and `sdxl` the same for SDXL.
    pub const DIFFUSION_NAMES: [&'static str; 4] = ["sd-inpaint", "sd", "sdxl-inpaint", "sdxl"];

    /// Parses a classical model name (`telea`, …), an ONNX architecture name (`lama`,
    /// `lama-dynamic`, …) or a Stable Diffusion folder's (`sd-inpaint`, `sd`, `sdxl-inpaint`,
    /// `sdxl`). `Err` lists the accepted names.
    pub fn parse(name: &str) -> std::result::Result<Self, String> {
        if let Some(&classical) = inpaint_models::MODEL_NAMES.iter().find(|&&n| n == name) {
            return Ok(ModelArchitecture::Classical(classical));
        }
        let diffusion = |family, unet_channels| {
            Ok(ModelArchitecture::Diffusion {
                family,
                unet_channels,
            })
        };
        match name {
            "sd-inpaint" => return diffusion(DiffusionFamily::Sd15, 9),
            "sd" => return diffusion(DiffusionFamily::Sd15, 4),
            "sdxl-inpaint" => return diffusion(DiffusionFamily::Sdxl, 9),
            "sdxl" => return diffusion(DiffusionFamily::Sdxl, 4),
            _ => {}
        }
        match name.parse::<Architecture>() {
            Ok(architecture) => Ok(ModelArchitecture::onnx(architecture)),
            Err(_) => Err(format!(
                "unknown architecture `{name}`; expected one of: {}",
                Self::names().join(", ")
            )),
        }
    }

    /// The architecture's name (`telea`, `lama-dynamic`, …).
    pub fn name(&self) -> &'static str {
        match self {
            ModelArchitecture::Classical(name) | ModelArchitecture::Api(name) => name,
            ModelArchitecture::Onnx { architecture, .. } => architecture.name(),
            ModelArchitecture::Diffusion {
                family: DiffusionFamily::Sdxl,
                unet_channels: 9,
            } => "sdxl-inpaint",
            ModelArchitecture::Diffusion {
                family: DiffusionFamily::Sdxl,
                ..
            } => "sdxl",
            ModelArchitecture::Diffusion {
                unet_channels: 9, ..
            } => "sd-inpaint",
            ModelArchitecture::Diffusion { .. } => "sd",
        }
    }

    /// Whether the model paints from a prompt (a diffusion model) rather than erasing.
    pub fn needs_prompt(&self) -> bool {
        matches!(self, ModelArchitecture::Diffusion { .. })
    }
}

impl fmt::Display for ModelArchitecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelArchitecture::Classical(name) => write!(f, "{name} (classical)"),
            ModelArchitecture::Api(name) => write!(f, "{name} (remote)"),
            ModelArchitecture::Onnx {
                architecture,
                output_range,
            } => {
                write!(f, "{architecture} (ONNX")?;
                match output_range {
                    Some(range) => write!(f, ", output {})", range_name(*range)),
                    None => f.write_str(")"),
                }
            }
            ModelArchitecture::Diffusion {
                family,
                unet_channels,
            } => {
                let kind = if *unet_channels == 9 {
                    "inpainting"
                } else {
                    "text-to-image"
                };
                write!(
                    f,
                    "{} ({family}, ONNX folder, {unet_channels}-channel {kind} UNet; needs a \
                     prompt)",
                    self.name()
                )
            }
        }
    }
}

/// `0-1` or `0-255`, as [`OutputRange`]'s `FromStr` takes them.
pub fn range_name(range: OutputRange) -> &'static str {
    match range {
        OutputRange::Unit => "0-1",
        OutputRange::Byte => "0-255",
    }
}

/// A Git revision of a Hugging Face repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revision {
    /// A full 40-hex commit: the file can never change under it.
    Commit(&'static str),
    /// A commit known only by its abbreviated hash (the Hub resolves it in URLs; a hub
    /// cache's snapshot folder has the full hash, matched by prefix).
    ShortCommit {
        /// The abbreviated hash.
        prefix: &'static str,
        /// Why only the prefix is known.
        note: &'static str,
    },
    /// A branch: the content may change; only the sha256 (when known) pins it.
    Branch {
        /// The branch name.
        name: &'static str,
        /// Why no commit is pinned.
        note: &'static str,
    },
}

impl Revision {
    /// The string to put in a `resolve/<revision>/` URL. Hugging Face resolves a branch, a
    /// tag or a full commit id, not an abbreviated one: with only a
    /// [`ShortCommit`](Self::ShortCommit) known, the URL names `main`, and the sha256 pins the
    /// content (a file that changed there is refused, never used).
    pub fn as_url_part(&self) -> &'static str {
        match self {
            Revision::Commit(commit) => commit,
            Revision::ShortCommit { .. } => "main",
            Revision::Branch { name, .. } => name,
        }
    }

    /// Whether a hub cache snapshot folder named `commit` (a full hash) is this revision.
    /// A branch matches no snapshot by name (a cache's `refs/<branch>` says which one it is).
    pub fn matches_commit(&self, commit: &str) -> bool {
        match self {
            Revision::Commit(full) => full.eq_ignore_ascii_case(commit),
            Revision::ShortCommit { prefix, .. } => commit
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix)),
            Revision::Branch { .. } => false,
        }
    }
}

/// Where a catalog file is downloaded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileSource {
    /// A file in a Hugging Face model repository.
    HuggingFace {
        /// `owner/name`.
        repo: &'static str,
        /// The revision the file is pinned to.
        revision: Revision,
        /// The file's path inside the repository.
        path: &'static str,
    },
    /// A plain URL.
    Url(&'static str),
}

impl FileSource {
    /// The download URL, with `endpoint` (e.g. [`DEFAULT_HF_ENDPOINT`] or a mirror) for
    /// Hugging Face files.
    pub fn url(&self, endpoint: &str) -> String {
        match self {
            FileSource::HuggingFace {
                repo,
                revision,
                path,
            } => format!(
                "{}/{repo}/resolve/{}/{path}",
                endpoint.trim_end_matches('/'),
                revision.as_url_part()
            ),
            FileSource::Url(url) => (*url).to_string(),
        }
    }
}

/// How a downloaded file is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Integrity {
    /// The file's sha256 is known (and its size, when recorded).
    Sha256 {
        /// Lower-case hex, 64 characters.
        digest: &'static str,
        /// The size in bytes, when recorded.
        size: Option<u64>,
        /// Where the digest comes from, and anything missing (an unknown size).
        note: &'static str,
    },
    /// No checksum is known: the file is accepted as downloaded. Never an invented digest.
    Unverified {
        /// Why, and what is known instead.
        note: &'static str,
    },
}

impl Integrity {
    /// The sha256, when known.
    pub fn sha256(&self) -> Option<&'static str> {
        match self {
            Integrity::Sha256 { digest, .. } => Some(digest),
            Integrity::Unverified { .. } => None,
        }
    }

    /// The size, when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            Integrity::Sha256 { size, .. } => *size,
            Integrity::Unverified { .. } => None,
        }
    }
}

/// One file of a catalog model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatalogFile {
    /// The file's name on disk: `<project root>/<model id>/<file_name>`. For a model of
    /// several files in folders (a Stable Diffusion pipeline) its path inside the model's
    /// folder, with `/` separators (`unet/model.onnx`).
    pub file_name: &'static str,
    /// Where it is downloaded from.
    pub source: FileSource,
    /// Other URLs serving the same bytes, tried in order after the source.
    pub mirrors: &'static [&'static str],
    /// How it is checked.
    pub integrity: Integrity,
}

/// A model's licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum License {
    /// An SPDX expression, with where it was read.
    Spdx {
        /// The expression, e.g. `Apache-2.0`.
        expression: &'static str,
        /// Where it comes from.
        source: &'static str,
    },
    /// Not recorded: check the source before redistributing.
    Unknown {
        /// What is known.
        note: &'static str,
    },
}

impl fmt::Display for License {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            License::Spdx { expression, .. } => f.write_str(expression),
            License::Unknown { .. } => f.write_str("unknown"),
        }
    }
}

/// What a model takes and gives, in short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpecSummary {
    /// `Some(n)`: the model only takes `n×n` (the pipeline crops, resizes and pads).
    pub fixed_size: Option<u32>,
    /// Height and width are padded to a multiple of this.
    pub pad_multiple: u32,
    /// Inputs, outputs and ranges, in words.
    pub summary: &'static str,
}

/// One known model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CatalogEntry {
    /// The id: lower case, no `.` or `/` (so it never collides with a discovered file's id).
    pub id: &'static str,
    /// Other names for it; unique across the catalog.
    pub aliases: &'static [&'static str],
    /// What runs it.
    pub architecture: ModelArchitecture,
    /// Its files (none for the classical models).
    pub files: &'static [CatalogFile],
    /// Its licence.
    pub license: License,
    /// Its contract, in short.
    pub spec: SpecSummary,
    /// Whether it needs a text prompt (false for every erase model here).
    pub needs_prompt: bool,
    /// Whether it sends the image over the network (the remote `openai-compat`).
    pub needs_network: bool,
    /// The devices it is expected to run on. For ONNX models these are the execution
    /// providers a build may enable (an operator a provider lacks falls back to the CPU);
    /// this project's tests run the CPU only.
    pub devices: &'static [Device],
    /// One line about the model.
    pub description: &'static str,
}

impl CatalogEntry {
    /// Where [`Scanner`](crate::Scanner) looks for this model's files in a project root, and
    /// where a downloader should put them: `<root>/<id>/`.
    pub fn install_dir(&self, project_root: &Path) -> PathBuf {
        project_root.join(self.id)
    }
}

const CPU_ONLY: &[Device] = &[Device::Cpu];
const ONNX_DEVICES: &[Device] = &[
    Device::Cpu,
    Device::Cuda { device_id: 0 },
    Device::TensorRt { device_id: 0 },
    Device::CoreMl,
    Device::DirectMl { device_id: 0 },
    Device::OpenVino,
    Device::Rocm { device_id: 0 },
];
const OURS: License = License::Spdx {
    expression: "MIT OR Apache-2.0",
    source: "implemented in this project (inpaint-models)",
};

/// The public Optimum ONNX export of SD 1.5 inpainting catalogued here (float16 graphs).
const SD15_INPAINT_REPO: &str = "jdp8/optimum-sd-inpainting-onnx-fp16";

/// One file of [`SD15_INPAINT_REPO`]: the Hub's pages give its commit only abbreviated, its
/// sizes rounded and no sha256, so nothing but the layout and the UNet's contract checks it.
const fn sd15_inpaint_file(file_name: &'static str) -> CatalogFile {
    CatalogFile {
        file_name,
        source: FileSource::HuggingFace {
            repo: SD15_INPAINT_REPO,
            revision: Revision::ShortCommit {
                prefix: "0b50b86",
                note: "the repository's one upload commit, seen abbreviated on its Hub pages",
            },
            path: file_name,
        },
        mirrors: &[],
        integrity: Integrity::Unverified {
            note: "no sha256 or exact size found in a public source (the Hub's pages show \
                   rounded sizes); discovery and the loader check the layout and the UNet's \
                   contract",
        },
    }
}

/// Every known model, the default first.
pub static CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        id: "patchmatch",
        aliases: &["pm"],
        architecture: ModelArchitecture::Classical("patchmatch"),
        files: &[],
        license: OURS,
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 1,
            summary: "multi-scale PatchMatch with patch voting; any size; no weights",
        },
        needs_prompt: false,
        needs_network: false,
        devices: CPU_ONLY,
        description: "Fills with texture copied from the rest of the image; the default",
    },
    CatalogEntry {
        id: "telea",
        aliases: &["opencv-telea"],
        architecture: ModelArchitecture::Classical("telea"),
        files: &[],
        license: OURS,
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 1,
            summary: "Telea's fast-marching method (OpenCV INPAINT_TELEA); any size; no weights",
        },
        needs_prompt: false,
        needs_network: false,
        devices: CPU_ONLY,
        description: "Fast, smooth fill for small holes and thin scratches",
    },
    CatalogEntry {
        id: "navier-stokes",
        aliases: &["ns", "opencv-ns", "navier_stokes"],
        architecture: ModelArchitecture::Classical("navier-stokes"),
        files: &[],
        license: OURS,
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 1,
            summary: "Navier-Stokes based fill (OpenCV INPAINT_NS); any size; no weights",
        },
        needs_prompt: false,
        needs_network: false,
        devices: CPU_ONLY,
        description: "Fluid-dynamics fill for small holes",
    },
    CatalogEntry {
        id: "lama",
        aliases: &["big-lama", "lama-fp32"],
        architecture: ModelArchitecture::Onnx {
            architecture: Architecture::Lama,
            output_range: Some(OutputRange::Byte),
        },
        files: &[CatalogFile {
            file_name: "lama_fp32.onnx",
            source: FileSource::HuggingFace {
                repo: "Carve/LaMa-ONNX",
                revision: Revision::ShortCommit {
                    prefix: "a3ee2fc",
                    note: "the reference notes record only the abbreviated commit a3ee2fc; an \
                           earlier upload (commit 9d292e1) has the same size and another \
                           sha256, so the sha256 below is what pins the content",
                },
                path: "lama_fp32.onnx",
            },
            mirrors: &[],
            integrity: Integrity::Sha256 {
                digest: "1faef5301d78db7dda502fe59966957ec4b79dd64e16f03ed96913c7a4eb68d6",
                size: Some(208_044_816),
                note: "LFS sha256 and size of lama_fp32.onnx at commit a3ee2fc \
                       (iopaint-contracts.md §6.1)",
            },
        }],
        license: License::Spdx {
            expression: "Apache-2.0",
            source: "Carve/LaMa-ONNX model card",
        },
        spec: SpecSummary {
            fixed_size: Some(512),
            pad_multiple: 512,
            summary: "`image` f32 [b,3,512,512] RGB 0–1 + `mask` f32 [b,1,512,512] (1 = hole) → \
                      `output` f32 0–255, already composited; opset 17",
        },
        needs_prompt: false,
        needs_network: false,
        devices: ONNX_DEVICES,
        description: "Big LaMa (Carve's ONNX export), fixed 512×512",
    },
    CatalogEntry {
        id: "lama-manga",
        aliases: &["manga-lama"],
        architecture: ModelArchitecture::Onnx {
            architecture: Architecture::LamaDynamic,
            output_range: Some(OutputRange::Unit),
        },
        files: &[CatalogFile {
            file_name: "lama-manga-dynamic.onnx",
            source: FileSource::HuggingFace {
                repo: "ogkalu/lama-manga-onnx-dynamic",
                revision: Revision::Branch {
                    name: "main",
                    note: "no commit recorded in the reference notes; the sha256 pins the \
                           content",
                },
                path: "lama-manga-dynamic.onnx",
            },
            mirrors: &[],
            integrity: Integrity::Sha256 {
                digest: "de31ffa5ba26916b8ea35319f6c12151ff9654d4261bccf0583a69bb095315f9",
                size: None,
                note: "sha256 from iopaint-contracts.md §6.2 (comic-translate); the size is \
                       not recorded",
            },
        }],
        license: License::Unknown {
            note: "not recorded in the reference notes; see the Hugging Face model card",
        },
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 8,
            summary: "`image` [1,3,H,W] RGB 0–1 + `mask` [1,1,H,W] (1 = hole) → output 0–1; \
                      H, W symbolic, padded to a multiple of 8",
        },
        needs_prompt: false,
        needs_network: false,
        devices: ONNX_DEVICES,
        description: "LaMa fine-tuned for manga and comics (comic-translate), any size",
    },
    CatalogEntry {
        id: "lama-fp16",
        aliases: &["rapidraw-lama"],
        architecture: ModelArchitecture::Onnx {
            architecture: Architecture::LamaDynamic,
            output_range: Some(OutputRange::Byte),
        },
        files: &[CatalogFile {
            file_name: "lama_fp16.onnx",
            source: FileSource::HuggingFace {
                repo: "CyberTimon/RapidRAW-Models",
                revision: Revision::Branch {
                    name: "main",
                    note: "no commit recorded in the reference notes; the sha256 pins the \
                           content",
                },
                path: "lama_fp16.onnx",
            },
            mirrors: &[],
            integrity: Integrity::Sha256 {
                digest: "2d6be6277c400d6f1b91819737f7c3da935e5c63d1b521d393be1196a2bfa82c",
                size: Some(111_545_583),
                note: "sha256 and size from iopaint-contracts.md §6.2 (RapidRAW's registry)",
            },
        }],
        license: License::Unknown {
            note: "not recorded in the reference notes; see the Hugging Face repository",
        },
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 8,
            summary: "`image`, `mask` float32 (fp16 weights inside) → output 0–255; dynamic \
                      size (RapidRAW feeds squares, 64-aligned, ≤ 768)",
        },
        needs_prompt: false,
        needs_network: false,
        devices: ONNX_DEVICES,
        description: "LaMa in half precision (RapidRAW), any size, half the download",
    },
    CatalogEntry {
        id: "migan",
        aliases: &["mi-gan"],
        architecture: ModelArchitecture::onnx(Architecture::Migan),
        files: &[CatalogFile {
            file_name: "migan.onnx",
            source: FileSource::HuggingFace {
                repo: "andraniksargsyan/migan",
                revision: Revision::Branch {
                    name: "main",
                    note: "no commit recorded in the reference notes",
                },
                path: "migan.onnx",
            },
            mirrors: &[],
            integrity: Integrity::Unverified {
                note: "no sha256 or size recorded in the reference notes; that this file is \
                       the official export is an inference (iopaint-contracts.md §6.3b)",
            },
        }],
        license: License::Unknown {
            note: "not recorded in the reference notes; the code is Picsart-AI-Research/MI-GAN",
        },
        spec: SpecSummary {
            fixed_size: Some(512),
            pad_multiple: 512,
            summary: "`input` f32 [1,4,512,512] = cat(known − 0.5, image·known), image −1…1 → \
                      `output` −1…1; opset 12",
        },
        needs_prompt: false,
        needs_network: false,
        devices: ONNX_DEVICES,
        description: "MI-GAN raw generator, fixed 512×512, very fast",
    },
    CatalogEntry {
        id: "migan-pipeline",
        aliases: &["mi-gan-pipeline", "migan-pipeline-v2"],
        architecture: ModelArchitecture::onnx(Architecture::MiganPipeline),
        files: &[CatalogFile {
            file_name: "migan_pipeline_v2.onnx",
            source: FileSource::HuggingFace {
                repo: "andraniksargsyan/migan",
                revision: Revision::Branch {
                    name: "main",
                    note: "no commit recorded in the reference notes",
                },
                path: "migan_pipeline_v2.onnx",
            },
            mirrors: &[
                "https://github.com/Sanster/models/releases/download/migan/migan_pipeline_v2.onnx",
            ],
            integrity: Integrity::Unverified {
                note: "no sha256 or size recorded in the reference notes",
            },
        }],
        license: License::Unknown {
            note: "not recorded in the reference notes; the code is Picsart-AI-Research/MI-GAN",
        },
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 1,
            summary: "uint8 `image` [1,3,H,W] + uint8 `mask` [1,1,H,W] (255 = known) → uint8 \
                      `result`, the whole image; crops and blends inside the graph",
        },
        needs_prompt: false,
        needs_network: false,
        devices: ONNX_DEVICES,
        description: "MI-GAN with its pre- and post-processing in the graph, any size",
    },
    CatalogEntry {
        id: "sd15-inpaint-fp16",
        aliases: &["sd15-inpaint", "stable-diffusion-inpainting"],
        architecture: ModelArchitecture::Diffusion {
            family: DiffusionFamily::Sd15,
            unet_channels: 9,
        },
        // Optimum's ONNX layout, as its exporter writes it (`task="inpainting"`); the folder
        // is what `crate::diffusion::inspect` and the loader read.
        files: &[
            sd15_inpaint_file("model_index.json"),
            sd15_inpaint_file("scheduler/scheduler_config.json"),
            sd15_inpaint_file("text_encoder/config.json"),
            sd15_inpaint_file("text_encoder/model.onnx"),
            sd15_inpaint_file("tokenizer/merges.txt"),
            sd15_inpaint_file("tokenizer/special_tokens_map.json"),
            sd15_inpaint_file("tokenizer/tokenizer_config.json"),
            sd15_inpaint_file("tokenizer/vocab.json"),
            sd15_inpaint_file("unet/config.json"),
            sd15_inpaint_file("unet/model.onnx"),
            sd15_inpaint_file("vae_decoder/config.json"),
            sd15_inpaint_file("vae_decoder/model.onnx"),
            sd15_inpaint_file("vae_encoder/config.json"),
            sd15_inpaint_file("vae_encoder/model.onnx"),
        ],
        license: License::Unknown {
            note: "the repository has no model card; SD 1.5 inpainting's weights \
                   (runwayml/stable-diffusion-inpainting) are under the CreativeML OpenRAIL-M \
                   licence",
        },
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 64,
            summary: "a folder in Optimum's ONNX layout: CLIP text encoder, 9-channel float16 \
                      UNet, VAE encoder and decoder; prompt, sampler, steps, guidance and seed \
                      per request; padded to what the graphs take (64 for SD 1.5)",
        },
        needs_prompt: true,
        needs_network: false,
        devices: ONNX_DEVICES,
        description: "Stable Diffusion 1.5 inpainting (Optimum ONNX export, float16), paints \
                      from a prompt; about 2 GB, unverified",
    },
    // No SDXL entry: the public SDXL ONNX exports found have a contract the loader refuses
    // (older Optimum or Olive exporters); see this crate's README, "Catalog".
    CatalogEntry {
        id: "openai-compat",
        aliases: &["openai"],
        architecture: ModelArchitecture::Api("openai-compat"),
        files: &[],
        license: License::Unknown {
            note: "a remote service: the terms of the server it is pointed at apply",
        },
        spec: SpecSummary {
            fixed_size: None,
            pad_multiple: 1,
            summary: "PNG `image` + `mask` (alpha 0 = fill) and a prompt to an OpenAI-compatible \
                      `images/edits` API; each region fitted to the API model's sizes \
                      (dall-e-2: 256/512/1024 squares; gpt-image-1: 1024x1024, 1536x1024, \
                      1024x1536); spending capped by a budget (inpaint-openai)",
        },
        needs_prompt: true,
        needs_network: true,
        // It runs on the server; nothing runs here.
        devices: &[],
        description: "OpenAI's gpt-image-1 / dall-e-2, or any server with that API; needs a key",
    },
];

/// The catalog entry with exactly this id (no aliases: see [`resolve`]).
pub fn entry(id: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.id == id)
}

/// A catalog entry a name resolved to, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// The entry.
    pub entry: &'static CatalogEntry,
    /// How the name matched (or that none was given and this is the default).
    pub matched: Matched,
}

/// Resolves a model name against the catalog: exact id, then alias. `None` gives
/// [`DEFAULT_MODEL`] and says so in [`Resolved::matched`]. An unknown name is an
/// [`Error::UnknownModel`](crate::Error::UnknownModel) listing the ids and the closest
/// match; there is no fallback.
///
/// ```
/// use inpaint_registry::{catalog, Matched};
///
/// assert_eq!(catalog::resolve(Some("big-lama"))?.entry.id, "lama");
/// let default = catalog::resolve(None)?;
/// assert_eq!(default.entry.id, "patchmatch");
/// assert!(matches!(default.matched, Matched::Default { .. }));
/// let err = catalog::resolve(Some("lamma")).unwrap_err().to_string();
/// assert!(err.contains("did you mean `lama`?"), "{err}");
/// # Ok::<(), inpaint_registry::Error>(())
/// ```
pub fn resolve(name: Option<&str>) -> Result<Resolved> {
    let Some(name) = name else {
        let entry = entry(DEFAULT_MODEL).unwrap_or(&CATALOG[0]);
        return Ok(Resolved {
            entry,
            matched: Matched::Default {
                source: DefaultSource::Catalog,
            },
        });
    };
    let (id, matched) = resolve_in(name, &catalog_names())?;
    let entry = entry(&id).unwrap_or(&CATALOG[0]);
    Ok(Resolved { entry, matched })
}

/// Every catalog id and alias.
pub(crate) fn catalog_names() -> Vec<Name<'static>> {
    let mut names = Vec::new();
    for entry in CATALOG {
        names.push(Name {
            name: entry.id,
            id: entry.id,
            alias: false,
        });
        for alias in entry.aliases {
            names.push(Name {
                name: alias,
                id: entry.id,
                alias: true,
            });
        }
    }
    names
}

/// One file to download for a model: what the downloader (`inpaint-download`) needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedFile {
    /// The model's id.
    pub model_id: &'static str,
    /// The URL at [`DEFAULT_HF_ENDPOINT`] (or the plain URL).
    pub url: String,
    /// Where the URL comes from, to rebuild it for another endpoint.
    pub source: FileSource,
    /// Other URLs with the same bytes.
    pub mirrors: &'static [&'static str],
    /// The name to store it under, in [`CatalogEntry::install_dir`].
    pub file_name: &'static str,
    /// The expected sha256, when known; `None` means the download cannot be verified.
    pub sha256: Option<&'static str>,
    /// The expected size, when known.
    pub size: Option<u64>,
}

impl PlannedFile {
    /// The URL with another Hugging Face endpoint (a mirror such as `HF_ENDPOINT`).
    pub fn url_for_endpoint(&self, endpoint: &str) -> String {
        self.source.url(endpoint)
    }
}

/// The files to download for the model `name` (an id or alias, resolved strictly): empty for
/// the classical models. Nothing is downloaded here; this crate has no network code.
///
/// ```
/// let plan = inpaint_registry::download_plan("lama")?;
/// assert_eq!(plan[0].url, "https://huggingface.co/Carve/LaMa-ONNX/resolve/main/lama_fp32.onnx");
/// assert_eq!(plan[0].size, Some(208_044_816));
/// assert!(inpaint_registry::download_plan("telea")?.is_empty());
/// # Ok::<(), inpaint_registry::Error>(())
/// ```
pub fn download_plan(name: &str) -> Result<Vec<PlannedFile>> {
    let entry = resolve(Some(name))?.entry;
    Ok(entry
        .files
        .iter()
        .map(|file| PlannedFile {
            model_id: entry.id,
            url: file.source.url(DEFAULT_HF_ENDPOINT),
            source: file.source,
            mirrors: file.mirrors,
            file_name: file.file_name,
            sha256: file.integrity.sha256(),
            size: file.integrity.size(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_models_crate_default() {
        assert_eq!(DEFAULT_MODEL, inpaint_models::DEFAULT_MODEL);
        assert_eq!(CATALOG[0].id, DEFAULT_MODEL);
    }

    #[test]
    fn ids_and_aliases_are_unique_and_well_formed() {
        let names = catalog_names();
        for (i, a) in names.iter().enumerate() {
            assert!(
                !a.name.contains(['.', '/']) && a.name == a.name.to_lowercase(),
                "{}",
                a.name
            );
            for b in &names[i + 1..] {
                assert_ne!(a.name, b.name, "duplicate name");
            }
        }
    }

    #[test]
    fn every_entry_is_consistent() {
        for entry in CATALOG {
            let remote = matches!(entry.architecture, ModelArchitecture::Api(_));
            assert_eq!(
                entry.needs_prompt,
                remote || entry.architecture.needs_prompt(),
                "{}",
                entry.id
            );
            assert_eq!(entry.needs_network, remote, "{}", entry.id);
            assert_eq!(entry.devices.is_empty(), remote, "{}", entry.id);
            match entry.architecture {
                ModelArchitecture::Api(name) => {
                    assert_eq!(name, entry.id);
                    assert!(entry.files.is_empty());
                }
                ModelArchitecture::Classical(name) => {
                    assert!(inpaint_models::MODEL_NAMES.contains(&name));
                    assert!(entry.files.is_empty());
                }
                ModelArchitecture::Onnx { architecture, .. } => {
                    assert!(!entry.files.is_empty(), "{}", entry.id);
                    assert_eq!(
                        entry.spec.fixed_size.is_some(),
                        matches!(
                            architecture,
                            Architecture::Lama
                                | Architecture::Migan
                                | Architecture::Fcf
                                | Architecture::Mat
                        )
                    );
                }
                ModelArchitecture::Diffusion {
                    family,
                    unet_channels,
                } => {
                    assert!(matches!(unet_channels, 4 | 9), "{}", entry.id);
                    assert_eq!(entry.spec.fixed_size, None, "{}", entry.id);
                    assert_eq!(
                        diffusion_file_problems(family, entry.files),
                        Vec::<String>::new(),
                        "{}",
                        entry.id
                    );
                }
            }
            for file in entry.files {
                if let Some(digest) = file.integrity.sha256() {
                    assert_eq!(digest.len(), 64, "{}", entry.id);
                    assert!(
                        digest
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    );
                }
            }
        }
    }

    /// The files of an Optimum ONNX export that a diffusion entry of `family` must list: every
    /// file discovery and the loader read, and each tokenizer's special tokens
    /// (`tokenizer_config.json`, `special_tokens_map.json`). SDXL's second tokenizer pads with
    /// `!`, which only those files say: without them the loader falls back to CLIP's
    /// `<|endoftext|>` and the prompt's embedding changes, silently.
    fn required_diffusion_files(family: DiffusionFamily) -> Vec<String> {
        let xl = family == DiffusionFamily::Sdxl;
        let graphs = crate::diffusion::GRAPHS
            .iter()
            .chain(xl.then_some(&crate::diffusion::SDXL_GRAPH));
        let tokenizers = ["tokenizer"].into_iter().chain(xl.then_some("tokenizer_2"));
        let mut required: Vec<String> = [
            "model_index.json",
            "scheduler/scheduler_config.json",
            "unet/config.json",
            "vae_encoder/config.json",
            "vae_decoder/config.json",
        ]
        .map(String::from)
        .into();
        required.extend(graphs.map(|g| format!("{g}/model.onnx")));
        for tokenizer in tokenizers {
            for file in [
                "vocab.json",
                "merges.txt",
                "tokenizer_config.json",
                "special_tokens_map.json",
            ] {
                required.push(format!("{tokenizer}/{file}"));
            }
        }
        required
    }

    /// What is wrong with a diffusion entry's files: one missing that
    /// [`required_diffusion_files`] names; for SDXL, no external-data file beside the UNet (its
    /// 2.6 billion weights are over protobuf's 2 GiB limit even in float16, so an export keeps
    /// them in `unet/model.onnx_data`); a path that is not a plain relative one, or listed
    /// twice; a path that differs from the one in the repository; files from more than one
    /// repository and revision.
    fn diffusion_file_problems(family: DiffusionFamily, files: &[CatalogFile]) -> Vec<String> {
        let names: Vec<&str> = files.iter().map(|f| f.file_name).collect();
        let mut problems: Vec<String> = required_diffusion_files(family)
            .into_iter()
            .filter(|file| !names.contains(&file.as_str()))
            .map(|file| format!("{file} missing"))
            .collect();
        let unet_weights = names.iter().any(|name| {
            name.strip_prefix("unet/")
                .is_some_and(|rest| !["model.onnx", "config.json"].contains(&rest))
        });
        if family == DiffusionFamily::Sdxl && !unet_weights {
            problems.push("no external-data file beside unet/model.onnx".to_string());
        }
        let mut sources = Vec::new();
        for (i, file) in files.iter().enumerate() {
            if !file
                .file_name
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..")
            {
                problems.push(format!("{}: not a plain relative path", file.file_name));
            }
            if names[..i].contains(&file.file_name) {
                problems.push(format!("{} twice", file.file_name));
            }
            match file.source {
                FileSource::HuggingFace {
                    repo,
                    revision,
                    path,
                } => {
                    if path != file.file_name {
                        problems.push(format!("{} is {path} in the repository", file.file_name));
                    }
                    sources.push((repo, revision));
                }
                FileSource::Url(url) => problems.push(format!("{url} is not in a repository")),
            }
        }
        if !sources.windows(2).all(|w| w[0] == w[1]) {
            problems.push("files from more than one repository or revision".to_string());
        }
        problems
    }

    /// Every file of an Optimum SDXL inpainting export (`optimum-cli export onnx --task
    /// inpainting` on an SDXL checkpoint), as `scripts/make-diffusion-fixtures.py` writes it,
    /// plus the UNet's and the second text encoder's external data, which only real sizes have.
    const SDXL_EXPORT: &[&str] = &[
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.onnx",
        "text_encoder_2/config.json",
        "text_encoder_2/model.onnx",
        "text_encoder_2/model.onnx_data",
        "tokenizer/merges.txt",
        "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json",
        "tokenizer/vocab.json",
        "tokenizer_2/merges.txt",
        "tokenizer_2/special_tokens_map.json",
        "tokenizer_2/tokenizer_config.json",
        "tokenizer_2/vocab.json",
        "unet/config.json",
        "unet/model.onnx",
        "unet/model.onnx_data",
        "vae_decoder/config.json",
        "vae_decoder/model.onnx",
        "vae_encoder/config.json",
        "vae_encoder/model.onnx",
    ];

    fn sdxl_file(file_name: &'static str) -> CatalogFile {
        CatalogFile {
            file_name,
            source: FileSource::HuggingFace {
                repo: "example/sdxl-inpainting-onnx",
                revision: Revision::Branch {
                    name: "main",
                    note: "",
                },
                path: file_name,
            },
            mirrors: &[],
            integrity: Integrity::Unverified { note: "" },
        }
    }

    /// The check that every diffusion entry passes holds SDXL entries to the second text
    /// encoder, the second tokenizer with its special tokens, and the UNet's external data;
    /// an SD 1.5 file list is not an SDXL one.
    #[test]
    fn sdxl_entries_must_list_the_second_encoder_and_tokenizer() {
        let export: Vec<CatalogFile> = SDXL_EXPORT.iter().map(|name| sdxl_file(name)).collect();
        assert_eq!(
            diffusion_file_problems(DiffusionFamily::Sdxl, &export),
            Vec::<String>::new()
        );
        let without = |gone: &str| -> Vec<String> {
            let files: Vec<CatalogFile> = export
                .iter()
                .filter(|f| f.file_name != gone)
                .copied()
                .collect();
            diffusion_file_problems(DiffusionFamily::Sdxl, &files)
        };
        for gone in [
            "text_encoder_2/model.onnx",
            "tokenizer_2/vocab.json",
            "tokenizer_2/tokenizer_config.json",
            "vae_encoder/config.json",
        ] {
            assert_eq!(without(gone), [format!("{gone} missing")]);
        }
        assert_eq!(
            without("unet/model.onnx_data"),
            ["no external-data file beside unet/model.onnx"]
        );

        let sd15 = entry("sd15-inpaint-fp16").unwrap();
        let problems = diffusion_file_problems(DiffusionFamily::Sdxl, sd15.files);
        for expected in [
            "text_encoder_2/model.onnx missing",
            "tokenizer_2/merges.txt missing",
            "tokenizer_2/special_tokens_map.json missing",
            "no external-data file beside unet/model.onnx",
        ] {
            assert!(problems.iter().any(|p| p == expected), "{problems:?}");
        }

        let mut mixed = export.clone();
        mixed[0].source = FileSource::HuggingFace {
            repo: "example/other",
            revision: Revision::Branch {
                name: "main",
                note: "",
            },
            path: "model_index.json",
        };
        mixed.push(sdxl_file("unet/model.onnx"));
        assert_eq!(
            diffusion_file_problems(DiffusionFamily::Sdxl, &mixed),
            [
                "unet/model.onnx twice",
                "files from more than one repository or revision"
            ]
        );
    }

    /// The files a diffusion entry must list are enough for discovery: a folder holding only
    /// those of a tiny export made by Optimum (`scripts/make-diffusion-fixtures.py`) is
    /// recognised, with its family; and each is in that export, so the check asks for nothing
    /// Optimum does not write.
    #[test]
    fn the_required_files_are_a_folder_discovery_accepts() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../inpaint-models/tests/fixtures/diffusion");
        for (family, tiny) in [
            (DiffusionFamily::Sd15, "sd15-tiny-inpaint"),
            (DiffusionFamily::Sdxl, "sdxl-tiny-inpaint"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            for file in required_diffusion_files(family) {
                let to = dir.path().join(&file);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(fixtures.join(tiny).join(&file), &to)
                    .unwrap_or_else(|e| panic!("{tiny}/{file}: {e}"));
            }
            let found = crate::diffusion::inspect(dir.path()).unwrap();
            assert_eq!((found.family, found.unet_channels), (family, 9));
        }
    }

    #[test]
    fn parse_architecture_names() {
        assert_eq!(
            ModelArchitecture::parse("telea"),
            Ok(ModelArchitecture::Classical("telea"))
        );
        assert_eq!(
            ModelArchitecture::parse("migan-pipeline"),
            Ok(ModelArchitecture::onnx(Architecture::MiganPipeline))
        );
        assert_eq!(
            ModelArchitecture::parse("sd-inpaint"),
            Ok(ModelArchitecture::Diffusion {
                family: DiffusionFamily::Sd15,
                unet_channels: 9
            })
        );
        assert_eq!(
            ModelArchitecture::parse("sd"),
            Ok(ModelArchitecture::Diffusion {
                family: DiffusionFamily::Sd15,
                unet_channels: 4
            })
        );
        assert_eq!(
            ModelArchitecture::parse("sdxl-inpaint"),
            Ok(ModelArchitecture::Diffusion {
                family: DiffusionFamily::Sdxl,
                unet_channels: 9
            })
        );
        let err = ModelArchitecture::parse("sd3").unwrap_err();
        assert!(err.contains("telea") && err.contains("sd-inpaint"), "{err}");
        // Every name parses back to an architecture of that name.
        for name in ModelArchitecture::names() {
            assert_eq!(ModelArchitecture::parse(name).map(|a| a.name()), Ok(name));
        }
    }

    #[test]
    fn short_revisions_match_full_snapshot_names() {
        let rev = Revision::ShortCommit {
            prefix: "a3ee2fc",
            note: "",
        };
        assert!(rev.matches_commit("a3ee2fc0123456789012345678901234567890ab"));
        assert!(!rev.matches_commit("9d292e1000000000000000000000000000000000"));
        assert!(!rev.matches_commit("a3e"));
    }
}
