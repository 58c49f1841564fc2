//! Whether a diffusion model's weights fit in memory, checked before anything is loaded, so that
//! a machine too small gets an error that says so instead of a visit from the OOM killer.
//!
//! The estimate is the size of each graph's files (`model.onnx` and its external data):
//! ONNX Runtime holds the weights once, in their file's precision — except float16 weights
//! on the CPU, which it also casts to float32 for the kernels it lacks (an SDXL-sized float16
//! export peaked higher than the float32 one there). What a run adds on top (activations, the
//! arena) grows with the image: BENCHMARKS.md gives measured peaks (SDXL at 1024²: 4–9 GB
//! on top of the weights).

use std::path::Path;

use inpaint_core::{Error, Result};

/// The memory a model's weights must fit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MemoryLimit {
    /// What the system says is available now (`MemAvailable` in `/proc/meminfo`); where
    /// that cannot be read (not Linux), nothing is checked.
    #[default]
    Available,
    /// This many bytes, whatever the system says (for a container's limit, or a test).
    Bytes(u64),
    /// No check.
    Unchecked,
}

/// `MemAvailable` from `/proc/meminfo`, in bytes; `None` where it cannot be read.
pub fn available_memory() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// The `MemAvailable:` line of a `/proc/meminfo` text, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// The bytes a graph folder's weights take: every file in it but the JSON configs
/// (`model.onnx` and any external-data file beside it).
pub(crate) fn graph_bytes(dir: &Path) -> Result<u64> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut total = 0u64;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            continue;
        }
        let metadata = std::fs::metadata(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if metadata.is_file() {
            total = total.saturating_add(metadata.len());
        }
    }
    Ok(total)
}

/// The bytes resident at once: every graph, or with stages loaded on demand the UNet and the
/// largest other graph.
pub(crate) fn resident_bytes(sizes: &[(&str, u64)], on_demand: bool) -> u64 {
    let unet: u64 = sizes
        .iter()
        .filter(|(g, _)| *g == "unet")
        .map(|(_, b)| b)
        .sum();
    let others = sizes.iter().filter(|(g, _)| *g != "unet").map(|(_, b)| *b);
    if on_demand {
        unet.saturating_add(others.max().unwrap_or(0))
    } else {
        others.fold(unet, u64::saturating_add)
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Refuses, before loading, a model whose weights (`sizes`, per graph) exceed `limit`.
pub(crate) fn check_fits(
    model: &str,
    dir: &Path,
    sizes: &[(&str, u64)],
    on_demand: bool,
    limit: &MemoryLimit,
) -> Result<()> {
    let (available, source) = match limit {
        MemoryLimit::Unchecked => return Ok(()),
        MemoryLimit::Bytes(bytes) => (*bytes, "the memory limit given"),
        MemoryLimit::Available => match available_memory() {
            Some(bytes) => (bytes, "MemAvailable in /proc/meminfo"),
            None => {
                tracing::debug!("no /proc/meminfo: the memory check is skipped");
                return Ok(());
            }
        },
    };
    let needed = resident_bytes(sizes, on_demand);
    if needed <= available {
        return Ok(());
    }
    let listed: Vec<String> = sizes
        .iter()
        .map(|(g, b)| format!("{g} {}", gib(*b)))
        .collect();
    let hint = if !on_demand && resident_bytes(sizes, true) <= available {
        format!(
            "; loading the text encoders and the VAE only while they run would need {} \
             (DiffusionOptions::load_stages_on_demand)",
            gib(resident_bytes(sizes, true))
        )
    } else {
        String::new()
    };
    Err(Error::runtime(format!(
        "{model} at {}: its weights need {} ({}) but only {} is available ({source}){hint}; \
         a float16 export takes half on a GPU (not on the CPU, where ONNX Runtime adds float32 \
         copies of the weights); the check can be overridden with DiffusionOptions::memory_limit",
        dir.display(),
        gib(needed),
        listed.join(", "),
        gib(available)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots\n"), None);
    }

    #[test]
    fn on_demand_keeps_the_unet_and_the_largest_other_graph() {
        let sizes = [("text_encoder", 5), ("unet", 100), ("vae_decoder", 20)];
        assert_eq!(resident_bytes(&sizes, false), 125);
        assert_eq!(resident_bytes(&sizes, true), 120);
    }

    #[test]
    fn too_little_memory_is_an_error_naming_the_sizes_and_the_way_out() {
        let sizes = [
            ("text_encoder", 5 << 30),
            ("unet", 10 << 30),
            ("vae_decoder", 1 << 30),
        ];
        let dir = Path::new("/models/sdxl");
        let err = check_fits("sdxl", dir, &sizes, false, &MemoryLimit::Bytes(15 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("need 16.00 GiB") && err.contains("15.00 GiB"),
            "{err}"
        );
        assert!(err.contains("load_stages_on_demand"), "{err}");
        check_fits("sdxl", dir, &sizes, true, &MemoryLimit::Bytes(15 << 30)).unwrap();
        check_fits("sdxl", dir, &sizes, false, &MemoryLimit::Unchecked).unwrap();
    }
}
