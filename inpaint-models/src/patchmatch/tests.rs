//! Tests of the PatchMatch model on small images (debug builds stay quick).

use image::{GrayImage, Luma, Rgb, RgbImage};
use inpaint_core::{Error, InpaintModel, Mask, Request};

use super::masked::{Features, MaskedImage, distance};
use super::nnf::{Nnf, Search};
use super::{DEFAULT_PATCH_SIZE, PatchMatch, PatchMatchOptions};

fn model(patch_size: u32, seed: u64) -> PatchMatch {
    PatchMatch::with_options(
        PatchMatchOptions::default()
            .with_patch_size(patch_size)
            .with_seed(seed),
    )
    .unwrap()
}

fn mask_of(width: u32, height: u32, hole: impl Fn(u32, u32) -> bool) -> Mask {
    Mask::from_gray(GrayImage::from_fn(width, height, |x, y| {
        Luma([if hole(x, y) { 255 } else { 0 }])
    }))
    .unwrap()
}

/// A noise texture, the same for every call.
fn noise(width: u32, height: u32) -> RgbImage {
    let mut rng = super::nnf::Rng::new(&[42]);
    RgbImage::from_fn(width, height, |_, _| {
        Rgb([
            rng.below(256) as u8,
            rng.below(256) as u8,
            rng.below(256) as u8,
        ])
    })
}

fn bricks(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let row = y / 6;
        let shift = if row % 2 == 0 { 0 } else { 6 };
        if y % 6 == 0 || (x + shift) % 12 == 0 {
            Rgb([200, 200, 190])
        } else {
            Rgb([150, 60 + (row % 3) as u8 * 10, 40])
        }
    })
}

/// The variance of the 4-neighbour Laplacian of the luma, over the pixels of `hole` whose
/// neighbours are inside the image.
fn laplacian_variance(image: &RgbImage, hole: &Mask) -> f64 {
    let luma = |x: u32, y: u32| {
        let p = image.get_pixel(x, y).0;
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let (w, h) = image.dimensions();
    let values: Vec<f64> = (1..h - 1)
        .flat_map(|y| (1..w - 1).map(move |x| (x, y)))
        .filter(|&(x, y)| hole.as_gray().get_pixel(x, y).0[0] > 127)
        .map(|(x, y)| {
            luma(x - 1, y) + luma(x + 1, y) + luma(x, y - 1) + luma(x, y + 1) - 4.0 * luma(x, y)
        })
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64
}

fn assert_outside_unchanged(image: &RgbImage, mask: &Mask, out: &RgbImage) {
    assert_eq!(out.dimensions(), image.dimensions());
    for (x, y, p) in image.enumerate_pixels() {
        if mask.as_gray().get_pixel(x, y).0[0] <= 127 {
            assert_eq!(out.get_pixel(x, y), p, "({x}, {y}) changed");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_on_any_number_of_threads() {
    let image = noise(40, 36);
    let mask = mask_of(40, 36, |x, y| {
        (12..25).contains(&x) && (10..22).contains(&y)
    });
    let run = |threads: usize, seed: u64| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                model(7, seed)
                    .forward(&image, &mask, &Request::default())
                    .unwrap()
            })
    };
    let one = run(1, 3);
    assert_eq!(one, run(4, 3));
    assert_eq!(one, run(3, 3));
    assert_ne!(one, run(1, 4), "the seed should matter on noise");
}

#[test]
fn pixels_outside_the_hole_are_unchanged() {
    let image = noise(30, 30);
    let mask = mask_of(30, 30, |x, y| (x + y) % 7 == 0 || (10..14).contains(&x));
    let out = model(5, 0)
        .forward(&image, &mask, &Request::default())
        .unwrap();
    assert_outside_unchanged(&image, &mask, &out);
}

#[test]
fn a_textured_fill_keeps_its_texture() {
    for image in [bricks(64, 64), noise(64, 64)] {
        let mask = mask_of(64, 64, |x, y| {
            (24..40).contains(&x) && (22..38).contains(&y)
        });
        let out = model(9, 0)
            .forward(&image, &mask, &Request::default())
            .unwrap();
        assert_outside_unchanged(&image, &mask, &out);
        let ratio = laplacian_variance(&out, &mask) / laplacian_variance(&image, &mask);
        assert!(
            (0.5..=2.0).contains(&ratio),
            "Laplacian variance ratio {ratio}"
        );
    }
}

/// A lattice of dark struts at irregular spacings (a launch tower, scaffolding) on the left,
/// against a slightly noisy evening sky, which also shows through the lattice's gaps.
fn lattice_beside_sky(width: u32, height: u32, sky_from: u32) -> RgbImage {
    let mut rng = super::nnf::Rng::new(&[5]);
    let mut struts = |n: u32| {
        let mut at = Vec::new();
        let mut next = 0;
        while next < n {
            next += 5 + rng.below(7) as u32;
            at.push(next);
        }
        at
    };
    let (columns, rows) = (struts(width), struts(height));
    RgbImage::from_fn(width, height, |x, y| {
        let t = y as f64 / height as f64;
        let sky = [60.0 + 30.0 * t, 80.0 + 25.0 * t, 150.0 - 20.0 * t];
        let strut = columns.contains(&x)
            || rows.contains(&y)
            || (x + y) % 23 == 7
            || (x + height - y) % 23 == 7;
        let dark = [35.0, 30.0, 25.0];
        Rgb(std::array::from_fn(|c| {
            // About normal, σ = 3.
            let noise = (0..3).map(|_| rng.below(7) as f64 - 3.0).sum::<f64>() / 1.15;
            let sky = sky[c] + noise;
            let v = if x < sky_from && strut {
                0.4 * sky + 0.6 * dark[c]
            } else {
                sky
            };
            v.round().clamp(0.0, 255.0) as u8
        }))
    })
}

#[test]
fn a_lattice_beside_a_flat_sky_is_filled_with_lattice() {
    // A hole over the lattice's edge. Colours and gradients alone matched the coarse levels'
    // blurred lattice with sky, and most of the hole came back as sky: Laplacian variance
    // ratios of 0.17-0.23 over these seeds. With the texture features: 0.51-0.60.
    let image = lattice_beside_sky(128, 112, 64);
    let mask = mask_of(128, 112, |x, y| {
        (40..80).contains(&x) && (30..80).contains(&y)
    });
    for seed in 0..4 {
        let out = model(DEFAULT_PATCH_SIZE, seed)
            .forward(&image, &mask, &Request::default())
            .unwrap();
        assert_outside_unchanged(&image, &mask, &out);
        let ratio = laplacian_variance(&out, &mask) / laplacian_variance(&image, &mask);
        assert!(
            ratio >= 0.4,
            "seed {seed}: Laplacian variance ratio {ratio}"
        );
    }
}

/// A yellow and blue checkerboard of `cell_width × cell_height` cells.
fn checkerboard(side: u32, cell_width: u32, cell_height: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, y| {
        if (x / cell_width + y / cell_height) % 2 == 0 {
            Rgb([230, 200, 30])
        } else {
            Rgb([10, 30, 120])
        }
    })
}

#[test]
fn a_regular_pattern_is_continued_exactly() {
    // A period-8 checkerboard offers exact matches for every patch of the fill.
    let image = checkerboard(48, 4, 4);
    let mask = mask_of(48, 48, |x, y| {
        (18..30).contains(&x) && (16..28).contains(&y)
    });
    let out = model(7, 1)
        .forward(&image, &mask, &Request::default())
        .unwrap();
    let wrong = image
        .pixels()
        .zip(out.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(wrong <= 8, "{wrong} pixels differ from the pattern");
}

#[test]
fn a_pattern_is_continued_up_to_the_image_edge() {
    // Every patch reaching the image's outer ring holds pixels the distance counts as the
    // largest difference, so no vote reaches column 0; it must still be filled from the
    // matched patches, not left with the coarse estimate in blocks.
    let image = checkerboard(64, 3, 5);
    let mask = mask_of(64, 64, |x, y| x < 10 && (12..52).contains(&y));
    let out = model(7, 0)
        .forward(&image, &mask, &Request::default())
        .unwrap();
    for x in 0..3 {
        let wrong = (12..52)
            .filter(|&y| out.get_pixel(x, y) != image.get_pixel(x, y))
            .count();
        assert!(
            wrong <= 4,
            "column {x}: {wrong} of 40 pixels differ from the pattern"
        );
    }
}

#[test]
fn a_smooth_gradient_is_continued() {
    let image = RgbImage::from_fn(48, 40, |x, y| Rgb([(x * 5) as u8, (y * 5) as u8, 100]));
    let mask = mask_of(48, 40, |x, y| {
        (18..28).contains(&x) && (14..24).contains(&y)
    });
    let out = model(7, 0)
        .forward(&image, &mask, &Request::default())
        .unwrap();
    let mut error = 0.0;
    let mut count = 0.0;
    for (x, y, p) in out.enumerate_pixels() {
        if mask.as_gray().get_pixel(x, y).0[0] > 127 {
            let truth = image.get_pixel(x, y);
            for c in 0..3 {
                error += f64::from(p[c].abs_diff(truth[c]));
                count += 1.0;
            }
        }
    }
    let mean = error / count;
    // A hole 10 pixels wide spans 50 levels of each ramp.
    assert!(mean < 12.0, "mean absolute error {mean}");
}

#[test]
fn options_are_validated() {
    for size in [0, 1, 2, 4, 30, 103] {
        let err = PatchMatch::with_options(PatchMatchOptions::default().with_patch_size(size))
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{size}: {err}");
    }
    for size in [3, 15, 31, 101] {
        assert!(
            PatchMatch::with_options(PatchMatchOptions::default().with_patch_size(size)).is_ok()
        );
    }
    let zero_passes = PatchMatchOptions::default().with_max_nnf_passes(0);
    assert!(PatchMatch::with_options(zero_passes).is_err());
    let zero_levels = PatchMatchOptions::default().with_pyramid_levels(Some(0));
    assert!(PatchMatch::with_options(zero_levels).is_err());
    let fine = PatchMatchOptions::default()
        .with_pyramid_levels(Some(1))
        .with_em_iterations_per_level(0)
        .with_seed(9);
    assert_eq!(
        PatchMatch::with_options(fine.clone()).unwrap().options(),
        &fine
    );
    assert_eq!(PatchMatch::new().options().patch_size, DEFAULT_PATCH_SIZE);
    assert_eq!(PatchMatch::new().spec().name, "patchmatch");
    assert_eq!(PatchMatch::new().spec().pad_multiple, 1);
}

#[test]
fn mismatched_sizes_are_an_error() {
    let err = PatchMatch::new()
        .forward(
            &noise(4, 4),
            &mask_of(4, 5, |_, _| true),
            &Request::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
}

#[test]
fn nothing_known_or_nothing_to_fill_returns_the_input() {
    let image = noise(9, 7);
    let all = mask_of(9, 7, |_, _| true);
    assert_eq!(
        PatchMatch::new()
            .forward(&image, &all, &Request::default())
            .unwrap(),
        image
    );
    let none = mask_of(9, 7, |_, _| false);
    assert_eq!(
        PatchMatch::new()
            .forward(&image, &none, &Request::default())
            .unwrap(),
        image
    );
    let one = RgbImage::from_pixel(1, 1, Rgb([1, 2, 3]));
    for hole in [true, false] {
        let out = PatchMatch::new()
            .forward(&one, &mask_of(1, 1, |_, _| hole), &Request::default())
            .unwrap();
        assert_eq!(out, one);
    }
}

#[test]
fn tiny_images_and_patches_larger_than_the_image_are_filled() {
    for (w, h) in [(2, 1), (1, 3), (3, 3), (5, 2), (12, 9)] {
        let image = RgbImage::from_pixel(w, h, Rgb([70, 80, 90]));
        let mask = mask_of(w, h, |x, y| x == w / 2 && y == h / 2);
        for size in [3, 31] {
            let out = model(size, 0)
                .forward(&image, &mask, &Request::default())
                .unwrap();
            // A flat image stays flat whatever the patches see.
            assert_eq!(out, image, "{w}×{h}, patch {size}");
        }
    }
}

#[test]
fn holes_at_the_border_and_almost_everywhere_are_filled() {
    let image = bricks(40, 30);
    let border = mask_of(40, 30, |x, y| x < 8 || y >= 26);
    let out = model(7, 0)
        .forward(&image, &border, &Request::default())
        .unwrap();
    assert_outside_unchanged(&image, &border, &out);

    let flat = RgbImage::from_pixel(40, 30, Rgb([12, 140, 250]));
    let almost = mask_of(40, 30, |x, y| (x, y) != (39, 0));
    let out = model(7, 0)
        .forward(&flat, &almost, &Request::default())
        .unwrap();
    assert_eq!(out, flat, "the one known colour should fill everything");
}

#[test]
fn texture_features_are_mean_luma_differences_over_known_pixels() {
    // Grey columns 0, 0, 40, 40, ... on the left (each central difference along x is 40),
    // flat 100 on the right, and a hole in column 16.
    let (w, h, radius) = (32usize, 12usize, 2usize);
    let rgb: Vec<u8> = (0..w * h)
        .flat_map(|p| {
            let x = p % w;
            let v = if x < 16 {
                if x % 4 < 2 { 0 } else { 40 }
            } else {
                100
            };
            [v, v, v]
        })
        .collect();
    let hole: Vec<bool> = (0..w * h).map(|p| p % w == 16).collect();
    let image = MaskedImage::with_texture(w, h, &rgb, hole, radius);
    let texture = |x: usize, y: usize| {
        let p = (y * w + x) * super::masked::VALUES;
        (image.values[p + 3], image.values[p + 4])
    };
    // Halved (20) times the gain (3); nothing along y.
    assert_eq!(texture(6, 6), (60, 0));
    assert_eq!(texture(28, 6), (0, 0));
    // The hole has none, and its neighbours' differences that would read it are left out:
    // right of it only flat pixels remain.
    assert_eq!(texture(16, 6), (0, 0));
    assert_eq!(texture(17, 6), (0, 0));
    // Colours are kept as they were.
    assert_eq!(image.into_rgb(), rgb);
}

#[test]
fn box_sums_match_a_direct_count() {
    let mut rng = super::nnf::Rng::new(&[11]);
    for (w, h) in [(1, 1), (7, 3), (2, 9), (13, 11)] {
        let values: Vec<u32> = (0..w * h).map(|_| rng.below(256) as u32).collect();
        for radius in [0, 1, 2, 5, 20] {
            let sums = super::masked::box_sums(&values, w, h, radius);
            for y in 0..h {
                for x in 0..w {
                    let direct: u32 = (y.saturating_sub(radius)..(y + radius + 1).min(h))
                        .flat_map(|yy| {
                            (x.saturating_sub(radius)..(x + radius + 1).min(w))
                                .map(move |xx| (yy, xx))
                        })
                        .map(|(yy, xx)| values[yy * w + xx])
                        .sum();
                    assert_eq!(
                        sums[y * w + x],
                        direct,
                        "{w}×{h}, radius {radius}, ({x}, {y})"
                    );
                }
            }
        }
    }
}

#[test]
fn the_field_links_to_measured_comparable_patches() {
    let (w, h, radius) = (32usize, 28usize, 3usize);
    let rgb = bricks(w as u32, h as u32).into_raw();
    let hole: Vec<bool> = (0..w * h)
        .map(|p| (12..18).contains(&(p % w)) && (10..16).contains(&(p / w)))
        .collect();
    let source = MaskedImage::with_texture(w, h, &rgb, hole.clone(), radius);
    let target = MaskedImage::with_texture(w, h, &rgb, vec![false; w * h], radius);
    let (fs, ft) = (
        Features::new(&source, radius, true),
        Features::new(&target, radius, true),
    );
    let side = 2 * radius + 1;
    let max_distance = (side * side) as u64 * fs.pixel_scale();
    let active: Vec<bool> = (0..w * h)
        .map(|p| {
            let (y, x) = ((p / w) as i64, (p % w) as i64);
            (-3..=3).any(|dy| {
                (-3..=3).any(|dx| {
                    let (yy, xx) = (y + dy, x + dx);
                    (0..h as i64).contains(&yy)
                        && (0..w as i64).contains(&xx)
                        && hole[yy as usize * w + xx as usize]
                })
            })
        })
        .collect();
    // Coherence: patches of the estimate matched into the image with the hole.
    let search = Search {
        from: &ft,
        into: &fs,
        active: &active,
        max_distance,
        key: [5, 0, 1, 0],
        search_radius: usize::MAX,
    };
    let mut nnf = Nnf::random(w, h, &search);
    nnf.minimize(&search, 3);
    for (p, link) in nnf.links.iter().enumerate() {
        let (y, x) = (p / w, p % w);
        let (ty, tx) = (link.y as usize, link.x as usize);
        assert!(ty < h && tx < w, "({y}, {x}) links outside the image");
        if !active[p] {
            assert_eq!(
                (ty, tx, link.d),
                (y, x, 0),
                "inactive patches match themselves"
            );
            continue;
        }
        assert_eq!(link.d, distance(&ft, (y, x), &fs, (ty, tx), u64::MAX));
        // Away from the image's edge, the best match is a fully known patch of the source.
        let inner = |v: usize, n: usize| (radius + 1..n - radius - 1).contains(&v);
        if inner(y, h) && inner(x, w) {
            assert!(link.d < max_distance / 10, "({y}, {x}) found nothing close");
            let overlaps_hole = (ty.saturating_sub(radius)..=(ty + radius).min(h - 1)).any(|yy| {
                (tx.saturating_sub(radius)..=(tx + radius).min(w - 1)).any(|xx| hole[yy * w + xx])
            });
            assert!(!overlaps_hole, "({y}, {x}) matched a patch over the hole");
        }
    }
}

#[test]
fn far_apart_holes_are_filled_as_if_alone_on_any_number_of_threads() {
    let image = noise(96, 40);
    let left = |x: u32, y: u32| (6..11).contains(&x) && (10..16).contains(&y);
    let right = |x: u32, y: u32| (80..86).contains(&x) && (20..25).contains(&y);
    let both = mask_of(96, 40, |x, y| left(x, y) || right(x, y));
    let run = |threads: usize, mask: &Mask| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                model(7, 2)
                    .forward(&image, mask, &Request::default())
                    .unwrap()
            })
    };
    let out = run(1, &both);
    assert_eq!(out, run(2, &both), "the thread count should not matter");
    assert_outside_unchanged(&image, &both, &out);
    for alone in [mask_of(96, 40, left), mask_of(96, 40, right)] {
        let single = run(2, &alone);
        assert_ne!(single, image, "the hole should be filled");
        for (x, y, p) in single.enumerate_pixels() {
            if alone.as_gray().get_pixel(x, y).0[0] > 127 {
                assert_eq!(
                    out.get_pixel(x, y),
                    p,
                    "({x}, {y}) differs from its hole alone"
                );
            }
        }
    }
}

#[test]
fn holes_whose_regions_overlap_share_one_region() {
    let regions = |holes: &[(usize, usize)]| {
        let (w, h) = (200, 100);
        let mut hole = vec![false; w * h];
        for &(x, y) in holes {
            hole[y * w + x] = true;
        }
        super::regions(&hole, w, h, 7)
    };
    // Diagonal neighbours are one hole; 14 px margins (twice the patch) meet at 20 apart.
    assert_eq!(regions(&[(50, 50), (51, 51)]).len(), 1);
    assert_eq!(regions(&[(50, 50), (70, 50)]).len(), 1);
    let apart = regions(&[(150, 80), (20, 10)]);
    assert_eq!(apart.len(), 2);
    assert_eq!(apart[0].1, 10 * 200 + 20, "regions come in raster order");
    assert!(!apart[0].0.overlaps(&apart[1].0));
}
