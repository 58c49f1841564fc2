//! Deterministic synthetic inputs for the benchmarks: a photo-like image and masks.
//!
//! # Brief overview
//!
//! * [`photo`] draws a scene with the things an inpainting algorithm has to work at: smooth
//!   gradients (sky), fine texture (ground), hard straight and curved edges (a striped wall,
//!   shaded balls, a thin wire) and a little sensor grain everywhere.
//! * [`blobs_mask`] scatters filled ellipses and brush strokes until about a given fraction of
//!   the pixels is to be filled; [`single_hole_mask`] cuts one square in the middle.
//! * [`XorShift`] is the random generator behind both: same seed, same pixels, on every
//!   platform, with no dependency.
//!
//! Masks follow `inpaint-core`'s convention: 255 = fill, 0 = keep.
//!
//! Sizes are relative to the image where that keeps the picture the same at every resolution
//! (shapes, stroke widths), and absolute where a real photo's are (texture grain, a few pixels).
#![warn(missing_docs)]

use image::{GrayImage, Luma, Rgb, RgbImage};

/// A xorshift64* generator (Vigna, 2016): tiny, fast, deterministic. Not for cryptography.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from any seed, 0 included (the seed is scrambled with SplitMix64 first, so
    /// nearby seeds give unrelated streams).
    pub fn new(seed: u64) -> Self {
        // xorshift's state must not be 0; splitmix64 maps only one input to 0, so nudge it.
        XorShift(splitmix64(seed).max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // The top 53 bits: every representable multiple of 2^-53, uniformly.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is below 2^-32 for the sizes used here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A photo-like RGB test image, the same for the same `(width, height, seed)`.
///
/// The scene: a sky with a vertical gradient and soft clouds above a wavy horizon; textured
/// ground below it (grain of a few pixels at every resolution, and larger patches); a wall with
/// diagonal stripes; a few shaded balls; a thin dark wire across everything; and ±2 levels of
/// grain. Masks placed anywhere therefore cover smooth areas, texture and edges.
///
/// ```
/// let a = inpaint_benches::photo(64, 48, 7);
/// assert_eq!(a.dimensions(), (64, 48));
/// assert_eq!(a, inpaint_benches::photo(64, 48, 7));
/// assert_ne!(a, inpaint_benches::photo(64, 48, 8));
/// ```
///
/// # Panics
///
/// If `width` or `height` is 0.
pub fn photo(width: u32, height: u32, seed: u64) -> RgbImage {
    assert!(
        width > 0 && height > 0,
        "photo: empty size {width}×{height}"
    );
    let scene = Scene::new(width, height, seed);
    RgbImage::from_fn(width, height, |x, y| scene.pixel(x, y))
}

/// A shaded ball: centre, radius, colour.
struct Ball {
    cx: f32,
    cy: f32,
    r: f32,
    color: [f32; 3],
}

/// Everything random about a [`photo`], drawn once; [`Scene::pixel`] is then a pure function.
struct Scene {
    w: f32,
    h: f32,
    seed: u64,
    horizon: f32,
    wave_amp: f32,
    wave_freq: f32,
    wave_phase: f32,
    sky_top: [f32; 3],
    sky_bottom: [f32; 3],
    ground: [f32; 3],
    soil: [f32; 3],
    wall: [f32; 4],
    wall_colors: [[f32; 3]; 2],
    stripe_period: f32,
    stripe_dir: (f32, f32),
    balls: Vec<Ball>,
    wire: (f32, f32, f32),
}

impl Scene {
    fn new(width: u32, height: u32, seed: u64) -> Self {
        let mut rng = XorShift::new(seed);
        let (w, h) = (width as f32, height as f32);
        let side = w.min(h);
        let mut r = |low: f64, high: f64| rng.range(low, high) as f32;
        let horizon = r(0.35, 0.55) * h;
        let wall_left = r(0.45, 0.65) * w;
        let wall = [
            wall_left,
            r(0.12, 0.25) * h,
            wall_left + r(0.2, 0.35) * w,
            horizon + r(0.1, 0.25) * h,
        ];
        let angle = r(0.3, 1.2);
        let stripe_period = (side / 48.0).max(8.0);
        let ball_count = 3 + (r(0.0, 3.0) as usize);
        let balls = (0..ball_count)
            .map(|_| Ball {
                cx: r(0.05, 0.95) * w,
                cy: r(0.3, 0.95) * h,
                r: r(0.04, 0.11) * side,
                color: [r(60.0, 240.0), r(30.0, 200.0), r(20.0, 180.0)],
            })
            .collect();
        Scene {
            w,
            h,
            seed,
            horizon,
            wave_amp: r(0.01, 0.04) * h,
            wave_freq: r(1.5, 4.0) * std::f32::consts::TAU / w,
            wave_phase: r(0.0, std::f64::consts::TAU),
            sky_top: [r(40.0, 80.0), r(90.0, 140.0), r(170.0, 220.0)],
            sky_bottom: [r(180.0, 220.0), r(200.0, 230.0), r(225.0, 250.0)],
            ground: [r(70.0, 110.0), r(100.0, 140.0), r(40.0, 70.0)],
            soil: [r(110.0, 150.0), r(80.0, 110.0), r(50.0, 70.0)],
            wall,
            wall_colors: [
                [r(150.0, 230.0), r(60.0, 120.0), r(40.0, 90.0)],
                [r(200.0, 250.0), r(190.0, 240.0), r(170.0, 220.0)],
            ],
            stripe_period,
            stripe_dir: (angle.cos(), angle.sin()),
            balls,
            // A line y = a + b·x, and its half thickness.
            wire: (
                r(0.1, 0.4) * h,
                r(-0.15, 0.25) * h / w,
                (side / 400.0).max(0.8),
            ),
        }
    }

    fn pixel(&self, x: u32, y: u32) -> Rgb<u8> {
        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
        let side = self.w.min(self.h);
        let horizon = self.horizon + self.wave_amp * (fx * self.wave_freq + self.wave_phase).sin();
        let mut color = if fy < horizon {
            // Sky: a smooth gradient, with clouds that vary over a quarter of the image.
            let t = fy / horizon;
            let cloud = value_noise(fx, fy, side / 4.0, self.seed ^ 1);
            let cloud = (cloud - 0.55).max(0.0) * 1.6;
            mix(mix(self.sky_top, self.sky_bottom, t), [245.0; 3], cloud)
        } else {
            // Ground: grass and soil patches, with grain of 3 to 17 pixels.
            let patch = value_noise(fx, fy, side / 6.0, self.seed ^ 2);
            let base = mix(self.ground, self.soil, smoothstep(0.4, 0.6, patch));
            let grain = 0.5 * value_noise(fx, fy, 3.0, self.seed ^ 3)
                + 0.3 * value_noise(fx, fy, 7.0, self.seed ^ 4)
                + 0.2 * value_noise(fx, fy, 17.0, self.seed ^ 5);
            scale(base, 0.6 + 0.8 * grain)
        };

        let [left, top, right, bottom] = self.wall;
        if (left..right).contains(&fx) && (top..bottom).contains(&fy) {
            let along = fx * self.stripe_dir.0 + fy * self.stripe_dir.1;
            let stripe = (along / self.stripe_period).rem_euclid(1.0) < 0.5;
            color = self.wall_colors[usize::from(stripe)];
            // A darker edge on the wall's right and bottom sides, a few pixels wide.
            let edge = (side / 150.0).max(2.0);
            if fx > right - edge || fy > bottom - edge {
                color = scale(color, 0.55);
            }
        }

        for ball in &self.balls {
            let (dx, dy) = (fx - ball.cx, fy - ball.cy);
            let d2 = dx * dx + dy * dy;
            if d2 < ball.r * ball.r {
                // Lit from the top left: brightest off-centre, darker towards the rim.
                let (lx, ly) = (dx / ball.r + 0.35, dy / ball.r + 0.35);
                let light = (1.0 - 0.6 * (lx * lx + ly * ly)).clamp(0.25, 1.0);
                color = scale(ball.color, 0.35 + 0.75 * light);
            }
        }

        let (a, b, half) = self.wire;
        let distance = (fy - (a + b * fx)).abs() / (1.0 + b * b).sqrt();
        if distance < half {
            color = [25.0, 22.0, 20.0];
        }

        let grain = (hash2(i64::from(x), i64::from(y), self.seed ^ 6) - 0.5) * 4.0;
        Rgb(color.map(|c| (c + grain).round().clamp(0.0, 255.0) as u8))
    }
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

fn scale(c: [f32; 3], k: f32) -> [f32; 3] {
    c.map(|v| v * k)
}

fn smoothstep(low: f32, high: f32, x: f32) -> f32 {
    let t = ((x - low) / (high - low)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A hash of a lattice point, uniform in `[0, 1)`.
fn hash2(x: i64, y: i64, seed: u64) -> f32 {
    let h = splitmix64(
        seed ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
    );
    (h >> 40) as f32 / (1u32 << 24) as f32
}

/// Value noise: random values on a lattice `period` pixels apart, smoothly interpolated.
fn value_noise(x: f32, y: f32, period: f32, seed: u64) -> f32 {
    let (gx, gy) = (x / period, y / period);
    let (ix, iy) = (gx.floor(), gy.floor());
    let (tx, ty) = (smoothstep(0.0, 1.0, gx - ix), smoothstep(0.0, 1.0, gy - iy));
    let (ix, iy) = (ix as i64, iy as i64);
    let top = lerp(hash2(ix, iy, seed), hash2(ix + 1, iy, seed), tx);
    let bottom = lerp(hash2(ix, iy + 1, seed), hash2(ix + 1, iy + 1, seed), tx);
    lerp(top, bottom, ty)
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// A mask with about `fraction` of its pixels at 255 (fill), the rest 0, the same for the same
/// arguments.
///
/// Shapes are added one at a time until the target is reached, so the result overshoots by at
/// most one shape, and shape sizes are capped so that one shape is small next to the target:
/// filled ellipses (some of them discs) and brush strokes (a few thick segments with rounded
/// joints), scattered uniformly, some cut by the image border. Meant for fractions up to about
/// one half; `fraction ≤ 0` gives an empty mask and `fraction ≥ 1` a full one.
///
/// ```
/// use inpaint_benches::{blobs_mask, fill_fraction};
/// let mask = blobs_mask(256, 128, 0.05, 1);
/// let f = fill_fraction(&mask);
/// assert!((0.05..0.06).contains(&f), "{f}");
/// assert!(mask.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
/// ```
///
/// # Panics
///
/// If `width` or `height` is 0, or `fraction` is NaN.
pub fn blobs_mask(width: u32, height: u32, fraction: f64, seed: u64) -> GrayImage {
    assert!(
        width > 0 && height > 0,
        "blobs_mask: empty size {width}×{height}"
    );
    assert!(!fraction.is_nan(), "blobs_mask: fraction is NaN");
    let total = u64::from(width) * u64::from(height);
    if fraction >= 1.0 {
        return GrayImage::from_pixel(width, height, Luma([255]));
    }
    let mut canvas = Canvas::new(width, height);
    let target = (fraction * total as f64).ceil() as u64;
    if target == 0 {
        return canvas.image;
    }
    let mut rng = XorShift::new(seed);
    let (w, h) = (f64::from(width), f64::from(height));
    let side = w.min(h);
    // One shape (area up to about π·r_max²) should be at most ~1/8 of the target.
    let r_max = (0.05 * side)
        .min((target as f64 / (8.0 * std::f64::consts::PI)).sqrt())
        .max(1.5);
    while canvas.filled < target {
        let (cx, cy) = (rng.range(0.0, w), rng.range(0.0, h));
        let kind = rng.below(10);
        if kind < 6 {
            let a = rng.range(0.3, 1.0) * r_max;
            // Four in ten shapes are discs, the rest ellipses up to 3:1.
            let b = if kind < 2 {
                a
            } else {
                a * rng.range(0.33, 1.0)
            };
            let theta = rng.range(0.0, std::f64::consts::PI);
            canvas.ellipse(cx, cy, a, b, theta);
        } else {
            let radius = rng.range(0.12, 0.35) * r_max;
            let mut angle = rng.range(0.0, std::f64::consts::TAU);
            let (mut x, mut y) = (cx, cy);
            for _ in 0..2 + rng.below(4) {
                let length = rng.range(1.0, 3.0) * r_max;
                angle += rng.range(-1.2, 1.2);
                let (nx, ny) = (x + length * angle.cos(), y + length * angle.sin());
                canvas.capsule((x, y), (nx, ny), radius);
                (x, y) = (nx, ny);
            }
        }
    }
    canvas.image
}

/// A mask with one filled `side`×`side` square in the middle (clamped to the image).
///
/// ```
/// let mask = inpaint_benches::single_hole_mask(100, 80, 10);
/// assert_eq!(mask.get_pixel(45, 35).0, [255]);
/// assert_eq!(mask.get_pixel(54, 44).0, [255]);
/// assert_eq!(mask.get_pixel(44, 35).0, [0]);
/// assert_eq!(inpaint_benches::fill_fraction(&mask), 100.0 / 8000.0);
/// ```
pub fn single_hole_mask(width: u32, height: u32, side: u32) -> GrayImage {
    let (side_x, side_y) = (side.min(width), side.min(height));
    let (left, top) = ((width - side_x) / 2, (height - side_y) / 2);
    GrayImage::from_fn(width, height, |x, y| {
        let inside = (left..left + side_x).contains(&x) && (top..top + side_y).contains(&y);
        Luma([if inside { 255 } else { 0 }])
    })
}

/// The fraction of pixels of `mask` above 127 (to be filled).
pub fn fill_fraction(mask: &GrayImage) -> f64 {
    let raw = mask.as_raw();
    if raw.is_empty() {
        return 0.0;
    }
    raw.iter().filter(|&&v| v > 127).count() as f64 / raw.len() as f64
}

/// A mask being drawn, with a count of its filled pixels.
struct Canvas {
    image: GrayImage,
    filled: u64,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        Canvas {
            image: GrayImage::new(width, height),
            filled: 0,
        }
    }

    /// Sets every pixel whose centre satisfies `inside`, within the given bounds (clipped).
    fn fill(&mut self, bounds: [f64; 4], inside: impl Fn(f64, f64) -> bool) {
        let (w, h) = self.image.dimensions();
        let clip = |v: f64, max: u32| v.clamp(0.0, f64::from(max)) as u32;
        let (x0, x1) = (clip(bounds[0].floor(), w), clip(bounds[2].ceil() + 1.0, w));
        let (y0, y1) = (clip(bounds[1].floor(), h), clip(bounds[3].ceil() + 1.0, h));
        for y in y0..y1 {
            for x in x0..x1 {
                if inside(f64::from(x) + 0.5, f64::from(y) + 0.5) {
                    let p = self.image.get_pixel_mut(x, y);
                    if p.0[0] == 0 {
                        p.0[0] = 255;
                        self.filled += 1;
                    }
                }
            }
        }
    }

    /// A filled ellipse with semi-axes `a`, `b`, rotated by `theta`.
    fn ellipse(&mut self, cx: f64, cy: f64, a: f64, b: f64, theta: f64) {
        let (sin, cos) = theta.sin_cos();
        let half_w = ((a * cos).powi(2) + (b * sin).powi(2)).sqrt();
        let half_h = ((a * sin).powi(2) + (b * cos).powi(2)).sqrt();
        let bounds = [cx - half_w, cy - half_h, cx + half_w, cy + half_h];
        self.fill(bounds, |x, y| {
            let (dx, dy) = (x - cx, y - cy);
            let (u, v) = ((dx * cos + dy * sin) / a, (dy * cos - dx * sin) / b);
            u * u + v * v <= 1.0
        });
    }

    /// The points within `radius` of the segment `p`–`q`: a brush stroke with round ends.
    fn capsule(&mut self, p: (f64, f64), q: (f64, f64), radius: f64) {
        let bounds = [
            p.0.min(q.0) - radius,
            p.1.min(q.1) - radius,
            p.0.max(q.0) + radius,
            p.1.max(q.1) + radius,
        ];
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let length2 = (dx * dx + dy * dy).max(f64::EPSILON);
        self.fill(bounds, |x, y| {
            let t = (((x - p.0) * dx + (y - p.1) * dy) / length2).clamp(0.0, 1.0);
            let (ex, ey) = (x - p.0 - t * dx, y - p.1 - t * dy);
            ex * ex + ey * ey <= radius * radius
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xorshift_is_deterministic_and_spread() {
        let mut a = XorShift::new(0);
        let mut b = XorShift::new(0);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        assert!(xs.iter().all(|&x| x == b.next_u64()));
        let mean = (0..10_000).map(|_| a.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn blob_masks_hit_their_fraction() {
        for &(w, h) in &[(512, 512), (300, 200), (64, 700)] {
            for &fraction in &[0.01, 0.05, 0.2] {
                let f = fill_fraction(&blobs_mask(w, h, fraction, 3));
                assert!(
                    f >= fraction && f < fraction * 1.15,
                    "{w}×{h} at {fraction}: {f}"
                );
            }
        }
    }

    #[test]
    fn blob_masks_extremes() {
        assert_eq!(fill_fraction(&blobs_mask(10, 10, 0.0, 1)), 0.0);
        assert_eq!(fill_fraction(&blobs_mask(10, 10, 1.0, 1)), 1.0);
        assert!(fill_fraction(&blobs_mask(1, 1, 0.5, 1)) == 1.0);
    }

    #[test]
    fn single_hole_is_clamped() {
        assert_eq!(fill_fraction(&single_hole_mask(8, 4, 64)), 1.0);
        assert_eq!(fill_fraction(&single_hole_mask(8, 8, 0)), 0.0);
    }

    #[test]
    fn photo_has_edges_and_smooth_areas() {
        let img = photo(256, 256, 11);
        // Neighbouring differences: many small ones (smooth, texture) and some large (edges).
        let diffs: Vec<u8> = img
            .as_raw()
            .chunks_exact(3)
            .zip(img.as_raw().chunks_exact(3).skip(1))
            .map(|(a, b)| a[1].abs_diff(b[1]))
            .collect();
        let small = diffs.iter().filter(|&&d| d <= 4).count();
        let large = diffs.iter().filter(|&&d| d >= 40).count();
        assert!(small > diffs.len() / 3, "{small}");
        assert!(large > 50, "{large}");
    }
}
