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
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from comparison import (PHOTOS, QUALITY_MASKS, QUICK_PHOTOS, ROOT, build_timing_binary,
                        fraction_mask, machine, psnr_inside, ratio, run_ours, signed)

RADIUS = 4
# (our model name, OpenCV flag, OpenCV's name)
ALGORITHMS = [
    ("telea", cv2.INPAINT_TELEA, "TELEA"),
    ("navier-stokes", cv2.INPAINT_NS, "NS"),
]


def run_classical(*args, **kwargs) -> dict:
    """Our timing binary with the radius OpenCV gets."""
    return run_ours(*args, radius=RADIUS, **kwargs)


# --- our side --------------------------------------------------------------------------------


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
                run_classical(binary, image_path, mask_path, model, 1, output=ours_path)
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
            ours = run_classical(binary, case.image_path, case.mask_path, model, n)
            single = run_classical(binary, case.image_path, case.mask_path, model, n, threads=1)
            rows.append({"side": case.side, "mask": case.label, "fill": case.fill,
                         "model": model, "cv": cv_name, "n": n, "strategy": "original",
                         "opencv": theirs, "ours": ours, "ours_1t": single})
            print(f"  speed {case.side}² {case.label} {model}: "
                  f"OpenCV {theirs['ms_median']:.1f} ms, ours {ours['ms_median']:.1f} ms "
                  f"({single['ms_median']:.1f} ms on 1 thread)",
                  file=sys.stderr, flush=True)
            if case.label.startswith("hole"):
                crop = run_classical(binary, case.image_path, case.mask_path, model, n,
                                hd_strategy="crop")
                crop_1t = run_classical(binary, case.image_path, case.mask_path, model, n,
                                   hd_strategy="crop", threads=1)
                rows.append({**rows[-1], "strategy": "crop", "ours": crop, "ours_1t": crop_1t})
                for strategy in ("original", "crop"):
                    kwargs = {"hd_strategy": strategy, "in_place": True}
                    rows.append({**rows[-1], "strategy": f"{strategy}, in place",
                                 "ours": run_classical(binary, case.image_path, case.mask_path,
                                                  model, n, **kwargs),
                                 "ours_1t": run_classical(binary, case.image_path, case.mask_path,
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


# --- main ------------------------------------------------------------------------------------


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
    report = [f"Machine: {machine(f'OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads)')}",
              ""]
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
