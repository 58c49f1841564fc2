#!/usr/bin/env python3
"""Seconds per Stable Diffusion step: ours (the `sd-steps` binary) against Optimum's
`ORTStableDiffusionInpaintPipeline` (`ORTStableDiffusionXLInpaintPipeline` for an SDXL folder,
called as IOPaint calls it: strength 0.999) on the same ONNX folder, same size, steps, sampler
(Euler), guidance and ONNX Runtime threads, in one run. `--variants` picks the runs (ours,
guidance as two UNet calls, the text encoders and VAE loaded on demand, ONNX Runtime's CPU
arena off, both; Optimum, and Optimum with its CPU arena off). Needs the heavy environment of
scripts/diffusion-fixtures-env.sh (torch, diffusers, Optimum) and a release build:

    cargo build --release -p inpaint-benches --bin sd-steps
    python scripts/make-diffusion-fixtures.py --bench-unet /tmp/sd15-random   # SD-1.5-sized, random
    python benches/compare_diffusion.py /tmp/sd15-random --steps 3 --threads 2

Prints one JSON line per run (by default ours batched, ours with two UNet calls, Optimum), then
the ratios. For SDXL-sized folders see benches/make_sdxl_bench.py.
Optimum's share outside the graphs is not measured (its sessions are driven from Python).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def optimum(folder, size, steps, threads, guidance, arena=True):
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
    options.enable_cpu_mem_arena = arena
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
        impl="optimum", cpu_arena=arena, family="sdxl" if xl else "sd1.5", size=size, steps=steps, threads=threads, guidance=guidance,
        load_s=round(load, 3), wall_s=round(wall, 3), per_step_s=round(per_step, 3),
        first_step_s=round(marks[0] - started, 3),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )


VARIANTS = {
    "ours": [], "two-calls": ["--two-calls"], "low-memory": ["--low-memory"],
    "no-cpu-arena": ["--no-cpu-arena"], "low-memory-no-arena": ["--low-memory", "--no-cpu-arena"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "sd-steps"))
    parser.add_argument("--variants", nargs="+", choices=(*VARIANTS, "optimum", "optimum-no-arena"),
                        default=["ours", "two-calls", "optimum"],
                        help="runs, in this order (one process each, so each peak is its own)")
    parser.add_argument("--memory-variants", action="store_true",
                        help="also run ours with --low-memory and with --no-cpu-arena")
    args = parser.parse_args()
    if args.memory_variants:
        args.variants[-1:-1] = ["low-memory", "no-cpu-arena"]
    common = ["--size", str(args.size), "--steps", str(args.steps), "--threads", str(args.threads),
              "--guidance", str(args.guidance)]
    results, failed = {}, {}
    for variant in args.variants:
        if variant.startswith("optimum"):
            # In a child process, so that its peak memory is its own.
            code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                    f"import compare_diffusion as c; print(json.dumps(c.optimum({args.folder!r}, "
                    f"{args.size}, {args.steps}, {args.threads}, {args.guidance}, "
                    f"arena={variant == 'optimum'})))")
            command = [sys.executable, "-c", code]
        else:
            command = [args.binary, args.folder, *common, *VARIANTS[variant]]
        # The machine's load before the run: on a shared machine, what makes two runs comparable.
        load = os.getloadavg()[0]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            # A run the OOM killer stops is a result too (SIGKILL: see `dmesg` for its size).
            why = f"signal {-run.returncode}" if run.returncode < 0 else f"exit {run.returncode}"
            failed[variant] = f"{why}: {run.stderr.strip()[-300:]}"
            print(json.dumps(dict(variant=variant, failed=failed[variant], load_before=round(load, 2))), flush=True)
            continue
        results[variant] = json.loads(run.stdout.strip().splitlines()[-1])
        results[variant]["load_before"] = round(load, 2)
        print(json.dumps(dict(variant=variant, **results[variant])), flush=True)
    for variant, why in failed.items():
        print(f"{variant}: failed ({why.splitlines()[0]})")
    for variant, result in results.items():
        line = f"{variant}: {result['per_step_s']} s/step, peak RSS {result['peak_rss_mib']} MiB"
        if "outside_share" in result:
            line += f", wall outside ONNX Runtime {100 * result['outside_share']:.2f} %"
        print(line)
    if "ours" in results and "optimum" in results:
        ours, theirs = results["ours"], results["optimum"]
        print(f"ratio Optimum/ours: {theirs['per_step_s'] / ours['per_step_s']:.3f} per step, "
              f"{theirs['wall_s'] / ours['wall_s']:.3f} wall, "
              f"{theirs['peak_rss_mib'] / ours['peak_rss_mib']:.3f} peak RSS")


if __name__ == "__main__":
    main()
