#!/usr/bin/env python3
"""Makes the tiny ONNX test graphs ("fixtures") in inpaint-models/tests/fixtures/onnx/.

    scripts/python-env.sh && .venv/bin/python scripts/make-onnx-fixtures.py           # write + check
    .venv/bin/python scripts/make-onnx-fixtures.py --check                            # check only

One graph per model I/O contract the crates load (LaMa fixed 512 and dynamic, MI-GAN raw and
pipeline, MAT, FcF), each computing a formula whose output is exactly predictable, so the Rust
tests can push real images through the whole pipeline on ONNX Runtime and assert pixel values;
plus a few graphs with a wrong contract (names, size, dtype, rank) that loading must reject.

Every working graph fills the hole with a flat colour C = (0.6, 0.1, 0.3) (R, G, B, in 0-1;
distinct per channel so that a channel swap shows) plus ALPHA = 0.25 times the per-channel mean
of the known pixels (so that the known pixels, and a mask inverted or misaligned, show), and
passes the known pixels through, already composited. README.md beside the fixtures has the
table of contracts and formulas.

Without --check, the graphs are written (overwriting) and then checked. The check runs each
working graph on ONNX Runtime's CPU provider with a random image and a known hole and compares
the result with a numpy implementation of its formula; it also checks that the dynamic LaMa
graphs fail (an ONNX Runtime error, not a wrong answer) when a side is not a multiple of 8, and
that every file on disk is byte-for-byte what this script makes (regenerating is
deterministic: no timestamps, no randomness in the graphs).
"""

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "inpaint-models" / "tests" / "fixtures" / "onnx"

C = (0.6, 0.1, 0.3)  # fill colour, R, G, B in 0-1
ALPHA = 0.25  # weight of the known-pixel mean in the fill
NOISE_WEIGHT = 0.001  # MAT: weight of mean(noise) in the fill
IR_VERSION = 8  # ONNX 1.12's IR: opsets up to 17; every ONNX Runtime since 1.12 loads it
METADATA_RANGE_KEY = "inpaint.output_range"

F32 = TensorProto.FLOAT
F16 = TensorProto.FLOAT16
U8 = TensorProto.UINT8
I64 = TensorProto.INT64


# --------------------------------------------------------------------------------------------
# Graph building


class Graph:
    """Collects nodes and (small) initializers, naming every intermediate deterministically."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.counter = 0

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, hint: str, value, dtype=np.float32) -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs, hint: str = None, out: str = None, **attrs) -> str:
        out = out or self.fresh(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    # Helpers that hide the opset differences (ReduceSum's axes: attribute before 13, input since).
    def reduce_sum_hw(self, x: str, hint: str) -> str:
        if self.opset >= 13:
            axes = self.const("axes_hw", [2, 3], np.int64)
            return self.op("ReduceSum", [x, axes], hint, keepdims=1)
        return self.op("ReduceSum", [x], hint, axes=[2, 3], keepdims=1)

    def channels(self, x: str, start: int, end: int, hint: str) -> str:
        """x[:, start:end] of an NCHW tensor."""
        starts = self.const("starts", [start], np.int64)
        ends = self.const("ends", [end], np.int64)
        axes = self.const("axes_c", [1], np.int64)
        return self.op("Slice", [x, starts, ends, axes], hint)

    def masked_fill(self, img: str, known: str, base, hint: str = "fill") -> str:
        """base + ALPHA * m, m = sum(img * known) / max(sum(known), 1) per image and channel.

        `img` is [N,3,H,W] in the model's domain (already multiplied by `known`: see
        `masked_fill_premultiplied`), `known` is [N,1,H,W]; the result is [N,3,1,1]. `base` is the fill colour
        in the model's domain, 3 values."""
        num = self.reduce_sum_hw(self.op("Mul", [img, known], "img_known"), "sum_img_known")
        return self._fill_from_sums(num, known, base, hint)

    def masked_fill_premultiplied(self, img_known: str, known: str, base, hint="fill") -> str:
        num = self.reduce_sum_hw(img_known, "sum_img_known")
        return self._fill_from_sums(num, known, base, hint)

    def _fill_from_sums(self, num: str, known: str, base, hint: str) -> str:
        den = self.reduce_sum_hw(known, "sum_known")
        den = self.op("Max", [den, self.const("one", 1.0)], "sum_known_at_least_1")
        mean = self.op("Div", [num, den], "known_mean")
        scaled = self.op("Mul", [mean, self.const("alpha", ALPHA)], "alpha_mean")
        base = self.const("fill_colour", np.asarray(base).reshape(1, 3, 1, 1))
        return self.op("Add", [base, scaled], hint)

    def composite(self, img: str, known: str, fill: str, hole: str = None, out: str = None) -> str:
        """known * img + hole * fill, hole = 1 - known unless given."""
        if hole is None:
            hole = self.op("Sub", [self.const("one", 1.0), known], "hole")
        a = self.op("Mul", [known, img], "keep")
        b = self.op("Mul", [hole, fill], "fill_hole")
        return self.op("Add", [a, b], "composited", out=out)

    def model(self, name: str, inputs, outputs, doc: str, metadata=None) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", self.opset)],
            producer_name="inpaint-rs scripts/make-onnx-fixtures.py",
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        if metadata:
            helper.set_model_props(model, metadata)
        onnx.checker.check_model(model, full_check=True)
        return model


def vi(name: str, dtype: int, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


C_01 = np.asarray(C)  # fill colour in 0-1
C_PM1 = 2 * C_01 - 1  # in -1..1
C_255 = 255 * C_01  # in 0-255

DYNAMIC_SHAPE_DOC = (
    " The image goes through SpaceToDepth(8) and back through DepthToSpace(8, mode=DCR), an "
    "identity that makes ONNX Runtime fail when height or width is not a multiple of 8, as the "
    "real dynamic LaMa exports do."
)


# --------------------------------------------------------------------------------------------
# The fixtures


def lama_fixed512() -> onnx.ModelProto:
    g = Graph(17)
    known = g.op("Sub", [g.const("one", 1.0), "mask"], "known")
    fill = g.masked_fill("image", known, C_01)
    out01 = g.composite("image", known, fill, hole="mask")
    clipped = g.op("Clip", [out01, g.const("zero", 0.0), g.const("one", 1.0)], "clipped")
    g.op("Mul", [clipped, g.const("scale_255", 255.0)], out="output")
    return g.model(
        "lama_fixed512",
        [vi("image", F32, ["batch", 3, 512, 512]), vi("mask", F32, ["batch", 1, 512, 512])],
        [vi("output", F32, ["batch", 3, 512, 512])],
        "LaMa fixed-512 contract (lama_fp32.onnx): "
        "output = 255 * clip((1-mask)*image + mask*(C + 0.25*m), 0, 1), C = (0.6, 0.1, 0.3), "
        "m = per-channel mean of image over (1-mask).",
    )


def lama_dynamic(variant: str) -> onnx.ModelProto:
    """variant: '01' (float32, 0-1), '255' (float32, 0-255, declared), 'undeclared' (the same
    0-255 graph without metadata), 'fp16' (float16 in and out, 0-1)."""
    fp16 = variant == "fp16"
    io_type = F16 if fp16 else F32
    g = Graph(17)
    image, mask = "image", "mask"
    if fp16:
        image = g.op("Cast", [image], "image_f32", to=F32)
        mask = g.op("Cast", [mask], "mask_f32", to=F32)
    depth = g.op("SpaceToDepth", [image], "image_s2d", blocksize=8)
    image = g.op("DepthToSpace", [depth], "image_round_trip", blocksize=8, mode="DCR")
    known = g.op("Sub", [g.const("one", 1.0), mask], "known")
    fill = g.masked_fill(image, known, C_01)
    if variant == "01":
        g.composite(image, known, fill, hole=mask, out="output")
    elif variant in ("255", "undeclared"):
        out01 = g.composite(image, known, fill, hole=mask)
        g.op("Mul", [out01, g.const("scale_255", 255.0)], out="output")
    else:
        out01 = g.composite(image, known, fill, hole=mask)
        g.op("Cast", [out01], out="output", to=F16)
    scale = "255 * (" if variant in ("255", "undeclared") else "("
    metadata = {
        "01": {METADATA_RANGE_KEY: "0-1"},
        "255": {METADATA_RANGE_KEY: "0-255"},
        "undeclared": None,
        "fp16": {METADATA_RANGE_KEY: "0-1"},
    }[variant]
    return g.model(
        f"lama_dynamic_{variant}",
        [vi("image", io_type, [1, 3, "height", "width"]), vi("mask", io_type, [1, 1, "height", "width"])],
        [vi("output", io_type, [1, 3, "height", "width"])],
        f"Dynamic LaMa contract ({variant}): output = {scale}(1-mask)*image + mask*(C + 0.25*m)), "
        "C = (0.6, 0.1, 0.3), m = per-channel mean of image over (1-mask)." + DYNAMIC_SHAPE_DOC,
        metadata,
    )


def migan_like(name: str, opset: int, contract: str) -> onnx.ModelProto:
    """MI-GAN's raw generator and FcF: input = cat(known - 0.5, img * known), img in -1..1."""
    g = Graph(opset)
    ch0 = g.channels("input", 0, 1, "known_minus_half")
    img_known = g.channels("input", 1, 4, "img_known")
    known = g.op("Add", [ch0, g.const("half", 0.5)], "known")
    fill = g.masked_fill_premultiplied(img_known, known, C_PM1)
    hole = g.op("Sub", [g.const("one", 1.0), known], "hole")
    keep = g.op("Mul", [known, img_known], "keep")  # known * (img * known) = img * known
    fill_hole = g.op("Mul", [hole, fill], "fill_hole")
    g.op("Add", [keep, fill_hole], out="output")
    return g.model(
        name,
        [vi("input", F32, [1, 4, 512, 512])],
        [vi("output", F32, [1, 3, 512, 512])],
        f"{contract}: input = cat(known - 0.5, img*known), img in -1..1; known = input[0] + 0.5; "
        "m = sum(input[1:4]) / max(sum(known), 1); "
        "output = known*input[1:4] + (1-known)*((2C-1) + 0.25*m), C = (0.6, 0.1, 0.3).",
    )


def migan_pipeline() -> onnx.ModelProto:
    g = Graph(17)
    img = g.op("Cast", ["image"], "image_f32", to=F32)
    mask = g.op("Cast", ["mask"], "mask_f32", to=F32)
    known_bool = g.op("Greater", [mask, g.const("threshold", 127.0)], "known_bool")
    known = g.op("Cast", [known_bool], "known", to=F32)
    fill = g.masked_fill(img, known, C_255)
    # Known pixels are the image exactly; Where broadcasts the [1,3,1,1] fill over the hole.
    blended = g.op("Where", [known_bool, img, fill], "blended")
    rounded = g.op("Floor", [g.op("Add", [blended, g.const("half", 0.5)], "plus_half")], "rounded")
    clipped = g.op("Clip", [rounded, g.const("zero", 0.0), g.const("max_255", 255.0)], "clipped")
    g.op("Cast", [clipped], out="result", to=U8)
    return g.model(
        "migan_pipeline",
        [vi("image", U8, [1, 3, "height", "width"]), vi("mask", U8, [1, 1, "height", "width"])],
        [vi("result", U8, [1, 3, "height", "width"])],
        "MI-GAN pipeline contract (migan_pipeline_v2): known = mask > 127; "
        "m = per-channel mean of image (0-255) over known; fill = 255*C + 0.25*m, "
        "C = (0.6, 0.1, 0.3); result = uint8(clip(floor((known ? image : fill) + 0.5), 0, 255)).",
    )


def mat(with_noise: bool) -> onnx.ModelProto:
    g = Graph(17)
    fill = g.masked_fill("image", "mask", C_PM1)
    inputs = [vi("image", F32, [1, 3, 512, 512]), vi("mask", F32, [1, 1, 512, 512])]
    noise_doc = ""
    if with_noise:
        inputs.append(vi("noise", F32, [1, 512]))
        noise_mean = g.op("ReduceMean", ["noise"], "noise_mean", axes=[0, 1], keepdims=0)
        noise_term = g.op("Mul", [noise_mean, g.const("noise_weight", NOISE_WEIGHT)], "noise_term")
        fill = g.op("Add", [fill, noise_term], "fill_with_noise")
        noise_doc = " + 0.001*mean(noise)"
    g.composite("image", "mask", fill, out="output")
    return g.model(
        "mat" if with_noise else "mat_no_noise",
        inputs,
        [vi("output", F32, [1, 3, 512, 512])],
        "MAT contract: image in -1..1, mask 1 = known; "
        f"output = mask*image + (1-mask)*((2C-1) + 0.25*m{noise_doc}), C = (0.6, 0.1, 0.3), "
        "m = per-channel mean of image over mask.",
    )


def wrong(name: str) -> onnx.ModelProto:
    g = Graph(17)
    if name == "wrong_names":
        g.op("Add", ["x", "y"], out="z")
        inputs = [vi("x", F32, [1, 3, 512, 512]), vi("y", F32, [1, 1, 512, 512])]
        outputs = [vi("z", F32, [1, 3, 512, 512])]
        doc = "Wrong contract: LaMa's shapes under the names x, y -> z. z = x + y."
    elif name == "wrong_size":
        g.op("Add", ["image", "mask"], out="output")
        inputs = [vi("image", F32, [1, 3, 256, 256]), vi("mask", F32, [1, 1, 256, 256])]
        outputs = [vi("output", F32, [1, 3, 256, 256])]
        doc = "Wrong contract: LaMa's names at 256x256. output = image + mask."
    elif name == "wrong_dtype":
        mask = g.op("Cast", ["mask"], "mask_f32", to=F32)
        g.op("Add", ["image", mask], out="output")
        inputs = [vi("image", F32, [1, 3, 512, 512]), vi("mask", I64, [1, 1, 512, 512])]
        outputs = [vi("output", F32, [1, 3, 512, 512])]
        doc = "Wrong contract: LaMa's names and shapes, mask int64. output = image + float(mask)."
    elif name == "wrong_rank":
        g.op("Add", ["image", "mask"], out="output")  # [3,512,512] + [1,1,512,512] broadcasts
        inputs = [vi("image", F32, [3, 512, 512]), vi("mask", F32, [1, 1, 512, 512])]
        outputs = [vi("output", F32, [1, 3, 512, 512])]
        doc = "Wrong contract: LaMa's names, image of rank 3 [3,512,512]. output = image + mask."
    else:
        raise ValueError(name)
    return g.model(name, inputs, outputs, doc)


FIXTURES = {
    "lama_fixed512.onnx": lama_fixed512,
    "lama_dynamic.onnx": lambda: lama_dynamic("01"),
    "lama_dynamic_255.onnx": lambda: lama_dynamic("255"),
    "lama_dynamic_undeclared.onnx": lambda: lama_dynamic("undeclared"),
    "lama_dynamic_fp16.onnx": lambda: lama_dynamic("fp16"),
    "migan.onnx": lambda: migan_like("migan", 12, "MI-GAN raw generator contract"),
    "migan_pipeline.onnx": migan_pipeline,
    "mat.onnx": lambda: mat(True),
    "mat_no_noise.onnx": lambda: mat(False),
    "fcf.onnx": lambda: migan_like("fcf", 17, "FcF contract"),
    "wrong_names.onnx": lambda: wrong("wrong_names"),
    "wrong_size.onnx": lambda: wrong("wrong_size"),
    "wrong_dtype.onnx": lambda: wrong("wrong_dtype"),
    "wrong_rank.onnx": lambda: wrong("wrong_rank"),
}


def serialize(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString(deterministic=True)


# --------------------------------------------------------------------------------------------
# Reference formulas (numpy, float64) and the checks against ONNX Runtime


def ref_fill(img, known, base):
    """base + ALPHA * m per image and channel: img [N,3,H,W], known [N,1,H,W] -> [N,3,1,1]."""
    num = (img * known).sum(axis=(2, 3), keepdims=True)
    den = np.maximum(known.sum(axis=(2, 3), keepdims=True), 1.0)
    return np.asarray(base).reshape(1, 3, 1, 1) + ALPHA * num / den


def ref_lama(image, mask):
    """0-1 output of the LaMa graphs (before any 255 scale or clip)."""
    known = 1.0 - mask
    return known * image + mask * ref_fill(image, known, C_01)


def ref_migan(inp):
    known = inp[:, 0:1] + 0.5
    img_known = inp[:, 1:4]
    num = img_known.sum(axis=(2, 3), keepdims=True)
    den = np.maximum(known.sum(axis=(2, 3), keepdims=True), 1.0)
    fill = C_PM1.reshape(1, 3, 1, 1) + ALPHA * num / den
    return known * img_known + (1.0 - known) * fill


def ref_migan_pipeline(image_u8, mask_u8):
    img = image_u8.astype(np.float64)
    known = (mask_u8 > 127).astype(np.float64)
    fill = ref_fill(img, known, C_255)
    blended = np.where(known > 0, img, fill)
    return np.clip(np.floor(blended + 0.5), 0, 255).astype(np.uint8)


def ref_mat(image, mask, noise=None):
    fill = ref_fill(image, mask, C_PM1)
    if noise is not None:
        fill = fill + NOISE_WEIGHT * noise.mean()
    return mask * image + (1.0 - mask) * fill


def hole_mask(rng, n, h, w):
    """1 = hole: a rectangle plus scattered pixels, so the hole is neither empty nor everything."""
    hole = (rng.random((n, 1, h, w)) < 0.05).astype(np.float64)
    hole[:, :, h // 4 : h // 2, w // 3 : (2 * w) // 3] = 1.0
    return hole


def session(path: Path, level=None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # the expected failures log errors
    if level is not None:
        opts.graph_optimization_level = level
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run(path: Path, feeds, level=None):
    return session(path, level).run(None, feeds)[0]


def max_err(got, want) -> float:
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))


class Checker:
    def __init__(self):
        self.failures = []
        self.lines = []

    def expect(self, file: str, what: str, ok: bool, detail: str = ""):
        self.lines.append(f"  {'ok  ' if ok else 'FAIL'} {file}: {what}{' (' + detail + ')' if detail else ''}")
        if not ok:
            self.failures.append(f"{file}: {what} {detail}")

    def close(self, file, what, got, want, tol):
        err = max_err(got, want)
        self.expect(file, what, got.shape == want.shape and err < tol, f"shape {got.shape}, max err {err:.3g} < {tol:g}")

    def fails(self, file, what, path, feeds, level):
        try:
            out = run(path, feeds, level)
        except Exception as e:  # noqa: BLE001 - ORT raises its own exception types
            message = str(e).rsplit("Status Message: ", 1)[-1].splitlines()[0][:100]
            self.expect(file, what, True, f"ORT error: {message}")
        else:
            self.expect(file, what, False, f"ran, output shape {out.shape}")


def check_all(out_dir: Path) -> Checker:
    import onnxruntime as ort

    levels = [ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL]
    level_name = {levels[0]: "optimisations off", levels[1]: "optimisations all"}
    ck = Checker()
    rng = np.random.default_rng(12345)
    p = lambda name: out_dir / name  # noqa: E731

    # Every file on disk is exactly what this script makes, and valid.
    for name, make in FIXTURES.items():
        path = p(name)
        ok = path.exists() and path.read_bytes() == serialize(make())
        ck.expect(name, "file matches the generator byte for byte", ok)
        if not ok:
            continue
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)

    if ck.failures:
        return ck  # regenerate first (run without --check): the runs below need the right files

    # The SpaceToDepth -> DepthToSpace(DCR) round trip is the identity.
    g = Graph(17)
    d = g.op("SpaceToDepth", ["x"], "s2d", blocksize=8)
    g.op("DepthToSpace", [d], out="y", blocksize=8, mode="DCR")
    rt_path = out_dir / ".round_trip_check.onnx"
    x = rng.random((1, 3, 40, 24), dtype=np.float32)
    rt_model = g.model("round_trip", [vi("x", F32, [1, 3, "h", "w"])], [vi("y", F32, [1, 3, "h", "w"])], "")
    rt_path.write_bytes(serialize(rt_model))
    try:
        for level in levels:
            y = run(rt_path, {"x": x}, level)
            ck.expect("(round trip)", f"DepthToSpace(DCR) inverts SpaceToDepth [{level_name[level]}]", np.array_equal(x, y))
        # And CRD does not (so the mode matters, and DCR is the one).
        g2 = Graph(17)
        d = g2.op("SpaceToDepth", ["x"], "s2d", blocksize=8)
        g2.op("DepthToSpace", [d], out="y", blocksize=8, mode="CRD")
        rt_model = g2.model("round_trip_crd", [vi("x", F32, [1, 3, "h", "w"])], [vi("y", F32, [1, 3, "h", "w"])], "")
        rt_path.write_bytes(serialize(rt_model))
        y = run(rt_path, {"x": x})
        ck.expect("(round trip)", "DepthToSpace(CRD) does not invert it (so DCR is the one)", not np.array_equal(x, y))
    finally:
        rt_path.unlink()

    # 1. LaMa fixed 512, batch 2 (the mean is per image).
    image = rng.random((2, 3, 512, 512))
    mask = hole_mask(rng, 2, 512, 512)
    mask[1] = 0.0
    mask[1, :, 100:300, 50:450] = 1.0
    got = run(p("lama_fixed512.onnx"), {"image": image.astype(np.float32), "mask": mask.astype(np.float32)})
    want = 255 * np.clip(ref_lama(image, mask), 0, 1)
    ck.close("lama_fixed512.onnx", "batch 2, 0-255 output", got, want, 1e-4 * 255)
    # A white image with the top half a hole: fill = C + 0.25 * 1 = (0.85, 0.35, 0.55).
    image1 = np.full((1, 3, 512, 512), 1.0)
    mask1 = np.zeros((1, 1, 512, 512))
    mask1[..., :256, :] = 1.0
    got = run(p("lama_fixed512.onnx"), {"image": image1.astype(np.float32), "mask": mask1.astype(np.float32)})
    ck.close("lama_fixed512.onnx", "white, top half hole", got, 255 * np.clip(ref_lama(image1, mask1), 0, 1), 1e-4 * 255)
    ck.expect(
        "lama_fixed512.onnx",
        "white, top half hole: hole = 255*(0.85, 0.35, 0.55)",
        np.allclose(got[0, :, 0, 0], 255 * (C_01 + 0.25), atol=1e-3),
        str(got[0, :, 0, 0]),
    )
    # The clip, seen with out-of-range input 2.0: known -> 255, red fill 0.6 + 0.5 -> 255.
    got = run(p("lama_fixed512.onnx"), {"image": 2 * image1.astype(np.float32), "mask": mask1.astype(np.float32)})
    ck.close("lama_fixed512.onnx", "input 2.0 is clipped", got, 255 * np.clip(ref_lama(2 * image1, mask1), 0, 1), 1e-4 * 255)
    ck.expect("lama_fixed512.onnx", "input 2.0: hole red and known = 255", got[0, 0, 0, 0] == 255 and got[0, 1, 300, 0] == 255)
    # Empty known area: m = 0 (the max(sum, 1) guard), fill = C.
    got = run(p("lama_fixed512.onnx"), {"image": image1.astype(np.float32), "mask": np.ones((1, 1, 512, 512), np.float32)})
    ck.close("lama_fixed512.onnx", "all hole: output = 255*C", got, np.broadcast_to(255 * C_01.reshape(1, 3, 1, 1), got.shape), 1e-3)

    # 2-4. Dynamic LaMa.
    for name, scale, dtype, tol in [
        ("lama_dynamic.onnx", 1.0, np.float32, 1e-4),
        ("lama_dynamic_255.onnx", 255.0, np.float32, 1e-4 * 255),
        ("lama_dynamic_undeclared.onnx", 255.0, np.float32, 1e-4 * 255),
        ("lama_dynamic_fp16.onnx", 1.0, np.float16, 2e-3),
    ]:
        for h, w in [(64, 96), (512, 512), (8, 8)]:
            image = rng.random((1, 3, h, w)).astype(dtype).astype(np.float64)
            mask = hole_mask(rng, 1, h, w)
            got = run(p(name), {"image": image.astype(dtype), "mask": mask.astype(dtype)})
            ck.expect(name, f"{h}x{w} output dtype {dtype.__name__}", got.dtype == dtype)
            ck.close(name, f"{h}x{w}", got, scale * ref_lama(image, mask), tol)
        for h, w in [(12, 20), (16, 20), (12, 16)]:
            feeds = {"image": np.zeros((1, 3, h, w), dtype), "mask": np.zeros((1, 1, h, w), dtype)}
            for level in levels:
                ck.fails(name, f"{h}x{w} (not multiples of 8) is an ORT error [{level_name[level]}]", p(name), feeds, level)
    meta = lambda name: {e.key: e.value for e in onnx.load(str(p(name))).metadata_props}  # noqa: E731
    for name, want in [
        ("lama_dynamic.onnx", {METADATA_RANGE_KEY: "0-1"}),
        ("lama_dynamic_255.onnx", {METADATA_RANGE_KEY: "0-255"}),
        ("lama_dynamic_undeclared.onnx", {}),
        ("lama_dynamic_fp16.onnx", {METADATA_RANGE_KEY: "0-1"}),
        ("lama_fixed512.onnx", {}),
    ]:
        ck.expect(name, f"metadata_props == {want}", meta(name) == want, str(meta(name)))
    # ORT reads the same metadata.
    got_meta = session(p("lama_dynamic_255.onnx")).get_modelmeta().custom_metadata_map
    ck.expect("lama_dynamic_255.onnx", "ORT's custom_metadata_map has the range", got_meta.get(METADATA_RANGE_KEY) == "0-255", str(got_meta))

    # 5, 8. MI-GAN raw and FcF.
    for name in ["migan.onnx", "fcf.onnx"]:
        img = rng.random((1, 3, 512, 512)) * 2 - 1
        known = 1.0 - hole_mask(rng, 1, 512, 512)
        inp = np.concatenate([known - 0.5, img * known], axis=1)
        got = run(p(name), {"input": inp.astype(np.float32)})
        ck.close(name, "random image, rect + scattered hole", got, ref_migan(inp), 1e-4)
        want_known = np.where(known > 0, img, 0)
        ck.close(name, "known pixels pass through", got * known, want_known, 1e-6)

    # 6. MI-GAN pipeline, uint8.
    name = "migan_pipeline.onnx"
    for h, w in [(512, 512), (37, 61)]:
        image = rng.integers(0, 256, (1, 3, h, w), dtype=np.uint8)
        hole = hole_mask(rng, 1, h, w) > 0
        mask = np.where(hole, rng.integers(0, 128, hole.shape), rng.integers(128, 256, hole.shape)).astype(np.uint8)
        got = run(p(name), {"image": image, "mask": mask})
        want = ref_migan_pipeline(image, mask)
        ck.expect(name, f"{h}x{w} output dtype uint8", got.dtype == np.uint8)
        ck.close(name, f"{h}x{w}, mask values 0-127 hole / 128-255 known", got, want, 1.5)
        ck.expect(name, f"{h}x{w} known pixels exact", np.array_equal(np.where(hole, 0, got), np.where(hole, 0, image)))
    # Flat grey known area: fill = floor(255*C + 0.25*100 + 0.5) = floor((178, 50.5, 101.5) + 0.5)
    # = (178, 51, 102): every value is exact in f32, and the two ties round up (not to even).
    image = np.full((1, 3, 64, 64), 100, np.uint8)
    mask = np.full((1, 1, 64, 64), 255, np.uint8)
    mask[..., 10:20, 10:30] = 0
    got = run(p(name), {"image": image, "mask": mask})
    ck.expect(name, "grey 100 around a hole: hole = (178, 51, 102), ties up", list(got[0, :, 15, 15]) == [178, 51, 102], str(got[0, :, 15, 15]))

    # No known pixel: m = 0, fill = floor(255*C + 0.5) = (153, 26, 77).
    got = run(p(name), {"image": image, "mask": np.zeros((1, 1, 64, 64), np.uint8)})
    ck.expect(name, "all hole: (153, 26, 77)", list(got[0, :, 5, 5]) == [153, 26, 77], str(got[0, :, 5, 5]))

    # 7. MAT with and without noise.
    image = rng.random((1, 3, 512, 512)) * 2 - 1
    mask = 1.0 - hole_mask(rng, 1, 512, 512)
    noise = rng.standard_normal((1, 512)) + 3.0  # mean ~3: the noise term is ~0.003, visible
    got = run(p("mat.onnx"), {"image": image.astype(np.float32), "mask": mask.astype(np.float32), "noise": noise.astype(np.float32)})
    ck.close("mat.onnx", "random image + noise", got, ref_mat(image, mask, noise), 1e-4)
    got0 = run(p("mat.onnx"), {"image": image.astype(np.float32), "mask": mask.astype(np.float32), "noise": np.zeros((1, 512), np.float32)})
    ck.expect("mat.onnx", "the output depends on the noise", max_err(got, got0) > 1e-3, f"max diff {max_err(got, got0):.3g}")
    got = run(p("mat_no_noise.onnx"), {"image": image.astype(np.float32), "mask": mask.astype(np.float32)})
    ck.close("mat_no_noise.onnx", "random image", got, ref_mat(image, mask), 1e-4)
    ck.close("mat_no_noise.onnx", "equals mat.onnx with zero noise", got, got0, 1e-6)

    # 9. The wrong-contract graphs load and run (they are wrong only for the crate's contract).
    wrong_feeds = {
        "wrong_names.onnx": {"x": np.zeros((1, 3, 512, 512), np.float32), "y": np.zeros((1, 1, 512, 512), np.float32)},
        "wrong_size.onnx": {"image": np.zeros((1, 3, 256, 256), np.float32), "mask": np.zeros((1, 1, 256, 256), np.float32)},
        "wrong_dtype.onnx": {"image": np.zeros((1, 3, 512, 512), np.float32), "mask": np.zeros((1, 1, 512, 512), np.int64)},
        "wrong_rank.onnx": {"image": np.zeros((3, 512, 512), np.float32), "mask": np.zeros((1, 1, 512, 512), np.float32)},
    }
    for name, feeds in wrong_feeds.items():
        got = run(p(name), feeds)
        ck.expect(name, "loads and runs on ORT", got.shape[-2:] == feeds[next(iter(feeds))].shape[-2:], f"output {got.shape}")

    return ck


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check the files on disk")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args()

    out_dir = args.out_dir
    if not args.check:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, make in FIXTURES.items():
            (out_dir / name).write_bytes(serialize(make()))

    import onnxruntime as ort

    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}")
    ck = check_all(out_dir)
    print("\n".join(ck.lines))
    print(f"\n{'file':32} {'bytes':>6}  sha256")
    for name in FIXTURES:
        path = out_dir / name
        if path.exists():
            data = path.read_bytes()
            print(f"{name:32} {len(data):6}  {hashlib.sha256(data).hexdigest()}")
    passed = len(ck.lines) - len(ck.failures)
    print(f"\nfixture checks: {passed} passed, {len(ck.failures)} failed")
    return 1 if ck.failures else 0


if __name__ == "__main__":
    sys.exit(main())
