//! Tests of the classical models: OpenCV's output, invariants, clustering, edge cases.

use image::{GrayImage, Luma, Rgb, RgbImage};
use inpaint_core::{Error, InpaintModel, Mask, Request};

use super::roi::{Plan, Run, clusters, find_runs};
use super::{DEFAULT_RADIUS, NavierStokes, Telea, navier_stokes, telea};

/// Both models with this radius.
fn models(radius: f64) -> [Box<dyn InpaintModel>; 2] {
    [
        Box::new(Telea::with_radius(radius).unwrap()),
        Box::new(NavierStokes::with_radius(radius).unwrap()),
    ]
}

fn mask_from_fn(w: u32, h: u32, hole: impl Fn(u32, u32) -> bool) -> Mask {
    Mask::from_gray(GrayImage::from_fn(w, h, |x, y| {
        Luma([if hole(x, y) { 255 } else { 0 }])
    }))
    .unwrap()
}

/// A textured image: smooth waves, a hard edge and some hash noise.
fn textured(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) % 23;
        let edge = if (x / 16 + y / 12) % 2 == 0 {
            40.0
        } else {
            0.0
        };
        let c = |v: f64| (v + edge + f64::from(noise)).clamp(0.0, 255.0) as u8;
        Rgb([
            c(110.0 + 90.0 * (fx / 9.0 + fy / 13.0).sin()),
            c(120.0 + 80.0 * (fx / 5.0 - fy / 7.0).cos()),
            c(fx * 3.0 + fy),
        ])
    })
}

/// A small deterministic generator (xorshift), to draw masks without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

/// Random discs and lines, some touching the border, with mask values other than 255.
fn random_mask(w: u32, h: u32, seed: u64, shapes: usize) -> Mask {
    let mut rng = Rng(seed);
    let mut gray = GrayImage::new(w, h);
    for _ in 0..shapes {
        let (cx, cy, r) = (rng.below(w), rng.below(h), 1 + rng.below(4));
        let value = 1 + rng.below(255) as u8;
        for y in cy.saturating_sub(r)..(cy + r + 1).min(h) {
            for x in cx.saturating_sub(r)..(cx + r + 1).min(w) {
                if x.abs_diff(cx).pow(2) + y.abs_diff(cy).pow(2) <= r * r {
                    gray.put_pixel(x, y, Luma([value]));
                }
            }
        }
        if rng.below(3) == 0 {
            let len = 3 + rng.below(12);
            for t in 0..len {
                let (x, y) = (cx + t, cy + t / 2);
                if x < w && y < h {
                    gray.put_pixel(x, y, Luma([value]));
                }
            }
        }
    }
    Mask::from_gray(gray).unwrap()
}

fn assert_outside_unchanged(image: &RgbImage, mask: &Mask, out: &RgbImage) {
    assert_eq!(out.dimensions(), image.dimensions());
    for (x, y, p) in image.enumerate_pixels() {
        if mask.as_gray().get_pixel(x, y).0[0] == 0 {
            assert_eq!(
                out.get_pixel(x, y),
                p,
                "pixel ({x}, {y}) outside the mask changed"
            );
        }
    }
}

/// The fixture of [`matches_opencv`]: a 14×11 image given by a formula, and holes in the
/// middle, in the bottom-left corner, on the top row and on the right edge, with mask values
/// 255, 200 and 1 (OpenCV fills any non-zero value).
fn opencv_fixture() -> (RgbImage, Mask) {
    let image = RgbImage::from_fn(14, 11, |x, y| {
        Rgb([
            ((x * 37 + y * 11) % 256) as u8,
            ((x * x + 3 * y * y) % 256) as u8,
            ((x * y * 5 + 17) % 256) as u8,
        ])
    });
    let mask = GrayImage::from_fn(14, 11, |x, y| {
        Luma([match (x, y) {
            (4..=7, 3..=6) | (13, 5) => 255,
            (0..=2, 8..=10) => 200,
            (9, 0) => 1,
            _ => 0,
        }])
    });
    (image, Mask::from_gray(mask).unwrap())
}

/// What `cv2.inpaint(image, mask, 3, flag)` returns inside the mask of [`opencv_fixture`], in
/// raster order: the same with opencv-python-headless 4.14.0 and 5.0.0 (the image passed as
/// is; channels are independent, so RGB versus BGR does not matter).
const OPENCV_TELEA: [[u8; 3]; 27] = [
    [91, 88, 76],
    [147, 29, 53],
    [179, 35, 59],
    [171, 52, 77],
    [98, 70, 94],
    [154, 50, 67],
    [146, 68, 81],
    [135, 83, 97],
    [115, 92, 129],
    [150, 87, 90],
    [141, 99, 105],
    [130, 105, 101],
    [111, 132, 143],
    [228, 204, 79],
    [167, 123, 113],
    [117, 137, 135],
    [94, 148, 129],
    [108, 158, 78],
    [138, 150, 76],
    [123, 139, 63],
    [160, 151, 103],
    [158, 157, 102],
    [158, 154, 102],
    [176, 165, 130],
    [157, 154, 101],
    [157, 157, 101],
    [172, 168, 121],
];

/// As [`OPENCV_TELEA`], for `INPAINT_NS`.
const OPENCV_NS: [[u8; 3]; 27] = [
    [84, 82, 33],
    [165, 36, 63],
    [193, 39, 66],
    [182, 50, 83],
    [103, 73, 115],
    [167, 54, 75],
    [172, 56, 81],
    [144, 70, 104],
    [96, 90, 145],
    [165, 84, 99],
    [150, 92, 111],
    [116, 107, 127],
    [94, 121, 156],
    [97, 153, 92],
    [174, 129, 136],
    [112, 138, 155],
    [79, 153, 142],
    [88, 164, 93],
    [90, 146, 30],
    [120, 149, 59],
    [162, 173, 101],
    [115, 151, 58],
    [141, 155, 85],
    [176, 166, 120],
    [127, 151, 74],
    [148, 152, 98],
    [176, 130, 130],
];

#[test]
fn matches_opencv() {
    let (image, mask) = opencv_fixture();
    for (mut model, expected) in models(3.0).into_iter().zip([OPENCV_TELEA, OPENCV_NS]) {
        let out = model.forward(&image, &mask, &Request::default()).unwrap();
        let filled: Vec<[u8; 3]> = out
            .enumerate_pixels()
            .filter(|(x, y, _)| mask.as_gray().get_pixel(*x, *y).0[0] != 0)
            .map(|(_, _, p)| p.0)
            .collect();
        assert_eq!(filled, expected, "{}", model.spec().name);
        assert_outside_unchanged(&image, &mask, &out);
    }
}

/// The largest difference between two images of the same size, over all channels.
fn max_diff(a: &RgbImage, b: &RgbImage) -> u8 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

#[test]
fn constant_image_stays_constant() {
    let image = RgbImage::from_pixel(40, 30, Rgb([37, 150, 222]));
    let holes = [
        mask_from_fn(40, 30, |x, y| (12..25).contains(&x) && (8..20).contains(&y)),
        mask_from_fn(40, 30, |x, y| x < 6 || y > 26 || (x + y) % 11 == 0),
        random_mask(40, 30, 7, 25),
    ];
    for radius in [1.0, DEFAULT_RADIUS, 9.0] {
        for (i, mask) in holes.iter().enumerate() {
            let out = NavierStokes::with_radius(radius)
                .unwrap()
                .forward(&image, mask, &Request::default())
                .unwrap();
            assert!(out == image, "Navier-Stokes, radius {radius}, mask {i}");
            // OpenCV's Telea adds half a level before rounding half to even, so odd levels
            // creep up a little (37 becomes 38, then 39 next to it): up to 3 levels in
            // `cv2.inpaint` on these very cases, and the same here.
            let out = Telea::with_radius(radius)
                .unwrap()
                .forward(&image, mask, &Request::default())
                .unwrap();
            let diff = max_diff(&out, &image);
            assert!(diff <= 3, "Telea, radius {radius}, mask {i}: off by {diff}");
        }
    }
}

#[test]
fn linear_gradient_is_continued() {
    // A horizontal ramp of 4 levels per pixel and a 9×9 hole in its middle.
    let image = RgbImage::from_fn(64, 48, |x, _| {
        let v = (x * 4) as u8;
        Rgb([v, 255 - v, v / 2])
    });
    let mask = mask_from_fn(64, 48, |x, y| {
        (28..37).contains(&x) && (20..29).contains(&y)
    });
    for mut model in models(DEFAULT_RADIUS) {
        let out = model.forward(&image, &mask, &Request::default()).unwrap();
        let (mut worst, mut total) = (0, 0u32);
        for (x, y, p) in out.enumerate_pixels() {
            for (got, want) in p.0.iter().zip(image.get_pixel(x, y).0) {
                worst = worst.max(got.abs_diff(want));
                total += u32::from(got.abs_diff(want));
            }
        }
        let mean = f64::from(total) / (81.0 * 3.0);
        // `cv2.inpaint` on this case: Telea off by 3.5 levels on average and 11 at most,
        // Navier-Stokes by 2.7 and 8; within about a pixel of the ramp.
        assert!(
            mean <= 4.0 && worst <= 12,
            "{}: off by {mean:.2} on average, {worst} at most",
            model.spec().name
        );
    }
}

#[test]
fn outside_of_the_mask_is_unchanged() {
    let image = textured(97, 61);
    for seed in 1..4 {
        let mask = random_mask(97, 61, seed, 20);
        for mut model in models(DEFAULT_RADIUS) {
            let out = model.forward(&image, &mask, &Request::default()).unwrap();
            assert_outside_unchanged(&image, &mask, &out);
            assert!(out != image, "{} filled nothing", model.spec().name);
        }
    }
}

/// The clustered, ROI-restricted run must give the bytes of one run over the whole image.
#[test]
fn clusters_give_the_result_of_one_global_run() {
    let image = textured(150, 110);
    let mut masks: Vec<Mask> = (1..6).map(|seed| random_mask(150, 110, seed, 30)).collect();
    // Pairs of holes at every horizontal, vertical and diagonal gap around the link distances
    // (radius + 1 for Navier–Stokes, 2 radius + 1 for Telea, radius ≤ 7), near the borders too.
    for gap in 1..=18 {
        masks.push(mask_from_fn(150, 110, |x, y| {
            (y == 40 && (x == 30 || x == 30 + gap))
                || (x == 100 && (y == 10 || y == 10 + gap))
                || ((x, y) == (2, 2) || (x, y) == (2 + gap, 2 + gap))
                || ((x, y) == (149, 109) || (x, y) == (149 - gap, 100))
        }));
    }
    let mut split_cases = 0;
    for radius in [1.0, 3.0, DEFAULT_RADIUS, 7.0] {
        for (i, mask) in masks.iter().enumerate() {
            // Count the cases where Telea's clustering splits, so the test is not vacuous.
            let (mut runs, _) = find_runs(mask.as_gray());
            let link = 2 * super::range(radius) + 1;
            split_cases += usize::from(clusters(&mut runs, link, 0, 150, 110).len() > 1);
            let whole = telea::inpaint(&image, mask, radius, Plan::Whole).unwrap();
            let split = telea::inpaint(&image, mask, radius, Plan::Clustered).unwrap();
            assert!(whole == split, "Telea, radius {radius}, mask {i}");
            let whole = navier_stokes::inpaint(&image, mask, radius, Plan::Whole).unwrap();
            let split = navier_stokes::inpaint(&image, mask, radius, Plan::Clustered).unwrap();
            assert!(whole == split, "Navier-Stokes, radius {radius}, mask {i}");
        }
    }
    assert!(
        split_cases > 40,
        "only {split_cases} cases split into clusters"
    );
}

#[test]
fn clusters_split_at_the_link_distance() {
    // Two single pixels `gap` columns apart, and a third far below.
    for gap in 1..12 {
        let mut runs = vec![
            Run {
                y: 5,
                x0: 10,
                x1: 11,
            },
            Run {
                y: 5,
                x0: 10 + gap,
                x1: 11 + gap,
            },
            Run {
                y: 60,
                x0: 10,
                x1: 11,
            },
        ];
        let found = clusters(&mut runs, 5, 3, 100, 100);
        assert_eq!(found.len(), if gap <= 5 { 2 } else { 3 }, "gap {gap}");
        // Each cluster's runs are contiguous and in raster order.
        for c in &found {
            let runs = &runs[c.runs.clone()];
            assert!(
                runs.windows(2)
                    .all(|w| (w[0].y, w[0].x0) < (w[1].y, w[1].x0))
            );
        }
    }
    // Vertical and diagonal links, and the ROI: bounding box grown by the margin, clamped.
    let mut runs = vec![
        Run { y: 0, x0: 0, x1: 4 },
        Run { y: 6, x0: 8, x1: 9 },
        Run {
            y: 13,
            x0: 8,
            x1: 9,
        },
    ];
    let found = clusters(&mut runs, 6, 3, 20, 15);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].pixels, 5);
    assert_eq!(
        (
            found[0].roi.x0,
            found[0].roi.y0,
            found[0].roi.x1,
            found[0].roi.y1
        ),
        (0, 0, 12, 10)
    );
    assert_eq!(
        (
            found[1].roi.x0,
            found[1].roi.y0,
            found[1].roi.x1,
            found[1].roi.y1
        ),
        (5, 10, 12, 15)
    );
}

#[test]
fn runs_cover_every_non_zero_byte() {
    let (w, h) = (203, 7);
    let gray = GrayImage::from_fn(w, h, |x, y| {
        Luma([match (x + 13 * y) % 97 {
            0..40 => 0,
            v => v as u8,
        }])
    });
    let (runs, pixels) = find_runs(&gray);
    let mut covered = GrayImage::new(w, h);
    for run in &runs {
        assert!(run.x0 < run.x1);
        for x in run.x0..run.x1 {
            covered.put_pixel(x as u32, run.y as u32, Luma([1]));
        }
    }
    for (x, y, p) in gray.enumerate_pixels() {
        assert_eq!(covered.get_pixel(x, y).0[0] == 1, p.0[0] != 0, "({x}, {y})");
    }
    assert_eq!(pixels, gray.iter().filter(|&&v| v != 0).count());
    // Runs are maximal: never adjacent in a row.
    assert!(
        runs.windows(2)
            .all(|w| w[0].y != w[1].y || w[0].x1 < w[1].x0)
    );
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let cases: Vec<(RgbImage, Mask)> = vec![
        (textured(1, 1), mask_from_fn(1, 1, |_, _| true)),
        (textured(1, 1), mask_from_fn(1, 1, |_, _| false)),
        (textured(1, 9), mask_from_fn(1, 9, |_, y| y == 4)),
        (textured(9, 1), mask_from_fn(9, 1, |x, _| x == 0 || x == 5)),
        (textured(2, 2), mask_from_fn(2, 2, |x, y| x == y)),
        (textured(3, 3), mask_from_fn(3, 3, |x, y| x == 1 && y == 1)),
        (textured(3, 3), mask_from_fn(3, 3, |x, y| x != 1 || y != 1)),
        (
            textured(20, 15),
            mask_from_fn(20, 15, |x, y| x == 0 || y == 14),
        ),
        (
            textured(20, 15),
            mask_from_fn(20, 15, |x, y| x < 10 || y < 2),
        ),
        (textured(6, 4), mask_from_fn(6, 4, |_, _| true)),
    ];
    for radius in [0.1, 1.0, DEFAULT_RADIUS, 100.0] {
        for (image, mask) in &cases {
            for mut model in models(radius) {
                let out = model.forward(image, mask, &Request::default()).unwrap();
                assert_outside_unchanged(image, mask, &out);
            }
        }
    }
}

#[test]
fn a_mask_covering_everything_leaves_the_image_unchanged() {
    // OpenCV finds no known pixel to start from, and fills nothing.
    let image = textured(23, 17);
    let mask = mask_from_fn(23, 17, |_, _| true);
    for mut model in models(DEFAULT_RADIUS) {
        assert!(model.forward(&image, &mask, &Request::default()).unwrap() == image);
    }
}

#[test]
fn border_holes_are_filled() {
    let image = RgbImage::from_pixel(30, 20, Rgb([90, 20, 200]));
    let mut holed = image.clone();
    let mask = mask_from_fn(30, 20, |x, y| x < 2 || y < 1 || x == 29 || y == 19);
    for (x, y, p) in holed.enumerate_pixels_mut() {
        if mask.as_gray().get_pixel(x, y).0[0] != 0 {
            *p = Rgb([0, 0, 0]);
        }
    }
    for mut model in models(DEFAULT_RADIUS) {
        let out = model.forward(&holed, &mask, &Request::default()).unwrap();
        // Filled from the surroundings, not left black; near the first and last rows and
        // columns OpenCV's shifted reads see some still black pixels, so not exactly.
        let diff = max_diff(&out, &image);
        assert!(diff <= 3, "{}: off by {diff}", model.spec().name);
    }
}

#[test]
fn radius_is_validated() {
    for bad in [
        f64::NAN,
        0.0,
        -1.0,
        100.001,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        assert!(matches!(
            Telea::with_radius(bad),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            NavierStokes::with_radius(bad),
            Err(Error::InvalidInput { .. })
        ));
    }
    for good in [0.01, 0.5, 1.0, 4.5, 100.0] {
        assert_eq!(Telea::with_radius(good).unwrap().radius(), good);
        assert_eq!(NavierStokes::with_radius(good).unwrap().radius(), good);
    }
    assert_eq!(Telea::new().radius(), DEFAULT_RADIUS);
    assert_eq!(NavierStokes::default().radius(), DEFAULT_RADIUS);
    // OpenCV's `cvRound`: half to even, then at least 1.
    assert_eq!(super::range(0.3), 1);
    assert_eq!(super::range(2.5), 2);
    assert_eq!(super::range(3.5), 4);
    assert_eq!(super::range(100.0), 100);
}

#[test]
fn sizes_must_match() {
    let image = textured(10, 10);
    let mask = mask_from_fn(10, 11, |_, _| true);
    for mut model in models(DEFAULT_RADIUS) {
        assert!(matches!(
            model.forward(&image, &mask, &Request::default()),
            Err(Error::InvalidInput { .. })
        ));
    }
}

#[test]
fn specs() {
    for (model, name) in models(DEFAULT_RADIUS)
        .iter()
        .zip(["telea", "navier-stokes"])
    {
        let spec = model.spec();
        assert_eq!(spec.name, name);
        assert_eq!(spec.mask_threshold, 0);
        assert_eq!(spec.pad_multiple, 1);
        assert!(spec.honours_hd_strategy);
        assert_eq!(spec.fixed_size, None);
    }
}
