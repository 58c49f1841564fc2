//! Where a diffusion run's random numbers come from.
//!
//! Every draw of a run — the initial latents, the VAE's latent samples, the per-step noise of the
//! ancestral, SDE and LCM samplers — goes through one [`NoiseSource`], in the order diffusers
//! draws them. [`TorchCpuNoise`] reproduces PyTorch's CPU generator, which is what IOPaint uses
//! (`generator=torch.manual_seed(seed)`, whatever the device), so a seed gives the same picture
//! as IOPaint and diffusers on the same weights. [`RecordedNoise`] replays draws recorded
//! elsewhere, for tests against a reference run.

use inpaint_core::{Error, Result};
use rand_mt::Mt;

/// A stream of standard normal `f32` tensors, drawn in order.
///
/// `shape` is the tensor's shape (row-major); the result holds its product of elements. The
/// shape matters beyond the count: PyTorch samples small tensors differently from large ones,
/// and a recorded replay checks it.
pub trait NoiseSource {
    /// The next draw: `shape.iter().product()` values from N(0, 1).
    fn randn(&mut self, shape: &[usize]) -> Result<Vec<f32>>;
}

impl<N: NoiseSource + ?Sized> NoiseSource for &mut N {
    fn randn(&mut self, shape: &[usize]) -> Result<Vec<f32>> {
        (**self).randn(shape)
    }
}

impl<N: NoiseSource + ?Sized> NoiseSource for Box<N> {
    fn randn(&mut self, shape: &[usize]) -> Result<Vec<f32>> {
        (**self).randn(shape)
    }
}

/// `torch.manual_seed(seed)` then `torch.randn(shape, dtype=torch.float32)` on the CPU, draw
/// after draw, as PyTorch computes it (checked against torch 2.15 on an AVX2 CPU: within 5e-7,
/// see `tests/diffusion.rs`).
///
/// * The generator is a 32-bit Mersenne Twister seeded with the seed's low 32 bits (torch's
///   `mt19937(uint64 seed)` keeps only those).
/// * A tensor of 16 elements or more gets one uniform per element (the low 24 bits of one output,
///   times 2⁻²⁴), then Box–Muller on each block of 16: `x[j] = r·cos θ`, `x[j+8] = r·sin θ` with
///   `r = √(−2 ln(1 − u[j]))`, `θ = 2π·u[j+8]`. When the size is not a multiple of 16, 16 fresh
///   uniforms recompute the last 16 elements. This runs in `f32`, as torch's AVX2 kernel does;
///   torch's vectorised `log`/`sincos` differ from Rust's by a few ulp at most.
/// * A smaller tensor is sampled one double at a time: two 53-bit uniforms (each from two
///   outputs), Box–Muller in `f64`, the sine half kept for the next such draw — kept across draws,
///   as torch keeps it in the generator — and each value rounded to `f32`.
#[derive(Debug, Clone)]
pub struct TorchCpuNoise {
    engine: Mt,
    /// torch's `next_double_normal_sample`: the second half of the last small-path Box–Muller pair.
    cached_normal: Option<f64>,
}

/// Below this many elements torch samples doubles one at a time (`normal_kernel` in
/// `aten/src/ATen/native/cpu/DistributionTemplates.h`).
const TORCH_FILL_BLOCK: usize = 16;

impl TorchCpuNoise {
    /// The generator after `torch.manual_seed(seed)`.
    pub fn new(seed: u64) -> Self {
        Self {
            // Truncation intended: torch seeds its mt19937 with `seed & 0xffffffff`.
            engine: Mt::new(seed as u32),
            cached_normal: None,
        }
    }

    /// torch's `uniform_real_distribution<float>`: 24 random bits scaled into [0, 1).
    fn uniform_f32(&mut self) -> f32 {
        (self.engine.next_u32() & ((1 << 24) - 1)) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// torch's `uniform_real_distribution<double>`: 53 of 64 random bits (the first output is
    /// the high word) scaled into [0, 1).
    fn uniform_f64(&mut self) -> f64 {
        let high = u64::from(self.engine.next_u32());
        let low = u64::from(self.engine.next_u32());
        ((high << 32 | low) & ((1 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// torch's `normal_distribution<double>` for one value.
    fn normal_f64(&mut self) -> f64 {
        if let Some(cached) = self.cached_normal.take() {
            return cached;
        }
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        let radius = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.cached_normal = Some(radius * theta.sin());
        radius * theta.cos()
    }

    /// torch's `normal_fill`: uniforms for the whole tensor, then Box–Muller per block of 16.
    fn fill(&mut self, out: &mut [f32]) {
        for value in out.iter_mut() {
            *value = self.uniform_f32();
        }
        for block in out.chunks_exact_mut(TORCH_FILL_BLOCK) {
            box_muller_16(block);
        }
        if out.len() % TORCH_FILL_BLOCK != 0 {
            let tail_start = out.len() - TORCH_FILL_BLOCK;
            let tail = &mut out[tail_start..];
            for value in tail.iter_mut() {
                *value = self.uniform_f32();
            }
            box_muller_16(tail);
        }
    }
}

/// torch's `normal_fill_16`, in `f32`: turns 16 uniforms into 16 normals in place.
fn box_muller_16(block: &mut [f32]) {
    const TWO_PI: f32 = 2.0 * std::f32::consts::PI;
    let (first, second) = block.split_at_mut(TORCH_FILL_BLOCK / 2);
    for (a, b) in first.iter_mut().zip(second.iter_mut()) {
        let radius = (-2.0 * (1.0 - *a).ln()).sqrt();
        let (sin, cos) = (TWO_PI * *b).sin_cos();
        *a = radius * cos;
        *b = radius * sin;
    }
}

impl NoiseSource for TorchCpuNoise {
    fn randn(&mut self, shape: &[usize]) -> Result<Vec<f32>> {
        let mut out = zeroed(shape)?;
        if out.len() >= TORCH_FILL_BLOCK {
            self.fill(&mut out);
        } else {
            for value in out.iter_mut() {
                // Rounding intended: torch casts each double sample to the tensor's float32.
                *value = self.normal_f64() as f32;
            }
        }
        Ok(out)
    }
}

/// Replays draws recorded elsewhere (a reference run of diffusers), in order.
///
/// Each [`randn`](NoiseSource::randn) returns the next recorded draw; a draw past the end, or
/// one whose shape differs from the recorded one, is an error — a test replaying a reference run
/// learns at once that the pipeline draws differently.
#[derive(Debug, Clone, Default)]
pub struct RecordedNoise {
    draws: std::collections::VecDeque<(Vec<usize>, Vec<f32>)>,
    taken: usize,
}

impl RecordedNoise {
    /// Draws to replay, each its shape and values; fails when a draw's values do not fill its shape.
    pub fn new(draws: impl IntoIterator<Item = (Vec<usize>, Vec<f32>)>) -> Result<Self> {
        let draws: std::collections::VecDeque<_> = draws.into_iter().collect();
        for (index, (shape, values)) in draws.iter().enumerate() {
            if element_count(shape) != Some(values.len()) {
                return Err(invalid(format!(
                    "recorded draw {index} has shape {shape:?} but {} values",
                    values.len()
                )));
            }
        }
        Ok(Self { draws, taken: 0 })
    }

    /// How many recorded draws are left.
    pub fn remaining(&self) -> usize {
        self.draws.len()
    }
}

impl NoiseSource for RecordedNoise {
    fn randn(&mut self, shape: &[usize]) -> Result<Vec<f32>> {
        let index = self.taken;
        let Some((recorded, _)) = self.draws.front() else {
            return Err(invalid(format!(
                "draw {index} of shape {shape:?} asked for, but only {index} were recorded"
            )));
        };
        if recorded != shape {
            return Err(invalid(format!(
                "draw {index} asked for shape {shape:?}, but the recorded draw has shape {recorded:?}"
            )));
        }
        self.taken += 1;
        Ok(self
            .draws
            .pop_front()
            .map(|(_, values)| values)
            .unwrap_or_default())
    }
}

/// The number of elements of `shape`, `None` on overflow.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// A zeroed buffer for `shape`, allocated fallibly: shapes can come from untrusted sizes.
fn zeroed(shape: &[usize]) -> Result<Vec<f32>> {
    let len =
        element_count(shape).ok_or_else(|| invalid(format!("noise shape {shape:?} overflows")))?;
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| {
        invalid(format!(
            "noise shape {shape:?} ({len} values) does not fit in memory"
        ))
    })?;
    out.resize(len, 0.0);
    Ok(out)
}

fn invalid(message: String) -> Error {
    Error::InvalidInput { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mersenne_twister_is_the_standard_one() {
        // The 10000th output of std::mt19937 with its default seed 5489 (C++11 [rand.predef]).
        let mut engine = Mt::new(5489);
        let value = (0..10_000).map(|_| engine.next_u32()).last();
        assert_eq!(value, Some(4_123_659_995));
    }

    #[test]
    fn seeds_equal_in_their_low_32_bits_draw_the_same() {
        let a = TorchCpuNoise::new(7).randn(&[40]).unwrap();
        let b = TorchCpuNoise::new((1 << 32) + 7).randn(&[40]).unwrap();
        let c = TorchCpuNoise::new(8).randn(&[40]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn replay_refuses_extra_draws_and_other_shapes() {
        let mut noise = RecordedNoise::new([(vec![2], vec![1.0, 2.0])]).unwrap();
        assert!(noise.randn(&[1, 2]).is_err());
        assert_eq!(noise.randn(&[2]).unwrap(), vec![1.0, 2.0]);
        assert!(noise.randn(&[2]).is_err());
        assert!(RecordedNoise::new([(vec![3], vec![1.0])]).is_err());
    }

    #[test]
    fn huge_shapes_are_errors_not_aborts() {
        let mut noise = TorchCpuNoise::new(0);
        assert!(noise.randn(&[usize::MAX, 2]).is_err());
        assert!(noise.randn(&[usize::MAX / 4]).is_err());
    }
}
