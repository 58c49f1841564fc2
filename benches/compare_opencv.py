#!/usr/bin/env python3
"""Compare inpaint's classical models with OpenCV's cv2.inpaint, on the same inputs.

    scripts/python-env.sh                                   # once: .venv with pinned packages
    .venv/bin/python benches/compare_opencv.py [--quick] [--out benches/output]
                                               [--repeat N] [--check-psnr DB] [--only quality|speed]

Pairs: telea <-> cv2.INPAINT_TELEA, navier-stokes <-> cv2.INPAINT_NS, both with radius 4. Our
side is the `inpaint-timing` binary (built here in release), which runs the whole
`inpaint_core::inpaint` pipeline with HdStrategy::Original, so the model sees the whole image as
cv2.inpaint does. OpenCV gets BGR; all comparisons are made on the decoded 8-bit outputs.

1. Quality: photos from skimage.data with brush strokes, blobs, thick text, and regions that
   touch the border. PSNR inside the mask against the clean photo, for OpenCV and for us, the
   difference (ours - OpenCV, dB), the share of masked pixels where our output equals OpenCV's
   exactly, and the largest difference in any channel.
2. Speed: a photo resized to 512², 2048², 4096² with blob masks covering about 1 %, 5 % and 20 %
   of it, and 4096² with one 64×64 hole. OpenCV: min and median of N in-process calls of
   cv2.inpaint (its own copies included). Ours: the binary's min and median of N runs of the
   pipeline (mask binarising and copies included; file loading excluded), with rayon's default
   pool and with RAYON_NUM_THREADS=1 (cv2.inpaint runs on one thread).

--quick: 512² and two photos only. --check-psnr DB: exit 1 if any quality case has us more than
DB dB below OpenCV. Inputs and outputs are written under --out (ignored by git), tables to stdout
and to <out>/results.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parent.parent
RADIUS = 4
# (our model name, OpenCV flag, OpenCV's name)
ALGORITHMS = [
    ("telea", cv2.INPAINT_TELEA, "TELEA"),
    ("navier-stokes", cv2.INPAINT_NS, "NS"),
]


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


# --- our side --------------------------------------------------------------------------------


def build_timing_binary() -> Path:
    """`cargo build --release -p inpaint-benches --bin inpaint-timing`; returns the binary."""
    command = ["cargo", "build", "--release", "-p", "inpaint-benches", "--bin", "inpaint-timing",
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
             threads: int | None = None, in_place: bool = False) -> dict:
    """Runs the timing binary; `threads` caps rayon's pool (RAYON_NUM_THREADS); `in_place`
    times `inpaint_in_place` (no output copy)."""
    command = [str(binary), "--image", str(image), "--mask", str(mask), "--model", model,
               "--radius", str(RADIUS), "--repeat", str(repeat), "--hd-strategy", hd_strategy]
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


def time_opencv(bgr: np.ndarray, mask: np.ndarray, flag: int,
                repeat: int) -> tuple[dict, np.ndarray]:
    times = []
    out = bgr
    for _ in range(repeat):
        start = time.perf_counter()
        out = cv2.inpaint(bgr, mask, RADIUS, flag)
        times.append((time.perf_counter() - start) * 1e3)
    return {"ms_min": min(times), "ms_median": statistics.median(times)}, out


# --- metrics ---------------------------------------------------------------------------------


def psnr_inside(out: np.ndarray, reference: np.ndarray, inside: np.ndarray) -> float:
    diff = out[inside].astype(np.float64) - reference[inside].astype(np.float64)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


@dataclass
class QualityRow:
    photo: str
    size: str
    mask: str
    fill: float
    algorithm: str
    psnr_opencv: float
    psnr_ours: float
    equal: float
    max_diff: int

    @property
    def delta(self) -> float:
        if math.isinf(self.psnr_ours) and math.isinf(self.psnr_opencv):
            return 0.0
        return self.psnr_ours - self.psnr_opencv


def quality(binary: Path, out_dir: Path, photos: list[str]) -> list[QualityRow]:
    folder = out_dir / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for photo_index, name in enumerate(photos):
        bgr = cv2.cvtColor(np.ascontiguousarray(PHOTOS[name]()), cv2.COLOR_RGB2BGR)
        h, w = bgr.shape[:2]
        image_path = folder / f"{name}.png"
        cv2.imwrite(str(image_path), bgr)
        for mask_index, (mask_name, make_mask) in enumerate(QUALITY_MASKS.items()):
            rng = np.random.default_rng(1000 * photo_index + mask_index)
            mask = make_mask(h, w, rng)
            inside = mask > 127
            mask_path = folder / f"{name}-{mask_name}-mask.png"
            cv2.imwrite(str(mask_path), mask)
            for model, flag, _ in ALGORITHMS:
                theirs = cv2.inpaint(bgr, mask, RADIUS, flag)
                cv2.imwrite(str(folder / f"{name}-{mask_name}-{model}-opencv.png"), theirs)
                ours_path = folder / f"{name}-{mask_name}-{model}-ours.png"
                run_ours(binary, image_path, mask_path, model, 1, output=ours_path)
                ours = cv2.imread(str(ours_path), cv2.IMREAD_COLOR)
                if ours is None or ours.shape != bgr.shape:
                    sys.exit(f"{ours_path}: unreadable or wrong size")
                if np.any(ours[~inside] != bgr[~inside]):
                    print(f"warning: {ours_path.name}: pixels outside the mask changed",
                          file=sys.stderr)
                diff = np.abs(ours[inside].astype(np.int16) - theirs[inside].astype(np.int16))
                rows.append(QualityRow(
                    photo=name,
                    size=f"{w}×{h}",
                    mask=mask_name,
                    fill=float(inside.mean()),
                    algorithm=model,
                    psnr_opencv=psnr_inside(theirs, bgr, inside),
                    psnr_ours=psnr_inside(ours, bgr, inside),
                    equal=float(np.all(diff == 0, axis=-1).mean()) if diff.size else 1.0,
                    max_diff=int(diff.max()) if diff.size else 0,
                ))
                print(f"  quality {name} {mask_name} {model}: Δ {signed(rows[-1].delta)} dB",
                      file=sys.stderr, flush=True)
    return rows


def signed(value: float) -> str:
    """`+1.23`, `-0.40`; a value that rounds to zero is `+0.00`, never `-0.00`."""
    return f"{round(value, 2) + 0.0:+.2f}"


def quality_table(rows: list[QualityRow]) -> str:
    lines = [
        "| photo | size | mask | fill | algorithm | PSNR OpenCV (dB) | PSNR ours (dB) "
        "| ours − OpenCV (dB) | equal to OpenCV | max abs diff |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.photo} | {r.size} | {r.mask} | {100 * r.fill:.1f} % | {r.algorithm} "
            f"| {r.psnr_opencv:.2f} | {r.psnr_ours:.2f} | {signed(r.delta)} "
            f"| {100 * r.equal:.2f} % | {r.max_diff} |")
    for model, _, _ in ALGORITHMS:
        deltas = [r.delta for r in rows if r.algorithm == model]
        equal = [r.equal for r in rows if r.algorithm == model]
        if deltas:
            lines.append(
                f"| **{model}: mean** | | | | | | | {signed(statistics.mean(deltas))} "
                f"| {100 * statistics.mean(equal):.2f} % | |")
    return "\n".join(lines)


# --- speed -----------------------------------------------------------------------------------


@dataclass
class SpeedCase:
    side: int
    label: str  # "1 %", "hole 64²"
    fill: float
    mask_path: Path
    image_path: Path
    mask: np.ndarray
    bgr: np.ndarray


def speed_cases(out_dir: Path, sides: list[int], hole: bool) -> list[SpeedCase]:
    folder = out_dir / "speed"
    folder.mkdir(parents=True, exist_ok=True)
    source = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    cases = []
    for side in sides:
        bgr = cv2.resize(source, (side, side), interpolation=cv2.INTER_CUBIC)
        image_path = folder / f"photo-{side}.png"
        cv2.imwrite(str(image_path), bgr)
        masks = []
        for percent in (1, 5, 20):
            rng = np.random.default_rng(side + percent)
            masks.append((f"{percent} %", f"{percent}pct", fraction_mask(side, percent / 100, rng)))
        if hole and side == 4096:
            mask = np.zeros((side, side), np.uint8)
            mask[side // 2 - 32 : side // 2 + 32, side // 2 - 32 : side // 2 + 32] = 255
            masks.append(("hole 64²", "hole64", mask))
        for label, slug, mask in masks:
            mask_path = folder / f"mask-{side}-{slug}.png"
            cv2.imwrite(str(mask_path), mask)
            cases.append(SpeedCase(side, label, float(np.mean(mask > 0)), mask_path, image_path,
                                   mask, bgr))
    return cases


def speed(binary: Path, cases: list[SpeedCase], repeat: int | None) -> list[dict]:
    rows = []
    for case in cases:
        n = repeat or (5 if case.side <= 512 else 3)
        for model, flag, cv_name in ALGORITHMS:
            theirs, _ = time_opencv(case.bgr, case.mask, flag, n)
            ours = run_ours(binary, case.image_path, case.mask_path, model, n)
            single = run_ours(binary, case.image_path, case.mask_path, model, n, threads=1)
            rows.append({"side": case.side, "mask": case.label, "fill": case.fill,
                         "model": model, "cv": cv_name, "n": n, "strategy": "original",
                         "opencv": theirs, "ours": ours, "ours_1t": single})
            print(f"  speed {case.side}² {case.label} {model}: "
                  f"OpenCV {theirs['ms_median']:.1f} ms, ours {ours['ms_median']:.1f} ms "
                  f"({single['ms_median']:.1f} ms on 1 thread)",
                  file=sys.stderr, flush=True)
            if case.label.startswith("hole"):
                crop = run_ours(binary, case.image_path, case.mask_path, model, n,
                                hd_strategy="crop")
                crop_1t = run_ours(binary, case.image_path, case.mask_path, model, n,
                                   hd_strategy="crop", threads=1)
                rows.append({**rows[-1], "strategy": "crop", "ours": crop, "ours_1t": crop_1t})
                for strategy in ("original", "crop"):
                    kwargs = {"hd_strategy": strategy, "in_place": True}
                    rows.append({**rows[-1], "strategy": f"{strategy}, in place",
                                 "ours": run_ours(binary, case.image_path, case.mask_path,
                                                  model, n, **kwargs),
                                 "ours_1t": run_ours(binary, case.image_path, case.mask_path,
                                                     model, n, threads=1, **kwargs)})
    return rows


def speed_table(rows: list[dict]) -> str:
    lines = [
        "| size | mask | fill | algorithm | ours HD strategy | N | OpenCV min (ms) "
        "| OpenCV median (ms) | ours min (ms) | ours median (ms) | OpenCV / ours "
        "| ours 1 thread median (ms) | OpenCV / ours 1 thread |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cv, us, single = r["opencv"], r["ours"], r["ours_1t"]
        lines.append(
            f"| {r['side']}² | {r['mask']} | {100 * r['fill']:.2f} % | {r['model']} ({r['cv']}) "
            f"| {r['strategy']} | {r['n']} | {cv['ms_min']:.1f} | {cv['ms_median']:.1f} "
            f"| {us['ms_min']:.1f} | {us['ms_median']:.1f} | {ratio(cv, us)} "
            f"| {single['ms_median']:.1f} | {ratio(cv, single)} |")
    return "\n".join(lines)


def ratio(opencv: dict, ours: dict) -> str:
    """OpenCV's median time over ours: above 1 means we are faster."""
    return f"{opencv['ms_median'] / ours['ms_median']:.2f}×" if ours["ms_median"] > 0 else "∞"


# --- main ------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
            f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), numpy {np.__version__}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="512² and two photos only")
    parser.add_argument("--out", type=Path, default=ROOT / "benches" / "output",
                        help="where inputs, outputs and results.md go (default: benches/output)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per speed case, both sides (default: 5 at 512², 3 above)")
    parser.add_argument("--check-psnr", type=float, default=None, metavar="DB",
                        help="exit 1 if ours is more than DB dB below OpenCV in any quality case")
    parser.add_argument("--only", choices=["quality", "speed"], default=None)
    args = parser.parse_args()
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")

    binary = build_timing_binary()
    args.out.mkdir(parents=True, exist_ok=True)
    report = [f"Machine: {machine()}", ""]
    quality_rows: list[QualityRow] = []

    if args.only in (None, "quality"):
        photos = QUICK_PHOTOS if args.quick else list(PHOTOS)
        quality_rows = quality(binary, args.out, photos)
        report += ["## Quality (PSNR inside the mask against the clean photo; radius 4)", "",
                   quality_table(quality_rows), ""]
    if args.only in (None, "speed"):
        sides = [512] if args.quick else [512, 2048, 4096]
        rows = speed(binary, speed_cases(args.out, sides, hole=not args.quick), args.repeat)
        report += ["## Speed (ours: whole pipeline, HD strategy as shown, all cores and "
                   "RAYON_NUM_THREADS=1; OpenCV: cv2.inpaint in-process, single-threaded)", "",
                   speed_table(rows), ""]

    text = "\n".join(report)
    print(text)
    (args.out / "results.md").write_text(text + "\n")

    if args.check_psnr is not None:
        worse = [r for r in quality_rows if r.delta < -args.check_psnr]
        for r in worse:
            print(f"FAIL: {r.photo} {r.mask} {r.algorithm}: ours {r.psnr_ours:.2f} dB vs "
                  f"OpenCV {r.psnr_opencv:.2f} dB ({signed(r.delta)} dB; "
                  f"allowed: {-args.check_psnr:+.2f})",
                  file=sys.stderr)
        if worse:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
