//! The nearest-neighbour field: for each patch of one image, the most similar patch found so
//! far in another (Barnes et al.), searched by propagation and random search.

use rayon::prelude::*;

use super::masked::{Features, distance};

/// Rows of the field one task scans in order. Fixed, so that the result does not depend on the
/// number of threads.
const BAND_ROWS: usize = 24;

/// Random tries for a link that starts with nothing comparable (PyPatchMatch's `max_retry`).
const MAX_RETRY: usize = 20;

/// A small, seedable generator (SplitMix64) keyed by where it is used, so that every band of
/// every pass draws its own sequence whatever the thread that runs it.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(key: &[u64]) -> Rng {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for &k in key {
            state = mix(state ^ k).wrapping_add(0x9e37_79b9_7f4a_7c15);
        }
        Rng(state)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n ≥ 1`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where a patch's best match lies, and its raw distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Link {
    pub(super) y: u32,
    pub(super) x: u32,
    pub(super) d: u64,
}

/// A field over a `width × height` image, matching into an image of the same size (at each
/// level, the image with the hole and the current estimate have the same size).
#[derive(Debug, Clone)]
pub(super) struct Nnf {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) links: Vec<Link>,
}

/// What one field searches: patches of `from`, matched into `into`.
pub(super) struct Search<'a> {
    pub(super) from: &'a Features,
    pub(super) into: &'a Features,
    /// Patches searched; the others match themselves at distance 0. From the estimate: those
    /// that overlap the hole. From the image with the hole: only those of them that can vote
    /// (`voting_patches` in `em.rs`).
    pub(super) active: &'a [bool],
    /// The distance of a patch that overlaps nothing comparable.
    pub(super) max_distance: u64,
    /// Keys this search's random numbers.
    pub(super) key: [u64; 4],
    /// The largest random-search window (half its side): it starts from the smaller of this
    /// and half the image's shorter side.
    pub(super) search_radius: usize,
}

impl Nnf {
    /// A field of identity links, with random links for the active patches
    /// (`_randomize_field`).
    pub(super) fn random(width: usize, height: usize, search: &Search<'_>) -> Nnf {
        let mut nnf = Nnf::identity(width, height);
        nnf.links
            .par_chunks_mut(width)
            .enumerate()
            .for_each(|(y, row)| {
                let mut rng = Rng::new(&[search.key[0], search.key[1], search.key[2], 1, y as u64]);
                for (x, link) in row.iter_mut().enumerate() {
                    if search.active[y * width + x] {
                        *link = random_link(y, x, width, height, search, &mut rng);
                    }
                }
            });
        nnf
    }

    fn identity(width: usize, height: usize) -> Nnf {
        let links = (0..height)
            .flat_map(|y| {
                (0..width).map(move |x| Link {
                    y: y as u32,
                    x: x as u32,
                    d: 0,
                })
            })
            .collect();
        Nnf {
            width,
            height,
            links,
        }
    }

    /// A field for the next finer level, from this one (`_initialize_field_from`): each link
    /// scaled up, keeping its offset within the coarse pixel; links to nothing comparable are
    /// drawn again at random.
    pub(super) fn upscaled(&self, width: usize, height: usize, search: &Search<'_>) -> Nnf {
        let mut nnf = Nnf::identity(width, height);
        let fi = height as f64 / self.height as f64;
        let fj = width as f64 / self.width as f64;
        nnf.links
            .par_chunks_mut(width)
            .enumerate()
            .for_each(|(i, row)| {
                let mut rng = Rng::new(&[search.key[0], search.key[1], search.key[2], 2, i as u64]);
                let ilow = (i as f64 / fi).min((self.height - 1) as f64) as usize;
                for (j, link) in row.iter_mut().enumerate() {
                    if !search.active[i * width + j] {
                        continue;
                    }
                    let jlow = (j as f64 / fj).min((self.width - 1) as f64) as usize;
                    let other = self.links[ilow * self.width + jlow];
                    let y = (f64::from(other.y) * fi + (i as f64 - ilow as f64 * fi)) as i64;
                    let x = (f64::from(other.x) * fj + (j as f64 - jlow as f64 * fj)) as i64;
                    let y = y.clamp(0, height as i64 - 1) as usize;
                    let x = x.clamp(0, width as i64 - 1) as usize;
                    let d = distance(search.from, (i, j), search.into, (y, x), u64::MAX);
                    *link = if d >= search.max_distance {
                        random_link(i, j, width, height, search, &mut rng)
                    } else {
                        Link {
                            y: y as u32,
                            x: x as u32,
                            d,
                        }
                    };
                }
            });
        nnf
    }

    /// Measures every active link again, after either image changed; inactive ones become
    /// identity links at distance 0.
    pub(super) fn remeasure(&mut self, search: &Search<'_>) {
        let width = self.width;
        self.links
            .par_chunks_mut(width)
            .enumerate()
            .for_each(|(y, row)| {
                for (x, link) in row.iter_mut().enumerate() {
                    *link = if search.active[y * width + x] {
                        let to = (link.y as usize, link.x as usize);
                        Link {
                            d: distance(search.from, (y, x), search.into, to, u64::MAX),
                            ..*link
                        }
                    } else {
                        Link {
                            y: y as u32,
                            x: x as u32,
                            d: 0,
                        }
                    };
                }
            });
    }

    /// `passes` rounds of a forward then a backward scan (`minimize`), each improving every
    /// active link by propagation from its two scanned neighbours and a random search around
    /// it with halving radius.
    ///
    /// The rows holding active links are cut into bands of [`BAND_ROWS`] scanned in parallel;
    /// a band reads the row beyond its edge as it was before the scan. Band layout and random
    /// streams depend only on the sizes and the key, so the result does not depend on the
    /// thread count or scheduling.
    pub(super) fn minimize(&mut self, search: &Search<'_>, passes: u32) {
        let (w, h) = (self.width, self.height);
        let Some(first) = (0..h).find(|&y| search.active[y * w..(y + 1) * w].contains(&true))
        else {
            return;
        };
        let last = (0..h)
            .rev()
            .find(|&y| search.active[y * w..(y + 1) * w].contains(&true))
            .unwrap_or(first);
        let rows = first..last + 1;
        for pass in 0..passes {
            for forward in [true, false] {
                let bands: Vec<(usize, usize)> = rows
                    .clone()
                    .step_by(BAND_ROWS)
                    .map(|y0| (y0, (y0 + BAND_ROWS).min(rows.end)))
                    .collect();
                // The row each band propagates from across its edge, as before this scan.
                let edges: Vec<Option<Vec<Link>>> = bands
                    .iter()
                    .map(|&(y0, y1)| {
                        let edge = if forward { y0.checked_sub(1) } else { Some(y1) };
                        edge.filter(|&e| e < h)
                            .map(|e| self.links[e * w..(e + 1) * w].to_vec())
                    })
                    .collect();
                let links = &mut self.links[rows.start * w..rows.end * w];
                links
                    .par_chunks_mut(BAND_ROWS * w)
                    .zip(bands.par_iter().zip(edges.par_iter()))
                    .enumerate()
                    .for_each(|(b, (band, (&(y0, _), edge)))| {
                        let mut rng = Rng::new(&[
                            search.key[0],
                            search.key[1],
                            search.key[2],
                            search.key[3],
                            u64::from(pass),
                            u64::from(forward),
                            b as u64,
                        ]);
                        scan_band(band, y0, w, h, edge.as_deref(), forward, search, &mut rng);
                    });
            }
        }
    }
}

/// A random link for patch `(y, x)`: up to [`MAX_RETRY`] tries, the first that overlaps
/// something comparable, else the last (`_randomize_link`).
fn random_link(
    y: usize,
    x: usize,
    width: usize,
    height: usize,
    search: &Search<'_>,
    rng: &mut Rng,
) -> Link {
    let mut link = Link {
        y: y as u32,
        x: x as u32,
        d: search.max_distance,
    };
    for _ in 0..MAX_RETRY {
        let (ty, tx) = (rng.below(height), rng.below(width));
        let d = distance(search.from, (y, x), search.into, (ty, tx), u64::MAX);
        link = Link {
            y: ty as u32,
            x: tx as u32,
            d,
        };
        if d < search.max_distance {
            break;
        }
    }
    link
}

/// One scan of one band: rows `y0..` of the field, in `band`; `edge` is the row the first
/// scanned row propagates from, if any.
#[expect(
    clippy::too_many_arguments,
    reason = "one scan's whole context, called once"
)]
fn scan_band(
    band: &mut [Link],
    y0: usize,
    w: usize,
    h: usize,
    edge: Option<&[Link]>,
    forward: bool,
    search: &Search<'_>,
    rng: &mut Rng,
) {
    let rows = band.len() / w;
    let dir: i64 = if forward { 1 } else { -1 };
    let max_scale = search.search_radius.min((h.min(w) - 1) / 2);
    for r in 0..rows {
        let r = if forward { r } else { rows - 1 - r };
        let y = y0 + r;
        for c in 0..w {
            let x = if forward { c } else { w - 1 - c };
            if !search.active[y * w + x] {
                continue;
            }
            let mut best = band[r * w + x];
            if best.d == 0 {
                continue;
            }
            let try_link = |ty: i64, tx: i64, best: &mut Link| {
                if ty < 0 || tx < 0 || ty >= h as i64 || tx >= w as i64 {
                    return;
                }
                let (ty, tx) = (ty as usize, tx as usize);
                if (ty as u32, tx as u32) == (best.y, best.x) {
                    return;
                }
                let d = distance(search.from, (y, x), search.into, (ty, tx), best.d);
                if d < best.d {
                    *best = Link {
                        y: ty as u32,
                        x: tx as u32,
                        d,
                    };
                }
            };
            // Propagation along y, from the row scanned before this one.
            let ny = y as i64 - dir;
            if (0..h as i64).contains(&ny) {
                let nr = r as i64 - dir;
                let neighbour = if (0..rows as i64).contains(&nr) {
                    Some(band[nr as usize * w + x])
                } else {
                    edge.map(|e| e[x])
                };
                if let Some(n) = neighbour {
                    try_link(i64::from(n.y) + dir, i64::from(n.x), &mut best);
                }
            }
            // Propagation along x.
            let nx = x as i64 - dir;
            if (0..w as i64).contains(&nx) {
                let n = band[r * w + nx as usize];
                try_link(i64::from(n.y), i64::from(n.x) + dir, &mut best);
            }
            // Random search with a halving radius.
            let mut scale = max_scale;
            while scale > 0 && best.d > 0 {
                let dy = rng.below(2 * scale + 1) as i64 - scale as i64;
                let dx = rng.below(2 * scale + 1) as i64 - scale as i64;
                let ty = (i64::from(best.y) + dy).clamp(0, h as i64 - 1);
                let tx = (i64::from(best.x) + dx).clamp(0, w as i64 - 1);
                try_link(ty, tx, &mut best);
                scale /= 2;
            }
            band[r * w + x] = best;
        }
    }
}
