//! Telea's method: OpenCV's `INPAINT_TELEA` (`icvCalcFMM` outward, then `icvTeleaInpaintFMM`).

use image::RgbImage;
use inpaint_core::{InpaintModel, Mask, ModelSpec, Request, Result};

use super::fmm::{
    DIR_EPS, Disc, EAST, Grid, Kernel, NORTH, Px, SELF, SOUTH, WEST, lanes, px, saturate_u8,
};
use super::roi::{self, Plan};
use super::{DEFAULT_RADIUS, check_radius, check_sizes, range};

/// Inpainting by Telea's fast marching method, as OpenCV's `cv2.inpaint(…, INPAINT_TELEA)`.
///
/// Each hole pixel, in order of its distance to the hole's boundary, becomes a weighted mean of
/// the known pixels within [`radius`](Self::radius), each extrapolated along its image
/// gradient. See the [module documentation](super) for what is reproduced from OpenCV.
#[derive(Debug, Clone)]
pub struct Telea {
    spec: ModelSpec,
    radius: f64,
}

impl Telea {
    /// Telea with the [default radius](super::DEFAULT_RADIUS) (4, IOPaint's).
    pub fn new() -> Self {
        Telea {
            spec: ModelSpec::new("telea").with_mask_threshold(0),
            radius: DEFAULT_RADIUS,
        }
    }

    /// Telea with this window radius, in pixels: in `(0, 100]`, rounded half to even (at
    /// least 1) as OpenCV does. Fails with [`Error::InvalidInput`](inpaint_core::Error) for
    /// NaN, zero, negative values and values above 100.
    pub fn with_radius(radius: f64) -> Result<Self> {
        Ok(Telea {
            radius: check_radius(radius)?,
            ..Telea::new()
        })
    }

    /// The window radius, in pixels.
    pub fn radius(&self) -> f64 {
        self.radius
    }
}

impl Default for Telea {
    fn default() -> Self {
        Telea::new()
    }
}

impl InpaintModel for Telea {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn forward(&mut self, image: &RgbImage, mask: &Mask, _request: &Request) -> Result<RgbImage> {
        check_sizes(image, mask)?;
        inpaint(image, mask, self.radius, Plan::Clustered)
    }
}

/// Telea over `mask`'s non-zero pixels, split as `plan` says.
pub(super) fn inpaint(image: &RgbImage, mask: &Mask, radius: f64, plan: Plan) -> Result<RgbImage> {
    roi::inpaint(
        image,
        mask.as_gray(),
        &TeleaKernel::new(range(radius)),
        plan,
    )
}

/// The colour maths of `icvTeleaInpaintFMM` for 3-channel 8-bit images.
#[derive(Debug)]
struct TeleaKernel {
    /// Weights: OpenCV's `dst = 1 / (|r|² · |r|)`, computed in `double`.
    disc: Disc,
}

impl TeleaKernel {
    fn new(range: usize) -> Self {
        let disc = Disc::new(range, |r2| {
            let r2 = f64::from(r2);
            (1.0 / (r2 * r2.sqrt())) as f32
        });
        TeleaKernel { disc }
    }

    /// The fill of cell `p = (i, j)`. `EDGE`: the window reaches a row or column where OpenCV
    /// shifts its reads (the first and last image rows and columns, `km`, `kp`, `lm`, `lp`).
    #[inline(always)]
    fn fill_at<const EDGE: bool>(&self, g: &Grid, p: usize, i: usize, j: usize) -> [u8; 3] {
        let (stride, t, code, img) = (g.stride, &g.t[..], &g.code[..], &g.img[..]);
        let ti = t[p];
        let c = code[p];
        // OpenCV's `gradT`, from the known neighbours.
        let grad_tx = match (c & EAST != 0, c & WEST != 0) {
            (true, true) => (t[p + 1] - t[p - 1]) * 0.5,
            (true, false) => t[p + 1] - ti,
            (false, true) => ti - t[p - 1],
            (false, false) => 0.0,
        };
        let grad_ty = match (c & SOUTH != 0, c & NORTH != 0) {
            (true, true) => (t[p + stride] - t[p - stride]) * 0.5,
            (true, false) => t[p + stride] - ti,
            (false, true) => ti - t[p - stride],
            (false, false) => 0.0,
        };
        let at = |row: usize, col: usize| px(img, row * stride + col);

        let range = self.disc.range;
        let (mut ia, mut jx, mut jy): (Px, Px, Px) = ([0.0; 4], [0.0; 4], [0.0; 4]);
        let mut s = 1.0e-20f32;
        for dk in 0..=2 * range {
            // k = i - range + dk; below 1 it wraps and fails the test too.
            let k = (i + dk).wrapping_sub(range);
            if k < 1 || k > g.h {
                continue;
            }
            let Some((lo, hi, weights)) = self.disc.row(dk, j, g.w) else {
                continue;
            };
            let ry = i as f32 - k as f32;
            let (km, kp) = g.rows_at::<EDGE>(k);
            let row = k * stride + lo..=k * stride + hi;
            let (codes, times) = (&code[row.clone()], &t[row]);
            for (((l, &cq), &tq), &dst) in (lo..=hi).zip(codes).zip(times).zip(weights) {
                if cq & SELF == 0 {
                    continue;
                }
                let rx = j as f32 - l as f32;
                // `1 + fabs(..)` is a `double` sum in OpenCV's build, while `sqrt` of a `float`
                // below is the `float` overload: both checked against its output.
                let lev = (1.0 / (1.0 + f64::from((tq - ti).abs()))) as f32;
                let mut dir = rx * grad_tx + ry * grad_ty;
                if dir.abs() <= DIR_EPS {
                    dir = 1.0e-6;
                }
                let w = (dst * lev * dir).abs();
                let (lm, lp) = g.cols_at::<EDGE>(l);
                // OpenCV (4.10 on) takes the colour at the pixel itself, `(k-1, l-1)`, but the
                // gradients around the shifted `(km, lm)`.
                let (cur, mid) = (at(k, l), at(km, lm));
                let gx = match (cq & EAST != 0, cq & WEST != 0) {
                    (true, true) => scaled_diff(at(km, lp + 1), at(km, lm - 1), 2.0),
                    (true, false) => scaled_diff(at(km, lp + 1), mid, 1.0),
                    (false, true) => scaled_diff(at(km, lp), at(km, lm - 1), 1.0),
                    (false, false) => [0.0; 4],
                };
                let gy = match (cq & SOUTH != 0, cq & NORTH != 0) {
                    (true, true) => scaled_diff(at(kp + 1, lm), at(km - 1, lm), 2.0),
                    (true, false) => scaled_diff(at(kp + 1, lm), mid, 1.0),
                    (false, true) => scaled_diff(at(kp, lm), at(km - 1, lm), 1.0),
                    (false, false) => [0.0; 4],
                };
                ia = lanes(|ch| ia[ch] + w * cur[ch]);
                jx = lanes(|ch| jx[ch] - w * (gx[ch] * rx));
                jy = lanes(|ch| jy[ch] - w * (gy[ch] * ry));
                s += w;
            }
        }
        std::array::from_fn(|ch| {
            let (jx, jy) = (jx[ch], jy[ch]);
            // `sat = (float)(Ia/s + (Jx+Jy)/(sqrt(Jx*Jx+Jy*Jy)+1e-20f))` in `float`, then
            // `saturate_cast<uchar>(sat + 0.5)` in `double` (OpenCV 4.10 on).
            let sat = ia[ch] / s + (jx + jy) / ((jx * jx + jy * jy).sqrt() + 1.0e-20);
            saturate_u8(f64::from(sat) + 0.5)
        })
    }
}

/// `(a - b) * scale` in each lane, as OpenCV's `(float)(a - b) * 2.0f` (exact for 8-bit
/// values).
#[inline(always)]
fn scaled_diff(a: Px, b: Px, scale: f32) -> Px {
    lanes(|ch| (a[ch] - b[ch]) * scale)
}

impl Kernel for TeleaKernel {
    const OUTSIDE_T: bool = true;

    fn disc(&self) -> &Disc {
        &self.disc
    }

    fn fill(&self, grid: &Grid, p: usize, i: usize, j: usize) -> [u8; 3] {
        if grid.near_border(i, j, self.disc.range) {
            self.fill_at::<true>(grid, p, i, j)
        } else {
            self.fill_at::<false>(grid, p, i, j)
        }
    }
}
