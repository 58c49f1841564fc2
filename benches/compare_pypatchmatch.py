#!/usr/bin/env python3
"""Compare inpaint's `patchmatch` model with PyPatchMatch, on the same inputs.

    scripts/python-env.sh                                   # once: .venv with pinned packages
    .venv/bin/python benches/compare_pypatchmatch.py [--quick] [--out benches/output/patchmatch]
                                  [--repeat N] [--check-psnr DB] [--check-texture]

PyPatchMatch (the `pypatchmatch` wheel, the C++ library InvokeAI uses for infill) runs as
InvokeAI calls it, `patch_size=3` (a patch radius: 7×7 patches), with a fixed seed (its own
default, 15, means 31×31 patches and is 20-30× slower); ours is the `inpaint-timing` binary running the whole
`inpaint_core::inpaint` pipeline with `--model patchmatch` and its defaults, HD strategy
`original` (the model sees the whole image, as PyPatchMatch does) unless marked.

1. Quality, on real photos and textures with large holes (big blobs, regions touching the
   border, a large square): PSNR inside the mask against the clean image for both, and texture:
   the variance of the Laplacian inside the hole over the original's there (1 = as textured as
   the original; Telea, shown for reference, blurs to ~0.02).
2. Speed: a photo at 512² and 2048² with masks of about 1, 5 and 20 % (2048²: 1 and 5 %; 20 %
   takes PyPatchMatch minutes). Median of N runs each (file loading excluded on both sides).

--quick: 512² and three images. --check-psnr DB: exit 1 if our mean PSNR is more than DB below
PyPatchMatch's. --check-texture: exit 1 if any of our texture ratios is outside [0.5, 2].
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
from patchmatch import patch_match
from skimage import data

from comparison import (PHOTOS, ROOT, border_mask, build_timing_binary, fraction_mask, machine,
                        psnr_inside, ratio, run_ours, signed, texture_ratio)

SEED = 1
# PyPatchMatch's `patch_size` is a radius; InvokeAI passes 3.
PATCH_RADIUS = 3


def gray_texture(load) -> callable:
    return lambda: np.ascontiguousarray(np.stack([load()] * 3, axis=-1))


IMAGES = {
    "astronaut": PHOTOS["astronaut"],
    "coffee": PHOTOS["coffee"],
    "chelsea": PHOTOS["chelsea"],
    "rocket": PHOTOS["rocket"],
    "brick": gray_texture(data.brick),
    "gravel": gray_texture(data.gravel),
    "grass": gray_texture(data.grass),
}
QUICK_IMAGES = ["coffee", "brick", "gravel"]


def large_blobs_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Four to six large ellipses (20-45 px semi-axes at 512 px): objects to erase."""
    mask = np.zeros((h, w), np.uint8)
    unit = min(h, w) / 512
    for _ in range(rng.integers(4, 7)):
        center = tuple(int(v) for v in rng.uniform([0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h]))
        axes = tuple(max(2, int(rng.uniform(20, 45) * unit)) for _ in range(2))
        cv2.ellipse(mask, center, axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_8)
    return mask


def square_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One large square, an eighth of the shorter side, somewhere in the middle."""
    mask = np.zeros((h, w), np.uint8)
    side = min(h, w) // 8
    x, y = (int(rng.uniform(0.3, 0.6) * v) for v in (w, h))
    mask[y : y + side, x : x + side] = 255
    return mask


MASKS = {"blobs": large_blobs_mask, "border": border_mask, "square": square_mask}


def run_theirs(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    patch_match.set_random_seed(SEED)
    start = time.perf_counter()
    out = patch_match.inpaint(rgb, mask, patch_size=PATCH_RADIUS)
    return out, (time.perf_counter() - start) * 1e3


@dataclass
class QualityRow:
    image: str
    size: str
    mask: str
    fill: float
    psnr_theirs: float
    psnr_ours: float
    texture_theirs: float
    texture_ours: float
    texture_telea: float

    @property
    def delta(self) -> float:
        return self.psnr_ours - self.psnr_theirs


def quality(binary: Path, out_dir: Path, images: list[str]) -> list[QualityRow]:
    folder = out_dir / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, name in enumerate(images):
        rgb = np.ascontiguousarray(IMAGES[name]())
        h, w = rgb.shape[:2]
        image_path = folder / f"{name}.png"
        cv2.imwrite(str(image_path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        for mask_index, (mask_name, make) in enumerate(MASKS.items()):
            mask = make(h, w, np.random.default_rng(1000 * index + mask_index))
            inside = mask > 127
            mask_path = folder / f"{name}-{mask_name}-mask.png"
            cv2.imwrite(str(mask_path), mask)
            outputs = {}
            for model in ("patchmatch", "telea"):
                path = folder / f"{name}-{mask_name}-{model}.png"
                run_ours(binary, image_path, mask_path, model, 1, output=path)
                outputs[model] = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            theirs, _ = run_theirs(rgb, mask)
            cv2.imwrite(str(folder / f"{name}-{mask_name}-pypatchmatch.png"),
                        cv2.cvtColor(theirs, cv2.COLOR_RGB2BGR))
            rows.append(QualityRow(
                image=name, size=f"{w}×{h}", mask=mask_name, fill=float(np.mean(inside)),
                psnr_theirs=psnr_inside(theirs, rgb, inside),
                psnr_ours=psnr_inside(outputs["patchmatch"], rgb, inside),
                texture_theirs=texture_ratio(theirs, rgb, inside),
                texture_ours=texture_ratio(outputs["patchmatch"], rgb, inside),
                texture_telea=texture_ratio(outputs["telea"], rgb, inside),
            ))
            r = rows[-1]
            print(f"  quality {name} {mask_name}: PSNR ours {r.psnr_ours:.2f} / theirs "
                  f"{r.psnr_theirs:.2f} dB, texture ours {r.texture_ours:.2f} / theirs "
                  f"{r.texture_theirs:.2f}", file=sys.stderr, flush=True)
    return rows


def quality_table(rows: list[QualityRow]) -> str:
    lines = [
        "| image | size | mask | fill | PSNR PyPatchMatch (dB) | PSNR ours (dB) "
        "| ours − PyPatchMatch (dB) | texture PyPatchMatch | texture ours | texture telea |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.image} | {r.size} | {r.mask} | {100 * r.fill:.1f} % | {r.psnr_theirs:.2f} "
            f"| {r.psnr_ours:.2f} | {signed(r.delta)} | {r.texture_theirs:.2f} "
            f"| {r.texture_ours:.2f} | {r.texture_telea:.3f} |")
    if rows:
        mean = lambda key: statistics.mean(getattr(r, key) for r in rows)  # noqa: E731
        lines.append(
            f"| **mean** | | | | {mean('psnr_theirs'):.2f} | {mean('psnr_ours'):.2f} "
            f"| {signed(mean('psnr_ours') - mean('psnr_theirs'))} | {mean('texture_theirs'):.2f} "
            f"| {mean('texture_ours'):.2f} | {mean('texture_telea'):.3f} |")
    return "\n".join(lines)


def speed(binary: Path, out_dir: Path, cases: list[tuple[int, float]],
          repeat: int | None) -> list[dict]:
    folder = out_dir / "speed"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for side, fraction in cases:
        rgb = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
        mask = fraction_mask(side, fraction, np.random.default_rng(side + int(fraction * 100)))
        image_path = folder / f"photo-{side}.png"
        mask_path = folder / f"mask-{side}-{int(fraction * 100)}pct.png"
        cv2.imwrite(str(image_path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(mask_path), mask)
        n = repeat or (3 if side <= 512 else 1)
        times = [run_theirs(rgb, mask)[1] for _ in range(n)]
        theirs = {"ms_min": min(times), "ms_median": statistics.median(times)}
        strategies = ["original"] + (["crop"] if side > 800 else [])
        for strategy in strategies:
            ours = run_ours(binary, image_path, mask_path, "patchmatch", n, hd_strategy=strategy)
            single = run_ours(binary, image_path, mask_path, "patchmatch", n,
                              hd_strategy=strategy, threads=1)
            rows.append({"side": side, "fill": float(np.mean(mask > 127)), "n": n,
                         "strategy": strategy, "theirs": theirs, "ours": ours, "ours_1t": single})
            print(f"  speed {side}² {fraction:.0%} {strategy}: PyPatchMatch "
                  f"{theirs['ms_median']:.0f} ms, ours {ours['ms_median']:.0f} ms "
                  f"({single['ms_median']:.0f} ms on 1 thread)", file=sys.stderr, flush=True)
    return rows


def speed_table(rows: list[dict]) -> str:
    lines = [
        "| size | fill | ours HD strategy | N | PyPatchMatch median (ms) | ours median (ms) "
        "| PyPatchMatch / ours | ours 1 thread median (ms) | PyPatchMatch / ours 1 thread |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        theirs, ours, single = r["theirs"], r["ours"], r["ours_1t"]
        lines.append(
            f"| {r['side']}² | {100 * r['fill']:.2f} % | {r['strategy']} | {r['n']} "
            f"| {theirs['ms_median']:.0f} | {ours['ms_median']:.1f} | {ratio(theirs, ours)} "
            f"| {single['ms_median']:.1f} | {ratio(theirs, single)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="512² and three images only")
    parser.add_argument("--out", type=Path, default=ROOT / "benches" / "output" / "patchmatch",
                        help="where inputs, outputs and results.md go")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per speed case, both sides (default: 3 at 512², 1 above)")
    parser.add_argument("--check-psnr", type=float, default=None, metavar="DB",
                        help="exit 1 if our mean PSNR is more than DB dB below PyPatchMatch's")
    parser.add_argument("--check-texture", action="store_true",
                        help="exit 1 if any texture ratio of ours is outside [0.5, 2]")
    parser.add_argument("--only", choices=["quality", "speed"], default=None)
    args = parser.parse_args()
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")

    binary = build_timing_binary()
    args.out.mkdir(parents=True, exist_ok=True)
    report = [f"Machine: {machine('PyPatchMatch 2.2.0')}", ""]
    rows: list[QualityRow] = []
    if args.only in (None, "quality"):
        rows = quality(binary, args.out, QUICK_IMAGES if args.quick else list(IMAGES))
        report += ["## Quality (PSNR inside the mask against the clean image; texture = "
                   "variance of the Laplacian inside the hole / the original's)", "",
                   quality_table(rows), ""]
    if args.only in (None, "speed"):
        cases = [(512, 0.01), (512, 0.05), (512, 0.20)]
        if not args.quick:
            cases += [(2048, 0.01), (2048, 0.05)]
        report += ["## Speed (ours: whole pipeline, all cores and RAYON_NUM_THREADS=1; "
                   "PyPatchMatch: in-process, single-threaded)", "",
                   speed_table(speed(binary, args.out, cases, args.repeat)), ""]
    text = "\n".join(report)
    print(text)
    (args.out / "results.md").write_text(text + "\n")

    failed = False
    if args.check_psnr is not None and rows:
        delta = statistics.mean(r.psnr_ours for r in rows) - statistics.mean(
            r.psnr_theirs for r in rows)
        if delta < -args.check_psnr:
            print(f"FAIL: mean PSNR {signed(delta)} dB against PyPatchMatch "
                  f"(allowed: {-args.check_psnr:+.2f})", file=sys.stderr)
            failed = True
    if args.check_texture:
        for r in rows:
            if not 0.5 <= r.texture_ours <= 2.0:
                print(f"FAIL: {r.image} {r.mask}: texture ratio {r.texture_ours:.2f} is "
                      "outside [0.5, 2]", file=sys.stderr)
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
