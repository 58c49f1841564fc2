//! Making the cost follow the mask rather than the image: the holes are grouped into clusters
//! that cannot see each other, and each cluster is marched on its own region of interest (ROI).
//!
//! # Why the result is exactly that of one run over the whole image
//!
//! Let `R` be the window radius (OpenCV's `range`). Filling a hole pixel reads flags, `T` and
//! colours within its window (Euclidean distance `≤ R`) and one pixel beyond it (the gradient
//! stencils and OpenCV's border index shifts): Chebyshev distance `≤ R + 1`. Only hole pixels
//! change while marching. So two holes whose pixels are more than `R + 1` apart (Chebyshev) never
//! read what the other writes, and the order in which their pixels are interleaved does not
//! matter. Within one hole, the queue's `(T, insertion)` order restricted to its pixels is the
//! same whether other holes are marched alongside or not.
//!
//! Telea also marches outward first, through the known pixels within Chebyshev distance `R` of
//! any hole (the "ring"), and reads the resulting `T` in the window. Two holes' rings neither
//! overlap nor touch (so the outward marches cannot meet) when the holes are more than `2R + 1`
//! apart.
//!
//! Hence the link distance: hole pixels at Chebyshev distance `≤ 2R + 1` (Telea) or `≤ R + 1`
//! (Navier–Stokes) belong to the same cluster. Merging more than needed is always safe.
//!
//! A cluster's ROI is the bounding box of its pixels grown by `R + 1` (everything read, up to
//! the outward march's neighbours at `R + 1`), clamped to the image. Where the ROI is clamped,
//! its grid frame is OpenCV's frame and OpenCV's border rules apply; elsewhere nothing within
//! `R + 1` of the cluster reaches the grid's frame. Other clusters' holes inside the ROI are left
//! known: they are too far to be read.

use std::ops::Range;

use image::{GrayImage, RgbImage};
use inpaint_core::{Error, Result};
use rayon::prelude::*;

use super::fmm::{Grid, Kernel};
use inpaint_core::buffer::copy_image;

/// A horizontal run of hole pixels: row `y`, columns `x0..x1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub(super) y: usize,
    pub(super) x0: usize,
    pub(super) x1: usize,
}

/// A rectangle of the image: columns `x0..x1`, rows `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub(super) x0: usize,
    pub(super) y0: usize,
    pub(super) x1: usize,
    pub(super) y1: usize,
}

/// Holes that must be marched together, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cluster {
    /// Its runs, in raster order, as a range of the sorted run list.
    pub(super) runs: Range<usize>,
    /// Its region of interest.
    pub(super) roi: Rect,
    /// Its number of hole pixels, to schedule the largest first.
    pub(super) pixels: usize,
}

/// How to split the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// Independent clusters on their own ROIs, in parallel.
    Clustered,
    /// One run over the whole image, as OpenCV does: the reference the clustered plan must
    /// reproduce byte for byte.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the reference plan of the tests")
    )]
    Whole,
}

/// Inpaints the non-zero pixels of `mask` in `image` with `kernel`. Sizes must match.
pub(super) fn inpaint<K: Kernel>(
    image: &RgbImage,
    mask: &GrayImage,
    kernel: &K,
    plan: Plan,
) -> Result<RgbImage> {
    debug_assert_eq!(image.dimensions(), mask.dimensions());
    let (width, height) = (image.width() as usize, image.height() as usize);
    let mut out = copy_image(image);
    let (mut runs, pixels) = find_runs(mask);
    if runs.is_empty() {
        return Ok(out);
    }
    // Grid cells are indexed with `u32` in the queue, and hold 16 bytes of colour each.
    let cells = (width + 2)
        .checked_mul(height + 2)
        .filter(|&c| u32::try_from(c).is_ok() && c.checked_mul(16).is_some());
    if cells.is_none() {
        return Err(Error::unsupported(format!(
            "{width}×{height} is too large for classical inpainting"
        )));
    }

    let range = kernel.disc().range;
    let clusters = match plan {
        Plan::Whole => vec![Cluster {
            runs: 0..runs.len(),
            roi: Rect {
                x0: 0,
                y0: 0,
                x1: width,
                y1: height,
            },
            pixels,
        }],
        Plan::Clustered => {
            let link = if K::OUTSIDE_T {
                2 * range + 1
            } else {
                range + 1
            };
            clusters(&mut runs, link, range + 1, width, height)
        }
    };

    let raw: &mut [u8] = &mut out;
    if let [cluster] = clusters.as_slice() {
        let mut grid = Grid::default();
        let runs = &runs[cluster.runs.clone()];
        grid.run(kernel, image, cluster.roi, runs);
        for run in runs {
            let at = 3 * (run.y * width + run.x0);
            grid.read_run(run, &mut raw[at..at + 3 * (run.x1 - run.x0)]);
        }
        return Ok(out);
    }

    let filled: Vec<Vec<u8>> = clusters
        .par_iter()
        .map_init(Grid::default, |grid, cluster| {
            let runs = &runs[cluster.runs.clone()];
            grid.run(kernel, image, cluster.roi, runs);
            let mut colours = vec![0; 3 * cluster.pixels];
            let mut at = 0;
            for run in runs {
                let n = 3 * (run.x1 - run.x0);
                grid.read_run(run, &mut colours[at..at + n]);
                at += n;
            }
            colours
        })
        .collect();
    for (cluster, colours) in clusters.iter().zip(filled) {
        let mut from = 0;
        for run in &runs[cluster.runs.clone()] {
            let (at, n) = (3 * (run.y * width + run.x0), 3 * (run.x1 - run.x0));
            raw[at..at + n].copy_from_slice(&colours[from..from + n]);
            from += n;
        }
    }
    Ok(out)
}

/// The runs of non-zero pixels of `mask`, in raster order, and their pixel count.
pub(super) fn find_runs(mask: &GrayImage) -> (Vec<Run>, usize) {
    let width = mask.width() as usize;
    let mut runs = Vec::new();
    let mut pixels = 0;
    if width == 0 {
        return (runs, 0);
    }
    for (y, row) in mask.as_raw().chunks_exact(width).enumerate() {
        let mut x = 0;
        loop {
            x += skip_chunks(&row[x..], |b| b == 0);
            let Some(start) = row[x..].iter().position(|&b| b != 0) else {
                break;
            };
            let x0 = x + start;
            let mut x1 = x0 + skip_chunks(&row[x0..], |b| b != 0);
            x1 += row[x1..]
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(row.len() - x1);
            runs.push(Run { y, x0, x1 });
            pixels += x1 - x0;
            x = x1;
        }
    }
    (runs, pixels)
}

/// The length of the longest prefix of `bytes` made of whole 32-byte chunks whose bytes all
/// pass `test` (a branch-free test per chunk, so that long runs are skipped quickly).
#[inline]
fn skip_chunks(bytes: &[u8], test: impl Fn(u8) -> bool) -> usize {
    bytes
        .chunks_exact(32)
        .take_while(|chunk| chunk.iter().fold(true, |all, &b| all & test(b)))
        .count()
        * 32
}

/// Groups `runs` (raster order) into clusters: runs with pixels at Chebyshev distance
/// `≤ link` share a cluster. Reorders `runs` so that each cluster's runs are contiguous and
/// still in raster order; each ROI is the cluster's bounding box grown by `margin`, clamped to
/// `width × height`.
pub(super) fn clusters(
    runs: &mut Vec<Run>,
    link: usize,
    margin: usize,
    width: usize,
    height: usize,
) -> Vec<Cluster> {
    let mut sets = DisjointSets::new(runs.len());
    // The non-empty rows: their `y` and the range of their runs.
    let mut rows: Vec<(usize, Range<usize>)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        match rows.last_mut() {
            Some((y, range)) if *y == run.y => range.end = i + 1,
            _ => rows.push((run.y, i..i + 1)),
        }
    }
    for (r, (y, row)) in rows.iter().enumerate() {
        for i in row.start + 1..row.end {
            if runs[i].x0 < runs[i - 1].x1 + link {
                sets.union(i - 1, i);
            }
        }
        for (above_y, above) in rows[..r].iter().rev() {
            if y - above_y > link {
                break;
            }
            link_rows(&mut sets, runs, row.clone(), above.clone(), link);
        }
    }

    // Number the clusters by their first run, then list each one's runs in order.
    let mut id = vec![u32::MAX; runs.len()];
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut bounds: Vec<Rect> = Vec::new();
    let mut of_run = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let root = sets.find(i);
        if id[root] == u32::MAX {
            id[root] = clusters.len() as u32;
            clusters.push(Cluster {
                runs: 0..0,
                roi: Rect {
                    x0: 0,
                    y0: 0,
                    x1: 0,
                    y1: 0,
                },
                pixels: 0,
            });
            bounds.push(Rect {
                x0: run.x0,
                y0: run.y,
                x1: run.x1,
                y1: run.y + 1,
            });
        }
        let c = id[root] as usize;
        of_run.push(c as u32);
        let (cluster, b) = (&mut clusters[c], &mut bounds[c]);
        cluster.runs.end += 1;
        cluster.pixels += run.x1 - run.x0;
        (b.x0, b.x1, b.y1) = (b.x0.min(run.x0), b.x1.max(run.x1), run.y + 1);
    }
    let mut start = 0;
    for (cluster, b) in clusters.iter_mut().zip(&bounds) {
        let count = cluster.runs.end;
        cluster.runs = start..start;
        start += count;
        cluster.roi = Rect {
            x0: b.x0.saturating_sub(margin),
            y0: b.y0.saturating_sub(margin),
            x1: (b.x1 + margin).min(width),
            y1: (b.y1 + margin).min(height),
        };
    }
    let mut sorted = runs.clone();
    for (run, &c) in runs.iter().zip(&of_run) {
        let cluster = &mut clusters[c as usize];
        sorted[cluster.runs.end] = *run;
        cluster.runs.end += 1;
    }
    *runs = sorted;
    // Largest first, for the parallel scheduler.
    clusters.sort_by_key(|c| std::cmp::Reverse(c.pixels));
    clusters
}

/// Links the runs of row `row` to those of an earlier row `above` within `link` rows: runs
/// whose column ranges, the first grown by `link` on each side, overlap.
fn link_rows(
    sets: &mut DisjointSets,
    runs: &[Run],
    row: Range<usize>,
    above: Range<usize>,
    link: usize,
) {
    let mut first = above.start;
    for a in row {
        let (x0, x1) = (runs[a].x0, runs[a].x1);
        // Runs left of `first` end too far left for this run, hence for every later one.
        while first < above.end && runs[first].x1 + link <= x0 {
            first += 1;
        }
        let mut b = first;
        while b < above.end && runs[b].x0 < x1 + link {
            sets.union(a, b);
            b += 1;
        }
    }
}

/// Union–find over run indices.
struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        DisjointSets {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            // Path halving.
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            // The smaller index is the root, so roots are the clusters' first runs.
            let (root, child) = (a.min(b), a.max(b));
            self.parent[child] = root;
        }
    }
}
