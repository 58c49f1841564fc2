//! PatchMatch inpainting, in pure Rust: texture-preserving fill with no model weights.
//!
//! The hole is filled with pieces of the rest of the image, found and blended patch by patch,
//! as [PyPatchMatch](https://github.com/mauwii/PyPatchMatch) does (Xavier Philippeau's
//! algorithm, used by InvokeAI for infill). Unlike the [classical](crate::classical) methods,
//! which diffuse colour inwards and leave a smooth blur, it copies texture.
//!
//! # The algorithm
//!
//! * **Nearest-neighbour fields** (C. Barnes, E. Shechtman, A. Finkelstein, D. B. Goldman,
//!   "PatchMatch: A Randomized Correspondence Algorithm for Structural Image Editing",
//!   SIGGRAPH 2009). For every patch of one image, the most similar patch of another is found
//!   by scanning the image, trying the matches of the already-scanned neighbours shifted by one
//!   (propagation), then random candidates around the best so far in windows that halve in size
//!   (random search). Two fields are kept: from the image with the hole to the current estimate
//!   (completeness) and back (coherence).
//! * **Expectation–maximisation** (Y. Wexler, E. Shechtman, M. Irani, "Space-Time Completion
//!   of Video", PAMI 2007). Every patch votes its matched pixels into the estimate, weighted by
//!   its similarity; each hole pixel becomes the weighted mean of its votes; the fields are
//!   searched again on the new estimate, and so on.
//! * **Coarse to fine.** This runs on an image pyramid, from the coarsest level (the estimate
//!   starts there) to the full size; the last iteration of each level votes directly at the
//!   next finer level's resolution, from its pixels, so the result is not an upscaled blur.
//!
//! # What follows PyPatchMatch
//!
//! * The pyramid: halved (rounded down) with the kernel `[1, 5, 10, 10, 5, 1]²` over the known
//!   pixels only, until a side is at most the patch radius.
//! * The distance: squared differences of the colour and of its halved central differences
//!   along x and y (9 bytes a pixel), summed over the patch; a pixel in the hole, on the
//!   image's outermost ring or outside it counts as the largest difference. It is normalised
//!   to `0..=65535` and mapped to a vote weight by PyPatchMatch's similarity table (zero
//!   beyond a tenth of the maximum).
//! * The fields: random initialisation (20 tries for a comparable patch), initialisation from
//!   the coarser level's field keeping sub-pixel offsets, patches away from the hole fixed to
//!   themselves, a forward and a backward scan per pass, random search from half the shorter
//!   side down.
//! * The EM loop: `1 + 2 × level` iterations per level (level 0 is the finest), both fields
//!   voting, nearest-neighbour upsampling of the estimate, known pixels kept on the two
//!   finest levels only.
//!
//! # What differs
//!
//! * **Each hole is filled on its own, from its surroundings.** The mask is split into
//!   8-connected holes; each gets a region, its bounding box grown by its longer side (at
//!   least twice the patch size) on each side, clamped to the image, and holes whose regions
//!   overlap share one region (the bounding box of theirs) until no two overlap. Each region
//!   runs the whole algorithm (pyramid, fields, EM) alone, in parallel with the others, and
//!   its fill is pasted back. PyPatchMatch searches the whole image; here the cost follows the
//!   holes, not the photo, and scattered small holes cost little.
//! * **Fewer passes on coarse levels**: `min(7, 1 + level / 2)` passes per EM iteration
//!   (PyPatchMatch: `1 + level`); the fields carry over from one iteration to the next, so the
//!   extra passes bought little, and the coarse levels were most of the time.
//! * **Less blur**: in the last iteration of the two finest levels (the one that builds the
//!   full-size estimate, and the final one), each pixel takes its heaviest vote instead of the
//!   mean. PyPatchMatch does so only in the very last one; averaging the votes that build the
//!   full-size estimate left it smooth, and the full size then matched it with smooth
//!   patches. Near ties (within 0.018 %) go to the patch centred closest to the pixel rather
//!   than to the first one cast, which copied whole patches as blocks.
//! * **Texture is compared on the coarse levels**, after Newson et al. ("Video Inpainting of
//!   Complex Scenes", SIAM J. Imaging Sciences, 2014). Each pixel also carries two texture
//!   features: the mean absolute luma difference along x and along y over the patch around
//!   it, computed once at full size from known pixels and downsampled with the colour. On every
//!   level but the full size they are compared with the colours (two bytes more a pixel), and
//!   the hole's are voted like its colours. The downsampled colours of a thin lattice are a
//!   flat grey-blue that the sky beside it matched best, so the hole used to be filled with
//!   sky from the coarse levels on; the features still tell the lattice from the sky there.
//! * **The full size's random search stays near the half size's matches**: windows start at
//!   16 pixels, not half the region. The fields there start from the half size's, which
//!   searched the whole region; the wider windows made the whole run 10-20 % slower and
//!   moved no texture ratio of the comparison with PyPatchMatch across the band's edges.
//! * **The completeness field skips patches that cannot vote.** A patch of the image with the
//!   hole counts each of its hole pixels as the largest difference, so one with about a tenth
//!   of its pixels in the hole (5 of 49 at side 7) weighs 0 wherever it links. PyPatchMatch
//!   searches for them all the same: they were most of that field's work, and skipping them
//!   took 40 % off the whole run at 2048² with 5 % in holes. Only the random streams change:
//!   over the comparison with PyPatchMatch the mean PSNR moved by 0.003 dB (BENCHMARKS.md).
//! * **Parallel and deterministic.** The two fields are searched at the same time, each in
//!   bands of rows scanned in parallel (a band propagates across its edge from the row as it
//!   was before the scan); the votes are gathered per band of output rows. Random numbers come
//!   from a generator keyed by the seed, the region's first hole pixel (in raster order),
//!   level, iteration, field, pass and band. Band layout depends only on the sizes, so the
//!   same input and seed give the same bytes on any number of threads, and a hole far from
//!   the others is filled exactly as it would be alone. PyPatchMatch scans serially with `mt19937`, so results are not identical.
//! * Distances are measured again after each EM iteration (PyPatchMatch 1.x kept the stale
//!   ones) and compared with early termination against the best so far.
//! * **Hole pixels at the image's edge are filled from their best match.** Every patch that
//!   reaches the image's outer ring holds pixels the distance counts as the largest
//!   difference, so its votes weigh 0, and a hole pixel on the ring gets no vote at all. Such
//!   a pixel takes the pixel that the best-matching patch over it (in the field
//!   from the estimate into the image) lends, whatever that patch's weight; it used to keep
//!   the coarse levels' fill, scaled up in blocks down the edge.
//! * The first estimate of the hole at the coarsest level is the mean colour of the known
//!   pixels there, not black; pixels that receive no vote and have no match (in an image
//!   hardly larger than a patch, where no level is searched) keep the estimate, so tiny images
//!   come back filled with a flat colour.
//! * No global mask and no regularity guide.
//!
//! # Options
//!
//! See [`PatchMatchOptions`]. The patch is given by its side: PyPatchMatch's `patch_size`
//! argument is a **radius**. The default here, a side of 7, is PyPatchMatch's `patch_size=3`,
//! which is how InvokeAI calls it for infill; PyPatchMatch's own default (radius 15, a side of
//! 31) follows larger structures at about 20× the cost.
//!
//! ```
//! use inpaint_core::image::{GrayImage, Luma, Rgb, RgbImage};
//! use inpaint_core::{InpaintModel, Mask, Request};
//! use inpaint_models::patchmatch::{PatchMatch, PatchMatchOptions};
//!
//! // A checkerboard with a hole in it.
//! let image = RgbImage::from_fn(48, 48, |x, y| {
//!     if (x / 4 + y / 4) % 2 == 0 { Rgb([220, 60, 30]) } else { Rgb([20, 40, 90]) }
//! });
//! let mask = Mask::from_gray(GrayImage::from_fn(48, 48, |x, y| {
//!     Luma([if (20..28).contains(&x) && (20..28).contains(&y) { 255 } else { 0 }])
//! }))?;
//! let mut model = PatchMatch::with_options(PatchMatchOptions::default().with_patch_size(7))?;
//! let out = model.forward(&image, &mask, &Request::default())?;
//! // Every filled pixel is one of the two colours: texture, not blur.
//! assert!(out.pixels().all(|p| *p == Rgb([220, 60, 30]) || *p == Rgb([20, 40, 90])));
//! # Ok::<(), inpaint_core::Error>(())
//! ```

use image::RgbImage;
use inpaint_core::{Error, InpaintModel, Mask, ModelSpec, Request, Result};
use rayon::prelude::*;

mod em;
mod masked;
mod nnf;

use self::masked::MaskedImage;

/// The default patch side, 7: PyPatchMatch's `patch_size=3` (a radius), as InvokeAI calls it.
pub const DEFAULT_PATCH_SIZE: u32 = 7;

/// The largest patch side accepted.
pub const MAX_PATCH_SIZE: u32 = 101;

/// Options of [`PatchMatch`]. The defaults are PyPatchMatch's, but for the patch size: InvokeAI's
/// (see [`DEFAULT_PATCH_SIZE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatchMatchOptions {
    /// Side of the square patches compared, in pixels: odd, from 3 to [`MAX_PATCH_SIZE`].
    /// Larger patches follow larger structures and cost more (quadratically). Default 7
    /// (PyPatchMatch's `patch_size=3`, as InvokeAI uses it; its `patch_size` is a radius).
    pub patch_size: u32,
    /// EM iterations at pyramid level `l` (0 = full size) are `1 + em_iterations_per_level × l`.
    /// Default 2, as PyPatchMatch.
    pub em_iterations_per_level: u32,
    /// Nearest-neighbour search passes per EM iteration at level `l` are
    /// `min(max_nnf_passes, 1 + l / 2)` (PyPatchMatch: `1 + l`); each is a forward and a
    /// backward scan. At least 1. Default 7, as PyPatchMatch.
    pub max_nnf_passes: u32,
    /// Number of pyramid levels, including the full size; `None` (the default) halves until a
    /// side is at most the patch radius, as PyPatchMatch. At least 1.
    pub pyramid_levels: Option<u32>,
    /// Seed of the random search. The same input and seed give the same output. Default 0.
    pub seed: u64,
}

impl Default for PatchMatchOptions {
    fn default() -> Self {
        PatchMatchOptions {
            patch_size: DEFAULT_PATCH_SIZE,
            em_iterations_per_level: 2,
            max_nnf_passes: 7,
            pyramid_levels: None,
            seed: 0,
        }
    }
}

impl PatchMatchOptions {
    /// Sets [`patch_size`](Self::patch_size).
    pub fn with_patch_size(mut self, patch_size: u32) -> Self {
        self.patch_size = patch_size;
        self
    }

    /// Sets [`em_iterations_per_level`](Self::em_iterations_per_level).
    pub fn with_em_iterations_per_level(mut self, iterations: u32) -> Self {
        self.em_iterations_per_level = iterations;
        self
    }

    /// Sets [`max_nnf_passes`](Self::max_nnf_passes).
    pub fn with_max_nnf_passes(mut self, passes: u32) -> Self {
        self.max_nnf_passes = passes;
        self
    }

    /// Sets [`pyramid_levels`](Self::pyramid_levels).
    pub fn with_pyramid_levels(mut self, levels: Option<u32>) -> Self {
        self.pyramid_levels = levels;
        self
    }

    /// Sets [`seed`](Self::seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn validate(&self) -> Result<()> {
        let size = self.patch_size;
        if !(3..=MAX_PATCH_SIZE).contains(&size) || size % 2 == 0 {
            return Err(Error::invalid_input(format!(
                "patch size must be odd and in 3..={MAX_PATCH_SIZE}, got {size}"
            )));
        }
        if self.max_nnf_passes == 0 {
            return Err(Error::invalid_input("max_nnf_passes must be at least 1"));
        }
        if self.pyramid_levels == Some(0) {
            return Err(Error::invalid_input("pyramid_levels must be at least 1"));
        }
        Ok(())
    }
}

/// PatchMatch inpainting, after PyPatchMatch: see the [module documentation](self).
///
/// Its spec asks for no padding, honours the HD strategy, and fills where the mask is above
/// 127 (the pipeline hands [`forward`](InpaintModel::forward) a 0/255 mask).
#[derive(Debug, Clone)]
pub struct PatchMatch {
    spec: ModelSpec,
    options: PatchMatchOptions,
}

impl PatchMatch {
    /// PatchMatch with the default options (patch side 7: PyPatchMatch's radius 3).
    pub fn new() -> Self {
        PatchMatch {
            spec: ModelSpec::new("patchmatch"),
            options: PatchMatchOptions::default(),
        }
    }

    /// PatchMatch with these options; fails with
    /// [`Error::InvalidInput`](inpaint_core::Error) for an even, too small or too large patch
    /// size, zero passes or zero pyramid levels.
    pub fn with_options(options: PatchMatchOptions) -> Result<Self> {
        options.validate()?;
        Ok(PatchMatch {
            options,
            ..PatchMatch::new()
        })
    }

    /// The options in use.
    pub fn options(&self) -> &PatchMatchOptions {
        &self.options
    }
}

impl Default for PatchMatch {
    fn default() -> Self {
        PatchMatch::new()
    }
}

impl InpaintModel for PatchMatch {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Fills the pixels where `mask` is above 127. Pixels outside the hole come back unchanged.
    /// A mask with nothing to fill, or nothing known, returns the image unchanged.
    fn forward(&mut self, image: &RgbImage, mask: &Mask, _request: &Request) -> Result<RgbImage> {
        if image.dimensions() != mask.dimensions() {
            return Err(Error::invalid_input(format!(
                "mask is {}×{} but the image is {}×{}",
                mask.width(),
                mask.height(),
                image.width(),
                image.height()
            )));
        }
        let threshold = self.spec.mask_threshold;
        let (width, height) = (image.width() as usize, image.height() as usize);
        let hole: Vec<bool> = mask
            .as_gray()
            .as_raw()
            .iter()
            .map(|&v| v > threshold)
            .collect();
        let regions = regions(&hole, width, height, self.options.patch_size as usize);
        let rgb = image.as_raw();
        // Each region is filled on its own, in parallel; its random numbers are keyed by its
        // first hole pixel, so neither the order nor the other regions change its fill.
        let fills: Vec<Option<Vec<u8>>> = regions
            .par_iter()
            .map(|&(roi, first)| {
                let (rw, rh) = (roi.x1 - roi.x0, roi.y1 - roi.y0);
                // The region is part of an image that already exists, so its size is trusted.
                let (mut crop_rgb, mut crop_hole) = (Vec::new(), Vec::new());
                for y in roi.y0..roi.y1 {
                    crop_rgb.extend_from_slice(
                        &rgb[(y * width + roi.x0) * 3..(y * width + roi.x1) * 3],
                    );
                    crop_hole.extend_from_slice(&hole[y * width + roi.x0..y * width + roi.x1]);
                }
                if !crop_hole.contains(&false) {
                    return None;
                }
                let radius = (self.options.patch_size / 2) as usize;
                let crop = MaskedImage::with_texture(rw, rh, &crop_rgb, crop_hole, radius);
                let options = PatchMatchOptions {
                    seed: region_seed(self.options.seed, first as u64),
                    ..self.options.clone()
                };
                Some(em::inpaint(crop, &options))
            })
            .collect();

        let mut out = image.clone();
        let out_raw: &mut [u8] = &mut out;
        for (&(roi, _), filled) in regions.iter().zip(&fills) {
            let Some(filled) = filled else { continue };
            let rw = roi.x1 - roi.x0;
            for y in roi.y0..roi.y1 {
                for x in roi.x0..roi.x1 {
                    if hole[y * width + x] {
                        let (p, q) = (y * width + x, (y - roi.y0) * rw + (x - roi.x0));
                        out_raw[p * 3..p * 3 + 3].copy_from_slice(&filled[q * 3..q * 3 + 3]);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The part of the image worked on: columns `x0..x1`, rows `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Region {
    fn overlaps(&self, other: &Region) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    fn union(&self, other: &Region) -> Region {
        Region {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }
}

/// The seed of the region whose first hole pixel (in raster order) is `first`.
fn region_seed(seed: u64, first: u64) -> u64 {
    nnf::Rng::new(&[seed, first]).next()
}

/// The regions worked on, each with the index of its first hole pixel, in raster order of that
/// pixel. Each 8-connected hole gets its bounding box grown by its longer side (at least twice
/// the patch size), clamped to the image; holes whose regions overlap share the bounding box
/// of their regions, until no two overlap. So every region holds only its own holes, and a
/// hole's region does not depend on holes far from it.
fn regions(hole: &[bool], width: usize, height: usize, patch_size: usize) -> Vec<(Region, usize)> {
    if hole.iter().all(|&h| h) {
        return Vec::new();
    }
    let mut seen = vec![false; hole.len()];
    let mut stack = Vec::new();
    let mut groups: Vec<(Region, usize)> = Vec::new();
    for start in 0..hole.len() {
        if !hole[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (sx, sy) = (start % width, start / width);
        let mut bbox = Region {
            x0: sx,
            y0: sy,
            x1: sx + 1,
            y1: sy + 1,
        };
        while let Some(p) = stack.pop() {
            let (x, y) = (p % width, p / width);
            bbox = bbox.union(&Region {
                x0: x,
                y0: y,
                x1: x + 1,
                y1: y + 1,
            });
            for ny in y.saturating_sub(1)..(y + 2).min(height) {
                for nx in x.saturating_sub(1)..(x + 2).min(width) {
                    let q = ny * width + nx;
                    if hole[q] && !seen[q] {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        let margin = (bbox.x1 - bbox.x0)
            .max(bbox.y1 - bbox.y0)
            .max(2 * patch_size);
        let mut region = Region {
            x0: bbox.x0.saturating_sub(margin),
            y0: bbox.y0.saturating_sub(margin),
            x1: (bbox.x1 + margin).min(width),
            y1: (bbox.y1 + margin).min(height),
        };
        let mut first = start;
        // The groups kept are pairwise disjoint; absorb every one this region meets, again
        // while the union grows.
        while let Some(i) = groups.iter().position(|(g, _)| g.overlaps(&region)) {
            let (g, f) = groups.swap_remove(i);
            region = region.union(&g);
            first = first.min(f);
        }
        groups.push((region, first));
    }
    groups.sort_by_key(|&(_, first)| first);
    groups
}

#[cfg(test)]
mod tests;
