#!/usr/bin/env python3
"""Build an architecture-faithful big-LaMa ONNX graph with random weights, for benchmarks.

    scripts/python-env.sh                                    # once: .venv with pinned packages
    .venv/bin/python benches/make_big_lama.py [--fourier dft|matmul] [--out PATH] [--seed N]
    .venv/bin/python benches/make_big_lama.py --compare [--runs N] [--threads N]
    .venv/bin/python benches/make_big_lama.py --time PATH [--runs N] [--threads N]

The real big-LaMa weights cannot be downloaded here, and only the compute graph matters for
speed, so this writes the same network with seeded random weights. Needs `onnx` and `numpy`
(pinned in scripts/python-env.sh); `--compare` and `--time` also need `onnxruntime`. The file
is about 204 MB (weights inline, under the 2 GB protobuf limit) and goes to
benches/output/big-lama-<variant>.onnx by default (ignored by git: generate it, never commit it).

Architecture: the FFC ResNet generator of advimman/lama (github.com/advimman/lama), as
configured by configs/training/big-lama.yaml (generator kind `ffc_resnet`: input_nc 4,
output_nc 3, ngf 64, n_downsampling 3, n_blocks 18, add_out_act sigmoid; init and downsampling
convs with ratio_gin = ratio_gout = 0, resnet blocks with ratio_gin = ratio_gout = 0.75, no LFU),
following the modules of saicinpainting/training/modules/ffc.py (FFCResNetGenerator,
FFCResnetBlock, FFC_BN_ACT, FFC, SpectralTransform, FourierUnit):

    ReflectionPad2d(3), 7x7 conv 4->64, BN, ReLU                              512x512
    3x [3x3 stride-2 conv (reflect pad 1), BN, ReLU]: 64->128->256->(128 local, 384 global)
    18x FFCResnetBlock(512) at 64x64, each two FFC_BN_ACT, each:
        local  = conv3x3 l2l(128->128) + conv3x3 g2l(384->128)      -> BN, ReLU
        global = conv3x3 l2g(128->384) + SpectralTransform(384->384) -> BN, ReLU
      (3x3 convs reflect-padded, no bias), plus the identity on both branches
    SpectralTransform: 1x1 conv 384->192, BN, ReLU; y = FourierUnit(x); 1x1 conv 192->384 of x + y
    FourierUnit(192): rfftn over (H, W) with norm "ortho"; real and imaginary parts of each
      channel stacked as channels 2c and 2c+1 (192 -> 384 channels at 64x33); 1x1 conv 384->384,
      BN, ReLU; back to complex; irfftn with s = (H, W), norm "ortho"
    concat(local, global), 3x [ConvTranspose2d 3x3 stride 2 pad 1 output_padding 1 (with bias),
      BN, ReLU]: 512->256->128->64, ReflectionPad2d(3), 7x7 conv 64->3 (with bias), sigmoid

Initializer names are the torch state_dict keys of that generator (`model.5.conv1.ffc.convg2g.
fu.conv_layer.weight`, ...). BatchNorm layers are BatchNormalization nodes (ONNX Runtime folds
the ones that directly follow a conv).

Contract (the Carve/LaMa-ONNX export, what the `lama` architecture consumes), opset 17, fixed
512x512:
    inputs  `image` float32 [1,3,512,512] RGB in 0..1, `mask` float32 [1,1,512,512] (1 = hole)
    masked = image * (1 - mask); pred = generator(concat(masked, mask))
    output  `output` float32 [1,3,512,512] = clip((mask * pred + (1 - mask) * image) * 255, 0, 255)

--fourier picks how the Fourier units are written (both compute the same function):
    dft     ONNX DFT ops: real-to-complex (onesided=1) along W then complex along H; the inverse
            complex along H (inverse=1) then complex-to-real (inverse=1, onesided=1, DFT-17's
            IRFFT form) along W; scaled to norm "ortho". ONNX Runtime's CPU DFT kernel does not
            use the intra-op threads (its time is the same with 1 and 2), so this is the slower
            variant.
    matmul  the same transforms as MatMul with constant cos/sin matrices (the bottleneck is
            fixed at 64x64), as real exports such as Carve's do to avoid the DFT op.

Weights: fixed seed, derived per tensor from (seed, name). Convs He-initialised; BatchNorm
gamma/beta random around 1/0 and running statistics calibrated: the script runs the network in
numpy (numpy.fft for the Fourier units, an independent implementation of the graph) on a
synthetic image and mask, and sets each layer's running mean/variance to the statistics of its
input there, so activations stay normalised through the 18 blocks instead of growing or dying.
Same seed, same weights; the calibrated statistics can differ in their last bits between BLAS
builds or thread counts (float summation order), so files are byte-identical only on one setup.
The script prints the parameter count (~51.0 M) and the MACs at 512x512 (~220 G in convolutions;
the matmul variant adds ~11 G for the transforms).

--compare (needs onnxruntime) writes both variants with the same seed, runs them on the same
random input with ONNX Runtime on the CPU (graph optimisation all, --threads intra-op threads),
prints the largest difference of `output` between them and against the numpy reference, the
output's mean and std, and the median of --runs timed runs of each (after one warm-up) with the
ratio dft/matmul. --time PATH times one model alone (e.g. under `/usr/bin/time -v` for its
peak RSS).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # benches/lama_torch.py needs only the weights and the numpy network
    onnx = None

SIZE = 512  # fixed input resolution
INPUT_NC, OUTPUT_NC, NGF = 4, 3, 64
N_DOWNSAMPLING, N_BLOCKS = 3, 18
RATIO_G = 0.75  # resnet_conv_kwargs ratio_gin = ratio_gout
BN_EPS = 1e-5
OPSET = 17
BOTTLENECK = SIZE // 2**N_DOWNSAMPLING  # 64: the Fourier units' H and W

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benches" / "output" / "big-lama-{}.onnx"


class Params:
    """The weights, by state_dict name. Each tensor is drawn from its own generator seeded with
    (seed, crc32(name)), so the values do not depend on the order layers are built in."""

    def __init__(self, seed: int):
        self.seed = seed
        self.t: dict[str, np.ndarray] = {}

    def _rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def conv(
        self, name: str, shape: tuple, fan_in: int, bias: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if name + ".weight" not in self.t:
            rng = self._rng(name)
            self.t[name + ".weight"] = (
                rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
            ).astype(np.float32)
            if bias:
                self.t[name + ".bias"] = rng.uniform(-0.05, 0.05, shape[0]).astype(np.float32)
        return self.t[name + ".weight"], self.t.get(name + ".bias")

    def conv_transpose(self, name: str, cin: int, cout: int) -> tuple[np.ndarray, np.ndarray]:
        if name + ".weight" not in self.t:
            rng = self._rng(name)
            # An output pixel of this stride-2 3x3 transposed conv sees cin * 9 / 4 inputs.
            self.t[name + ".weight"] = (
                rng.standard_normal((cin, cout, 3, 3)) * math.sqrt(2.0 / (cin * 9 / 4))
            ).astype(np.float32)
            self.t[name + ".bias"] = rng.uniform(-0.05, 0.05, cout).astype(np.float32)
        return self.t[name + ".weight"], self.t[name + ".bias"]

    def bn_affine(self, name: str, c: int) -> tuple[np.ndarray, np.ndarray]:
        if name + ".weight" not in self.t:
            rng = self._rng(name)
            self.t[name + ".weight"] = rng.uniform(0.5, 1.0, c).astype(np.float32)
            self.t[name + ".bias"] = rng.normal(0.0, 0.2, c).astype(np.float32)
        return self.t[name + ".weight"], self.t[name + ".bias"]

    def bn_stats(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        if name + ".running_mean" not in self.t:
            return None
        return self.t[name + ".running_mean"], self.t[name + ".running_var"]

    def count(self) -> int:
        """Trainable parameters, as torch counts them (BatchNorm running statistics excluded)."""
        return sum(
            a.size for k, a in self.t.items() if not k.endswith(("running_mean", "running_var"))
        )


# ----------------------------------------------------------------------------------------------
# The network, written once against a backend: NumpyNet computes it, OnnxNet emits the graph.


def fourier_unit(B, x, name: str, c: int):
    f = B.rfft2(x, c)  # c channels HxW -> 2c channels Hx(W/2+1), channel 2k = Re, 2k+1 = Im
    f = B.relu(B.bn(B.conv(f, f"{name}.conv_layer", 2 * c, 2 * c, 1), f"{name}.bn", 2 * c))
    return B.irfft2(f, c)


def spectral_transform(B, x, name: str, cin: int, cout: int):
    h = B.relu(B.bn(B.conv(x, f"{name}.conv1.0", cin, cout // 2, 1), f"{name}.conv1.1", cout // 2))
    y = fourier_unit(B, h, f"{name}.fu", cout // 2)
    return B.conv(B.add(h, y), f"{name}.conv2", cout // 2, cout, 1)


def ffc_bn_act(B, xl, xg, name: str, dim: int):
    """FFC_BN_ACT(dim, dim, kernel_size=3, padding=1, ratio_gin=ratio_gout=0.75, reflect)."""
    cg = int(dim * RATIO_G)
    cl = dim - cg
    xlp, xgp = B.pad(xl, 1), B.pad(xg, 1)
    out_l = B.add(
        B.conv(xlp, f"{name}.ffc.convl2l", cl, cl, 3), B.conv(xgp, f"{name}.ffc.convg2l", cg, cl, 3)
    )
    out_g = B.add(
        B.conv(xlp, f"{name}.ffc.convl2g", cl, cg, 3),
        spectral_transform(B, xg, f"{name}.ffc.convg2g", cg, cg),
    )
    return B.relu(B.bn(out_l, f"{name}.bn_l", cl)), B.relu(B.bn(out_g, f"{name}.bn_g", cg))


def conv_bn_relu(B, x, name: str, bn: str, cin: int, cout: int, k: int, stride: int = 1):
    return B.relu(B.bn(B.conv(x, name, cin, cout, k, stride), bn, cout))


def generator(B, x):
    """FFCResNetGenerator with the big-lama config; `model.<i>` is its nn.Sequential index."""
    idx = 1
    x = B.pad(x, 3)  # model.0
    x = conv_bn_relu(B, x, f"model.{idx}.ffc.convl2l", f"model.{idx}.bn_l", INPUT_NC, NGF, 7)
    cin = NGF
    for i in range(N_DOWNSAMPLING):
        idx += 1
        m = f"model.{idx}"
        cout = NGF * 2 ** (i + 1)
        xp = B.pad(x, 1)
        if i < N_DOWNSAMPLING - 1:  # ratio_gout 0: local branch only
            x = conv_bn_relu(B, xp, f"{m}.ffc.convl2l", f"{m}.bn_l", cin, cout, 3, stride=2)
        else:  # ratio_gout = resnet ratio_gin: split into local and global
            cg = int(cout * RATIO_G)
            xl = conv_bn_relu(B, xp, f"{m}.ffc.convl2l", f"{m}.bn_l", cin, cout - cg, 3, stride=2)
            xg = conv_bn_relu(B, xp, f"{m}.ffc.convl2g", f"{m}.bn_g", cin, cg, 3, stride=2)
        cin = cout
    for _ in range(N_BLOCKS):
        idx += 1
        id_l, id_g = xl, xg
        xl, xg = ffc_bn_act(B, xl, xg, f"model.{idx}.conv1", cin)
        xl, xg = ffc_bn_act(B, xl, xg, f"model.{idx}.conv2", cin)
        xl, xg = B.add(id_l, xl), B.add(id_g, xg)
    idx += 1  # ConcatTupleLayer
    x = B.concat(xl, xg)
    for i in range(N_DOWNSAMPLING):
        cin = NGF * 2 ** (N_DOWNSAMPLING - i)
        x = B.conv_transpose(x, f"model.{idx + 1}", cin, cin // 2)
        x = B.relu(B.bn(x, f"model.{idx + 2}", cin // 2))
        idx += 3
    x = B.pad(x, 3)  # model.33
    x = B.conv(x, f"model.{idx + 2}", NGF, OUTPUT_NC, 7, bias=True)
    return B.sigmoid(x)


# ----------------------------------------------------------------------------------------------
# numpy backend: batch-less [C, H, W] float32 arrays. Calibrates BatchNorm statistics the first
# time it meets a layer; counts MACs.


class NumpyNet:
    def __init__(self, params: Params):
        self.P = params
        self.conv_macs = 0
        self.fft_macs = 0  # what the matmul variant spends on the transforms

    @staticmethod
    def pad(x, p):
        return np.pad(x, ((0, 0), (p, p), (p, p)), mode="reflect")  # = torch's reflect

    def conv(self, x, name, cin, cout, k, stride=1, bias=False):
        w, b = self.P.conv(name, (cout, cin, k, k), cin * k * k, bias)
        c, h, wd = x.shape
        assert c == cin, (name, x.shape)
        ho, wo = (h - k) // stride + 1, (wd - k) // stride + 1
        self.conv_macs += cout * cin * k * k * ho * wo
        wm = w.reshape(cout, cin * k * k)
        if k == 1:
            out = (wm @ x.reshape(cin, -1)).reshape(cout, ho, wo)
        else:
            win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[
                :, ::stride, ::stride
            ]
            out = np.empty((cout, ho, wo), np.float32)
            rows = max(1, (1 << 25) // (cin * k * k * wo))  # im2col in blocks of <= 128 MB
            for r in range(0, ho, rows):
                cols = win[:, r : r + rows].transpose(0, 3, 4, 1, 2).reshape(cin * k * k, -1)
                out[:, r : r + rows] = (wm @ cols).reshape(cout, -1, wo)
        if b is not None:
            out += b[:, None, None]
        return out

    def conv_transpose(self, x, name, cin, cout):
        """ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)."""
        w, b = self.P.conv_transpose(name, cin, cout)
        c, h, wd = x.shape
        self.conv_macs += cin * cout * 9 * h * wd  # per input pixel, as ptflops/fvcore count it
        full = np.zeros((cout, 2 * h + 1, 2 * wd + 1), np.float32)  # before cropping `padding`
        xm = x.reshape(cin, -1)
        wt = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # [3, 3, cout, cin]: BLAS-friendly taps
        for i in range(3):
            for j in range(3):
                full[:, i : i + 2 * h : 2, j : j + 2 * wd : 2] += (wt[i, j] @ xm).reshape(
                    cout, h, wd
                )
        return full[:, 1 : 1 + 2 * h, 1 : 1 + 2 * wd] + b[:, None, None]

    def bn(self, x, name, c):
        g, beta = self.P.bn_affine(name, c)
        stats = self.P.bn_stats(name)
        if stats is None:  # calibration pass: this input's statistics become the running ones
            mean = x.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
            var = x.var(axis=(1, 2), dtype=np.float64).astype(np.float32)
            self.P.t[name + ".running_mean"], self.P.t[name + ".running_var"] = mean, var
        else:
            mean, var = stats
        scale = g / np.sqrt(var + BN_EPS)
        return x * scale[:, None, None] + (beta - mean * scale)[:, None, None]

    @staticmethod
    def relu(x):
        return np.maximum(x, 0)

    @staticmethod
    def add(a, b):
        return a + b

    @staticmethod
    def concat(a, b):
        return np.concatenate([a, b])

    @staticmethod
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def rfft2(self, x, c):
        _, h, w = x.shape
        wf = w // 2 + 1
        self.fft_macs += c * h * w * 2 * wf + c * wf * (2 * h) ** 2
        f = np.fft.rfft2(x, norm="ortho")  # = torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")
        return np.stack([f.real, f.imag], axis=1).reshape(2 * c, h, wf).astype(np.float32)

    def irfft2(self, f, c):
        _, h, wf = f.shape
        w = 2 * (wf - 1)
        self.fft_macs += c * wf * (2 * h) ** 2 + c * h * 2 * wf * w
        z = f.reshape(c, 2, h, wf)
        return np.fft.irfft2(z[:, 0] + 1j * z[:, 1], s=(h, w), norm="ortho").astype(np.float32)


def contract_numpy(B, image, mask):
    """The export contract around the generator, on [C, H, W] arrays."""
    masked = image * (1 - mask)
    pred = generator(B, np.concatenate([masked, mask]))
    return np.clip((mask * pred + (1 - mask) * image) * 255, 0, 255)


# ----------------------------------------------------------------------------------------------
# ONNX backend: [1, C, H, W] tensors, by name.


def dft_matrices(n: int) -> dict[str, np.ndarray]:
    """Real matrices for the matmul variant, norm "ortho" (1/sqrt(n) per axis), n = H = W.

    Complex values travel as [re | im] halves of the axis being transformed:
      rfft_w  [n, 2m]:  x[.., w]        -> [Re | Im] X[.., k], k < m = n/2+1
      fft_h   [2n, 2n]: [Re | Im] x[h]  -> [Re | Im] X[k]     (forward, e^{-i..})
      ifft_h  [2n, 2n]: [Re | Im] X[k]  -> [Re | Im] x[h]     (inverse, e^{+i..})
      irfft_w [2m, n]:  [Re | Im] X[k]  -> x[w], the Hermitian half counted twice except k = 0
                        and k = n/2, whose imaginary parts drop out (sin = 0), as in C2R."""
    m = n // 2 + 1
    s = 1 / math.sqrt(n)
    ang = 2 * math.pi * np.outer(np.arange(n), np.arange(n)) / n
    cos, sin = np.cos(ang) * s, np.sin(ang) * s
    rfft_w = np.concatenate([cos[:, :m], -sin[:, :m]], axis=1)
    fft_h = np.block([[cos, -sin], [sin, cos]])
    ifft_h = np.block([[cos, sin], [-sin, cos]])
    twice = np.full(m, 2.0)
    twice[0] = twice[-1] = 1
    irfft_w = np.concatenate([cos[:m] * twice[:, None], -sin[:m] * twice[:, None]], axis=0)
    return {
        k: v.astype(np.float32)
        for k, v in {
            "dft.rfft_w": rfft_w,
            "dft.fft_h": fft_h,
            "dft.ifft_h": ifft_h,
            "dft.irfft_w": irfft_w,
        }.items()
    }


class OnnxNet:
    def __init__(self, params: Params, fourier: str):
        if onnx is None:
            raise RuntimeError("writing the graph needs the `onnx` package (scripts/python-env.sh)")
        self.P = params
        self.fourier = fourier
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.n = 0

    def const(self, name, value, dtype=np.float32):
        if name not in self.inits:
            self.inits[name] = np.asarray(value, dtype)
        return name

    def shape(self, *dims):
        return self.const("shape." + "x".join(map(str, dims)), dims, np.int64)

    def node(self, op, inputs, **attrs):
        self.n += 1
        out = f"{op.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.n}", **attrs))
        return out

    def param(self, name):
        self.inits[name] = self.P.t[name]
        return name

    def pad(self, x, p):
        return self.node(
            "Pad", [x, self.const(f"pads.{p}", [0, 0, p, p, 0, 0, p, p], np.int64)], mode="reflect"
        )

    def conv(self, x, name, cin, cout, k, stride=1, bias=False):
        self.P.conv(name, (cout, cin, k, k), cin * k * k, bias)
        ins = [x, self.param(name + ".weight")] + ([self.param(name + ".bias")] if bias else [])
        return self.node(
            "Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=[0, 0, 0, 0]
        )

    def conv_transpose(self, x, name, cin, cout):
        self.P.conv_transpose(name, cin, cout)
        return self.node(
            "ConvTranspose",
            [x, self.param(name + ".weight"), self.param(name + ".bias")],
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            output_padding=[1, 1],
        )

    def bn(self, x, name, c):
        if self.P.bn_stats(name) is None:
            raise RuntimeError(f"{name}: BatchNorm statistics not calibrated")
        ins = [x] + [
            self.param(f"{name}.{s}") for s in ("weight", "bias", "running_mean", "running_var")
        ]
        return self.node("BatchNormalization", ins, epsilon=BN_EPS)

    def relu(self, x):
        return self.node("Relu", [x])

    def add(self, a, b):
        return self.node("Add", [a, b])

    def concat(self, a, b):
        return self.node("Concat", [a, b], axis=1)

    def sigmoid(self, x):
        return self.node("Sigmoid", [x])

    def rfft2(self, x, c):
        h = w = BOTTLENECK
        m = w // 2 + 1
        if self.fourier == "dft":
            y = self.node(
                "Unsqueeze", [x, self.const("axes.-1", [-1], np.int64)]
            )  # [1,c,h,w,1] real
            y = self.node("DFT", [y], axis=3, onesided=1)  # [1,c,h,m,2]
            y = self.node("DFT", [y], axis=2)  # [1,c,h,m,2]
            y = self.node("Mul", [y, self.const("dft.ortho_fwd", 1 / math.sqrt(h * w))])
            y = self.node("Transpose", [y], perm=[0, 1, 4, 2, 3])  # [1,c,2,h,m]
        else:
            y = self.node(
                "MatMul", [x, self.const("dft.rfft_w", dft_matrices(w)["dft.rfft_w"])]
            )  # [1,c,h,2m]
            y = self.node("Reshape", [y, self.shape(1, c, h, 2, m)])
            y = self.node("Transpose", [y], perm=[0, 1, 4, 3, 2])  # [1,c,m,2,h]
            y = self.node("Reshape", [y, self.shape(1, c, m, 2 * h)])
            y = self.node(
                "MatMul", [y, self.const("dft.fft_h", dft_matrices(h)["dft.fft_h"])]
            )  # [1,c,m,2h]
            y = self.node("Reshape", [y, self.shape(1, c, m, 2, h)])
            y = self.node("Transpose", [y], perm=[0, 1, 3, 4, 2])  # [1,c,2,h,m]
        return self.node("Reshape", [y, self.shape(1, 2 * c, h, m)])  # channel 2k = Re, 2k+1 = Im

    def irfft2(self, f, c):
        h = w = BOTTLENECK
        m = w // 2 + 1
        y = self.node("Reshape", [f, self.shape(1, c, 2, h, m)])
        if self.fourier == "dft":
            y = self.node("Transpose", [y], perm=[0, 1, 3, 4, 2])  # [1,c,h,m,2]
            y = self.node("DFT", [y], axis=2, inverse=1)  # [1,c,h,m,2], scaled 1/h
            y = self.node("DFT", [y], axis=3, inverse=1, onesided=1)  # C2R: [1,c,h,w,1], scaled 1/w
            y = self.node("Reshape", [y, self.shape(1, c, h, w)])
            return self.node("Mul", [y, self.const("dft.ortho_inv", math.sqrt(h * w))])
        y = self.node("Transpose", [y], perm=[0, 1, 4, 2, 3])  # [1,c,m,2,h]
        y = self.node("Reshape", [y, self.shape(1, c, m, 2 * h)])
        y = self.node(
            "MatMul", [y, self.const("dft.ifft_h", dft_matrices(h)["dft.ifft_h"])]
        )  # [1,c,m,2h]
        y = self.node("Reshape", [y, self.shape(1, c, m, 2, h)])
        y = self.node("Transpose", [y], perm=[0, 1, 4, 3, 2])  # [1,c,h,2,m]
        y = self.node("Reshape", [y, self.shape(1, c, h, 2 * m)])
        return self.node(
            "MatMul", [y, self.const("dft.irfft_w", dft_matrices(w)["dft.irfft_w"])]
        )  # [1,c,h,w]

    def model(self) -> onnx.ModelProto:
        one = self.const("one", 1.0)
        inv = self.node("Sub", [one, "mask"])
        x = self.node("Concat", [self.node("Mul", ["image", inv]), "mask"], axis=1)
        pred = generator(self, x)
        out = self.node("Add", [self.node("Mul", ["mask", pred]), self.node("Mul", [inv, "image"])])
        out = self.node("Mul", [out, self.const("u8_max", 255.0)])
        self.nodes.append(
            helper.make_node(
                "Clip", [out, self.const("zero", 0.0), "u8_max"], ["output"], name="Clip_out"
            )
        )
        f32 = TensorProto.FLOAT
        graph = helper.make_graph(
            self.nodes,
            f"big-lama-{self.fourier}",
            [
                helper.make_tensor_value_info("image", f32, [1, 3, SIZE, SIZE]),
                helper.make_tensor_value_info("mask", f32, [1, 1, SIZE, SIZE]),
            ],
            [helper.make_tensor_value_info("output", f32, [1, 3, SIZE, SIZE])],
            [numpy_helper.from_array(v, k) for k, v in self.inits.items()],
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="inpaint benches/make_big_lama.py",
        )
        model.ir_version = 8  # opset 17's IR version; loads on any ONNX Runtime >= 1.12
        return model


# ----------------------------------------------------------------------------------------------


def sample_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random RGB image in 0..1 and a mask of a few rectangles and discs (~20 %),
    [1, C, 512, 512] float32."""
    rng = np.random.default_rng([seed, 0x1A3A])
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    image = np.full((3, SIZE, SIZE), 0.5)
    for _ in range(12):
        fy, fx = rng.uniform(0.5, 8, 2)
        ph = rng.uniform(0, 2 * np.pi)
        image += rng.normal(0, 0.12, (3, 1, 1)) * np.sin(2 * np.pi * (fy * yy + fx * xx) + ph)
    image += rng.normal(0, 0.03, image.shape)
    mask = np.zeros((1, SIZE, SIZE))
    for _ in range(3):
        y0, x0 = rng.integers(0, SIZE - 128, 2)
        hh, ww = rng.integers(24, 128, 2)
        mask[0, y0 : y0 + hh, x0 : x0 + ww] = 1
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.04, 0.1)
        mask[0][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 1
    return np.clip(image, 0, 1)[None].astype(np.float32), mask[None].astype(np.float32)


def calibrated_params(seed: int) -> tuple[Params, NumpyNet]:
    params = Params(seed)
    net = NumpyNet(params)
    image, mask = sample_inputs(seed)
    contract_numpy(net, image[0], mask[0])
    return params, net


def build(fourier: str, params: Params) -> onnx.ModelProto:
    model = OnnxNet(params, fourier).model()
    onnx.checker.check_model(model)
    return model


def generate(fourier: str, out: Path, seed: int, params: Params | None = None) -> Params:
    t0 = time.perf_counter()
    if params is None:
        params, net = calibrated_params(seed)
        print(f"parameters: {params.count():,} ({params.count() / 1e6:.2f} M)")
        print(
            f"MACs at {SIZE}x{SIZE}: {net.conv_macs / 1e9:.1f} G in convolutions"
            f" (+ {net.fft_macs / 1e9:.1f} G for the Fourier transforms as matmuls)"
        )
    model = build(fourier, params)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(out))
    print(
        f"wrote {out} ({fourier}, seed {seed}): {out.stat().st_size / 1e6:.1f} MB,"
        f" {len(model.graph.node)} nodes, in {time.perf_counter() - t0:.1f} s"
    )
    return params


def session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_once(sess, feeds: dict) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = sess.run(["output"], feeds)[0]
    return out, time.perf_counter() - t0


def timed(sess, feeds: dict, runs: int) -> tuple[np.ndarray, list[float]]:
    out, _ = run_once(sess, feeds)  # warm-up
    return out, [run_once(sess, feeds)[1] for _ in range(runs)]


def fmt(times: list[float]) -> str:
    lo, hi, n = min(times), max(times), len(times)
    return f"median {statistics.median(times):.3f} s (min {lo:.3f}, max {hi:.3f}, n={n})"


def compare(seed: int, runs: int, threads: int) -> None:
    params, _ = calibrated_params(seed)
    paths = {v: DEFAULT_OUT.with_name(DEFAULT_OUT.name.format(v)) for v in ("dft", "matmul")}
    for v, p in paths.items():
        generate(v, p, seed, params)
    image, mask = sample_inputs(seed + 1)  # not the calibration input
    feeds = {"image": image, "mask": mask}
    t0 = time.perf_counter()
    ref = contract_numpy(NumpyNet(params), image[0], mask[0])[None]
    print(f"numpy reference (numpy.fft) in {time.perf_counter() - t0:.1f} s")
    sessions, outs, times = {}, {}, {}
    for v, p in paths.items():
        t0 = time.perf_counter()
        sessions[v] = session(p, threads)
        print(f"{v:>6}: session created in {time.perf_counter() - t0:.1f} s")
        outs[v], times[v] = run_once(sessions[v], feeds)[0], []  # warm-up
    for _ in range(runs):  # interleaved, so that drift in the machine's speed hits both alike
        for v, sess in sessions.items():
            times[v].append(run_once(sess, feeds)[1])
    for v, out in outs.items():
        hole = out[np.broadcast_to(mask, out.shape) > 0]
        print(
            f"{v:>6}: {fmt(times[v])}; output mean {out.mean():.2f} std {out.std():.2f},"
            f" in the hole mean {hole.mean():.2f} std {hole.std():.2f};"
            f" max |onnx - numpy| {np.abs(out - ref).max():.2e}"
        )
    print(
        f"max |dft - matmul| of output (0..255): {np.abs(outs['dft'] - outs['matmul']).max():.3e}"
    )
    ratio = statistics.median(times["dft"]) / statistics.median(times["matmul"])
    print(f"dft / matmul median time: {ratio:.2f}x ({threads} intra-op threads)")


def time_one(path: Path, seed: int, runs: int, threads: int) -> None:
    image, mask = sample_inputs(seed + 1)
    t0 = time.perf_counter()
    sess = session(path, threads)
    print(f"{path}: session {time.perf_counter() - t0:.1f} s")
    out, times = timed(sess, {"image": image, "mask": mask}, runs)
    print(
        f"run {fmt(times)}; output mean {out.mean():.2f} std {out.std():.2f}"
        f" ({threads} intra-op threads)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--fourier",
        choices=("dft", "matmul"),
        default="matmul",
        help="how the Fourier units are written (default matmul)",
    )
    ap.add_argument(
        "--out", type=Path, help="output file (default benches/output/big-lama-<variant>.onnx)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--compare",
        action="store_true",
        help="write both variants to their default paths, check and time them (needs onnxruntime)",
    )
    ap.add_argument(
        "--time", type=Path, metavar="PATH", help="only time this model (needs onnxruntime)"
    )
    ap.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up (default 3)")
    ap.add_argument(
        "--threads", type=int, default=2, help="ONNX Runtime intra-op threads (default 2)"
    )
    args = ap.parse_args()
    if args.time:
        time_one(args.time, args.seed, args.runs, args.threads)
    elif args.compare:
        if args.out:
            ap.error("--compare writes the default paths; --out does not apply")
        compare(args.seed, args.runs, args.threads)
    else:
        generate(args.fourier, args.out or Path(str(DEFAULT_OUT).format(args.fourier)), args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
