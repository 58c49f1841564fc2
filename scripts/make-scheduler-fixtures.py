#!/usr/bin/env python3
"""Records what torch and diffusers do, for the Rust tests of the diffusion noise and samplers.

Writes, into inpaint-models/tests/fixtures/diffusion/:
  noise.json       torch.manual_seed(seed); consecutive torch.randn(shape) draws (float32, CPU):
                   full values for small draws, head/tail/sums for large ones
  schedulers.json  every IOPaint 1.6.0 sampler, configured as IOPaint's get_scheduler does
                   (cls.from_config(model config minus use_karras_sigmas/algorithm_type, **overrides)),
                   run as diffusers' StableDiffusionInpaintPipeline runs it (get_timesteps,
                   set_begin_index, add_noise for strength < 1, scale_model_input, step with the
                   pipeline's eta/generator), on a fake linear "UNet" the Rust test computes too
  *_scheduler_config.json   the model configs used (SD 1.5, SDXL, and v-prediction/trailing/order 3)

Run with the heavy venv (torch is never needed by the test command):
  /work/venv-torch/bin/python scripts/make-scheduler-fixtures.py
Recorded with torch 2.15.0, diffusers 0.39.0, numpy 2.4.6, scipy 1.17.1 (LMS), CPU.
"""
import inspect
import json
import pathlib

import diffusers
import numpy as np
import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, DPMSolverSinglestepScheduler,
                       EulerAncestralDiscreteScheduler, EulerDiscreteScheduler,
                       HeunDiscreteScheduler, KDPM2AncestralDiscreteScheduler,
                       KDPM2DiscreteScheduler, LCMScheduler, LMSDiscreteScheduler, PNDMScheduler,
                       UniPCMultistepScheduler)
from diffusers.utils.torch_utils import randn_tensor

OUT = pathlib.Path(__file__).resolve().parent.parent / "inpaint-models/tests/fixtures/diffusion"

# runwayml/stable-diffusion-inpainting scheduler/scheduler_config.json (the SD 1.5 keys).
SD15 = {
    "_class_name": "DDIMScheduler",
    "_diffusers_version": "0.6.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
# stabilityai/stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json: "leading" spacing,
# and keys (use_karras_sigmas, interpolation_type) that IOPaint pops or other classes ignore.
SDXL = {
    "_class_name": "EulerDiscreteScheduler",
    "_diffusers_version": "0.19.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}

# Not a real model's: the code paths SD 1.5 and SDXL leave untested — v-prediction (SD 2.x
# 768), "trailing" spacing, third-order solvers (DPM++, UniPC), PNDM's Runge-Kutta warm-up.
V_TRAILING = dict(SD15, prediction_type="v_prediction", timestep_spacing="trailing",
                  solver_order=3, skip_prk_steps=False)

# IOPaint 1.6.0 iopaint/model/utils.py get_scheduler, by SDSampler value.
SAMPLERS = {
    "DPM++ 2M": (DPMSolverMultistepScheduler, {}),
    "DPM++ 2M Karras": (DPMSolverMultistepScheduler, dict(use_karras_sigmas=True)),
    "DPM++ 2M SDE": (DPMSolverMultistepScheduler, dict(algorithm_type="sde-dpmsolver++")),
    "DPM++ 2M SDE Karras": (DPMSolverMultistepScheduler,
                            dict(algorithm_type="sde-dpmsolver++", use_karras_sigmas=True)),
    "DPM++ SDE": (DPMSolverSinglestepScheduler, {}),
    "DPM++ SDE Karras": (DPMSolverSinglestepScheduler, dict(use_karras_sigmas=True)),
    "DPM2": (KDPM2DiscreteScheduler, {}),
    "DPM2 Karras": (KDPM2DiscreteScheduler, dict(use_karras_sigmas=True)),
    "DPM2 a": (KDPM2AncestralDiscreteScheduler, {}),
    "DPM2 a Karras": (KDPM2AncestralDiscreteScheduler, dict(use_karras_sigmas=True)),
    "Euler": (EulerDiscreteScheduler, {}),
    "Euler a": (EulerAncestralDiscreteScheduler, {}),
    "Heun": (HeunDiscreteScheduler, {}),
    "LMS": (LMSDiscreteScheduler, {}),
    "LMS Karras": (LMSDiscreteScheduler, dict(use_karras_sigmas=True)),
    "DDIM": (DDIMScheduler, {}),
    "PNDM": (PNDMScheduler, {}),
    "UniPC": (UniPCMultistepScheduler, {}),
    "LCM": (LCMScheduler, {}),
}


def get_scheduler(name, config):
    config = dict(config)
    for key in ["use_karras_sigmas", "algorithm_type"]:
        config.pop(key, None)
    cls, kwargs = SAMPLERS[name]
    return cls.from_config(config, **kwargs)


SHAPE = (1, 4, 4, 4)
N = int(np.prod(SHAPE))
# The fake UNet: out = 0.5 * x_in + (t / 1000) * K, all float32 (the Rust test computes the same).
K = ((torch.arange(N) % 7).to(torch.float32) - 3.0) / 10.0
# The "image latents" that strength < 1 noises.
IMAGE = ((torch.arange(N) % 11).to(torch.float32) - 5.0) / 5.0


def fake_unet(x_in, t):
    t = torch.as_tensor(t).to(torch.float32)
    return 0.5 * x_in + (t / 1000.0) * K.reshape(SHAPE)


def floats(t):
    # 8 significant digits: within 1 ulp of float32, far inside the tests' tolerance.
    return [float(f"{v:.8g}") for v in t.flatten().tolist()]


def run(name, config, steps, strength, seed):
    sched = get_scheduler(name, config)
    sched.set_timesteps(steps, device="cpu")
    full_timesteps = floats(sched.timesteps)
    sigmas = floats(sched.sigmas) if hasattr(sched, "sigmas") and torch.is_tensor(sched.sigmas) else None
    # StableDiffusionInpaintPipeline.get_timesteps
    init_timestep = min(int(steps * strength), steps)
    t_start = max(steps - init_timestep, 0)
    begin = t_start * sched.order
    timesteps = sched.timesteps[begin:]
    if hasattr(sched, "set_begin_index"):
        sched.set_begin_index(begin)
    if steps - t_start < 1:
        return None
    generator = torch.manual_seed(seed)
    noise = randn_tensor(SHAPE, generator=generator, dtype=torch.float32)
    if strength == 1.0:
        latents = noise * sched.init_noise_sigma
    else:
        latents = sched.add_noise(IMAGE.reshape(SHAPE), noise, timesteps[:1])
    start = floats(latents)
    params = set(inspect.signature(sched.step).parameters)
    extra = {}
    if "eta" in params:
        extra["eta"] = 0.0
    if "generator" in params:
        extra["generator"] = generator
    first = None
    add_noise_next = None
    for i, t in enumerate(timesteps):
        x_in = sched.scale_model_input(latents, t)
        out = fake_unet(x_in, t)
        latents = sched.step(out, t, latents, **extra, return_dict=False)[0]
        if i == 0:
            first = floats(latents)
            # The 4-channel-UNet path re-noises the known latents at the next timestep, after step.
            if strength < 1.0 and len(timesteps) > 1:
                add_noise_next = floats(sched.add_noise(
                    IMAGE.reshape(SHAPE), noise, torch.tensor([timesteps[1]])))
    return {
        "sampler": name,
        "steps": steps,
        "strength": strength,
        "seed": seed,
        "order": sched.order,
        "begin_index": begin,
        "init_noise_sigma": float(sched.init_noise_sigma),
        "timesteps": full_timesteps,
        "sigmas": sigmas,
        "start": start if strength < 1.0 else None,
        "first": first,
        "add_noise_next": add_noise_next,
        "final": floats(latents),
    }


def noise_fixture():
    # Shapes in draw order: below 16 elements torch samples doubles (with a cached second
    # value), from 16 up it fills float uniforms then Box-Muller in blocks of 16 (tail redone).
    sequence = [[1], [1], [3], [16], [1, 4, 4, 4], [5], [17], [2, 4, 8, 8], [15], [33],
                [1, 4, 64, 64]]
    seeds = [0, 1, 42, 12345, 2**32 + 7, 2**63 + 5]
    cases = []
    for seed in seeds:
        torch.manual_seed(seed)
        draws = []
        for shape in sequence:
            x = torch.randn(shape, dtype=torch.float32)
            values = x.flatten()
            draw = {"shape": shape}
            if values.numel() <= 600:
                draw["values"] = floats(values)
            else:
                idx = list(range(0, 40)) + list(range(values.numel() - 40, values.numel())) + \
                    list(range(1000, values.numel(), 997))
                draw["indices"] = idx
                draw["values_at"] = [float(values[i]) for i in idx]
                draw["sum"] = float(values.double().sum())
                draw["sum_sq"] = float((values.double() ** 2).sum())
            draws.append(draw)
        cases.append({"seed": seed, "draws": draws})
    return {"torch": torch.__version__, "cases": cases}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sd15_scheduler_config.json").write_text(json.dumps(SD15, indent=2) + "\n")
    (OUT / "sdxl_scheduler_config.json").write_text(json.dumps(SDXL, indent=2) + "\n")
    (OUT / "v_trailing_scheduler_config.json").write_text(json.dumps(V_TRAILING, indent=2) + "\n")
    (OUT / "noise.json").write_text(json.dumps(noise_fixture()) + "\n")
    cases = []
    configs = [("sd15", SD15, [1, 4, 10, 25]), ("sdxl", SDXL, [1, 4, 10, 25]),
               ("v_trailing", V_TRAILING, [4, 25])]
    for config_name, config, step_counts in configs:
        for name in SAMPLERS:
            for steps in step_counts:
                for strength in [1.0, 0.6]:
                    case = run(name, config, steps, strength, seed=7 + steps)
                    if case is not None:
                        case["config"] = config_name
                        cases.append(case)
    fixture = {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "shape": list(SHAPE),
        "cases": cases,
    }
    text = json.dumps(fixture, separators=(",", ":"))
    (OUT / "schedulers.json").write_text(text + "\n")
    print(f"{len(cases)} cases, {len(text)} bytes")


if __name__ == "__main__":
    main()
