//! Images with a hole mask, their pyramid, and the per-pixel features patches are compared on.

/// An RGB image with a hole mask (PyPatchMatch's `MaskedImage`, without its global mask).
#[derive(Debug, Clone)]
pub(super) struct MaskedImage {
    pub(super) width: usize,
    pub(super) height: usize,
    /// `width × height × 3`, row-major.
    pub(super) rgb: Vec<u8>,
    /// `true` = hole (unknown).
    pub(super) hole: Vec<bool>,
}

/// PyPatchMatch's downsampling kernel, separable: `[1, 5, 10, 10, 5, 1]` over `-2..=3`.
const KERNEL: [u32; 6] = [1, 5, 10, 10, 5, 1];

impl MaskedImage {
    pub(super) fn known_count(&self) -> usize {
        self.hole.iter().filter(|&&h| !h).count()
    }

    /// Half the size (rounded down), each pixel the kernel-weighted mean of the known pixels
    /// around it, truncated; a hole where none is known. As `MaskedImage::downsample`.
    pub(super) fn downsample(&self) -> MaskedImage {
        let (w, h) = (self.width, self.height);
        let (nw, nh) = (w / 2, h / 2);
        let mut rgb = vec![0u8; nw * nh * 3];
        let mut hole = vec![true; nw * nh];
        for ny in 0..nh {
            for nx in 0..nw {
                let (y, x) = (2 * ny, 2 * nx);
                let mut sum = [0u32; 3];
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
                        for (s, &v) in sum.iter_mut().zip(&self.rgb[p * 3..p * 3 + 3]) {
                            *s += u32::from(v) * k;
                        }
                        ksum += k;
                    }
                }
                let q = ny * nw + nx;
                for (o, s) in rgb[q * 3..q * 3 + 3].iter_mut().zip(sum) {
                    // Truncated, as PyPatchMatch; 0 and a hole where nothing is known.
                    *o = s.checked_div(ksum).unwrap_or(0) as u8;
                }
                hole[q] = ksum == 0;
            }
        }
        MaskedImage {
            width: nw,
            height: nh,
            rgb,
            hole,
        }
    }

    /// Nearest-neighbour upsampling to `width × height`, as `MaskedImage::upsample`.
    pub(super) fn upsample(&self, width: usize, height: usize) -> MaskedImage {
        let mut rgb = vec![0u8; width * height * 3];
        let mut hole = vec![false; width * height];
        for y in 0..height {
            let yy = y * self.height / height;
            for x in 0..width {
                let xx = x * self.width / width;
                let (p, q) = (yy * self.width + xx, y * width + x);
                hole[q] = self.hole[p];
                rgb[q * 3..q * 3 + 3].copy_from_slice(&self.rgb[p * 3..p * 3 + 3]);
            }
        }
        MaskedImage {
            width,
            height,
            rgb,
            hole,
        }
    }
}

/// The squared-difference scale of one pixel: 3 channels × (value, x and y gradient).
pub(super) const PIXEL_SCALE: u32 = 9 * 255 * 255;

/// Bytes of features per pixel: RGB, then the x gradients, then the y gradients.
const FEATURES: usize = 9;

/// What a patch distance reads: each pixel's 9 features, whether it can be compared, padded by
/// the patch radius on every side so that no patch needs a bounds check.
#[derive(Debug)]
pub(super) struct Features {
    radius: usize,
    /// Padded width.
    stride: usize,
    /// `FEATURES` bytes per padded pixel.
    data: Vec<u8>,
    /// 1 where the pixel can be compared, 0 where not (hole, image's outer ring, padding);
    /// repeated for each of the pixel's `FEATURES` bytes.
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
    /// (0 on the outer ring), compared only inside the ring `1..=side-2` and outside holes.
    pub(super) fn new(image: &MaskedImage, radius: usize) -> Features {
        let (w, h) = (image.width, image.height);
        let stride = w + 2 * radius;
        let rows = h + 2 * radius;
        let mut data = vec![0u8; stride * rows * FEATURES];
        let mut valid = vec![0u8; stride * rows * FEATURES];
        let rgb = &image.rgb;
        for y in 0..h {
            let row = (y + radius) * stride + radius;
            for x in 0..w {
                let p = y * w + x;
                let out = &mut data[(row + x) * FEATURES..][..FEATURES];
                out[..3].copy_from_slice(&rgb[p * 3..p * 3 + 3]);
                let interior = x >= 1 && x + 1 < w && y >= 1 && y + 1 < h;
                if interior {
                    for c in 0..3 {
                        let half = |q: usize| rgb[q * 3 + c] / 2;
                        out[3 + c] = half(p + 1).wrapping_sub(half(p - 1)).wrapping_add(128);
                        out[6 + c] = half(p + w).wrapping_sub(half(p - w)).wrapping_add(128);
                    }
                    if !image.hole[p] {
                        valid[(row + x) * FEATURES..][..FEATURES].fill(1);
                    }
                }
            }
        }
        let mut invalid_prefix = vec![0u32; rows * (stride + 1)];
        for (r, prefix) in invalid_prefix.chunks_exact_mut(stride + 1).enumerate() {
            for x in 0..stride {
                let bad = u32::from(valid[(r * stride + x) * FEATURES] == 0);
                prefix[x + 1] = prefix[x] + bad;
            }
        }
        let side = 2 * radius + 1;
        let mut patch_invalid = vec![0u32; w * h];
        for y in 0..h {
            for x in 0..w {
                let base = |r: usize| r * (stride + 1);
                patch_invalid[y * w + x] = (y..y + side)
                    .map(|r| invalid_prefix[base(r) + x + side] - invalid_prefix[base(r) + x])
                    .sum();
            }
        }
        Features {
            radius,
            stride,
            data,
            valid,
            invalid_prefix,
            patch_invalid,
            width: w,
        }
    }

    /// The fewest pixels that cannot be compared in any patch of this image.
    pub(super) fn min_patch_invalid(&self) -> u32 {
        self.patch_invalid.iter().copied().min().unwrap_or(0)
    }

    fn invalid_in(&self, row: usize, x0: usize, len: usize) -> u32 {
        let base = row * (self.stride + 1);
        self.invalid_prefix[base + x0 + len] - self.invalid_prefix[base + x0]
    }
}

/// The raw distance of two patches: the sum over the patch's pixels of the 9 squared feature
/// differences, or [`PIXEL_SCALE`] where either pixel cannot be compared. Patch `a` is centred
/// at `(ay, ax)` of `fa`, `b` at `(by, bx)` of `fb`; both centres inside their images.
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
    let side = 2 * fa.radius + 1;
    let len = side * FEATURES;
    let lower = fa.patch_invalid[ay * fa.width + ax].max(fb.patch_invalid[by * fb.width + bx]);
    let mut total = u64::from(lower) * u64::from(PIXEL_SCALE);
    if total >= bound {
        return total;
    }
    total = 0;
    for dy in 0..side {
        // Padded coordinates: the patch's top-left corner is the centre itself.
        let (ra, rb) = (ay + dy, by + dy);
        let oa = (ra * fa.stride + ax) * FEATURES;
        let ob = (rb * fb.stride + bx) * FEATURES;
        let (a, b) = (&fa.data[oa..oa + len], &fb.data[ob..ob + len]);
        let (ia, ib) = (fa.invalid_in(ra, ax, side), fb.invalid_in(rb, bx, side));
        if ia == 0 && ib == 0 {
            total += u64::from(ssd(a, b));
        } else if ia as usize == side || ib as usize == side {
            total += side as u64 * u64::from(PIXEL_SCALE);
        } else {
            let (ma, mb) = (&fa.valid[oa..oa + len], &fb.valid[ob..ob + len]);
            let (sum, valid_bytes) = masked_ssd(a, b, ma, mb);
            let invalid = side as u32 - valid_bytes / FEATURES as u32;
            total += u64::from(sum) + u64::from(invalid) * u64::from(PIXEL_SCALE);
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
