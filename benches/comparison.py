"""What the comparison scripts share: the photos, the masks, our timing binary, the metrics.

Used by `compare_opencv.py` and `compare_pypatchmatch.py`; run those, not this.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parent.parent


def motorcycle() -> np.ndarray:
    return data.stereo_motorcycle()[0]


# Name -> RGB loader. All but the motorcycle (Middlebury stereo set) are public domain or CC0.
PHOTOS = {
    "astronaut": data.astronaut,
    "coffee": data.coffee,
    "chelsea": data.chelsea,
    "rocket": data.rocket,
    "motorcycle": motorcycle,
    "ihc": data.immunohistochemistry,
}
QUICK_PHOTOS = ["astronaut", "coffee"]


# --- masks -------------------------------------------------------------------------------------
# Binary (0/255) uint8, drawn without anti-aliasing so that "> 127" (ours) and "!= 0" (OpenCV)
# select the same pixels.


def strokes_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Brush strokes: polylines 4-16 px thick (at 512 px), as a user scribbles over an object."""
    mask = np.zeros((h, w), np.uint8)
    unit = min(h, w) / 512
    for _ in range(8):
        point = rng.uniform([0, 0], [w, h])
        angle = rng.uniform(0, 2 * math.pi)
        points = [point]
        for _ in range(rng.integers(2, 6)):
            angle += rng.uniform(-1.0, 1.0)
            step = rng.uniform(20, 70) * unit
            point = point + step * np.array([math.cos(angle), math.sin(angle)])
            points.append(point)
        thickness = max(1, int(rng.integers(4, 17) * unit))
        cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 255, thickness, cv2.LINE_8)
    return mask


def blobs_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Filled ellipses, 5-30 px semi-axes (at 512 px): spots and blemishes."""
    mask = np.zeros((h, w), np.uint8)
    unit = min(h, w) / 512
    for _ in range(14):
        center = tuple(int(v) for v in rng.uniform([0, 0], [w, h]))
        axes = tuple(max(1, int(rng.uniform(5, 30) * unit)) for _ in range(2))
        cv2.ellipse(mask, center, axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_8)
    return mask


def text_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Thick text: a watermark and a caption, as left by a camera or a stock-photo site."""
    mask = np.zeros((h, w), np.uint8)
    scale = min(h, w) / 300
    lines = ["SAMPLE  PHOTO", "(c) 2024 inpaint-rs", "12/05/2019 18:42"]
    for i, text in enumerate(lines):
        size = scale * (1.4 if i == 0 else 0.8)
        thickness = max(2, int(round(size * 3)))
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thickness)
        x = int(rng.uniform(0, max(1, w - tw)))
        y = int((i + 1) * h / (len(lines) + 1) + rng.uniform(-0.05, 0.05) * h)
        cv2.putText(mask, text, (x, max(th, y)), cv2.FONT_HERSHEY_SIMPLEX, size, 255, thickness,
                    cv2.LINE_8)
    return mask


def border_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Regions touching the border: a band along the left edge, a corner cut off, a stroke and
    a blob crossing the bottom edge (a photo's frame, a date stamp in the corner)."""
    mask = np.zeros((h, w), np.uint8)
    side = min(h, w)
    band = max(3, int(0.03 * w))
    top = int(rng.uniform(0.1, 0.4) * h)
    mask[top : top + int(0.4 * h), :band] = 255
    cv2.circle(mask, (w - 1, 0), int(0.12 * side), 255, -1, cv2.LINE_8)
    x = int(rng.uniform(0.2, 0.6) * w)
    cv2.line(mask, (x, h - 1 - int(0.25 * h)), (x + int(0.15 * w), h + 10), 255,
             max(2, int(0.025 * side)), cv2.LINE_8)
    cv2.ellipse(mask, (int(rng.uniform(0.65, 0.9) * w), h - 1), (int(0.06 * side),
                int(0.04 * side)), 0, 0, 360, 255, -1, cv2.LINE_8)
    return mask


QUALITY_MASKS = {
    "strokes": strokes_mask,
    "blobs": blobs_mask,
    "text": text_mask,
    "border": border_mask,
}


def fraction_mask(side: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Ellipses and brush strokes until about `fraction` of the pixels are set (as the Rust
    benches' `blobs_mask`, not the same pixels). One shape is capped at ~1/8 of the target."""
    mask = np.zeros((side, side), np.uint8)
    target = math.ceil(fraction * side * side)
    r_max = max(1.5, min(0.05 * side, math.sqrt(target / (8 * math.pi))))
    filled = 0
    while filled < target:
        cx, cy = rng.uniform(0, side, 2)
        if rng.random() < 0.6:
            a = rng.uniform(0.3, 1.0) * r_max
            b = a * rng.uniform(0.33, 1.0)
            cv2.ellipse(mask, (int(cx), int(cy)), (max(1, int(a)), max(1, int(b))),
                        rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_8)
        else:
            points = [np.array([cx, cy])]
            angle = rng.uniform(0, 2 * math.pi)
            for _ in range(rng.integers(2, 6)):
                angle += rng.uniform(-1.2, 1.2)
                step = rng.uniform(1, 3) * r_max
                points.append(points[-1] + step * np.array([math.cos(angle), math.sin(angle)]))
            thickness = max(1, int(2 * rng.uniform(0.12, 0.35) * r_max))
            cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 255, thickness,
                          cv2.LINE_8)
        filled = int(np.count_nonzero(mask))
    return mask


# --- our side ---------------------------------------------------------------------------------


def build_timing_binary() -> Path:
    """`cargo build --release --example inpaint-timing`; returns the binary.

    Without `-p`, as the README's `cargo run --release --example inpaint`: the same selection
    (every workspace member's features, examples' dev-dependencies), so the test command's
    comparison steps reuse that build and compile only this example."""
    command = ["cargo", "build", "--release", "--example", "inpaint-timing",
               "--message-format=json-render-diagnostics"]
    print("$ " + " ".join(command[:-1]), file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"cargo build failed (exit {result.returncode})")
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if (message.get("reason") == "compiler-artifact"
                and message["target"]["name"] == "inpaint-timing" and message.get("executable")):
            return Path(message["executable"])
    sys.exit("cargo build did not report the inpaint-timing executable")


def run_ours(binary: Path, image: Path, mask: Path, model: str, repeat: int,
             output: Path | None = None, hd_strategy: str = "original",
             threads: int | None = None, in_place: bool = False,
             radius: float | None = None) -> dict:
    """Runs the timing binary; `threads` caps rayon's pool (RAYON_NUM_THREADS); `in_place`
    times `inpaint_in_place` (no output copy); `radius` is for the classical models only."""
    command = [str(binary), "--image", str(image), "--mask", str(mask), "--model", model,
               "--repeat", str(repeat), "--hd-strategy", hd_strategy]
    if radius is not None:
        command += ["--radius", str(radius)]
    if in_place:
        command.append("--in-place")
    if output is not None:
        command += ["--output", str(output)]
    env = dict(os.environ)
    if threads is not None:
        env["RAYON_NUM_THREADS"] = str(threads)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)}\n{result.stderr.strip()}")
    return json.loads(result.stdout)


# --- metrics and formatting -------------------------------------------------------------------


def psnr_inside(out: np.ndarray, reference: np.ndarray, inside: np.ndarray) -> float:
    diff = out[inside].astype(np.float64) - reference[inside].astype(np.float64)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def texture_ratio(out: np.ndarray, original: np.ndarray, inside: np.ndarray) -> float:
    """Variance of the Laplacian (of luma) inside the hole, over the original's there."""
    def laplacian(rgb: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
        return cv2.Laplacian(gray, cv2.CV_64F, ksize=3)
    reference = float(np.var(laplacian(original)[inside]))
    return float(np.var(laplacian(out)[inside])) / reference if reference > 0 else math.nan


def signed(value: float) -> str:
    """`+1.23`, `-0.40`; a value that rounds to zero is `+0.00`, never `-0.00`."""
    return f"{round(value, 2) + 0.0:+.2f}"


def ratio(opencv: dict, ours: dict) -> str:
    """OpenCV's median time over ours: above 1 means we are faster."""
    return f"{opencv['ms_median'] / ours['ms_median']:.2f}×" if ours["ms_median"] > 0 else "∞"


def machine(extra: str = "") -> str:
    """The CPU, core count and OS, then `extra` (the other side's library versions)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
            f"numpy {np.__version__}{'; ' + extra if extra else ''}")
