#!/usr/bin/env python3
"""Makes the hostile and unusual input files in inpaint-core/tests/data/hostile/.

    scripts/python-env.sh && .venv/bin/python scripts/make-hostile-files.py    # write + check
    .venv/bin/python scripts/make-hostile-files.py --check                     # check only

Each file is one thing a photo editor or a service meets in the wild: a PNG whose header claims
100000×100000 (a decompression bomb), truncated PNG and JPEG files, a 0×0 PNG, a 1×1 PNG,
colour and alpha masks, a 16-bit PNG, a CMYK JPEG, animated GIF and WebP files. The tests of
inpaint-core (tests/hostile.rs) decode them through the library, and the tests of the `inpaint`
example (examples/tests/hostile.rs) run the program on them; README.md beside the files says
what each is and what must happen.

The PNG files are written byte by byte here (zlib only), so that a header can say whatever a
hostile file says; the JPEG, GIF and WebP files come from Pillow (pinned by
scripts/python-env.sh). Regenerating is deterministic: --check rebuilds every file in memory and
compares it byte for byte with the one on disk.
"""

import argparse
import io
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "inpaint-core" / "tests" / "data" / "hostile"

# The size of the ordinary photo and its masks.
W, H = 32, 24


# --------------------------------------------------------------------------------------------
# PNG by hand


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, bit_depth: int, colour_type: int, rows: list) -> bytes:
    """A PNG from raw scanlines (each prefixed with filter type 0 here)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def photo_rows() -> list:
    """A 32×24 RGB8 gradient: every pixel distinct enough that a shift or swap shows."""
    return [bytes(v for x in range(W) for v in (x * 8, y * 10, (x + y) * 4)) for y in range(H)]


def photo_png() -> bytes:
    return png(W, H, 8, 2, photo_rows())


def huge_header_png() -> bytes:
    """IHDR claims 100000×100000 RGB8 (30 GB decoded); the data is 0 bytes of a stream."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"", 9))
        + chunk(b"IEND", b"")
    )


def empty_png() -> bytes:
    """IHDR says 0×0 (which the PNG specification forbids), an empty IDAT stream."""
    return png(0, 0, 8, 2, [])


def one_pixel_png() -> bytes:
    return png(1, 1, 8, 2, [bytes([200, 100, 50])])


def one_pixel_mask_png() -> bytes:
    return png(1, 1, 8, 0, [bytes([255])])


def mask_grey_png() -> bytes:
    """The reference mask: fill the rectangle x 10..20, y 6..14."""
    return png(W, H, 8, 0, [bytes(255 if 10 <= x < 20 and 6 <= y < 14 else 0 for x in range(W)) for y in range(H)])


def rgb_mask_pixel(x: int, y: int) -> tuple:
    """Columns of colours whose luma falls on either side of 127 (the weights `image` uses,
    ITU-R BT.709's: 0.2126 R + 0.7152 G + 0.0722 B)."""
    if not (6 <= y < 14):
        return (0, 0, 0)
    band = x // 4
    return [
        (0, 0, 0),  # luma 0: keep
        (255, 0, 0),  # red, luma 54: keep
        (0, 255, 0),  # green, luma 182: fill
        (0, 0, 255),  # blue, luma 18: keep
        (255, 255, 255),  # white, luma 255: fill
        (255, 255, 0),  # yellow, luma 237: fill
        (128, 128, 128),  # grey 128, luma 128: fill
        (127, 127, 127),  # grey 127, luma 127: keep
    ][band]


def mask_rgb_png() -> bytes:
    rows = [bytes(v for x in range(W) for v in rgb_mask_pixel(x, y)) for y in range(H)]
    return png(W, H, 8, 2, rows)


def rgba_mask_pixel(x: int, y: int) -> tuple:
    """White strokes of varying opacity on a transparent background, and black opaque:
    fill where luma × alpha / 255 > 127."""
    if not (6 <= y < 14):
        return (255, 255, 255, 0)  # white but transparent: keep
    band = x // 4
    return [
        (255, 255, 255, 0),  # transparent white: keep
        (255, 255, 255, 255),  # opaque white: fill
        (0, 0, 0, 255),  # opaque black: keep
        (255, 255, 255, 128),  # half-opaque white, 128: fill
        (255, 255, 255, 127),  # 127: keep
        (0, 255, 0, 255),  # opaque green, luma 182: fill
        (0, 255, 0, 180),  # green at alpha 180: 182·180/255 = 128.5 → 128: fill
        (0, 255, 0, 170),  # green at alpha 170: 121: keep
    ][band]


def mask_rgba_png() -> bytes:
    rows = [bytes(v for x in range(W) for v in rgba_mask_pixel(x, y)) for y in range(H)]
    return png(W, H, 8, 6, rows)


def rgb16_value(x: int, y: int) -> tuple:
    """16-bit samples; in blue, 0x00FF and 0x8100 tell rounding (to 1 and 128) from taking the
    high byte (0 and 129)."""
    return (x * 2047 + 13, y * 2730 + 7, 0x00FF if (x + y) % 2 else 0x8100)


def rgb16_png() -> bytes:
    rows = [b"".join(struct.pack(">HHH", *rgb16_value(x, y)) for x in range(W)) for y in range(H)]
    return png(W, H, 16, 2, rows)


def rgba16_png() -> bytes:
    rows = [
        b"".join(struct.pack(">HHHH", *rgb16_value(x, y), 0xFFFF if x % 2 else 0x8000) for x in range(W))
        for y in range(H)
    ]
    return png(W, H, 16, 6, rows)


def truncated_png() -> bytes:
    """A 96×64 noise PNG (so that the compressed data is large) cut in the middle of IDAT."""
    rows = [bytes((x * 37 + y * 101 + (x * y) % 251) % 256 for x in range(96 * 3)) for y in range(64)]
    data = png(96, 64, 8, 2, rows)
    return data[: len(data) // 2]


# --------------------------------------------------------------------------------------------
# Pillow-made files


def pillow(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    """A 96×64 JPEG cut in the middle of its entropy-coded data (after SOS)."""
    photo = Image.new("RGB", (96, 64))
    photo.putdata([((x * 7) % 256, (y * 5) % 256, (x * y) % 256) for y in range(64) for x in range(96)])
    data = pillow(photo, "JPEG", quality=90)
    sos = data.index(b"\xff\xda")
    return data[: sos + (len(data) - sos) // 2]


def cmyk_jpeg() -> bytes:
    """A 32×24 CMYK JPEG, as print workflows write them (Pillow writes an Adobe APP14 marker and
    stores the inverted values, as Photoshop does). Left half pure red (C=0 M=255 Y=255 K=0), right
    half pure blue (C=255 M=255 Y=0 K=0)."""
    image = Image.new("CMYK", (W, H))
    image.putdata([(0, 255, 255, 0) if x < W // 2 else (255, 255, 0, 0) for y in range(H) for x in range(W)])
    return pillow(image, "JPEG", quality=95)


def frames() -> list:
    """Two 32×24 frames: red, then blue."""
    return [Image.new("RGB", (W, H), (255, 0, 0)), Image.new("RGB", (W, H), (0, 0, 255))]


def animated_gif() -> bytes:
    first, second = frames()
    return pillow(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def animated_webp() -> bytes:
    first, second = frames()
    return pillow(first, "WEBP", save_all=True, append_images=[second], duration=100, loop=0, lossless=True)


FILES = {
    "photo.png": photo_png,
    "mask.png": mask_grey_png,
    "huge_100000x100000.png": huge_header_png,
    "empty_0x0.png": empty_png,
    "one_pixel.png": one_pixel_png,
    "one_pixel_mask.png": one_pixel_mask_png,
    "mask_rgb.png": mask_rgb_png,
    "mask_rgba.png": mask_rgba_png,
    "rgb16.png": rgb16_png,
    "rgba16.png": rgba16_png,
    "truncated.png": truncated_png,
    "truncated.jpg": truncated_jpeg,
    "cmyk.jpg": cmyk_jpeg,
    "animated.gif": animated_gif,
    "animated.webp": animated_webp,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check the files on disk")
    args = parser.parse_args()

    made = {name: make() for name, make in FILES.items()}
    if not args.check:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        for name, data in made.items():
            (OUT_DIR / name).write_bytes(data)
    failures = 0
    for name, data in made.items():
        path = OUT_DIR / name
        ok = path.exists() and path.read_bytes() == data
        failures += not ok
        print(f"{'ok  ' if ok else 'DIFF'} {name:26} {len(data):6} bytes")
    print(f"\nhostile files: {len(made) - failures} as made, {failures} differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
