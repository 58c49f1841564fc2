#!/usr/bin/env python3
"""Records what IOPaint 1.6.0's extender (outpainting) does, for inpaint-core's tests.

IOPaint's own code runs: `DiffusionInpaintModel.__call__` → `_do_outpainting` → `expand_image`
→ `_scaled_pad_forward` → `_pad_forward` (with `forward_pre_process`/`forward_post_process`),
from the iopaint 1.6.0 wheel (downloaded with `pip download --no-deps`, checked against its
sha256, imported from a temporary folder; nothing of it is copied into the project). Its heavy
imports (torch, diffusers, pydantic, loguru) are replaced by stubs: the functions recorded use
only numpy and OpenCV. The diffusion model is a deterministic stand-in whose output is a formula
of its input, which the Rust test computes too (`standin` below, `Standin` in
inpaint-core/tests/outpaint.rs).

Writes inpaint-core/tests/data/outpaint/: `cases.txt` (one case a line: name, the extender box,
sd_mask_blur, sd_keep_unmasked_area, sd_match_histograms) and, per case, `<name>-input.png`
(the image), `<name>-model-image.png` and `<name>-model-mask.png` (what the model was handed:
the expanded image and mask, padded to 8 as IOPaint pads them) and `<name>-output.png`
(IOPaint's final composition, RGB).

Run in the project's light venv (numpy, opencv-python-headless, pillow pinned there):
  scripts/python-env.sh && .venv/bin/python scripts/make-outpaint-records.py
With --check, writes nothing and fails unless the committed records are what IOPaint makes
(pixels and cases.txt); scripts/test.sh runs that.
"""
import hashlib
import pathlib
import subprocess
import sys
import tempfile
import types
import zipfile

import cv2
import numpy as np
from PIL import Image

WHEEL = "IOPaint-1.6.0-py3-none-any.whl"
WHEEL_SHA256 = "b38c6987a27ddd995da60ea7e24e033ff3326b6d3082ed11966b009faf89a878"
OUT = pathlib.Path(__file__).resolve().parent.parent / "inpaint-core/tests/data/outpaint"

# (name, image width, height, seed, extender x, y, width, height, sd_mask_blur,
#  sd_keep_unmasked_area, sd_match_histograms)
CASES = [
    # Every side extended (the box holds the image).
    ("all-sides", 20, 14, 1, -5, -3, 31, 22, 0, True, False),
    # Right only, the box starting inside the image: the left part of the image stays out of
    # the box, and the box's own left part is the image.
    ("right", 24, 16, 2, 10, 0, 30, 16, 0, True, False),
    # Left and down, partly beside the image: the canvas has corners that neither the image nor
    # the box covers (black).
    ("corners", 18, 18, 3, -6, 5, 14, 20, 0, True, False),
    # A box inside the image: nothing to fill, and the whole box is the model's.
    ("inside-whole", 22, 18, 4, 3, 2, 12, 9, 0, False, False),
    # Up, with the whole box the model's.
    ("up-whole", 16, 12, 5, 0, -9, 16, 21, 0, False, False),
    # Feathered (blurred twice in outpainting) and histogram-matched.
    ("blur", 26, 20, 6, -7, -4, 40, 28, 3, True, False),
    ("blur-match", 26, 20, 7, 4, -6, 30, 30, 5, True, True),
]


def fetch_wheel(folder: pathlib.Path) -> pathlib.Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "iopaint==1.6.0", "-d", str(folder)],
                   check=True)
    wheel = folder / WHEEL
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder / "src")
    return folder / "src"


def stub(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def import_iopaint(src: pathlib.Path):
    """iopaint.model.base with stubs for what the recorded code never calls."""
    class Logger:
        def __getattr__(self, _name):
            return lambda *args, **kwargs: None

    identity = lambda f=None: f if f is not None else (lambda g: g)  # noqa: E731
    torch = stub("torch", no_grad=lambda: (lambda f: f), device=lambda d: d,
                 nn=types.SimpleNamespace(Module=object))
    torch.hub = stub("torch.hub", download_url_to_file=None, get_dir=None)
    stub("loguru", logger=Logger())
    # Packages without their __init__ (which imports every model).
    for package, folder in [("iopaint", src / "iopaint"),
                            ("iopaint.model", src / "iopaint/model"),
                            ("iopaint.model.helper", src / "iopaint/model/helper")]:
        stub(package, __path__=[str(folder)])
    stub("iopaint.schema", InpaintRequest=object, HDStrategy=object, SDSampler=object)
    stub("iopaint.model.utils", get_scheduler=identity)
    import iopaint.model.base as base
    return base


def standin(image_rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The stand-in model, RGB in, RGB out: `3·v + 7·x + 11·y + 29·c + 64·[mask > 127]`
    modulo 256 for channel c of the pixel at (x, y)."""
    h, w = image_rgb.shape[:2]
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    filled = (mask.reshape(h, w, 1) > 127).astype(np.int64)
    out = image_rgb.astype(np.int64) * 3 + x * 7 + y * 11 + c * 29 + filled * 64
    return (out % 256).astype(np.uint8)


def main() -> None:
    check = sys.argv[1:] == ["--check"]
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "records" if check else OUT
        base = import_iopaint(fetch_wheel(pathlib.Path(tmp)))
        seen = {}

        class Standin(base.DiffusionInpaintModel):
            name = "standin"
            pad_mod = 8
            min_size = None

            def __init__(self):  # no weights, no device
                pass

            def forward(self, image, mask, config):
                seen["image"], seen["mask"] = image.copy(), mask.copy()
                return standin(image, mask)[:, :, ::-1]  # IOPaint's models return BGR

        out.mkdir(parents=True, exist_ok=True)
        lines = []
        for (name, w, h, seed, x, y, bw, bh, blur, keep, match) in CASES:
            rng = np.random.default_rng(seed)
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            # The user's mask: IOPaint's outpainting ignores it (the new area is the mask).
            mask = np.zeros((h, w), np.uint8)
            mask[h // 3: h // 2, w // 3: w // 2] = 255
            config = types.SimpleNamespace(
                use_croper=False, use_extender=True, extender_x=x, extender_y=y,
                extender_width=bw, extender_height=bh, sd_scale=1.0, sd_mask_blur=blur,
                sd_keep_unmasked_area=keep, sd_match_histograms=match)
            seen.clear()
            result = Standin()(image.copy(), mask, config).astype(np.uint8)  # BGR
            Image.fromarray(image).save(out / f"{name}-input.png")
            Image.fromarray(seen["image"]).save(out / f"{name}-model-image.png")
            Image.fromarray(seen["mask"][:, :, 0]).save(out / f"{name}-model-mask.png")
            Image.fromarray(np.ascontiguousarray(result[:, :, ::-1])).save(
                out / f"{name}-output.png")
            lines.append(f"{name} {x} {y} {bw} {bh} {blur} {int(keep)} {int(match)}")
            print(f"{name}: {w}×{h} → {result.shape[1]}×{result.shape[0]}")
        header = ("# Written by scripts/make-outpaint-records.py (IOPaint 1.6.0's extender).\n"
                  "# name extender_x extender_y extender_width extender_height sd_mask_blur "
                  "sd_keep_unmasked_area sd_match_histograms\n")
        (out / "cases.txt").write_text(header + "\n".join(lines) + "\n")
        print(f"opencv {cv2.__version__}, numpy {np.__version__}")
        if check:
            compare(out, OUT)


def compare(made: pathlib.Path, committed: pathlib.Path) -> None:
    names = sorted(p.name for p in made.iterdir())
    if names != sorted(p.name for p in committed.iterdir()):
        sys.exit(f"{committed}: the files differ from the ones IOPaint's run makes")
    for name in names:
        a, b = made / name, committed / name
        same = (a.read_bytes() == b.read_bytes() if name.endswith(".txt")
                else np.array_equal(np.array(Image.open(a)), np.array(Image.open(b))))
        if not same:
            sys.exit(f"{b}: differs from what IOPaint 1.6.0 makes; rerun {sys.argv[0]}")
    print(f"{len(names)} records match IOPaint 1.6.0's")


if __name__ == "__main__":
    main()
