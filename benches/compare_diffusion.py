#!/usr/bin/env python3
"""Seconds per Stable Diffusion step: ours (the `sd-steps` binary) against Optimum's
`ORTStableDiffusionInpaintPipeline` (`ORTStableDiffusionXLInpaintPipeline` for an SDXL folder,
called as IOPaint calls it: strength 0.999) on the same ONNX folder, same size, steps, sampler
(Euler), guidance and ONNX Runtime threads, in one run. `--memory-variants` adds our runs with
the text encoders and VAE loaded on demand, and with ONNX Runtime's CPU arena off. Needs the heavy environment of
scripts/diffusion-fixtures-env.sh (torch, diffusers, Optimum) and a release build:

    cargo build --release -p inpaint-benches --bin sd-steps
    python scripts/make-diffusion-fixtures.py --bench-unet /tmp/sd15-random   # SD-1.5-sized, random
    python benches/compare_diffusion.py /tmp/sd15-random --steps 3 --threads 2

Prints one JSON line per run (ours batched, ours with two UNet calls, Optimum), then the ratios.
Optimum's share outside the graphs is not measured (its sessions are driven from Python).
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def optimum(folder, size, steps, threads, guidance):
    import numpy as np
    import onnxruntime as ort
    import torch
    from diffusers import EulerDiscreteScheduler
    from optimum.onnxruntime import ORTStableDiffusionInpaintPipeline, ORTStableDiffusionXLInpaintPipeline
    from PIL import Image

    xl = (Path(folder) / "text_encoder_2").is_dir()

    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    started = time.perf_counter()
    if xl:
        pipe = ORTStableDiffusionXLInpaintPipeline.from_pretrained(
            folder, provider="CPUExecutionProvider", session_options=options, add_watermarker=False
        )
    else:
        pipe = ORTStableDiffusionInpaintPipeline.from_pretrained(
            folder, provider="CPUExecutionProvider", session_options=options
        )
    load = time.perf_counter() - started
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4 : size * 3 // 4, size // 4 : size * 3 // 4] = 255
    marks = []

    def on_step(p, i, t, kwargs):
        marks.append(time.perf_counter())
        return kwargs

    started = time.perf_counter()
    pipe(
        prompt="a wooden bench in a park", image=image, mask_image=Image.fromarray(mask),
        num_inference_steps=steps, guidance_scale=guidance, height=size, width=size,
        strength=0.999 if xl else 1.0,
        generator=torch.manual_seed(1), output_type="np", callback_on_step_end=on_step,
    )
    wall = time.perf_counter() - started
    per_step = (marks[-1] - marks[0]) / (len(marks) - 1) if len(marks) > 1 else float("nan")
    return dict(
        impl="optimum", family="sdxl" if xl else "sd1.5", size=size, steps=steps, threads=threads, guidance=guidance,
        load_s=round(load, 3), wall_s=round(wall, 3), per_step_s=round(per_step, 3),
        first_step_s=round(marks[0] - started, 3),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "sd-steps"))
    parser.add_argument("--memory-variants", action="store_true",
                        help="also run ours with --low-memory and with --no-cpu-arena")
    args = parser.parse_args()
    common = ["--size", str(args.size), "--steps", str(args.steps), "--threads", str(args.threads),
              "--guidance", str(args.guidance)]
    results = []
    variants = [[], ["--two-calls"]]
    if args.memory_variants:
        variants += [["--low-memory"], ["--no-cpu-arena"]]
    for extra in variants:
        out = subprocess.run([args.binary, args.folder, *common, *extra], check=True,
                             capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    # In a child process, so that its peak memory is its own.
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import compare_diffusion as c; print(json.dumps(c.optimum({args.folder!r}, "
            f"{args.size}, {args.steps}, {args.threads}, {args.guidance})))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    results.append(json.loads(out.strip().splitlines()[-1]))
    print(json.dumps(results[-1]), flush=True)
    ours, split, theirs = results[0], results[1], results[-1]
    print(f"per step: ours {ours['per_step_s']} s (two calls {split['per_step_s']} s), "
          f"Optimum {theirs['per_step_s']} s; ratio Optimum/ours {theirs['per_step_s'] / ours['per_step_s']:.3f}; "
          f"wall outside ONNX Runtime: {100 * ours['outside_share']:.2f} %; "
          f"peak RSS ours {ours['peak_rss_mib']} MiB, Optimum {theirs['peak_rss_mib']} MiB")
    for variant in results[2:-1]:
        print(f"ours low_memory={variant['low_memory']} cpu_arena={variant['cpu_arena']}: "
              f"{variant['per_step_s']} s/step, peak RSS {variant['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
