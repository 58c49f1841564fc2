#!/usr/bin/env python3
"""Which weight-free model a new user should see first: telea against patchmatch on photos.

    scripts/python-env.sh
    .venv/bin/python benches/compare_first_model.py [--sizes native 1024 2048 4096] [--quick]

Both through the whole pipeline (`inpaint-timing`, release build) with the example's defaults
(HD strategy `crop`, telea radius 4, patchmatch patch 7 seed 0), on photos from
`skimage.data` at their own size and resized (bicubic) to 1024², 2048² and 4096², with the
masks of comparison.py: brush strokes, blobs, text (a watermark and captions). The two models
run one after the other on each case, so that the ratio of their times is measured side by
side. Per case: time (median of --repeat runs), PSNR inside the mask against the clean photo,
and texture (variance of the Laplacian inside the mask over the original's there: a smeared
fill is near 0, a fill as busy as the photo near 1).

Writes the outputs and, per case, a side-by-side crop around the largest hole
(original | mask | telea | patchmatch) to benches/output/first-model/, and the table to
benches/output/first-model/results.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comparison import (  # noqa: E402
    PHOTOS,
    QUALITY_MASKS,
    ROOT,
    build_timing_binary,
    machine,
    psnr_inside,
    run_ours,
    texture_ratio,
)

OUT = ROOT / "benches" / "output" / "first-model"
MODELS = ("telea", "patchmatch")
MASKS = ("strokes", "blobs", "text")
NATIVE = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")
RESIZED = ("astronaut", "coffee")  # upscaled to 1024² .. 4096²


def cases(sizes: list[str]):
    for size in sizes:
        photos = NATIVE if size == "native" else RESIZED
        for photo in photos:
            rgb = PHOTOS[photo]()
            if size != "native":
                side = int(size)
                rgb = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_CUBIC)
            for mask_name in MASKS:
                rng = np.random.default_rng([7, list(PHOTOS).index(photo), MASKS.index(mask_name)])
                yield photo, rgb, mask_name, QUALITY_MASKS[mask_name](*rgb.shape[:2], rng)


def crop_around_hole(mask: np.ndarray, side: int) -> tuple[slice, slice]:
    """A square window centred on the largest connected hole."""
    n, labels, stats, centroids = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8))
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) if n > 1 else 0
    cx, cy = centroids[biggest]
    h, w = mask.shape
    side = min(side, h, w)
    x0 = int(np.clip(cx - side / 2, 0, w - side))
    y0 = int(np.clip(cy - side / 2, 0, h - side))
    return slice(y0, y0 + side), slice(x0, x0 + side)


def montage(rgb, mask, outs, path: Path) -> None:
    side = max(256, min(rgb.shape[:2]) // 4)
    ys, xs = crop_around_hole(mask, side)
    shown = rgb.copy()
    shown[mask > 0] = (255, 0, 255)
    tiles = [rgb[ys, xs], shown[ys, xs]] + [outs[m][ys, xs] for m in MODELS]
    tiles = [cv2.resize(t, (384, 384), interpolation=cv2.INTER_AREA) for t in tiles]
    gap = np.full((384, 6, 3), 255, np.uint8)
    row = np.concatenate(sum(([t, gap] for t in tiles), [])[:-1], axis=1)
    cv2.imwrite(str(path), cv2.cvtColor(row, cv2.COLOR_RGB2BGR))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["native", "1024", "2048", "4096"])
    ap.add_argument("--repeat", type=int, default=3, help="runs per case below 2048² (above: 1)")
    ap.add_argument("--quick", action="store_true", help="native size only, one run")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.repeat = ["native"], 1
    binary = build_timing_binary()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for photo, rgb, mask_name, mask in cases(args.sizes):
        h, w = rgb.shape[:2]
        stem = f"{photo}-{w}x{h}-{mask_name}"
        image_path, mask_path = OUT / f"{stem}.png", OUT / f"{stem}-mask.png"
        cv2.imwrite(str(image_path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(mask_path), mask)
        repeat = args.repeat if h * w < 2048 * 2048 else 1
        outs, times = {}, {}
        for model in MODELS:
            out_path = OUT / f"{stem}-{model}.png"
            result = run_ours(binary, image_path, mask_path, model, repeat, out_path, "crop")
            outs[model] = cv2.cvtColor(cv2.imread(str(out_path)), cv2.COLOR_BGR2RGB)
            times[model] = result["ms_median"]
        inside = mask > 0
        row = {
            "photo": photo,
            "size": f"{w}×{h}",
            "mask": mask_name,
            "fill": 100 * float(inside.mean()),
            "ms": times,
            "psnr": {m: psnr_inside(outs[m], rgb, inside) for m in MODELS},
            "texture": {m: texture_ratio(outs[m], rgb, inside) for m in MODELS},
        }
        rows.append(row)
        montage(rgb, mask, outs, OUT / f"{stem}-side-by-side.png")
        print(
            f"{stem}: fill {row['fill']:.1f} %, telea {times['telea']:.0f} ms, patchmatch"
            f" {times['patchmatch']:.0f} ms; PSNR {row['psnr']['telea']:.2f} / "
            f"{row['psnr']['patchmatch']:.2f} dB; texture {row['texture']['telea']:.2f} / "
            f"{row['texture']['patchmatch']:.2f}",
            flush=True,
        )
    table = render(rows)
    (OUT / "results.md").write_text(f"{machine()}\n\n{table}")
    print(table)
    return 0


def render(rows) -> str:
    lines = [
        "| photo | size | mask | fill | telea (ms) | patchmatch (ms) | patchmatch / telea time "
        "| PSNR telea (dB) | PSNR patchmatch (dB) | texture telea | texture patchmatch |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t, p = r["ms"]["telea"], r["ms"]["patchmatch"]
        lines.append(
            f"| {r['photo']} | {r['size']} | {r['mask']} | {r['fill']:.1f} % | {t:.0f} | {p:.0f} "
            f"| {p / t:.1f}× | {r['psnr']['telea']:.2f} | {r['psnr']['patchmatch']:.2f} "
            f"| {r['texture']['telea']:.3f} | {r['texture']['patchmatch']:.2f} |"
        )
    med = lambda key, m: statistics.median(r[key][m] for r in rows)  # noqa: E731
    ratio = statistics.median(r["ms"]["patchmatch"] / r["ms"]["telea"] for r in rows)
    lines += [
        "",
        f"Medians over the {len(rows)} cases: PSNR telea {med('psnr', 'telea'):.2f} dB, patchmatch "
        f"{med('psnr', 'patchmatch'):.2f} dB; texture telea {med('texture', 'telea'):.3f}, "
        f"patchmatch {med('texture', 'patchmatch'):.2f}; patchmatch / telea time {ratio:.1f}×.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
