//! The diffusion noise source and samplers against PyTorch and diffusers.
//!
//! Fixtures: `tests/fixtures/diffusion/*.json`, recorded by `scripts/make-scheduler-fixtures.py`
//! (torch 2.15, diffusers 0.39, run by hand in a torch venv; the tests need no Python).
//! `noise.json` holds `torch.randn` draws after `torch.manual_seed`; `schedulers.json` holds, for
//! each IOPaint sampler, three model configs (SD 1.5's, SDXL's, and one with v-prediction,
//! "trailing" spacing, third-order solvers and PNDM's Runge–Kutta warm-up), several step counts
//! and two strengths,
//! diffusers' run of the inpainting pipeline's scheduler loop on a fake linear UNet, with
//! torch's generator.

use inpaint_models::diffusion::noise::{NoiseSource, TorchCpuNoise};
use inpaint_models::diffusion::scheduler::{
    Sampler, SchedulerConfig, scheduler_for, strength_begin_index,
};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/diffusion/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn usizes(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect()
}

/// Every draw of `noise.json`: small (double-precision path, with its cached second value) and
/// large (float Box–Muller in blocks of 16, with the tail redrawn), consecutive, six seeds
/// (two above 2³²: torch keeps the low 32 bits).
#[test]
fn torch_cpu_noise_matches_torch_randn() {
    let fixture = fixture("noise.json");
    let mut worst = 0.0f64;
    for case in fixture["cases"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap();
        let mut noise = TorchCpuNoise::new(seed);
        for (d, draw) in case["draws"].as_array().unwrap().iter().enumerate() {
            let shape = usizes(&draw["shape"]);
            let ours = noise.randn(&shape).unwrap();
            let (indices, expected): (Vec<usize>, Vec<f32>) = match draw.get("values") {
                Some(values) => ((0..ours.len()).collect(), floats(values)),
                None => (usizes(&draw["indices"]), floats(&draw["values_at"])),
            };
            for (&i, &e) in indices.iter().zip(&expected) {
                let delta = f64::from((ours[i] - e).abs());
                worst = worst.max(delta);
                // A few ulp of torch's vectorised log/sin/cos (values are up to ~5).
                assert!(
                    delta <= 2e-6,
                    "seed {seed} draw {d} {shape:?} element {i}: ours {} torch {e}",
                    ours[i]
                );
            }
            if let Some(sum) = draw.get("sum") {
                let ours_sum: f64 = ours.iter().map(|&v| f64::from(v)).sum();
                let ours_sq: f64 = ours.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                assert!(
                    (ours_sum - sum.as_f64().unwrap()).abs() < 1e-3,
                    "seed {seed} draw {d} sum"
                );
                assert!(
                    (ours_sq - draw["sum_sq"].as_f64().unwrap()).abs() < 1e-2,
                    "seed {seed} draw {d} sum of squares"
                );
            }
        }
    }
    eprintln!("torch randn: largest difference {worst:.2e}");
}

/// The fake UNet of the fixture script: `0.5·x + (t / 1000)·K`, `K[i] = ((i mod 7) − 3) / 10`.
fn fake_unet(input: &[f32], timestep: f32) -> Vec<f32> {
    input
        .iter()
        .enumerate()
        .map(|(i, &x)| 0.5 * x + (timestep / 1000.0) * (((i % 7) as f32 - 3.0) / 10.0))
        .collect()
}

/// The fixture's image latents, noised for strength < 1.
fn image_latents(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i % 11) as f32 - 5.0) / 5.0).collect()
}

/// Largest `|a − b|` beyond the tolerance (1e-4 relative or 1e-3 absolute) — 0 when within.
fn excess(ours: &[f32], theirs: &[f32]) -> (f32, f32) {
    assert_eq!(ours.len(), theirs.len());
    let mut max_delta = 0.0f32;
    let mut worst_excess = 0.0f32;
    for (&a, &b) in ours.iter().zip(theirs) {
        let delta = (a - b).abs();
        max_delta = max_delta.max(delta);
        if !(delta <= 1e-3 || delta <= 1e-4 * b.abs()) {
            worst_excess = worst_excess.max(delta);
        }
    }
    (max_delta, worst_excess)
}

/// Each IOPaint sampler, on SD 1.5's and SDXL's scheduler configs (1, 4, 10, 25 steps) and the
/// v-prediction/trailing/third-order/Runge–Kutta one (4, 25 steps), at strength 1.0 and 0.6:
/// timesteps, order, begin index and initial noise scale equal to diffusers'; the latents after
/// the first step, after the last, and the pipeline's re-noising of known latents within 1e-4
/// relative or 1e-3 absolute.
#[test]
fn samplers_match_diffusers() {
    let fixture = fixture("schedulers.json");
    let shape = usizes(&fixture["shape"]);
    let len: usize = shape.iter().product();
    let config = |name: &str| {
        let path = format!(
            "{}/tests/fixtures/diffusion/{name}_scheduler_config.json",
            env!("CARGO_MANIFEST_DIR")
        );
        SchedulerConfig::from_file(std::path::Path::new(&path)).unwrap()
    };
    let configs = [
        ("sd15", config("sd15")),
        ("sdxl", config("sdxl")),
        ("v_trailing", config("v_trailing")),
    ];
    let mut failures = Vec::new();
    let mut worst = std::collections::BTreeMap::<String, f32>::new();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["sampler"].as_str().unwrap();
        let config_name = case["config"].as_str().unwrap();
        let steps = case["steps"].as_u64().unwrap() as usize;
        let strength = case["strength"].as_f64().unwrap() as f32;
        let label = format!("{name} / {config_name} / {steps} steps / strength {strength}");
        let sampler: Sampler = name.parse().unwrap();
        let config = &configs.iter().find(|(n, _)| *n == config_name).unwrap().1;
        let mut scheduler = scheduler_for(sampler, config).unwrap();
        scheduler.set_timesteps(steps).unwrap();
        let expected_t = floats(&case["timesteps"]);
        let timesteps = scheduler.timesteps().to_vec();
        // Timesteps are exact, but where diffusers interpolates them from a sigma in float32
        // (DPM2's midpoints, LMS Karras) torch's log/exp round differently from Rust's in the
        // last bit: those may differ by 1e-3 of a training step.
        let interpolated =
            |i: usize| name.starts_with("DPM2") && i % 2 == 1 || name == "LMS Karras";
        let t_ok = timesteps.len() == expected_t.len()
            && timesteps
                .iter()
                .zip(&expected_t)
                .enumerate()
                .all(|(i, (a, b))| a == b || interpolated(i) && (a - b).abs() <= 1e-3);
        if !t_ok {
            failures.push(format!(
                "{label}: timesteps {timesteps:?} != {expected_t:?}"
            ));
            continue;
        }
        if scheduler.order() != case["order"].as_u64().unwrap() as usize {
            failures.push(format!("{label}: order {}", scheduler.order()));
        }
        let sigma = scheduler.init_noise_sigma();
        let expected_sigma = case["init_noise_sigma"].as_f64().unwrap() as f32;
        if (sigma - expected_sigma).abs() > 1e-5 * expected_sigma {
            failures.push(format!(
                "{label}: init_noise_sigma {sigma} != {expected_sigma}"
            ));
        }
        let begin = strength_begin_index(steps, strength, scheduler.order()).unwrap();
        assert_eq!(
            begin,
            case["begin_index"].as_u64().unwrap() as usize,
            "{label}"
        );
        scheduler.set_begin_index(begin);
        let mut noise = TorchCpuNoise::new(case["seed"].as_u64().unwrap());
        let initial = noise.randn(&shape).unwrap();
        let image = image_latents(len);
        let mut latents: Vec<f32> = if strength == 1.0 {
            initial.iter().map(|n| n * sigma).collect()
        } else {
            scheduler
                .add_noise(&image, &initial, timesteps[begin])
                .unwrap()
        };
        if let Some(start) = case["start"].as_array() {
            let (_, bad) = excess(&latents, &floats(&Value::Array(start.clone())));
            if bad > 0.0 {
                failures.push(format!("{label}: add_noise at the start off by {bad}"));
            }
        }
        let loop_timesteps = timesteps[begin..].to_vec();
        let mut max_delta = 0.0f32;
        for (i, &t) in loop_timesteps.iter().enumerate() {
            let input = scheduler.scale_model_input(&latents, t).unwrap();
            let prediction = fake_unet(&input, t);
            latents = scheduler
                .step(&prediction, t, &latents, &shape, &mut noise)
                .unwrap();
            if i == 0 {
                let (delta, bad) = excess(&latents, &floats(&case["first"]));
                max_delta = max_delta.max(delta);
                if bad > 0.0 {
                    failures.push(format!("{label}: first step off by {bad}"));
                }
                if let Some(expected) = case["add_noise_next"].as_array() {
                    let renoised = scheduler
                        .add_noise(&image, &initial, loop_timesteps[1])
                        .unwrap();
                    let (delta, bad) = excess(&renoised, &floats(&Value::Array(expected.clone())));
                    max_delta = max_delta.max(delta);
                    if bad > 0.0 {
                        failures.push(format!(
                            "{label}: add_noise after the first step off by {bad}"
                        ));
                    }
                }
            }
        }
        let (delta, bad) = excess(&latents, &floats(&case["final"]));
        max_delta = max_delta.max(delta);
        if bad > 0.0 {
            failures.push(format!(
                "{label}: final latents off by {bad} (max |Δ| {delta})"
            ));
        }
        let entry = worst.entry(name.to_string()).or_default();
        *entry = entry.max(max_delta);
    }
    for (name, delta) in &worst {
        eprintln!("{name:>20}: largest |Δ| {delta:.2e}");
    }
    // Every sampler IOPaint names was checked.
    let mut checked: Vec<&str> = worst.keys().map(String::as_str).collect();
    let mut all = Sampler::NAMES.to_vec();
    checked.sort_unstable();
    all.sort_unstable();
    assert_eq!(checked, all);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A config this crate cannot honour is refused by name, never run with something else.
#[test]
fn configs_the_samplers_do_not_implement_are_errors() {
    let refused = |sampler: Sampler, json: &str| {
        let config = SchedulerConfig::from_json(json).unwrap();
        match scheduler_for(sampler, &config) {
            Err(inpaint_core::Error::Unsupported { message }) => message,
            other => panic!("{sampler:?} with {json}: {other:?}"),
        }
    };
    assert!(refused(Sampler::Ddim, r#"{"thresholding": true}"#).contains("thresholding"));
    assert!(
        refused(Sampler::Euler, r#"{"prediction_type": "flow_prediction"}"#)
            .contains("flow_prediction")
    );
    assert!(refused(Sampler::EulerA, r#"{"prediction_type": "sample"}"#).contains("sample"));
    assert!(refused(Sampler::UniPc, r#"{"use_exponential_sigmas": true}"#).contains("exponential"));
    assert!(SchedulerConfig::from_json("[1, 2]").is_err());
    // Malformed values are the caller's (or the model file's) error, not a panic or an abort.
    for json in [
        r#"{"num_train_timesteps": 1}"#,
        r#"{"num_train_timesteps": 1000000000000}"#,
        r#"{"beta_end": 2.0}"#,
        r#"{"trained_betas": [0.1, 0.2]}"#,
        r#"{"timestep_spacing": "sideways"}"#,
        r#"{"solver_order": 7}"#,
    ] {
        let config = SchedulerConfig::from_json(json).unwrap();
        let result = scheduler_for(Sampler::DpmPp2m, &config);
        assert!(
            matches!(result, Err(inpaint_core::Error::InvalidInput { .. })),
            "{json}: {result:?}"
        );
    }
    assert!(
        SchedulerConfig::from_json(r#"{"beta_start": "small"}"#)
            .and_then(|c| scheduler_for(Sampler::Euler, &c))
            .is_err()
    );
}

/// diffusers' `from_config`: keys absent from the model's config take each class's default —
/// DDIM clips x₀ to [−1, 1] unless the config says `clip_sample: false`; and IOPaint's popped
/// keys (`use_karras_sigmas`) do not reach the sampler from the config.
#[test]
fn absent_keys_take_each_class_default() {
    let run = |sampler: Sampler, json: &str| {
        let mut scheduler =
            scheduler_for(sampler, &SchedulerConfig::from_json(json).unwrap()).unwrap();
        scheduler.set_timesteps(4).unwrap();
        let t = scheduler.timesteps()[0];
        let sample = vec![30.0f32; 16];
        let output = vec![-5.0f32; 16];
        let mut noise = TorchCpuNoise::new(0);
        (
            scheduler.timesteps().to_vec(),
            scheduler
                .step(&output, t, &sample, &[1, 16], &mut noise)
                .unwrap(),
        )
    };
    assert_ne!(
        run(Sampler::Ddim, "{}").1,
        run(Sampler::Ddim, r#"{"clip_sample": false}"#).1
    );
    assert_eq!(
        run(Sampler::Euler, "{}"),
        run(Sampler::Euler, r#"{"use_karras_sigmas": true}"#)
    );
    assert_ne!(
        run(Sampler::Euler, "{}").0,
        run(Sampler::Euler, r#"{"timestep_spacing": "leading"}"#).0
    );
    // Keys diffusers marks as written-out defaults of the saving class count as absent.
    assert_eq!(
        run(Sampler::Euler, "{}"),
        run(
            Sampler::Euler,
            r#"{"timestep_spacing": "leading", "_use_default_values": ["timestep_spacing"]}"#
        )
    );
}

/// Misuse is an error, not a panic: wrong lengths, an unknown timestep, stepping past the end.
#[test]
fn misuse_is_an_error() {
    let config = SchedulerConfig::from_json(r#"{"steps_offset": 1}"#).unwrap();
    let mut noise = TorchCpuNoise::new(0);
    for sampler in Sampler::ALL {
        let mut scheduler = scheduler_for(
            sampler,
            &SchedulerConfig::from_json(r#"{"skip_prk_steps": true}"#).unwrap(),
        )
        .unwrap();
        assert!(scheduler.set_timesteps(0).is_err(), "{sampler:?}");
        scheduler.set_timesteps(2).unwrap();
        let t = scheduler.timesteps()[0];
        assert!(
            scheduler
                .step(&[0.0; 3], t, &[0.0; 4], &[4], &mut noise)
                .is_err(),
            "{sampler:?}"
        );
        assert!(
            scheduler.add_noise(&[0.0; 3], &[0.0; 4], t).is_err(),
            "{sampler:?}"
        );
        // Step through the whole schedule, then once more.
        let mut sample = vec![0.5f32; 4];
        for t in scheduler.timesteps().to_vec() {
            sample = scheduler
                .step(&[0.1; 4], t, &sample, &[4], &mut noise)
                .unwrap();
        }
        // DDIM and PNDM place a step by its timestep alone (as diffusers does); the others know
        // their position and refuse a step past the end.
        let last = *scheduler.timesteps().last().unwrap();
        let extra = scheduler.step(&[0.1; 4], last, &sample, &[4], &mut noise);
        assert_eq!(
            extra.is_err(),
            !matches!(sampler, Sampler::Ddim | Sampler::Pndm),
            "{sampler:?}: {extra:?}"
        );
        // A run cannot begin past the end either.
        scheduler.set_timesteps(2).unwrap();
        scheduler.set_begin_index(99);
        let t = scheduler.timesteps()[0];
        if !matches!(sampler, Sampler::Ddim | Sampler::Pndm) {
            assert!(
                scheduler
                    .step(&[0.1; 4], t, &sample, &[4], &mut noise)
                    .is_err(),
                "{sampler:?}"
            );
        }
    }
    // PNDM's Runge-Kutta warm-up (its class default) needs 4 steps, as in diffusers.
    let mut pndm = scheduler_for(Sampler::Pndm, &config).unwrap();
    assert!(pndm.set_timesteps(3).is_err());
    pndm.set_timesteps(4).unwrap();
    assert_eq!(pndm.timesteps().len(), 13);
    let mut euler = scheduler_for(Sampler::Euler, &config).unwrap();
    euler.set_timesteps(4).unwrap();
    assert!(euler.scale_model_input(&[0.0; 4], 123.5).is_err());
}

/// How many noise tensors each sampler draws per run (4 steps, strength 1): the pipeline's
/// seeded stream depends on it. Ancestral and SDE samplers draw once per step, DPM2 a once per
/// full step (3 of its 7 UNet calls), LCM at every step but the last; the rest never.
#[test]
fn per_step_noise_draws() {
    struct Counting(TorchCpuNoise, usize);
    impl NoiseSource for Counting {
        fn randn(&mut self, shape: &[usize]) -> inpaint_core::Result<Vec<f32>> {
            self.1 += 1;
            self.0.randn(shape)
        }
    }
    let config = SchedulerConfig::from_json(r#"{"skip_prk_steps": true}"#).unwrap();
    for sampler in Sampler::ALL {
        let mut scheduler = scheduler_for(sampler, &config).unwrap();
        scheduler.set_timesteps(4).unwrap();
        let mut noise = Counting(TorchCpuNoise::new(0), 0);
        let mut sample = vec![0.5f32; 16];
        for t in scheduler.timesteps().to_vec() {
            let input = scheduler.scale_model_input(&sample, t).unwrap();
            sample = scheduler
                .step(&fake_unet(&input, t), t, &sample, &[1, 16], &mut noise)
                .unwrap();
        }
        let expected = match sampler {
            Sampler::EulerA | Sampler::DpmPp2mSde | Sampler::DpmPp2mSdeKarras => 4,
            Sampler::Dpm2A | Sampler::Dpm2AKarras | Sampler::Lcm => 3,
            _ => 0,
        };
        assert_eq!(noise.1, expected, "{sampler:?}");
    }
}
