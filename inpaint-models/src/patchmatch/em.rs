//! The coarse-to-fine expectation–maximisation of Wexler et al., as PyPatchMatch runs it.

use rayon::prelude::*;

use super::PatchMatchOptions;
use super::masked::{Features, MaskedImage, VALUES, box_sums};
use super::nnf::{Link, Nnf, Search};

/// Output rows one voting task owns.
const VOTE_ROWS: usize = 16;

/// The random search's largest window at full size (half its side). There the fields start
/// from the half size's, which searched the whole region, so the search only refines them;
/// windows up to half the region took 10-20 % more time over the whole run, and moved the
/// comparison with PyPatchMatch by 0.002 dB and no texture ratio across the band's edges
/// (BENCHMARKS.md).
const FULL_SIZE_SEARCH_RADIUS: usize = 16;

/// Fills the hole of `image`; returns the RGB of the whole image, known pixels unchanged.
/// `image` must have at least one known pixel.
pub(super) fn inpaint(image: MaskedImage, options: &PatchMatchOptions) -> Vec<u8> {
    let radius = (options.patch_size / 2) as usize;
    let side = 2 * radius + 1;
    let pyramid = pyramid(image, radius, options.pyramid_levels);
    let levels = pyramid.len();

    let mut target = initial_target(&pyramid[levels - 1]);
    let mut fields: Option<(Nnf, Nnf)> = None;
    for level in (0..levels).rev() {
        let source = &pyramid[level];
        let (w, h) = (source.width, source.height);
        // Texture features on every level but the full size: they keep the coarse levels from
        // filling a textured area with the flat one beside it. At full size the colours show
        // the texture themselves, and about half the time goes there.
        let texture = level >= 1;
        let source_features = Features::new(source, radius, texture);
        let max_distance = (side * side) as u64 * source_features.pixel_scale();
        let active = active_patches(source, radius);
        let voting = voting_patches(&active, &source_features, max_distance);
        let inactive_cover = (level > 1).then(|| InactiveCover::new(&active, w, h, radius));
        let key = |field: u64, iteration: u64| [options.seed, level as u64, field, iteration];
        let search_radius = if level == 0 {
            FULL_SIZE_SEARCH_RADIUS
        } else {
            usize::MAX
        };

        let em_iterations = 1 + options.em_iterations_per_level as usize * level;
        // Half PyPatchMatch's `1 + level`: the fields carry over between iterations, and
        // the coarse levels' passes were most of the time for little gain.
        let passes = options.max_nnf_passes.min(1 + level as u32 / 2);
        // Where every patch of the estimate has more than 11 % of its pixels outside the
        // comparable area (an image hardly larger than a patch), every distance maps to a
        // vote weight of exactly 0: searching would change nothing but the fields, so the
        // level only passes its estimate on, and the next level starts from random fields.
        let mut target_features = Features::new(&target, radius, texture);
        let hopeless =
            100 * u64::from(target_features.min_patch_invalid()) >= 11 * (side * side) as u64;
        if hopeless {
            fields = None;
            if level >= 1 {
                let finer = &pyramid[level - 1];
                let mut base = target.upsample(finer.width, finer.height);
                if level - 1 <= 1 {
                    for (p, (px, &hole)) in base
                        .values
                        .chunks_exact_mut(VALUES)
                        .zip(&finer.hole)
                        .enumerate()
                    {
                        if !hole {
                            px.copy_from_slice(&finer.values[p * VALUES..p * VALUES + VALUES]);
                        }
                    }
                }
                target = base;
            }
            continue;
        }
        for iteration in 0..em_iterations {
            if iteration > 0 {
                target_features.refresh(&target);
            }
            let s2t = Search {
                from: &source_features,
                into: &target_features,
                active: &voting,
                max_distance,
                key: key(0, iteration as u64),
                search_radius,
            };
            let t2s = Search {
                from: &target_features,
                into: &source_features,
                active: &active,
                max_distance,
                key: key(1, iteration as u64),
                search_radius,
            };
            let (mut forward, mut backward) = match fields.take() {
                None => rayon::join(|| Nnf::random(w, h, &s2t), || Nnf::random(w, h, &t2s)),
                Some((f, b)) if f.width != w || f.height != h => {
                    rayon::join(|| f.upscaled(w, h, &s2t), || b.upscaled(w, h, &t2s))
                }
                Some((mut f, mut b)) => {
                    rayon::join(|| f.remeasure(&s2t), || b.remeasure(&t2s));
                    (f, b)
                }
            };
            rayon::join(
                || forward.minimize(&s2t, passes),
                || backward.minimize(&t2s, passes),
            );

            let last = iteration + 1 == em_iterations;
            let upscaled = level >= 1 && last;
            let (new_source, base) = if upscaled {
                let finer = &pyramid[level - 1];
                (finer, target.upsample(finer.width, finer.height))
            } else {
                (source, target.clone())
            };
            let new_level = if upscaled { level - 1 } else { level };
            let vote = Vote {
                radius,
                level_width: w,
                level_height: h,
                scale: if upscaled { 2 } else { 1 },
                source: new_source,
                keep_known: new_level <= 1,
                // Also when building the full size (PyPatchMatch: the very last step only), so
                // the full size starts sharp and matches textured patches, not smooth ones.
                best_only: level <= 1 && last,
                inactive_cover: if new_level <= 1 {
                    None
                } else {
                    inactive_cover.as_ref()
                },
            };
            let votes = [
                weighted_links(&forward, &voting, max_distance, false),
                weighted_links(&backward, &active, max_distance, true),
            ];
            target = vote.apply(base, &votes, &backward);
            fields = Some((forward, backward));
        }
    }
    target.into_rgb()
}

/// The pyramid, finest first: halved while both sides exceed the patch radius (as
/// `_initialize_pyramid`), or to `levels` levels, and never to a level with nothing known.
fn pyramid(image: MaskedImage, radius: usize, levels: Option<u32>) -> Vec<MaskedImage> {
    let mut pyramid = vec![image];
    loop {
        let top = &pyramid[pyramid.len() - 1];
        let wanted = match levels {
            Some(n) => pyramid.len() < n as usize,
            None => top.width > radius && top.height > radius,
        };
        if !wanted || top.width < 2 || top.height < 2 {
            break;
        }
        let next = top.downsample();
        if next.known_count() == 0 {
            break;
        }
        pyramid.push(next);
    }
    pyramid
}

/// The first estimate at the coarsest level: the image with its hole pixels set to the mean
/// of its known pixels. (PyPatchMatch leaves them black.)
fn initial_target(coarsest: &MaskedImage) -> MaskedImage {
    let mut sum = [0u64; VALUES];
    let mut count = 0u64;
    for (px, &hole) in coarsest.values.chunks_exact(VALUES).zip(&coarsest.hole) {
        if !hole {
            for (s, &v) in sum.iter_mut().zip(px) {
                *s += u64::from(v);
            }
            count += 1;
        }
    }
    let mean = sum.map(|s| (s + count / 2).checked_div(count).unwrap_or(0) as u8);
    let mut target = coarsest.clone();
    for (px, hole) in target.values.chunks_exact_mut(VALUES).zip(&mut target.hole) {
        if *hole {
            px.copy_from_slice(&mean);
            *hole = false;
        }
    }
    target
}

/// Whether each patch overlaps the hole (`contains_mask`).
fn active_patches(image: &MaskedImage, radius: usize) -> Vec<bool> {
    let holes: Vec<u32> = image.hole.iter().map(|&h| u32::from(h)).collect();
    box_sums(&holes, image.width, image.height, radius)
        .into_iter()
        .map(|count| count > 0)
        .collect()
}

/// The active patches of the image with the hole that can vote into the estimate: those whose
/// own pixels that cannot be compared still leave room for a distance with a non-zero weight.
/// The others (mostly inside the hole) weigh 0 wherever they link, so the field from the image
/// with the hole skips them; searching for them was most of that field's work.
fn voting_patches(active: &[bool], features: &Features, max_distance: u64) -> Vec<bool> {
    let scale = features.pixel_scale();
    active
        .iter()
        .zip(features.patch_invalid_counts())
        .map(|(&a, &invalid)| a && similarity(u64::from(invalid) * scale, max_distance) > 0.0)
        .collect()
}

/// For each pixel, how many inactive patches cover it: each votes for the pixel itself,
/// once per field, with weight 1.
struct InactiveCover {
    counts: Vec<u32>,
    width: usize,
}

impl InactiveCover {
    fn new(active: &[bool], width: usize, height: usize, radius: usize) -> InactiveCover {
        let inactive: Vec<u32> = active.iter().map(|&a| u32::from(!a)).collect();
        InactiveCover {
            counts: box_sums(&inactive, width, height, radius),
            width,
        }
    }

    fn at(&self, y: usize, x: usize) -> u32 {
        self.counts[y * self.width + x]
    }
}

/// PyPatchMatch's `kDistance2Similarity` for a raw distance: the normalised distance on
/// `0..=65535`, mapped by a piecewise-linear falloff that reaches 0 at a tenth of the maximum.
fn similarity(d: u64, max_distance: u64) -> f64 {
    const BASE: [f64; 11] = [
        1.0, 0.99, 0.96, 0.83, 0.38, 0.11, 0.02, 0.005, 0.0006, 0.0001, 0.0,
    ];
    let scaled = (65535 * u128::from(d) / u128::from(max_distance)).min(65535) as f64;
    let t = scaled / 65536.0;
    let j = (100.0 * t) as usize;
    let at = |i: usize| BASE.get(i).copied().unwrap_or(0.0);
    at(j) + (100.0 * t - j as f64) * (at(j + 1) - at(j))
}

/// A vote: the patch at `from` (in the image with the hole) lends its pixels to the patch at
/// `to` (in the estimate), with this weight.
#[derive(Debug, Clone, Copy)]
struct Weighted {
    from: (usize, usize),
    to: (usize, usize),
    weight: f64,
}

/// The active links of a field with a non-zero weight, in scan order. `reverse`: the field
/// maps the estimate into the image with the hole (coherence), so its votes go the other way.
fn weighted_links(nnf: &Nnf, active: &[bool], max_distance: u64, reverse: bool) -> Vec<Weighted> {
    let w = nnf.width;
    nnf.links
        .iter()
        .enumerate()
        .filter(|&(p, _)| active[p])
        .filter_map(|(p, &Link { y, x, d })| {
            let weight = similarity(d, max_distance);
            let here = (p / w, p % w);
            let there = (y as usize, x as usize);
            (weight > 0.0).then_some(if reverse {
                Weighted {
                    from: there,
                    to: here,
                    weight,
                }
            } else {
                Weighted {
                    from: here,
                    to: there,
                    weight,
                }
            })
        })
        .collect()
}

/// One expectation and maximisation step (`_expectation_step` twice, `_maximization_step`).
struct Vote<'a> {
    radius: usize,
    level_width: usize,
    level_height: usize,
    /// 2 when the votes build the next finer level (each pixel votes for its 2×2 block).
    scale: usize,
    /// The image with the hole, at the output's size.
    source: &'a MaskedImage,
    /// Known pixels keep their value (the two finest levels).
    keep_known: bool,
    /// Each pixel takes its heaviest vote rather than the mean (the last step of the two
    /// finest levels).
    best_only: bool,
    /// Votes of the inactive patches, where they matter (coarse levels).
    inactive_cover: Option<&'a InactiveCover>,
}

impl Vote<'_> {
    /// The new estimate: `base` with each pixel set from its votes. `coherence` (the field
    /// from the estimate into the image with the hole) lends hole pixels that got no vote.
    fn apply(
        &self,
        mut base: MaskedImage,
        votes: &[Vec<Weighted>; 2],
        coherence: &Nnf,
    ) -> MaskedImage {
        let (ow, oh) = (base.width, base.height);
        debug_assert_eq!((ow, oh), (self.source.width, self.source.height));
        let source = self.source;
        base.values
            .par_chunks_mut(VOTE_ROWS * ow * VALUES)
            .enumerate()
            // Each task reuses its accumulator: a fresh one a band cost more in page faults
            // than the casting at full size.
            .for_each_init(Vec::new, |acc, (band, out)| {
                let y0 = band * VOTE_ROWS;
                let rows = out.len() / (ow * VALUES);
                let holes = &source.hole[y0 * ow..(y0 + rows) * ow];
                if self.keep_known && !holes.contains(&true) {
                    out.copy_from_slice(
                        &source.values[y0 * ow * VALUES..(y0 + rows) * ow * VALUES],
                    );
                    return;
                }
                acc.clear();
                acc.resize(rows * ow, [0f64; VALUES + 1]);
                for list in votes {
                    for v in list {
                        self.cast(v, y0, rows, acc);
                    }
                }
                if let Some(cover) = self.inactive_cover {
                    for (r, acc_row) in acc.chunks_exact_mut(ow).enumerate() {
                        let qy = (y0 + r) / self.scale;
                        if qy >= self.level_height {
                            continue;
                        }
                        for (x, a) in acc_row.iter_mut().enumerate() {
                            let qx = x / self.scale;
                            let p = (y0 + r) * ow + x;
                            if qx >= self.level_width || source.hole[p] {
                                continue;
                            }
                            let n = f64::from(2 * cover.at(qy, qx));
                            for (a, &v) in a
                                .iter_mut()
                                .zip(&source.values[p * VALUES..p * VALUES + VALUES])
                            {
                                *a += f64::from(v) * n;
                            }
                            a[VALUES] += n;
                        }
                    }
                }
                for (i, (px, a)) in out.chunks_exact_mut(VALUES).zip(acc.iter()).enumerate() {
                    let p = y0 * ow + i;
                    if self.keep_known && !source.hole[p] {
                        px.copy_from_slice(&source.values[p * VALUES..p * VALUES + VALUES]);
                    } else if a[VALUES] > 0.0 {
                        for c in 0..VALUES {
                            px[c] = (a[c] / a[VALUES]).round_ties_even().clamp(0.0, 255.0) as u8;
                        }
                    } else if source.hole[p] {
                        if let Some(lent) = self.closest_lender(coherence, p / ow, p % ow) {
                            px.copy_from_slice(
                                &source.values[lent * VALUES..lent * VALUES + VALUES],
                            );
                        }
                    }
                }
            });
        base.hole.fill(false);
        base
    }

    /// For a hole pixel with no vote, the source pixel (an index) that the closest-matching
    /// patch over it would lend, whatever its weight. Such pixels are mostly on the outer
    /// ring of the image, where every patch holds pixels the distance counts as the largest
    /// difference, so every vote weight there is 0; without this they would keep the
    /// coarse levels' estimate, upscaled in blocks.
    fn closest_lender(&self, coherence: &Nnf, oy: usize, ox: usize) -> Option<usize> {
        let (r, s, ow) = (self.radius, self.scale, self.source.width);
        let (py, px) = (oy / s, ox / s);
        if py >= self.level_height || px >= self.level_width {
            return None;
        }
        let (uy, ux) = (oy % s, ox % s);
        let mut best: Option<(u64, usize)> = None;
        for qy in py.saturating_sub(r)..(py + r + 1).min(self.level_height) {
            for qx in px.saturating_sub(r)..(px + r + 1).min(self.level_width) {
                let link = coherence.links[qy * self.level_width + qx];
                // The pixel of the matched patch at the offset of (py, px) in patch (qy, qx).
                let (Some(sy), Some(sx)) = (
                    (link.y as usize + py).checked_sub(qy),
                    (link.x as usize + px).checked_sub(qx),
                ) else {
                    continue;
                };
                if sy >= self.level_height || sx >= self.level_width {
                    continue;
                }
                let lent = (sy * s + uy) * ow + sx * s + ux;
                if !self.source.hole[lent] && best.is_none_or(|(d, _)| link.d < d) {
                    best = Some((link.d, lent));
                }
            }
        }
        best.map(|(_, lent)| lent)
    }

    /// Adds the part of vote `v` that lands on output rows `y0..y0 + rows` to `acc`.
    #[inline]
    fn cast(&self, v: &Weighted, y0: usize, rows: usize, acc: &mut [[f64; VALUES + 1]]) {
        let (r, s) = (self.radius as i64, self.scale);
        let (lw, lh) = (self.level_width as i64, self.level_height as i64);
        let ow = self.source.width;
        let ((fy, fx), (ty, tx)) = (v.from, v.to);
        let (fy, fx, ty, tx) = (fy as i64, fx as i64, ty as i64, tx as i64);
        // Level rows the band covers.
        let band_lo = (y0 / s) as i64;
        let band_hi = ((y0 + rows - 1) / s) as i64;
        let dy_lo = (-r).max(-fy).max(-ty).max(band_lo - ty);
        let dy_hi = r.min(lh - 1 - fy).min(lh - 1 - ty).min(band_hi - ty);
        let dx_lo = (-r).max(-fx).max(-tx);
        let dx_hi = r.min(lw - 1 - fx).min(lw - 1 - tx);
        if dy_lo > dy_hi || dx_lo > dx_hi {
            return;
        }
        let source = self.source;
        for dy in dy_lo..=dy_hi {
            let (sy, ty) = ((fy + dy) as usize, (ty + dy) as usize);
            for uy in 0..s {
                let oy = ty * s + uy;
                if oy < y0 || oy >= y0 + rows {
                    continue;
                }
                let iy = sy * s + uy;
                for dx in dx_lo..=dx_hi {
                    let (sx, tx) = ((fx + dx) as usize, (tx + dx) as usize);
                    for ux in 0..s {
                        let (ix, ox) = (sx * s + ux, tx * s + ux);
                        let (src, dst) = (iy * ow + ix, oy * ow + ox);
                        if source.hole[src] || (self.keep_known && !source.hole[dst]) {
                            continue;
                        }
                        let a = &mut acc[(oy - y0) * ow + ox];
                        let px = &source.values[src * VALUES..src * VALUES + VALUES];
                        if self.best_only {
                            // A near tie goes to the patch centred closest to the pixel, not
                            // to the first cast, which copied whole patches as blocks. At most
                            // 0.018 % off, whatever the radius (1e-5 a unit of offset² at 3).
                            let tie = 1e-5 * (9.0 / (r * r) as f64);
                            let weight = v.weight * (1.0 - tie * (dy * dy + dx * dx) as f64);
                            if weight > a[VALUES] {
                                for c in 0..VALUES {
                                    a[c] = f64::from(px[c]) * weight;
                                }
                                a[VALUES] = weight;
                            }
                        } else {
                            for c in 0..VALUES {
                                a[c] += f64::from(px[c]) * v.weight;
                            }
                            a[VALUES] += v.weight;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::masked::distance;
    use super::*;

    #[test]
    fn the_patches_the_completeness_field_skips_could_not_vote() {
        let (w, h, radius) = (30usize, 24usize, 3usize);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37) % 251) as u8).collect();
        let hole: Vec<bool> = (0..w * h)
            .map(|p| (8..20).contains(&(p % w)) && (6..15).contains(&(p / w)))
            .collect();
        let source = MaskedImage::with_texture(w, h, &rgb, hole.clone(), radius);
        let mut estimate = source.clone();
        estimate.hole.fill(false);
        let (fs, fe) = (
            Features::new(&source, radius, true),
            Features::new(&estimate, radius, true),
        );
        let max_distance = 49 * fs.pixel_scale();
        let active = active_patches(&source, radius);
        let voting = voting_patches(&active, &fs, max_distance);
        assert!(voting.iter().zip(&active).all(|(&v, &a)| a || !v));
        assert!(voting.contains(&true), "the ring outside the hole votes");
        assert!(
            hole.iter().zip(&voting).all(|(&h, &v)| !h || !v),
            "patches centred in the hole are skipped"
        );
        for p in (0..w * h).filter(|&p| active[p] && !voting[p]) {
            for q in 0..w * h {
                let d = distance(&fs, (p / w, p % w), &fe, (q / w, q % w), u64::MAX);
                assert_eq!(similarity(d, max_distance), 0.0, "{p} would vote via {q}");
            }
        }
    }

    #[test]
    fn the_heaviest_vote_ties_go_to_the_patch_centred_closest() {
        // One row, radius 1, a hole at x = 3. Two votes of equal weight reach it: the patch
        // centred at x = 2 lends source pixel 2 (red), the one centred at x = 3 lends source
        // pixel 4 (blue). The centred one wins in either casting order.
        let (red, blue, grey) = ([200, 0, 0], [0, 0, 200], [90, 90, 90]);
        let colours = [grey, grey, red, grey, blue, grey, grey];
        let source = MaskedImage {
            width: 7,
            height: 1,
            values: colours
                .iter()
                .flat_map(|c| [c[0], c[1], c[2], 0, 0])
                .collect(),
            hole: (0..7).map(|x| x == 3).collect(),
        };
        let off_centre = Weighted {
            from: (0, 1),
            to: (0, 2),
            weight: 1.0,
        };
        let centred = Weighted {
            from: (0, 4),
            to: (0, 3),
            weight: 1.0,
        };
        let vote = Vote {
            radius: 1,
            level_width: 7,
            level_height: 1,
            scale: 1,
            source: &source,
            keep_known: true,
            best_only: true,
            inactive_cover: None,
        };
        let coherence = Nnf {
            width: 7,
            height: 1,
            links: (0..7).map(|x| Link { y: 0, x, d: 0 }).collect(),
        };
        for order in [vec![off_centre, centred], vec![centred, off_centre]] {
            let out = vote.apply(source.clone(), &[order, vec![]], &coherence);
            let rgb = out.into_rgb();
            assert_eq!(rgb[9..12], blue, "{rgb:?}");
        }
    }
}
