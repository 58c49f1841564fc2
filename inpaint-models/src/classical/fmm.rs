//! The fast marching method as OpenCV's `modules/photo/src/inpaint.cpp` runs it, on one region
//! of interest (ROI) of the image.
//!
//! OpenCV works on `(rows + 2) × (cols + 2)` matrices: the image surrounded by a one-pixel frame
//! that is never inpainted. A [`Grid`] is the same layout for a ROI: `(h + 2) × (w + 2)` cells,
//! cell `(k, l)` holding image pixel `(y0 + k - 1, x0 + l - 1)`. Where the ROI touches the image
//! border, the grid's frame *is* OpenCV's frame and every border rule of OpenCV applies; where it
//! does not, the ROI's margin ([`super::roi`]) keeps every read away from the frame.
//!
//! A run on one grid:
//!
//! 1. [`Grid::setup`] copies the ROI, marks the cluster's hole pixels `INSIDE` (`T = 1e6`) and
//!    finds the narrow band: the known pixels 4-adjacent to the hole, off the image frame, in
//!    raster order, with `T = 0`.
//! 2. Telea only ([`Kernel::OUTSIDE_T`]): [`Grid::mark_ring`] marks the known pixels within
//!    Chebyshev distance `range` of the hole (OpenCV's rectangular dilation) and
//!    [`Grid::march_outside`] marches from the band through them; their `T` is then negated
//!    (`icvCalcFMM` with `negate`).
//! 3. [`Grid::march`] marches from the band into the hole and asks the [`Kernel`] for each pixel's
//!    colour the moment its `T` is fixed (`icvTeleaInpaintFMM`, `icvNSInpaintFMM`).

use image::RgbImage;

use super::output::refill;
use super::queue::Queue;
use super::roi::{Rect, Run};

/// Bit of [`Grid::code`] during the inward march: the cell is known (OpenCV: flag `!= INSIDE`).
pub(super) const SELF: u8 = 1;
/// Bit of [`Grid::code`]: the cell to the right, `(k, l + 1)`, is known.
pub(super) const EAST: u8 = 2;
/// Bit of [`Grid::code`]: the cell to the left, `(k, l - 1)`, is known.
pub(super) const WEST: u8 = 4;
/// Bit of [`Grid::code`]: the cell below, `(k + 1, l)`, is known.
pub(super) const SOUTH: u8 = 8;
/// Bit of [`Grid::code`]: the cell above, `(k - 1, l)`, is known.
pub(super) const NORTH: u8 = 16;

// Flags of [`Grid::code`] before the inward march (OpenCV's `KNOWN`, `BAND`, `INSIDE`, `CHANGE`,
// plus `RING` for the cells the outward march may enter, which OpenCV marks `INSIDE` in a
// second matrix).
const KNOWN: u8 = 0;
const BAND: u8 = 1;
const INSIDE: u8 = 2;
const CHANGE: u8 = 3;
const RING: u8 = 4;

/// OpenCV's initial arrival time (`cvSet(t, 1.0e6f)`).
const T_FAR: f32 = 1.0e6;

/// How a pixel's colour is computed once its arrival time is known: Telea or Navier–Stokes.
pub(super) trait Kernel: Sync {
    /// Whether the kernel reads `T` outside the hole, so that the outward march must run first.
    const OUTSIDE_T: bool;

    /// The window: its radius and precomputed distance weights.
    fn disc(&self) -> &Disc;

    /// The colour of hole cell `p = i * stride + j`, whose `T` has just been set and which is
    /// still unknown. Reads the grid only within the window and one pixel beyond.
    fn fill(&self, grid: &Grid, p: usize, i: usize, j: usize) -> [u8; 3];
}

/// The window of radius `range`: the offsets `(dk, dl)` with `dk² + dl² ≤ range²`, row by row,
/// and one precomputed weight per offset.
#[derive(Debug)]
pub(super) struct Disc {
    /// OpenCV's `range`: the rounded radius, clamped to `1..=100`.
    pub(super) range: usize,
    /// For row offset `dk` (index `dk + range`): the largest `dl` in the disc.
    half: Vec<usize>,
    /// For row offset `dk`: the index in `weights` of offset `(dk, -half)`.
    start: Vec<usize>,
    /// The weight of each offset, as a function of `r² = dk² + dl²`.
    weights: Vec<f32>,
}

impl Disc {
    /// The disc of radius `range` with `weight(r²)` for each offset. The centre's weight is
    /// never used: the pixel being filled is still unknown.
    pub(super) fn new(range: usize, weight: impl Fn(f32) -> f32) -> Self {
        let mut half = Vec::new();
        let mut start = Vec::new();
        let mut weights = Vec::new();
        let rr = range * range;
        for k in 0..=2 * range {
            let dk = k.abs_diff(range);
            // The largest `dl` with `dk² + dl² ≤ range²`, in integers as OpenCV tests it.
            let mut hw = 0;
            while dk * dk + (hw + 1) * (hw + 1) <= rr {
                hw += 1;
            }
            half.push(hw);
            start.push(weights.len());
            for dl in 0..=2 * hw {
                let dl = dl.abs_diff(hw);
                // Exact: both are small integers. OpenCV computes `r.x² + r.y²` in `float`.
                weights.push(weight((dk * dk) as f32 + (dl * dl) as f32));
            }
        }
        Disc {
            range,
            half,
            start,
            weights,
        }
    }

    /// For the window row of index `dk` (row offset `dk - range`) of a pixel at column `j`, in
    /// a grid `w` cells wide: the columns `lo..=hi` of the disc inside the image (OpenCV's
    /// `l > 0 && l < cols - 1`), and their weights. `None` when none is inside.
    #[inline]
    pub(super) fn row(&self, dk: usize, j: usize, w: usize) -> Option<(usize, usize, &[f32])> {
        let hw = self.half[dk];
        let lo = j.saturating_sub(hw).max(1);
        let hi = (j + hw).min(w);
        if lo > hi {
            return None;
        }
        let first = self.start[dk] + (lo + hw - j);
        Some((lo, hi, &self.weights[first..first + (hi - lo + 1)]))
    }
}

/// One ROI's state: OpenCV's flag matrix, `T` matrix and output image, restricted to the ROI.
#[derive(Debug, Default)]
pub(super) struct Grid {
    /// ROI width and height in pixels; the grid is `(h + 2) × (w + 2)`.
    pub(super) w: usize,
    pub(super) h: usize,
    /// Cells per grid row: `w + 2`.
    pub(super) stride: usize,
    /// The ROI's origin in the image.
    y0: usize,
    x0: usize,
    /// Which sides of the ROI are image borders: there OpenCV's border rules apply.
    top: bool,
    bottom: bool,
    left: bool,
    right: bool,
    /// Setup flags, then, from the inward march on, [`SELF`] | [`EAST`] | … bits.
    pub(super) code: Vec<u8>,
    /// Arrival time of each cell.
    pub(super) t: Vec<f32>,
    /// The ROI's pixels as `f32` (exact for 8-bit values), RGB and an unused lane per cell, so
    /// that the kernels load a pixel as one vector and convert nothing in their inner loops;
    /// the frame cells are never read.
    pub(super) img: Vec<Px>,
    /// The narrow band, in raster order.
    band: Vec<u32>,
    /// Scratch for [`Grid::mark_ring`].
    scratch: Vec<u8>,
    queue: Queue,
}

impl Grid {
    /// Runs `kernel` over the cluster `runs` (hole pixels, in raster order) inside `roi`.
    pub(super) fn run<K: Kernel>(&mut self, kernel: &K, image: &RgbImage, roi: Rect, runs: &[Run]) {
        self.setup(image, roi, runs);
        if K::OUTSIDE_T {
            self.mark_ring(kernel.disc().range);
            self.march_outside();
        }
        self.march(kernel);
    }

    /// Whether the window of cell `(i, j)` reaches the first or last row or column of the
    /// image, where OpenCV shifts its reads.
    #[inline]
    pub(super) fn near_border(&self, i: usize, j: usize, range: usize) -> bool {
        (self.top && i <= range + 1)
            || (self.bottom && i + range >= self.h)
            || (self.left && j <= range + 1)
            || (self.right && j + range >= self.w)
    }

    /// OpenCV's rows `(km, kp)` for window row `k`, as grid rows: `k` itself, except that the
    /// first image row reads as `km` the second, and the last one reads as `kp` the one before
    /// (`km = k-1+(k==1)`, `kp = k-1-(k==rows-2)` in OpenCV's coordinates). `EDGE = false`:
    /// the window is known not to reach those rows.
    #[inline(always)]
    pub(super) fn rows_at<const EDGE: bool>(&self, k: usize) -> (usize, usize) {
        // OpenCV reads outside a single-row image there; such an image keeps its row.
        if EDGE && self.h > 1 {
            (
                k + usize::from(self.top && k == 1),
                k - usize::from(self.bottom && k == self.h),
            )
        } else {
            (k, k)
        }
    }

    /// OpenCV's columns `(lm, lp)` for window column `l`, as [`rows_at`](Self::rows_at).
    #[inline(always)]
    pub(super) fn cols_at<const EDGE: bool>(&self, l: usize) -> (usize, usize) {
        if EDGE && self.w > 1 {
            (
                l + usize::from(self.left && l == 1),
                l - usize::from(self.right && l == self.w),
            )
        } else {
            (l, l)
        }
    }

    /// Writes the colours of `run`, which must lie inside the last ROI, to `out` (3 bytes per
    /// pixel).
    pub(super) fn read_run(&self, run: &Run, out: &mut [u8]) {
        let p = (run.y - self.y0 + 1) * self.stride + (run.x0 - self.x0 + 1);
        for (to, from) in out
            .chunks_exact_mut(3)
            .zip(&self.img[p..p + run.x1 - run.x0])
        {
            // Exact: cells hold 8-bit values.
            to.copy_from_slice(&[from[0] as u8, from[1] as u8, from[2] as u8]);
        }
    }

    /// Step 1: copy, flag the hole, find the band.
    fn setup(&mut self, image: &RgbImage, roi: Rect, runs: &[Run]) {
        let (w, h) = (roi.x1 - roi.x0, roi.y1 - roi.y0);
        let stride = w + 2;
        let cells = (h + 2) * stride;
        debug_assert!(u32::try_from(cells).is_ok(), "checked by the caller");
        (self.w, self.h, self.stride, self.y0, self.x0) = (w, h, stride, roi.y0, roi.x0);
        let (width, height) = (image.width() as usize, image.height() as usize);
        self.top = roi.y0 == 0;
        self.left = roi.x0 == 0;
        self.bottom = roi.y1 == height;
        self.right = roi.x1 == width;

        refill(&mut self.code, cells, KNOWN);
        refill(&mut self.t, cells, T_FAR);
        refill(&mut self.img, cells, [0.0; 4]);
        let src = image.as_raw();
        for y in 0..h {
            let from = 3 * ((roi.y0 + y) * width + roi.x0);
            let to = (y + 1) * stride + 1;
            let row = self.img[to..to + w].iter_mut();
            for (to, from) in row.zip(src[from..from + 3 * w].chunks_exact(3)) {
                *to = [from[0].into(), from[1].into(), from[2].into(), 0.0];
            }
        }
        for run in runs {
            let row = (run.y - roi.y0 + 1) * stride + 1;
            self.code[row + run.x0 - roi.x0..row + run.x1 - roi.x0].fill(INSIDE);
        }

        // OpenCV: band = dilate(mask, cross) - mask, frame cleared; pushed in raster order.
        self.band.clear();
        for k in 1..=h {
            for p in k * stride + 1..=k * stride + w {
                let code = &self.code;
                if code[p] == KNOWN
                    && (code[p - stride] == INSIDE
                        || code[p - 1] == INSIDE
                        || code[p + 1] == INSIDE
                        || code[p + stride] == INSIDE)
                {
                    self.code[p] = BAND;
                    self.t[p] = 0.0;
                    self.band.push(p as u32);
                }
            }
        }
    }

    /// Step 2a: flag `RING` the known, non-band pixels within Chebyshev distance `range` of the
    /// hole (OpenCV: `dilate(mask, rect(2 range + 1)) - mask - band`, frame cleared).
    fn mark_ring(&mut self, range: usize) {
        let (w, h, stride) = (self.w, self.h, self.stride);
        // Distances saturate at 127; `range ≤ 100`.
        const FAR: u8 = 127;
        let range = range.min(usize::from(FAR - 1)) as u8;
        refill(&mut self.scratch, self.code.len(), FAR);
        // Rows: scratch = horizontal distance to the nearest hole pixel of the row.
        for k in 1..=h {
            let row = k * stride + 1..k * stride + w + 1;
            let (code, dist) = (&self.code[row.clone()], &mut self.scratch[row]);
            let mut d = FAR;
            for (c, o) in code.iter().zip(dist.iter_mut()) {
                d = if *c == INSIDE { 0 } else { (d + 1).min(FAR) };
                *o = d;
            }
            let mut d = FAR;
            for (c, o) in code.iter().zip(dist.iter_mut()).rev() {
                d = if *c == INSIDE { 0 } else { (d + 1).min(FAR) };
                *o = (*o).min(d);
            }
        }
        // Columns: scratch = distance, in rows, to the nearest row above (or this one) whose
        // horizontal distance is within range; then the same from below, and the smaller.
        let mut run = vec![FAR; w];
        for k in 1..=h {
            let row = k * stride + 1..k * stride + w + 1;
            for (d, o) in run.iter_mut().zip(&mut self.scratch[row]) {
                *d = if *o <= range { 0 } else { (*d + 1).min(FAR) };
                *o = *d;
            }
        }
        run.fill(FAR);
        for k in (1..=h).rev() {
            let row = k * stride + 1..k * stride + w + 1;
            let scratch = &self.scratch[row.clone()];
            for ((d, o), c) in run.iter_mut().zip(scratch).zip(&mut self.code[row]) {
                *d = if *o == 0 { 0 } else { (*d + 1).min(FAR) };
                if *c == KNOWN && (*o).min(*d) <= range {
                    *c = RING;
                }
            }
        }
    }

    /// Step 2b: OpenCV's `icvCalcFMM(out, t, Out, true)`.
    fn march_outside(&mut self) {
        let stride = self.stride;
        self.queue.clear();
        for &p in &self.band {
            self.queue.push(p, 0.0);
        }
        while let Some(p) = self.queue.pop() {
            let p = p as usize;
            self.code[p] = CHANGE;
            // Up, left, down, right, as OpenCV. Band and ring cells are never on the frame, so
            // their neighbours are inside the grid.
            for q in [p - stride, p - 1, p + stride, p + 1] {
                if self.code[q] == RING {
                    let dist = arrival(&self.code, &self.t, q, stride, |c| c == RING);
                    self.t[q] = dist;
                    self.code[q] = BAND;
                    self.queue.push(q as u32, dist);
                }
            }
        }
        for (c, t) in self.code.iter_mut().zip(&mut self.t) {
            if *c == CHANGE {
                *c = KNOWN;
                *t = -*t;
            }
        }
    }

    /// Step 3: the inward march, `icvTeleaInpaintFMM` / `icvNSInpaintFMM` without the colour
    /// maths, which is the kernel's.
    fn march<K: Kernel>(&mut self, kernel: &K) {
        let stride = self.stride;
        // From here on a cell's code is: known or not, and which of its neighbours are known.
        for c in &mut self.code {
            *c = if *c == INSIDE { 0 } else { SELF };
        }
        for k in 1..=self.h {
            for p in k * stride + 1..=k * stride + self.w {
                let c = &self.code;
                self.code[p] = c[p]
                    | (c[p + 1] & SELF) << 1
                    | (c[p - 1] & SELF) << 2
                    | (c[p + stride] & SELF) << 3
                    | (c[p - stride] & SELF) << 4;
            }
        }

        self.queue.clear();
        for &p in &self.band {
            self.queue.push(p, 0.0);
        }
        while let Some(p) = self.queue.pop() {
            let p = p as usize;
            let (ii, jj) = (p / stride, p % stride);
            // Popped cells are band or filled cells, never on the frame.
            for (q, i, j) in [
                (p - stride, ii - 1, jj),
                (p - 1, ii, jj - 1),
                (p + stride, ii + 1, jj),
                (p + 1, ii, jj + 1),
            ] {
                // OpenCV's `i <= 0 || j <= 0 || …` only keeps the frame out, and frame cells
                // are never inside the hole.
                if self.code[q] & SELF != 0 {
                    continue;
                }
                let dist = arrival(&self.code, &self.t, q, stride, |c| c & SELF == 0);
                self.t[q] = dist;
                let rgb = kernel.fill(self, q, i, j);
                self.img[q] = [rgb[0].into(), rgb[1].into(), rgb[2].into(), 0.0];
                self.code[q] |= SELF;
                self.code[q - 1] |= EAST;
                self.code[q + 1] |= WEST;
                self.code[q - stride] |= SOUTH;
                self.code[q + stride] |= NORTH;
                self.queue.push(q as u32, dist);
            }
        }
    }
}

/// OpenCV's update of cell `q`: the smallest of the four `FastMarching_solve`s over its
/// (vertical, horizontal) neighbour pairs, in OpenCV's order.
#[inline]
fn arrival(code: &[u8], t: &[f32], q: usize, stride: usize, inside: impl Fn(u8) -> bool) -> f32 {
    let solve = |a: usize, b: usize| solve(inside(code[a]), t[a], inside(code[b]), t[b]);
    let (up, left, down, right) = (q - stride, q - 1, q + stride, q + 1);
    let x = solve(up, left).min(solve(down, left));
    let y = solve(up, right).min(solve(down, right));
    x.min(y)
}

/// OpenCV's `FastMarching_solve`: the arrival time from two neighbours, in `double`.
#[inline]
fn solve(a_inside: bool, a: f32, b_inside: bool, b: f32) -> f32 {
    let (a, b) = (f64::from(a), f64::from(b));
    let sol = match (a_inside, b_inside) {
        (false, false) if (a - b).abs() >= 1.0 => 1.0 + a.min(b),
        (false, false) => (a + b + (2.0 - (a - b) * (a - b)).sqrt()) * 0.5,
        (false, true) => 1.0 + a,
        (true, false) => 1.0 + b,
        (true, true) => 1.0 + a.min(b),
    };
    sol as f32
}

/// One pixel's channels as a vector: R, G, B and an unused lane, so that the per-channel maths
/// of the kernels compiles to vector instructions (the same IEEE operations, lane by lane).
pub(super) type Px = [f32; 4];

/// The pixel of cell `at`.
#[inline(always)]
pub(super) fn px(img: &[Px], at: usize) -> Px {
    img[at]
}

/// The vector whose lane `c` is `f(c)`.
#[inline(always)]
pub(super) fn lanes(f: impl Fn(usize) -> f32) -> Px {
    [f(0), f(1), f(2), f(3)]
}

/// OpenCV tests `fabs(dir) <= 0.01` with `dir` a `float` and `0.01` a `double`. `0.01f32` is
/// the largest `f32` not above `0.01`, so `dir.abs() <= DIR_EPS` is the same test, in `f32`.
pub(super) const DIR_EPS: f32 = 0.01;

/// OpenCV's `saturate_cast<uchar>`: round half to even (`cvRound`), then clamp; NaN gives 0.
#[inline]
pub(super) fn saturate_u8(v: f64) -> u8 {
    // Adding 2⁵² leaves no bits for a fraction, so the FPU's default rounding (to nearest,
    // ties to even) does the rounding; exact for values in [0, 2⁵²). `round_ties_even` would be
    // a library call without SSE4.1. Negative values round to something ≤ 0 and saturate.
    const SHIFT: f64 = 4_503_599_627_370_496.0;
    ((v.clamp(-1.0, 256.0) + SHIFT) - SHIFT) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_matches_opencv_cases() {
        assert_eq!(solve(false, 0.0, false, 0.0), (2f64.sqrt() * 0.5) as f32);
        assert_eq!(solve(false, 0.0, false, 5.0), 1.0);
        assert_eq!(solve(false, 2.0, true, 1e6), 3.0);
        assert_eq!(solve(true, 1e6, false, 2.0), 3.0);
        assert_eq!(solve(true, 4.0, true, 1e6), 5.0);
    }

    #[test]
    fn saturate_rounds_half_to_even() {
        assert_eq!(saturate_u8(100.5), 100);
        assert_eq!(saturate_u8(101.5), 102);
        assert_eq!(saturate_u8(-3.0), 0);
        assert_eq!(saturate_u8(255.4), 255);
        assert_eq!(saturate_u8(1e30), 255);
        assert_eq!(saturate_u8(254.5), 254);
        assert_eq!(saturate_u8(254.5000001), 255);
        assert_eq!(saturate_u8(0.5), 0);
        assert_eq!(saturate_u8(1.5), 2);
        assert_eq!(saturate_u8(-0.4), 0);
        assert!(f64::from(DIR_EPS) <= 0.01 && f64::from(DIR_EPS.next_up()) > 0.01);
        for i in 0..=2550 {
            let v = f64::from(i) / 10.0;
            assert_eq!(saturate_u8(v), v.round_ties_even() as u8, "{v}");
        }
        assert_eq!(saturate_u8(f64::NAN), 0);
    }

    #[test]
    fn disc_rows_match_the_euclidean_test() {
        for range in [1, 2, 4, 7, 100] {
            let disc = Disc::new(range, |r2| r2);
            for dk in 0..=2 * range {
                let d = dk as isize - range as isize;
                let hw = disc.half[dk] as isize;
                assert!(d * d + hw * hw <= (range * range) as isize);
                assert!(d * d + (hw + 1) * (hw + 1) > (range * range) as isize);
                // Weights are laid out from dl = -hw to hw.
                let w = &disc.weights[disc.start[dk]..disc.start[dk] + (2 * hw + 1) as usize];
                assert_eq!(w[0], (d * d + hw * hw) as f32);
                assert_eq!(w[hw as usize], (d * d) as f32);
            }
        }
    }
}
