#!/usr/bin/env python3
"""Writes the hand-made seed inputs under fuzz/corpus/<target>/ (deterministic output).

    scripts/python-env.sh && .venv/bin/python fuzz/make-seeds.py

Seeds for `pipeline` and `download_response`, whose inputs are `arbitrary`-encoded structures
rather than files, are not made here: they are a corpus minimised from a fuzzing run
(`cargo fuzz cmin`), committed as it is. See RELIABILITY.md, "Fuzzing".

Inputs whose first byte selects something (`decode`, `onnx_load`) get that byte prepended.
"""

import io
import json
import shutil
import struct
import zlib
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
FIXTURES = ROOT / "inpaint-models" / "tests" / "fixtures" / "onnx"


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def pattern(mode: str, width: int, height: int) -> Image.Image:
    """A small image with structure in every channel."""
    image = Image.new(mode, (width, height))
    bands = len(image.getbands())
    pixels = []
    for y in range(height):
        for x in range(width):
            values = [(x * 37 + y * 11 + c * 71) % 256 for c in range(bands)]
            pixels.append(values[0] if bands == 1 else tuple(values))
    image.putdata(pixels)
    return image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decode_seeds() -> None:
    # Selector byte: bit 0 = small limits (64×64 box), bit 1 = decode as a mask.
    images = {
        "rgb.png": encode(pattern("RGB", 8, 6), "PNG"),
        "rgba.png": encode(pattern("RGBA", 5, 5), "PNG"),
        "grey16.png": encode(pattern("I;16", 4, 3), "PNG"),
        "palette.png": encode(pattern("RGB", 6, 6).convert("P"), "PNG"),
        "interlaced.png": encode(pattern("RGB", 9, 7), "PNG", interlace=1),
        "baseline.jpg": encode(pattern("RGB", 8, 8), "JPEG", quality=80),
        "progressive.jpg": encode(pattern("RGB", 16, 16), "JPEG", progressive=True),
        "grey.jpg": encode(pattern("L", 8, 8), "JPEG"),
        "lossless.webp": encode(pattern("RGBA", 6, 4), "WEBP", lossless=True),
        "lossy.webp": encode(pattern("RGB", 8, 8), "WEBP", quality=50),
        "rgb.bmp": encode(pattern("RGB", 3, 2), "BMP"),
        "grey.gif": encode(pattern("L", 4, 4), "GIF"),
    }
    # An EXIF orientation (6: rotate 90°), which decoding applies.
    exif = Image.Exif()
    exif[0x0112] = 6
    images["rotated.jpg"] = encode(pattern("RGB", 8, 4), "JPEG", exif=exif.tobytes())
    # Two frames: the first is decoded.
    frames = [pattern("RGB", 4, 4), pattern("RGB", 4, 4).rotate(90)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    images["animated.gif"] = out.getvalue()
    # A header that claims 100000×100000: refused by the limits before any pixel is decoded.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    images["bomb.png"] = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    # The sample mask (2 KB) as it is.
    images["sample-mask.png"] = (ROOT / "examples" / "data" / "mask.png").read_bytes()

    for name, data in images.items():
        write("decode", f"image-{name}", b"\x00" + data)
    for name in ["rgb.png", "rgba.png", "sample-mask.png", "grey.jpg", "lossless.webp"]:
        write("decode", f"mask-{name}", b"\x02" + images[name])
    for name in ["rgb.png", "bomb.png", "progressive.jpg"]:
        write("decode", f"small-limits-{name}", b"\x01" + images[name])


def onnx_seeds() -> None:
    # `onnx_load`'s first byte picks the architecture, in `Architecture::ALL` order.
    architectures = ["lama", "lama-dynamic", "migan", "migan-pipeline", "mat", "fcf"]
    fits = {
        "lama_fixed512": "lama",
        "lama_dynamic": "lama-dynamic",
        "lama_dynamic_255": "lama-dynamic",
        "lama_dynamic_fp16": "lama-dynamic",
        "lama_dynamic_undeclared": "lama-dynamic",
        "migan": "migan",
        "migan_pipeline": "migan-pipeline",
        "mat": "mat",
        "mat_no_noise": "mat",
        "fcf": "fcf",
        "wrong_names": "lama",
        "wrong_size": "lama",
        "wrong_dtype": "lama",
        "wrong_rank": "lama-dynamic",
    }
    for fixture in sorted(FIXTURES.glob("*.onnx")):
        data = fixture.read_bytes()
        selector = architectures.index(fits[fixture.stem])
        write("onnx_load", fixture.name, bytes([selector]) + data)
        # A graph loaded as another architecture: refused by the contract check.
        write("onnx_load", f"as-other-{fixture.name}", bytes([(selector + 1) % 6]) + data)
        write("onnx_probe", fixture.name, data)
    write("onnx_probe", "truncated-migan.onnx", (FIXTURES / "migan.onnx").read_bytes()[:700])


def safetensors(tensors: dict, data_len: int = 0, metadata: bool = True) -> bytes:
    header = {"__metadata__": {"format": "pt"}} if metadata else {}
    header.update(tensors)
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + bytes(data_len)


def tensor(dtype: str, shape: list, start: int = 0, end: int = 0) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [start, end]}


def safetensors_seeds() -> None:
    seeds = {
        "sd-inpainting": safetensors({"conv_in.weight": tensor("F16", [320, 9, 3, 3])}),
        "sd": safetensors({"unet.conv_in.weight": tensor("F16", [320, 4, 3, 3], 0, 8)}, 8),
        "sd-depth": safetensors(
            {"model.diffusion_model.input_blocks.0.0.weight": tensor("F32", [320, 5, 3, 3])}
        ),
        "mat": safetensors(
            {"synthesis.first_stage.conv_first.conv.resample_filter": tensor("F32", [4, 4], 0, 64)},
            64,
        ),
        "unknown": safetensors({"w": tensor("F32", [2], 0, 8), "b": tensor("F32", [1], 8, 12)}, 12),
        "unet-3-dims": safetensors({"conv_in.weight": tensor("F16", [320, 9, 3])}, metadata=False),
        "offsets-beyond": safetensors({"conv_in.weight": tensor("F16", [1, 9, 1, 1], 0, 18)}),
        "not-json": struct.pack("<Q", 5) + b"{nope",
        "header-too-long": struct.pack("<Q", 1000) + b"{}",
        "empty-object": struct.pack("<Q", 2) + b"{}",
    }
    for name, data in seeds.items():
        write("safetensors_probe", f"{name}.safetensors", data)


def config_seeds() -> None:
    seeds = {
        "full.toml": """default_model = "lama"

[[roots]]
path = "/home/me/.cache/inpaint/models"
kind = "project"

[[roots]]
path = "hf"
kind = "hf-cache"

[models.lama]
aliases = ["big"]
device = "cuda:1"

[models.telea]
radius = 5.0

[models.patchmatch]
patch_size = 7
seed = 42

[models."photos/foo.onnx"]
path = "/srv/models/photos/foo.onnx"
architecture = "migan"
discovered = true
missing = true

[models.anime]
path = "anime.onnx"
architecture = "lama-dynamic"
output_range = "0-255"
description = "manga"
""",
        "user.toml": """# my models
default_model = "telea"

[[roots]]
path = "loose"   # next to this file
kind = "loose"

[models.telea]
radius = 7.0 # wider than IOPaint's

[models."foo.onnx"]
path = "loose/foo.onnx"
architecture = "fcf"
device = "cpu"
description = "the FcF export, whatever the probe thinks"
discovered = true
""",
        "misspelt-key.toml": "[models.telea]\nradus = 5.0\n",
        "taken-alias.toml": '[models.mine]\npath = "m.onnx"\naliases = ["lama"]\n',
        "tilde-path.toml": '[[roots]]\npath = "~/models"\nkind = "loose"\n',
        "bad-kind.toml": '[[roots]]\npath = "x"\nkind = "bucket"\n',
        "bad-device.toml": '[models.lama]\ndevice = "tpu"\n',
        "inline.toml": 'models = { telea = { radius = 3.0 }, "a b" = { path = "é.onnx" } }\n',
        "empty.toml": "",
    }
    for name, text in seeds.items():
        write("models_config", name, text.encode())


def main() -> None:
    for target in ["decode", "onnx_load", "onnx_probe", "safetensors_probe", "models_config"]:
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    decode_seeds()
    onnx_seeds()
    safetensors_seeds()
    config_seeds()


if __name__ == "__main__":
    main()
