//! Reading a `.safetensors` header (8-byte little-endian length, then JSON) without the
//! tensors, and recognising a few checkpoints from tensor names and shapes.
//!
//! The header is parsed and validated by the `safetensors` crate (dtypes, contiguous offsets,
//! sizes that match the shapes); only the header's bytes are read, so a multi-gigabyte UNet
//! costs a few hundred kilobytes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use inpaint_models::diffusion::DiffusionFamily;
use safetensors::tensor::{Metadata, TensorInfo};

/// The largest header read, in bytes. The format's own reference implementation refuses
/// headers over 100 MB; real ones are a few hundred kilobytes.
pub const MAX_HEADER: u64 = 100_000_000;

/// What a recognised safetensors checkpoint is. None of these run in this project (it runs
/// ONNX graphs); discovery reports them so a user sees what they have.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SafetensorsKind {
    /// A Stable Diffusion inpainting UNet: `conv_in` takes 9 channels (4 latent + 1 mask +
    /// 4 masked-image latent).
    StableDiffusionInpainting,
    /// A plain Stable Diffusion UNet: `conv_in` takes 4 channels.
    StableDiffusion,
    /// A Stable Diffusion XL inpainting UNet (SDXL inpainting 0.1 and its merges): 9 channels,
    /// and SDXL's added conditioning (see [`StableDiffusionXl`](Self::StableDiffusionXl)).
    StableDiffusionXlInpainting,
    /// A plain Stable Diffusion XL UNet (the base model and checkpoints trained from it, such
    /// as Juggernaut XL or RealVisXL): 4 channels, and a projection of the pooled text
    /// embedding and the size conditioning into the time embedding (2816 inputs; 2560 for the
    /// refiner's five time ids) that SD 1.x and 2.x UNets do not have.
    StableDiffusionXl,
    /// A Stable Diffusion 2 depth UNet: 5 channels.
    StableDiffusionDepth,
    /// MAT's PyTorch weights (ComfyUI's key
    /// `synthesis.first_stage.conv_first.conv.resample_filter`).
    MatWeights,
}

impl fmt::Display for SafetensorsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SafetensorsKind::StableDiffusionInpainting => "Stable Diffusion inpainting UNet",
            SafetensorsKind::StableDiffusion => "Stable Diffusion UNet (not an inpainting one)",
            SafetensorsKind::StableDiffusionXlInpainting => "Stable Diffusion XL inpainting UNet",
            SafetensorsKind::StableDiffusionXl => {
                "Stable Diffusion XL UNet (not an inpainting one)"
            }
            SafetensorsKind::StableDiffusionDepth => "Stable Diffusion depth UNet",
            SafetensorsKind::MatWeights => "MAT PyTorch weights",
        })
    }
}

impl SafetensorsKind {
    /// The Stable Diffusion family of a UNet checkpoint; `None` for the others (and for SD 2
    /// depth, which this project does not run).
    pub fn diffusion_family(&self) -> Option<DiffusionFamily> {
        match self {
            SafetensorsKind::StableDiffusionInpainting | SafetensorsKind::StableDiffusion => {
                Some(DiffusionFamily::Sd15)
            }
            SafetensorsKind::StableDiffusionXlInpainting | SafetensorsKind::StableDiffusionXl => {
                Some(DiffusionFamily::Sdxl)
            }
            SafetensorsKind::StableDiffusionDepth | SafetensorsKind::MatWeights => None,
        }
    }
}

/// A recognised safetensors file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SafetensorsIdentity {
    /// What it is.
    pub kind: SafetensorsKind,
    /// The tensor and shape that told (`conv_in.weight [320,9,3,3]`).
    pub evidence: String,
    /// How many tensors the header lists.
    pub tensors: usize,
}

/// Reads and checks the header of a file `len` bytes long; `Ok(Err(reason))` when the header
/// is valid but nothing is recognised, `Err(reason)` when the file is not valid safetensors.
pub(crate) fn identify<R: Read>(
    mut file: R,
    len: u64,
) -> Result<Result<SafetensorsIdentity, String>, Invalid> {
    if len < 8 {
        return Err(Invalid::Format(format!(
            "{len} bytes: too short for a safetensors header"
        )));
    }
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix).map_err(Invalid::Io)?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER {
        return Err(Invalid::Format(format!(
            "header length {header_len} exceeds the {MAX_HEADER}-byte limit (corrupt, or not \
             safetensors)"
        )));
    }
    if header_len > len - 8 {
        return Err(Invalid::Format(format!(
            "header length {header_len} runs beyond the file's {len} bytes (truncated or \
             corrupt)"
        )));
    }
    // Bounded by MAX_HEADER and the file's length above.
    let mut header = vec![0u8; usize::try_from(header_len).unwrap_or(0)];
    file.read_exact(&mut header).map_err(Invalid::Io)?;
    let data_len = len - 8 - header_len;

    let metadata: Metadata = serde_json::from_slice(&header).map_err(|err| {
        Invalid::Format(if err.is_data() {
            // The safetensors crate's own checks (dtype, offsets, sizes) surface here.
            format!("invalid header: {err}")
        } else {
            format!("header is not a JSON object: {err}")
        })
    })?;
    // As `SafeTensors::read_metadata` does on a whole file: the tensors fill the data section
    // exactly.
    let covered = metadata.data_len() as u64;
    if covered != data_len {
        let why = if covered > data_len {
            "truncated or corrupt"
        } else {
            "trailing bytes; safetensors readers refuse it"
        };
        return Err(Invalid::Format(format!(
            "the tensors cover {covered} bytes of a {data_len}-byte data section ({why})"
        )));
    }
    let tensors: BTreeMap<String, &TensorInfo> = metadata.tensors().into_iter().collect();
    Ok(recognise(&tensors))
}

/// Why a file is not valid safetensors.
#[derive(Debug)]
pub(crate) enum Invalid {
    Format(String),
    Io(std::io::Error),
}

fn recognise(tensors: &BTreeMap<String, &TensorInfo>) -> Result<SafetensorsIdentity, String> {
    let count = tensors.len();
    if let Some(name) = tensors
        .keys()
        .find(|k| k.ends_with("synthesis.first_stage.conv_first.conv.resample_filter"))
    {
        return Ok(SafetensorsIdentity {
            kind: SafetensorsKind::MatWeights,
            evidence: name.clone(),
            tensors: count,
        });
    }
    // Diffusers (`conv_in.weight`, possibly under `unet.`) or the original LDM layout.
    let conv_in = tensors.iter().find(|(k, _)| {
        *k == "conv_in.weight"
            || k.ends_with("unet.conv_in.weight")
            || k.ends_with("diffusion_model.input_blocks.0.0.weight")
    });
    let Some((name, entry)) = conv_in else {
        return Err(format!(
            "{count} tensors, none that tells what this is (no UNet `conv_in.weight` or \
             `input_blocks.0.0.weight`, no MAT key)"
        ));
    };
    let mut evidence = format!("{name} {:?}", entry.shape);
    if entry.shape.len() != 4 {
        return Err(format!(
            "{evidence}: a convolution weight should have 4 dims"
        ));
    }
    // SDXL projects the pooled text embedding (1280) and six 256-wide time ids (five for the
    // refiner) into the time embedding: diffusers' `add_embedding`, the original `label_emb`.
    let xl = tensors.iter().find(|(k, e)| {
        (k.ends_with("add_embedding.linear_1.weight") || k.ends_with("label_emb.0.0.weight"))
            && matches!(e.shape.as_slice(), [_, 2816 | 2560])
    });
    if let Some((name, entry)) = xl {
        evidence.push_str(&format!(", {name} {:?}", entry.shape));
    }
    let kind = match (entry.shape[1], xl.is_some()) {
        (9, false) => SafetensorsKind::StableDiffusionInpainting,
        (4, false) => SafetensorsKind::StableDiffusion,
        (9, true) => SafetensorsKind::StableDiffusionXlInpainting,
        (4, true) => SafetensorsKind::StableDiffusionXl,
        (5, _) => SafetensorsKind::StableDiffusionDepth,
        (other, _) => {
            return Err(format!(
                "{evidence}: a UNet with {other} input channels (known: 4 plain, 5 depth, 9 \
                 inpainting)"
            ));
        }
    };
    Ok(SafetensorsIdentity {
        kind,
        evidence,
        tensors: count,
    })
}
