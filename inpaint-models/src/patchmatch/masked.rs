//! Images with a hole mask, their pyramid, and the per-pixel features patches are compared on.

use rayon::prelude::*;

/// An RGB image with its texture features and a hole mask (PyPatchMatch's `MaskedImage`,
/// without its global mask).
#[derive(Debug, Clone)]
pub(super) struct MaskedImage {
    pub(super) width: usize,
    pub(super) height: usize,
    /// `width × height × VALUES`, row-major: each pixel's RGB, then its texture features.
    pub(super) values: Vec<u8>,
    /// `true` = hole (unknown).
    pub(super) hole: Vec<bool>,
}

/// Values per pixel: RGB, then the two texture features (see [`MaskedImage::with_texture`]).
pub(super) const VALUES: usize = 5;

/// How much the texture features count in the patch distance: they are the mean absolute
/// (halved) luma differences around the pixel, times this. With 2, a hole over a lattice
/// beside a clear sky still came back mostly sky; with 4 and 6, some fills (astronaut,
/// border) grew more than twice as busy as the original (BENCHMARKS.md, PatchMatch).
const TEXTURE_GAIN: u32 = 3;

/// PyPatchMatch's downsampling kernel, separable: `[1, 5, 10, 10, 5, 1]` over `-2..=3`.
const KERNEL: [u32; 6] = [1, 5, 10, 10, 5, 1];

impl MaskedImage {
    /// The image from its RGB and hole, with the texture features of Newson et al. (2014):
    /// per pixel, the mean absolute central difference of luma along x and along y over the
    /// patch around it, from known pixels only. They are computed here, at full size, and
    /// downsampled with the colour, so coarse levels still tell texture from flat areas.
    pub(super) fn with_texture(
        width: usize,
        height: usize,
        rgb: &[u8],
        hole: Vec<bool>,
        radius: usize,
    ) -> MaskedImage {
        let luma: Vec<i32> = rgb
            .chunks_exact(3)
            .map(|p| (77 * i32::from(p[0]) + 150 * i32::from(p[1]) + 29 * i32::from(p[2])) >> 8)
            .collect();
        let known = |y: usize, x: usize| !hole[y * width + x];
        // |∂x|, |∂y| where both neighbours along each axis are known, and where that is so.
        let n = width * height;
        let (mut dx, mut dy, mut measured) = (vec![0u32; n], vec![0u32; n], vec![0u32; n]);
        dx.par_chunks_exact_mut(width)
            .zip(dy.par_chunks_exact_mut(width))
            .zip(measured.par_chunks_exact_mut(width))
            .enumerate()
            .filter(|&(y, _)| y >= 1 && y + 1 < height)
            .for_each(|(y, ((dx, dy), measured))| {
                for x in 1..width.saturating_sub(1) {
                    let p = y * width + x;
                    if known(y, x - 1) && known(y, x + 1) && known(y - 1, x) && known(y + 1, x) {
                        dx[x] = (luma[p + 1] - luma[p - 1]).unsigned_abs();
                        dy[x] = (luma[p + width] - luma[p - width]).unsigned_abs();
                        measured[x] = 1;
                    }
                }
            });
        let ((dx, dy), measured) = rayon::join(
            || {
                rayon::join(
                    || box_sums(&dx, width, height, radius),
                    || box_sums(&dy, width, height, radius),
                )
            },
            || box_sums(&measured, width, height, radius),
        );
        let mut out = vec![0u8; n * VALUES];
        out.par_chunks_exact_mut(VALUES)
            .enumerate()
            .for_each(|(p, out)| {
                out[..3].copy_from_slice(&rgb[p * 3..p * 3 + 3]);
                if hole[p] || measured[p] == 0 {
                    return;
                }
                for (o, sum) in out[3..].iter_mut().zip([dx[p], dy[p]]) {
                    // Halved differences, as the gradient features, times the gain.
                    let mean =
                        u64::from(TEXTURE_GAIN) * u64::from(sum) / (2 * u64::from(measured[p]));
                    *o = mean.min(255) as u8;
                }
            });
        MaskedImage {
            width,
            height,
            values: out,
            hole,
        }
    }

    /// The RGB of each pixel, without the texture features.
    pub(super) fn into_rgb(self) -> Vec<u8> {
        self.values
            .chunks_exact(VALUES)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect()
    }

    pub(super) fn known_count(&self) -> usize {
        self.hole.iter().filter(|&&h| !h).count()
    }

    /// Half the size (rounded down), each pixel the kernel-weighted mean of the known pixels
    /// around it, truncated; a hole where none is known. As `MaskedImage::downsample`.
    pub(super) fn downsample(&self) -> MaskedImage {
        let (w, h) = (self.width, self.height);
        let (nw, nh) = (w / 2, h / 2);
        let mut values = vec![0u8; nw * nh * VALUES];
        let mut hole = vec![true; nw * nh];
        let rows = values
            .par_chunks_exact_mut(nw * VALUES)
            .zip(hole.par_chunks_exact_mut(nw));
        rows.enumerate().for_each(|(ny, (values, hole))| {
            for nx in 0..nw {
                let (y, x) = (2 * ny, 2 * nx);
                let mut sum = [0u32; VALUES];
                let mut ksum = 0u32;
                for (ky, &wy) in KERNEL.iter().enumerate() {
                    let Some(yy) = (y + ky).checked_sub(2).filter(|&v| v < h) else {
                        continue;
                    };
                    for (kx, &wx) in KERNEL.iter().enumerate() {
                        let Some(xx) = (x + kx).checked_sub(2).filter(|&v| v < w) else {
                            continue;
                        };
                        let p = yy * w + xx;
                        if self.hole[p] {
                            continue;
                        }
                        let k = wy * wx;
                        for (s, &v) in sum
                            .iter_mut()
                            .zip(&self.values[p * VALUES..p * VALUES + VALUES])
                        {
                            *s += u32::from(v) * k;
                        }
                        ksum += k;
                    }
                }
                for (o, s) in values[nx * VALUES..nx * VALUES + VALUES]
                    .iter_mut()
                    .zip(sum)
                {
                    // Truncated, as PyPatchMatch; 0 and a hole where nothing is known.
                    *o = s.checked_div(ksum).unwrap_or(0) as u8;
                }
                hole[nx] = ksum == 0;
            }
        });
        MaskedImage {
            width: nw,
            height: nh,
            values,
            hole,
        }
    }

    /// Nearest-neighbour upsampling to `width × height`, as `MaskedImage::upsample`.
    pub(super) fn upsample(&self, width: usize, height: usize) -> MaskedImage {
        let mut values = vec![0u8; width * height * VALUES];
        let mut hole = vec![false; width * height];
        for y in 0..height {
            let yy = y * self.height / height;
            for x in 0..width {
                let xx = x * self.width / width;
                let (p, q) = (yy * self.width + xx, y * width + x);
                hole[q] = self.hole[p];
                values[q * VALUES..q * VALUES + VALUES]
                    .copy_from_slice(&self.values[p * VALUES..p * VALUES + VALUES]);
            }
        }
        MaskedImage {
            width,
            height,
            values,
            hole,
        }
    }
}

/// The sums of `values` over the square of this radius around each pixel, clipped to the image.
/// Each sum covers at most `(2 × radius + 1)²` values of at most 255: no overflow.
pub(super) fn box_sums(values: &[u32], width: usize, height: usize, radius: usize) -> Vec<u32> {
    let mut rows = vec![0u32; values.len()];
    for (row, sums) in values.chunks_exact(width).zip(rows.chunks_exact_mut(width)) {
        let mut window = row[..radius.min(width)].iter().sum::<u32>();
        for (x, sum) in sums.iter_mut().enumerate() {
            if x + radius < width {
                window += row[x + radius];
            }
            *sum = window;
            if x >= radius {
                window -= row[x - radius];
            }
        }
    }
    let mut out = vec![0u32; values.len()];
    let mut window = vec![0u32; width];
    for y in 0..radius.min(height) {
        for (w, &v) in window.iter_mut().zip(&rows[y * width..(y + 1) * width]) {
            *w += v;
        }
    }
    for y in 0..height {
        if y + radius < height {
            let added = &rows[(y + radius) * width..(y + radius + 1) * width];
            for (w, &v) in window.iter_mut().zip(added) {
                *w += v;
            }
        }
        out[y * width..(y + 1) * width].copy_from_slice(&window);
        if y >= radius {
            let removed = &rows[(y - radius) * width..(y - radius + 1) * width];
            for (w, &v) in window.iter_mut().zip(removed) {
                *w -= v;
            }
        }
    }
    out
}

/// Bytes of features per pixel: RGB, then the x gradients, then the y gradients (PyPatchMatch's
/// nine), then, where texture is compared, the two texture features.
const COLOUR_FEATURES: usize = 9;
const TEXTURE_FEATURES: usize = 11;

/// What a patch distance reads: each pixel's features, whether it can be compared, padded by
/// the patch radius on every side so that no patch needs a bounds check.
#[derive(Debug)]
pub(super) struct Features {
    radius: usize,
    /// Bytes per pixel: [`COLOUR_FEATURES`] or [`TEXTURE_FEATURES`].
    per_pixel: usize,
    /// Padded width.
    stride: usize,
    /// `per_pixel` bytes per padded pixel.
    data: Vec<u8>,
    /// 1 where the pixel can be compared, 0 where not (hole, image's outer ring, padding);
    /// repeated for each of the pixel's `per_pixel` bytes.
    valid: Vec<u8>,
    /// Per padded row, prefix counts of pixels that cannot be compared (`stride + 1` each).
    invalid_prefix: Vec<u32>,
    /// Per pixel (unpadded, `width` a row), how many pixels of its patch cannot be compared: a
    /// lower bound of any distance to it, to skip hopeless candidates unread.
    patch_invalid: Vec<u32>,
    width: usize,
}

impl Features {
    /// PyPatchMatch's features: values, and central differences `p[+1]/2 - p[-1]/2 + 128`
    /// (0 on the outer ring), compared only inside the ring `1..=side-2` and outside holes;
    /// with `texture`, also the image's texture features.
    pub(super) fn new(image: &MaskedImage, radius: usize, texture: bool) -> Features {
        let per_pixel = if texture {
            TEXTURE_FEATURES
        } else {
            COLOUR_FEATURES
        };
        let (w, h) = (image.width, image.height);
        let stride = w + 2 * radius;
        let rows = h + 2 * radius;
        // Compared: outside the hole and inside the outer ring.
        let mut valid = vec![0u8; stride * rows * per_pixel];
        valid
            .par_chunks_exact_mut(stride * per_pixel)
            .skip(radius + 1)
            .take(h.saturating_sub(2))
            .enumerate()
            .for_each(|(y, row)| {
                let hole = &image.hole[(y + 1) * w..(y + 2) * w];
                for x in 1..w.saturating_sub(1) {
                    if !hole[x] {
                        row[(radius + x) * per_pixel..][..per_pixel].fill(1);
                    }
                }
            });
        let mut invalid_prefix = vec![0u32; rows * (stride + 1)];
        invalid_prefix
            .par_chunks_exact_mut(stride + 1)
            .zip(valid.par_chunks_exact(stride * per_pixel))
            .for_each(|(prefix, row)| {
                for x in 0..stride {
                    let bad = u32::from(row[x * per_pixel] == 0);
                    prefix[x + 1] = prefix[x] + bad;
                }
            });
        let side = 2 * radius + 1;
        let mut patch_invalid = vec![0u32; w * h];
        patch_invalid
            .par_chunks_exact_mut(w)
            .enumerate()
            .for_each(|(y, counts)| {
                let base = |r: usize| r * (stride + 1);
                for (x, count) in counts.iter_mut().enumerate() {
                    *count = (y..y + side)
                        .map(|r| invalid_prefix[base(r) + x + side] - invalid_prefix[base(r) + x])
                        .sum();
                }
            });
        let mut features = Features {
            radius,
            per_pixel,
            stride,
            data: vec![0u8; stride * rows * per_pixel],
            valid,
            invalid_prefix,
            patch_invalid,
            width: w,
        };
        features.write_values(image);
        features
    }

    /// The features of `image`, a new estimate of the same size without holes, in place of
    /// those of the last: which pixels can be compared is the same. Building all anew, fresh
    /// pages included, made the whole run about 5 % slower at 2048².
    pub(super) fn refresh(&mut self, image: &MaskedImage) {
        debug_assert!(!image.hole.contains(&true));
        self.write_values(image);
    }

    fn write_values(&mut self, image: &MaskedImage) {
        let (w, h, radius, per_pixel) = (image.width, image.height, self.radius, self.per_pixel);
        debug_assert_eq!((w, self.stride), (self.width, w + 2 * radius));
        let texture = per_pixel == TEXTURE_FEATURES;
        let rgb = &image.values;
        let rows = self.data.par_chunks_exact_mut(self.stride * per_pixel);
        rows.skip(radius).take(h).enumerate().for_each(|(y, row)| {
            for x in 0..w {
                let p = y * w + x;
                let out = &mut row[(radius + x) * per_pixel..][..per_pixel];
                out[..3].copy_from_slice(&rgb[p * VALUES..p * VALUES + 3]);
                if texture {
                    out[COLOUR_FEATURES..]
                        .copy_from_slice(&rgb[p * VALUES + 3..p * VALUES + VALUES]);
                }
                if x >= 1 && x + 1 < w && y >= 1 && y + 1 < h {
                    for c in 0..3 {
                        let half = |q: usize| rgb[q * VALUES + c] / 2;
                        out[3 + c] = half(p + 1).wrapping_sub(half(p - 1)).wrapping_add(128);
                        out[6 + c] = half(p + w).wrapping_sub(half(p - w)).wrapping_add(128);
                    }
                }
            }
        });
    }

    /// The squared-difference scale of one pixel: 255² for each feature byte. A pixel that
    /// cannot be compared counts this much.
    pub(super) fn pixel_scale(&self) -> u64 {
        self.per_pixel as u64 * 255 * 255
    }

    /// The fewest pixels that cannot be compared in any patch of this image.
    pub(super) fn min_patch_invalid(&self) -> u32 {
        self.patch_invalid.iter().copied().min().unwrap_or(0)
    }

    /// Per pixel (row-major), how many pixels of its patch cannot be compared: any distance
    /// from or to that patch is at least this many times [`pixel_scale`](Self::pixel_scale).
    pub(super) fn patch_invalid_counts(&self) -> &[u32] {
        &self.patch_invalid
    }

    fn invalid_in(&self, row: usize, x0: usize, len: usize) -> u32 {
        let base = row * (self.stride + 1);
        self.invalid_prefix[base + x0 + len] - self.invalid_prefix[base + x0]
    }
}

/// The raw distance of two patches: the sum over the patch's pixels of the squared feature
/// differences, or [`Features::pixel_scale`] where either pixel cannot be compared. Patch `a`
/// is centred at `(ay, ax)` of `fa`, `b` at `(by, bx)` of `fb`; both centres inside their
/// images.
///
/// Stops early, returning something `≥ bound`, once the sum reaches `bound`.
#[inline]
pub(super) fn distance(
    fa: &Features,
    (ay, ax): (usize, usize),
    fb: &Features,
    (by, bx): (usize, usize),
    bound: u64,
) -> u64 {
    debug_assert_eq!(fa.per_pixel, fb.per_pixel);
    let (side, per_pixel, scale) = (2 * fa.radius + 1, fa.per_pixel, fa.pixel_scale());
    let len = side * per_pixel;
    let (invalid_a, invalid_b) = (
        fa.patch_invalid[ay * fa.width + ax],
        fb.patch_invalid[by * fb.width + bx],
    );
    let lower = u64::from(invalid_a.max(invalid_b)) * scale;
    if lower >= bound {
        return lower;
    }
    let mut total = 0;
    for dy in 0..side {
        // Padded coordinates: the patch's top-left corner is the centre itself.
        let (ra, rb) = (ay + dy, by + dy);
        let oa = (ra * fa.stride + ax) * per_pixel;
        let ob = (rb * fb.stride + bx) * per_pixel;
        let (a, b) = (&fa.data[oa..oa + len], &fb.data[ob..ob + len]);
        // Most patches are wholly comparable: then no row's validity needs reading (random
        // candidates make those reads cache misses, a sixth of the search's time).
        let (ia, ib) = if invalid_a == 0 && invalid_b == 0 {
            (0, 0)
        } else {
            (fa.invalid_in(ra, ax, side), fb.invalid_in(rb, bx, side))
        };
        if ia == 0 && ib == 0 {
            total += u64::from(ssd(a, b));
        } else if ia as usize == side || ib as usize == side {
            total += side as u64 * scale;
        } else {
            let (ma, mb) = (&fa.valid[oa..oa + len], &fb.valid[ob..ob + len]);
            let (sum, valid_bytes) = masked_ssd(a, b, ma, mb);
            let invalid = side as u64 - u64::from(valid_bytes) / per_pixel as u64;
            total += u64::from(sum) + invalid * scale;
        }
        if total >= bound {
            return total;
        }
    }
    total
}

#[inline]
fn ssd(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i32::from(x) - i32::from(y);
            (d * d) as u32
        })
        .sum()
}

/// The squared differences where both are valid, and the number of such bytes.
#[inline]
fn masked_ssd(a: &[u8], b: &[u8], ma: &[u8], mb: &[u8]) -> (u32, u32) {
    let mut sum = 0u32;
    let mut count = 0u32;
    for (((&x, &y), &va), &vb) in a.iter().zip(b).zip(ma).zip(mb) {
        let v = i32::from(va & vb);
        let d = (i32::from(x) - i32::from(y)) * v;
        sum += (d * d) as u32;
        count += v as u32;
    }
    (sum, count)
}
