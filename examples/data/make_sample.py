#!/usr/bin/env python3
"""Makes the sample input of the README's first command: photo.jpg and mask.png, here.

    scripts/python-env.sh && .venv/bin/python examples/data/make_sample.py

The photo is scikit-image's `coffee` (600×400, CC0, see README.md) with a white watermark and a
thin scratch stamped on it, saved as JPEG quality 90. The mask is the same text and scratch
drawn without anti-aliasing and dilated by 3 px, so that it covers the anti-aliased fringe and
the JPEG ringing around them: white (255) = fill, black (0) = keep, 8-bit grey PNG.

The clean original is written as original.png only if it is under 300 KB (coffee's is not).
Deterministic: same pinned packages, same bytes.
"""

from pathlib import Path

import cv2
import numpy as np
from skimage import data

HERE = Path(__file__).resolve().parent
MAX_ORIGINAL_BYTES = 300_000
DILATE_PX = 3


def draw(canvas: np.ndarray, color, line_type: int) -> None:
    """The watermark and the scratch, on a BGR photo or a grey mask."""
    font = cv2.FONT_HERSHEY_DUPLEX
    cv2.putText(canvas, "SAMPLE", (352, 370), font, 1.6, color, 4, line_type)
    cv2.putText(canvas, "inpaint-rs", (30, 50), font, 0.9, color, 2, line_type)
    # A scratch: a gentle curve across the cup, 2 px wide, as on a scanned print.
    xs = np.linspace(40, 560, 60)
    ys = 120 + 0.55 * (xs - 40) + 18 * np.sin(xs / 45)
    points = np.round(np.stack([xs, ys], axis=1)).astype(np.int32)
    cv2.polylines(canvas, [points], False, color, 2, line_type)


def main() -> None:
    original = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)

    photo = original.copy()
    draw(photo, (255, 255, 255), cv2.LINE_AA)
    cv2.imwrite(str(HERE / "photo.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])

    mask = np.zeros(original.shape[:2], np.uint8)
    draw(mask, 255, cv2.LINE_8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * DILATE_PX + 1,) * 2)
    mask = cv2.dilate(mask, kernel)
    cv2.imwrite(str(HERE / "mask.png"), mask, [cv2.IMWRITE_PNG_COMPRESSION, 9])

    ok, encoded = cv2.imencode(".png", original, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    target = HERE / "original.png"
    if ok and len(encoded) < MAX_ORIGINAL_BYTES:
        target.write_bytes(encoded.tobytes())
    else:
        target.unlink(missing_ok=True)
        print(f"original.png skipped: {len(encoded)} bytes as PNG")

    for name in ("photo.jpg", "mask.png", "original.png"):
        path = HERE / name
        if path.exists():
            print(f"{path.relative_to(HERE.parent.parent)}: {path.stat().st_size} bytes")
    print(f"mask covers {100 * np.count_nonzero(mask) / mask.size:.2f} % of the photo")


if __name__ == "__main__":
    main()
