//! The Navier–Stokes-based method: OpenCV's `INPAINT_NS` (`icvNSInpaintFMM`).

use image::RgbImage;
use inpaint_core::{InpaintModel, Mask, ModelSpec, Request, Result};

use super::fmm::{
    DIR_EPS, Disc, EAST, Grid, Kernel, NORTH, Px, SELF, SOUTH, WEST, lanes, px, saturate_u8,
};
use super::roi::{self, Plan};
use super::{DEFAULT_RADIUS, check_radius, check_sizes, range};

/// Inpainting after Bertalmio, Bertozzi and Sapiro, as OpenCV's
/// `cv2.inpaint(…, INPAINT_NS)`.
///
/// Hole pixels are visited in the same fast-marching order as [`Telea`](super::Telea); each
/// becomes a mean of the known pixels within [`radius`](Self::radius), weighted by distance and
/// by how well the offset to them follows the image's isophotes. See the
/// [module documentation](super) for what is reproduced from OpenCV.
#[derive(Debug, Clone)]
pub struct NavierStokes {
    spec: ModelSpec,
    radius: f64,
}

impl NavierStokes {
    /// Navier–Stokes with the [default radius](super::DEFAULT_RADIUS) (4, IOPaint's).
    pub fn new() -> Self {
        NavierStokes {
            spec: ModelSpec::new("navier-stokes").with_mask_threshold(0),
            radius: DEFAULT_RADIUS,
        }
    }

    /// Navier–Stokes with this window radius, in pixels: in `(0, 100]`, rounded half to even
    /// (at least 1) as OpenCV does. Fails with [`Error::InvalidInput`](inpaint_core::Error) for
    /// NaN, zero, negative values and values above 100.
    pub fn with_radius(radius: f64) -> Result<Self> {
        Ok(NavierStokes {
            radius: check_radius(radius)?,
            ..NavierStokes::new()
        })
    }

    /// The window radius, in pixels.
    pub fn radius(&self) -> f64 {
        self.radius
    }
}

impl Default for NavierStokes {
    fn default() -> Self {
        NavierStokes::new()
    }
}

impl InpaintModel for NavierStokes {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, _request: &Request) -> Result<RgbImage> {
        check_sizes(image, mask)?;
        inpaint(image, mask, self.radius, Plan::Clustered)
    }
}

/// Navier–Stokes over `mask`'s non-zero pixels, split as `plan` says.
pub(super) fn inpaint(image: &RgbImage, mask: &Mask, radius: f64, plan: Plan) -> Result<RgbImage> {
    roi::inpaint(image, mask.as_gray(), &NsKernel::new(range(radius)), plan)
}

/// The colour maths of `icvNSInpaintFMM` for 3-channel 8-bit images.
#[derive(Debug)]
struct NsKernel {
    /// Weights: OpenCV's `dst = 1 / (|r|⁴ + 1)`, in `float`.
    disc: Disc,
}

impl NsKernel {
    fn new(range: usize) -> Self {
        NsKernel {
            disc: Disc::new(range, |r2| 1.0 / (r2 * r2 + 1.0)),
        }
    }

    /// The fill of cell `p = (i, j)`; `EDGE` as in Telea's.
    #[inline(always)]
    fn fill_at<const EDGE: bool>(&self, g: &Grid, i: usize, j: usize) -> [u8; 3] {
        let (stride, code, img) = (g.stride, &g.code[..], &g.img[..]);
        let at = |row: usize, col: usize| px(img, row * stride + col);

        let range = self.disc.range;
        let mut ia: Px = [0.0; 4];
        let mut s: Px = [1.0e-20; 4];
        for dk in 0..=2 * range {
            let k = (i + dk).wrapping_sub(range);
            if k < 1 || k > g.h {
                continue;
            }
            let Some((lo, hi, weights)) = self.disc.row(dk, j, g.w) else {
                continue;
            };
            let ry = k as f32 - i as f32;
            let (km, kp) = g.rows_at::<EDGE>(k);
            let codes = &code[k * stride + lo..=k * stride + hi];
            for ((l, &cq), &dst) in (lo..=hi).zip(codes).zip(weights) {
                if cq & SELF == 0 {
                    continue;
                }
                let rx = l as f32 - j as f32;
                let r2 = rx * rx + ry * ry;
                let (lm, lp) = g.cols_at::<EDGE>(l);
                // OpenCV (4.10 on) takes the colour at the pixel itself, `(k-1, l-1)`, but the
                // gradients around the shifted `(km, lm)`.
                let (cur, mid) = (at(k, l), at(km, lm));
                // OpenCV's `gradI.x` is the vertical variation, `gradI.y` the horizontal one.
                let gx = match (cq & SOUTH != 0, cq & NORTH != 0) {
                    (true, true) => {
                        let (a, b, c) = (at(kp + 1, lm), at(kp, lm), at(km - 1, lm));
                        lanes(|ch| (a[ch] - b[ch]).abs() + (b[ch] - c[ch]).abs())
                    }
                    (true, false) => {
                        let (a, b) = (at(kp + 1, lm), at(kp, lm));
                        lanes(|ch| (a[ch] - b[ch]).abs() * 2.0)
                    }
                    (false, true) => {
                        let (b, c) = (at(kp, lm), at(km - 1, lm));
                        lanes(|ch| (b[ch] - c[ch]).abs() * 2.0)
                    }
                    (false, false) => [0.0; 4],
                };
                let gy = match (cq & EAST != 0, cq & WEST != 0) {
                    (true, true) => {
                        let (a, c) = (at(km, lp + 1), at(km, lm - 1));
                        lanes(|ch| (a[ch] - mid[ch]).abs() + (mid[ch] - c[ch]).abs())
                    }
                    (true, false) => {
                        let a = at(km, lp + 1);
                        lanes(|ch| (a[ch] - mid[ch]).abs() * 2.0)
                    }
                    (false, true) => {
                        let c = at(km, lm - 1);
                        lanes(|ch| (mid[ch] - c[ch]).abs() * 2.0)
                    }
                    (false, false) => [0.0; 4],
                };
                let w = weights_of(gx, gy, rx, ry, r2, dst);
                ia = lanes(|ch| ia[ch] + w[ch] * cur[ch]);
                s = lanes(|ch| s[ch] + w[ch]);
            }
        }
        std::array::from_fn(|ch| saturate_u8(f64::from(ia[ch]) / f64::from(s[ch])))
    }
}

/// OpenCV's weight `dst * dir` of a window pixel in each lane, from its gradient `(gx, gy)`
/// (`gx` before OpenCV negates it) and its offset `(rx, ry)`, `r2 = rx² + ry²`.
#[inline(never)]
fn weights_of(gx: Px, gy: Px, rx: f32, ry: f32, r2: f32, dst: f32) -> Px {
    // All `float`: OpenCV's build calls the `float` overload of `sqrt`. Computed in every lane
    // and then selected, so that the lanes stay one vector: one `sqrtps` and one `divps` for
    // the three channels. Not inlined: inlined into the loop, LLVM gives up on the vector.
    let dot = lanes(|ch| rx * -gx[ch] + ry * gy[ch]);
    let norm = lanes(|ch| (r2 * (gx[ch] * gx[ch] + gy[ch] * gy[ch])).sqrt());
    let aligned = lanes(|ch| (dot[ch] / norm[ch]).abs());
    lanes(|ch| {
        dst * if dot[ch].abs() <= DIR_EPS {
            1.0e-6
        } else {
            aligned[ch]
        }
    })
}

impl Kernel for NsKernel {
    const OUTSIDE_T: bool = false;

    fn disc(&self) -> &Disc {
        &self.disc
    }

    fn fill(&self, grid: &Grid, _p: usize, i: usize, j: usize) -> [u8; 3] {
        if grid.near_border(i, j, self.disc.range) {
            self.fill_at::<true>(grid, i, j)
        } else {
            self.fill_at::<false>(grid, i, j)
        }
    }
}
