#!/usr/bin/env python3
"""big-LaMa in PyTorch (what IOPaint runs) against our pipeline on ONNX Runtime, side by side.

    scripts/torch-env.sh && scripts/fetch-onnxruntime.sh
    cargo build --release -p inpaint-examples --example inpaint-timing
    .venv-torch/bin/python benches/compare_torch.py [--sizes 512 1024] [--rounds N]
        [--threads N] [--variants NAME ...] [--device cpu|cuda] [--ort-lib PATH] [--out FILE]

Both sides run the same network with the same weights (benches/lama_torch.py: big-LaMa's FFC
ResNet, random seeded weights from benches/make_big_lama.py): PyTorch on the module itself,
ours on the ONNX graph exported from it (Fourier units as MatMul, fixed size), through the
whole `inpaint` pipeline (`inpaint-timing --serve`: PNG-decoded image and mask in, composited
image out, HD strategy `original`). Each variant is a worker process that keeps its model
loaded and runs once per request; the driver asks them in turn, round after round, so a
machine that slows down slows all of them alike. One warm-up run each (--warmups) is not timed.

Variants (`--variants`, default all that apply to the device):
    torch-eager      the module in eager mode, torch.fft Fourier units, inference_mode
    torch-jit        torch.jit.trace of it (IOPaint loads big-lama.pt, a TorchScript trace)
    torch-compile    torch.compile (inductor; CPU needs a C++ compiler)
    torch-fp16       CUDA only: the module under torch.autocast(float16)
    ours             our pipeline, default SessionOptions (intra-op threads: ONNX Runtime's
                     choice, all graph optimisations)
    ours-threads     intra-op threads = --threads explicitly
    ours-opt1 / ours-opt2 / ours-opt0   graph optimisation level 1 / 2 / 0 (and --threads)
    ours-fp16        the float16 export (CUDA/TensorRT runs)
    ours-tensorrt    TensorRT with the float32 export (engine cache: ORT_TENSORRT_* variables)
    ours-tensorrt-fp16  the same with TensorRT's float16 kernels allowed
                     (ORT_TENSORRT_FP16_ENABLE=1 for that worker)
On the CPU every torch variant uses --threads threads (torch.set_num_threads), as do our
explicit-thread variants.

Prints a table (medians, min, ratios against torch-eager) and writes it as markdown to --out
(default benches/output/torch/results.md), each variant's output image beside it. Check: each variant's output is compared with
torch-eager's on the same input (max abs difference on the 0..255 scale).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT_DIR = ROOT / "benches" / "output" / "torch"
TORCH_VARIANTS = ("torch-eager", "torch-jit", "torch-compile", "torch-fp16")
OURS_VARIANTS = (
    "ours", "ours-threads", "ours-opt2", "ours-opt1", "ours-opt0", "ours-fp16", "ours-tensorrt",
    "ours-tensorrt-fp16",
)  # fmt: skip
CPU_DEFAULT = ("torch-eager", "torch-jit", "torch-compile", "ours", "ours-threads", "ours-opt2", "ours-opt1")
CUDA_DEFAULT = ("torch-eager", "torch-fp16", "ours", "ours-fp16", "ours-tensorrt", "ours-tensorrt-fp16")


# ----------------------------------------------------------------------------------------------
# Worker: one PyTorch variant, loaded once, one run per line on stdin.


def torch_worker(variant: str, size: int, threads: int, device: str, output: Path | None) -> int:
    import torch

    import lama_torch

    if device == "cpu":
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    model, _ = lama_torch.build(0, "fft")
    model = model.to(device)
    image, mask = load_inputs(size)
    # As IOPaint: uint8 HWC image -> float tensor 0..1, mask binarised, result back to uint8.
    to_tensor = lambda a: torch.from_numpy(a).to(device)  # noqa: E731

    def forward_fn():
        if variant == "torch-fp16":
            return lambda i, m: _autocast(torch, model, i, m)
        if variant == "torch-jit":
            with torch.inference_mode():
                traced = torch.jit.trace(model, (to_tensor(image), to_tensor(mask)), check_trace=False)
            return traced
        if variant == "torch-compile":
            return torch.compile(model)
        return model

    t0 = time.perf_counter()
    forward = forward_fn()

    def run():
        with torch.inference_mode():
            out = forward(to_tensor(image), to_tensor(mask))
            result = out[0].permute(1, 2, 0).float().cpu().numpy()
        return np.clip(result, 0, 255).astype(np.uint8)

    result = run()  # warm-up (and compilation)
    print(f"ready {device} (set-up and first run {time.perf_counter() - t0:.1f} s)", flush=True)
    if output:
        write_bmp(output, result)
    for _ in sys.stdin:
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        run()
        ms = (time.perf_counter() - t0) * 1e3
        print(json.dumps({"ms": ms, "session_ms": ms}), flush=True)
    return 0


def _autocast(torch, model, image, mask):
    with torch.autocast("cuda", dtype=torch.float16):
        return model(image, mask)


def load_inputs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The BMPs written by `prepare`, as the float tensors the contract takes."""
    image = read_bmp(OUT_DIR / f"image-{size}.bmp").astype(np.float32) / 255
    mask = (read_bmp(OUT_DIR / f"mask-{size}.bmp")[..., 0] > 0).astype(np.float32)
    return (
        np.ascontiguousarray(image.transpose(2, 0, 1)[None]),
        np.ascontiguousarray(mask[None, None]),
    )


# Images travel as 24-bit BMP, which our pipeline reads and writes and numpy handles alone:
# the GPU machines' Python has torch and numpy but not necessarily Pillow.


def write_bmp(path: Path, rgb: np.ndarray) -> None:
    h, w, _ = rgb.shape
    stride = (3 * w + 3) // 4 * 4
    rows = np.zeros((h, stride), np.uint8)
    rows[:, : 3 * w] = rgb[::-1, :, ::-1].reshape(h, 3 * w)  # bottom-up, BGR
    header = b"BM" + (54 + rows.size).to_bytes(4, "little") + bytes(4) + (54).to_bytes(4, "little")
    info = np.array([40, w, h], "<i4").tobytes() + np.array([1, 24], "<u2").tobytes()
    info += np.array([0, rows.size, 2835, 2835, 0, 0], "<i4").tobytes()
    path.write_bytes(header + info + rows.tobytes())


def read_bmp(path: Path) -> np.ndarray:
    """A 24-bit uncompressed BMP (what write_bmp and the image crate write) as RGB."""
    data = path.read_bytes()
    offset = int.from_bytes(data[10:14], "little")
    w, h = (int.from_bytes(data[o : o + 4], "little", signed=True) for o in (18, 22))
    if int.from_bytes(data[28:30], "little") != 24:
        raise ValueError(f"{path}: not a 24-bit BMP")
    stride = (3 * w + 3) // 4 * 4
    rows = np.frombuffer(data, np.uint8, stride * abs(h), offset).reshape(abs(h), stride)
    rgb = rows[:, : 3 * w].reshape(abs(h), w, 3)[..., ::-1]
    return np.ascontiguousarray(rgb[::-1] if h > 0 else rgb)


# ----------------------------------------------------------------------------------------------
# Driver.


def prepare(size: int, need_fp16: bool) -> dict[str, Path]:
    """Input PNGs and the ONNX exports for one size (made once, kept in benches/output/torch)."""
    import lama_torch

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    image, mask = lama_torch.sample_inputs(size)
    paths = {"image": OUT_DIR / f"image-{size}.bmp", "mask": OUT_DIR / f"mask-{size}.bmp"}
    if not paths["image"].is_file():
        write_bmp(paths["image"], (image[0].transpose(1, 2, 0) * 255).round().astype(np.uint8))
        write_bmp(paths["mask"], np.repeat(mask[0, 0, :, :, None] * 255, 3, 2).astype(np.uint8))
    for half in (False, True) if need_fp16 else (False,):
        key = "onnx-fp16" if half else "onnx"
        paths[key] = OUT_DIR / f"lama-torch-{size}{'-fp16' if half else ''}.onnx"
        if not paths[key].is_file():
            model, _ = lama_torch.build(0, "matmul", size)
            lama_torch.export(model, size, paths[key], half)
    return paths


class Worker:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str]):
        self.name = name
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=HERE
        )
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.proc.kill()
            raise RuntimeError(f"{name} did not start: {line!r}")
        self.info = line.split(maxsplit=1)[1].strip() if " " in line.strip() else ""
        self.setup_s = time.perf_counter() - t0
        self.times: list[float] = []
        self.session: list[float] = []

    def run(self) -> None:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} died")
        result = json.loads(line)
        self.times.append(result["ms"])
        self.session.append(result["session_ms"])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def worker_cmd(variant: str, size: int, args, paths: dict[str, Path], output: Path) -> list[str]:
    if variant in TORCH_VARIANTS:
        return [
            sys.executable, str(HERE / "compare_torch.py"), "--worker", variant, "--sizes", str(size),
            "--threads", str(args.threads), "--device", args.device, "--worker-output", str(output),
        ]  # fmt: skip
    graph = paths["onnx-fp16" if variant == "ours-fp16" else "onnx"]
    device = {"cpu": "cpu", "cuda": "cuda"}[args.device]
    if variant.startswith("ours-tensorrt"):
        device = "tensorrt"
    cmd = [
        str(args.timing), "--serve", "--image", str(paths["image"]), "--mask", str(paths["mask"]),
        "--model-file", str(graph), "--arch", "lama" if size == 512 else "lama-dynamic",
        "--device", device, "--output", str(output),
    ]  # fmt: skip
    if size != 512:
        cmd += ["--output-range", "0-255"]
    if variant not in ("ours", "ours-fp16") and not variant.startswith("ours-tensorrt"):
        cmd += ["--intra-threads", str(args.threads)]
    if variant.startswith("ours-opt"):
        cmd += ["--opt-level", variant[-1]]
    return cmd


def compare(args) -> int:
    variants = args.variants or (CPU_DEFAULT if args.device == "cpu" else CUDA_DEFAULT)
    args.out.parent.mkdir(parents=True, exist_ok=True)  # also holds each variant's output image
    env = dict(os.environ)
    if args.ort_lib:
        env["ORT_DYLIB_PATH"] = str(args.ort_lib)
    rows = []
    for size in args.sizes:
        paths = prepare(size, "ours-fp16" in variants)
        workers: list[Worker] = []
        for v in variants:
            out = args.out.parent / f"out-{size}-{v}.bmp"
            worker_env = dict(env, ORT_TENSORRT_FP16_ENABLE="1") if v == "ours-tensorrt-fp16" else env
            try:
                workers.append(Worker(v, worker_cmd(v, size, args, paths, out), worker_env))
                w = workers[-1]
                print(f"{size}² {v}: ready in {w.setup_s:.1f} s {w.info}", flush=True)
            except Exception as err:  # a variant that cannot run here is reported, not fatal
                print(f"{size}² {v}: skipped ({err})", flush=True)
                rows.append((size, v, None, None, None, None, None, f"did not start: {err}"))
        for _ in range(args.warmups):  # not timed (the serve mode's first request allocates)
            for w in workers:
                w.run()
                w.times.clear()
                w.session.clear()
        for r in range(args.rounds):
            for w in workers if r % 2 == 0 else reversed(workers):
                time.sleep(args.pause)  # let the previous worker's spinning threads go idle
                w.run()
                print(f"{size}² round {r + 1} {w.name}: {w.times[-1]:.0f} ms", flush=True)
        for w in workers:
            w.close()
        ref = _bmp(args.out.parent / f"out-{size}-torch-eager.bmp")
        base = next((statistics.median(w.times) for w in workers if w.name == "torch-eager"), None)
        for w in workers:
            med = statistics.median(w.times)
            outside = (1 - statistics.median(w.session) / med) * 100 if w.name.startswith("ours") else None
            out = _bmp(args.out.parent / f"out-{size}-{w.name}.bmp")
            diff = None if ref is None or out is None else int(np.abs(ref.astype(int) - out).max())
            rows.append((size, w.name, med, min(w.times), base / med if base else None, outside, diff, w.info))
    table = render(rows, args)
    print(table)
    args.out.write_text(table)
    print(f"written to {args.out}")
    return 0


def _bmp(path: Path) -> np.ndarray | None:
    return read_bmp(path) if path.is_file() else None


def render(rows, args) -> str:
    lines = [
        f"big-LaMa (random weights) on {args.device}, {args.threads} threads where set, "
        f"{args.rounds} alternating rounds after {args.warmups} untimed; speed-up = torch-eager median / variant median",
        "",
        "| size | variant | median (ms) | min (ms) | speed-up vs torch-eager | outside `run` | max diff vs torch-eager (0–255) | notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for size, v, med, lo, ratio, outside, diff, note in rows:
        f = lambda x, fmt: "—" if x is None else format(x, fmt)  # noqa: E731
        lines.append(
            f"| {size}² | {v} | {f(med, '.0f')} | {f(lo, '.0f')} | {f(ratio, '.2f')}{'×' if ratio else ''} "
            f"| {f(outside, '.3f')}{' %' if outside is not None else ''} | {f(diff, 'd')} | {note} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmups", type=int, default=1, help="untimed runs per variant (default 1)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--variants", nargs="+", choices=TORCH_VARIANTS + OURS_VARIANTS)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--ort-lib", type=Path, help="libonnxruntime.so to load (else ORT_DYLIB_PATH / .runtime)")
    ap.add_argument("--timing", type=Path, default=ROOT / "target" / "release" / "examples" / "inpaint-timing")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between runs (default 1)")
    ap.add_argument("--out", type=Path, default=OUT_DIR / "results.md")
    ap.add_argument("--worker", choices=TORCH_VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--worker-output", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.out = args.out.resolve()  # the workers run in benches/
    if args.worker:
        return torch_worker(args.worker, args.sizes[0], args.threads, args.device, args.worker_output)
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
