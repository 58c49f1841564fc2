#!/usr/bin/env python3
"""big-LaMa's FFC ResNet in PyTorch, with the weights of benches/make_big_lama.py, for
side-by-side timings against our pipeline on ONNX Runtime.

    scripts/torch-env.sh                                   # once: .venv-torch with pinned torch
    .venv-torch/bin/python benches/lama_torch.py export --size 512 --out PATH [--half]
    .venv-torch/bin/python benches/lama_torch.py check     # torch == make_big_lama's numpy net

What IOPaint runs for `lama` is this network in PyTorch (its `big-lama.pt` is a TorchScript
trace of it), so timing this module is timing IOPaint's forward pass; the weights here are
random (seeded), which changes nothing for speed. The module is written from advimman/lama's
saicinpainting/training/modules/ffc.py with the big-lama config (see make_big_lama.py's
docstring for the layer list); its state_dict keys are the real checkpoint's
(`model.5.conv1.ffc.convg2g.fu.conv_layer.weight`, ...), and `load_params` fills them from
make_big_lama.Params, so the torch module, the ONNX graph exported from it and
make_big_lama.py's own graph share every weight.

`fourier` picks how the Fourier units compute their transforms:
    fft     torch.fft.rfftn / irfftn in float32, exactly as LaMa's FourierUnit (what IOPaint
            runs; any input size)
    matmul  the same transforms as products with constant cos/sin matrices (make_big_lama's
            dft_matrices), fixed to one input size: what ONNX exports use, since ONNX
            Runtime's DFT kernel is slow (BENCHMARKS.md); `export` uses this form.

`export` writes the Carve contract (`image` 0..1, `mask` 1 = hole -> `output` 0..255,
composited) at a fixed square size with torch.onnx.export (TorchScript exporter, opset 17, no
`onnx` package needed), float16 throughout with --half. Fixed 512 loads as our `lama`
architecture; other sizes as `lama-dynamic` (give it output range 0-255).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_big_lama as mbl  # noqa: E402  (the weights and the numpy reference)

NGF, N_DOWNSAMPLING, N_BLOCKS = mbl.NGF, mbl.N_DOWNSAMPLING, mbl.N_BLOCKS
RATIO_G = mbl.RATIO_G


def dft_buffers(n: int) -> dict[str, torch.Tensor]:
    return {k.split(".")[1]: torch.from_numpy(v) for k, v in mbl.dft_matrices(n).items()}


class FourierUnit(nn.Module):
    def __init__(self, channels: int, fourier: str, side: int | None):
        super().__init__()
        self.conv_layer = nn.Conv2d(2 * channels, 2 * channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(2 * channels)
        self.relu = nn.ReLU(inplace=True)
        self.fourier = fourier
        if fourier == "matmul":
            if side is None:
                raise ValueError("the matmul Fourier units need the bottleneck side")
            for k, v in dft_buffers(side).items():
                self.register_buffer(k, v, persistent=False)

    def forward(self, x):
        b, c, h, w = x.shape
        if self.fourier == "fft":
            f = torch.fft.rfftn(x.float(), dim=(-2, -1), norm="ortho")
            f = torch.stack((f.real, f.imag), dim=-1)  # b, c, h, w/2+1, 2
            f = f.permute(0, 1, 4, 2, 3).reshape(b, 2 * c, h, -1).to(x.dtype)
        else:
            m = w // 2 + 1
            y = (x @ self.rfft_w).reshape(b, c, h, 2, m)  # [Re | Im] along W
            y = y.permute(0, 1, 4, 3, 2).reshape(b, c, m, 2 * h) @ self.fft_h
            f = y.reshape(b, c, m, 2, h).permute(0, 1, 3, 4, 2).reshape(b, 2 * c, h, m)
        f = self.relu(self.bn(self.conv_layer(f)))
        if self.fourier == "fft":
            z = f.float().reshape(b, c, 2, h, -1).permute(0, 1, 3, 4, 2)
            z = torch.complex(z[..., 0].contiguous(), z[..., 1].contiguous())
            return torch.fft.irfftn(z, s=(h, w), dim=(-2, -1), norm="ortho").to(x.dtype)
        m = f.shape[-1]
        y = f.reshape(b, c, 2, h, m).permute(0, 1, 4, 2, 3).reshape(b, c, m, 2 * h) @ self.ifft_h
        y = y.reshape(b, c, m, 2, h).permute(0, 1, 4, 3, 2).reshape(b, c, h, 2 * m)
        return y @ self.irfft_w


class SpectralTransform(nn.Module):
    def __init__(self, cin: int, cout: int, fourier: str, side: int | None):
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(cin, cout // 2, 1, bias=False),
            nn.BatchNorm2d(cout // 2),
            nn.ReLU(inplace=True),
        )
        self.fu = FourierUnit(cout // 2, fourier, side)
        self.conv2 = nn.Conv2d(cout // 2, cout, 1, bias=False)

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2(x + self.fu(x))


def conv(cin, cout, k, stride=1, pad=0):
    # LaMa's FFC convs pad inside the conv with padding_mode="reflect".
    return nn.Conv2d(cin, cout, k, stride, pad, bias=False, padding_mode="reflect")


class FFC(nn.Module):
    """FFC with reflect padding; branches with no channels are absent (LaMa's nn.Identity on
    a zero input)."""

    def __init__(self, cin, cout, k, stride, pad, gin, gout, fourier, side):
        super().__init__()
        cg_in, cg_out = int(cin * gin), int(cout * gout)
        cl_in, cl_out = cin - cg_in, cout - cg_out
        self.convl2l = conv(cl_in, cl_out, k, stride, pad) if cl_in and cl_out else None
        self.convl2g = conv(cl_in, cg_out, k, stride, pad) if cl_in and cg_out else None
        self.convg2l = conv(cg_in, cl_out, k, stride, pad) if cg_in and cl_out else None
        self.convg2g = (
            SpectralTransform(cg_in, cg_out, fourier, side) if cg_in and cg_out else None
        )

    def forward(self, xl, xg):
        def branch(a, b):
            outs = [f(x) for f, x in (a, b) if f is not None]
            return sum(outs[1:], outs[0]) if outs else None

        return branch((self.convl2l, xl), (self.convg2l, xg)), branch(
            (self.convl2g, xl), (self.convg2g, xg)
        )


class FFC_BN_ACT(nn.Module):
    def __init__(self, cin, cout, k, stride=1, pad=0, gin=0.0, gout=0.0, fourier="fft", side=None):
        super().__init__()
        self.ffc = FFC(cin, cout, k, stride, pad, gin, gout, fourier, side)
        cg = int(cout * gout)
        self.bn_l = nn.BatchNorm2d(cout - cg) if cout - cg else None
        self.bn_g = nn.BatchNorm2d(cg) if cg else None

    def forward(self, xl, xg=None):
        yl, yg = self.ffc(xl, xg)
        yl = torch.relu(self.bn_l(yl)) if yl is not None else None
        yg = torch.relu(self.bn_g(yg)) if yg is not None else None
        return yl, yg


class FFCResnetBlock(nn.Module):
    def __init__(self, dim, fourier, side):
        super().__init__()
        kw = dict(k=3, pad=1, gin=RATIO_G, gout=RATIO_G, fourier=fourier, side=side)
        self.conv1 = FFC_BN_ACT(dim, dim, **kw)
        self.conv2 = FFC_BN_ACT(dim, dim, **kw)

    def forward(self, x):
        xl, xg = x
        yl, yg = self.conv1(xl, xg)
        yl, yg = self.conv2(yl, yg)
        return xl + yl, xg + yg


class Generator(nn.Module):
    """FFCResNetGenerator(input_nc=4, output_nc=3, ngf=64, n_downsampling=3, n_blocks=18,
    add_out_act="sigmoid"); `self.model` has the checkpoint's nn.Sequential indices."""

    def __init__(self, fourier: str = "fft", size: int | None = None):
        super().__init__()
        side = None if size is None else size // 2**N_DOWNSAMPLING
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), FFC_BN_ACT(4, NGF, 7)]
        for i in range(N_DOWNSAMPLING):
            cin, cout = NGF * 2**i, NGF * 2 ** (i + 1)
            gout = RATIO_G if i == N_DOWNSAMPLING - 1 else 0.0
            layers.append(FFC_BN_ACT(cin, cout, 3, stride=2, pad=1, gout=gout))
        dim = NGF * 2**N_DOWNSAMPLING
        layers += [FFCResnetBlock(dim, fourier, side) for _ in range(N_BLOCKS)]
        layers.append(nn.Identity())  # ConcatTupleLayer (done in forward)
        for i in range(N_DOWNSAMPLING):
            c = NGF * 2 ** (N_DOWNSAMPLING - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(NGF, 3, 7), nn.Sigmoid()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        m = self.model
        xl, _ = m[1](m[0](x))
        xl, xg = m[2](xl)
        xl, xg = m[3](xl)
        x = m[4](xl)
        for block in m[5 : 5 + N_BLOCKS]:
            x = block(x)
        x = torch.cat(x, dim=1)
        for layer in m[5 + N_BLOCKS + 1 :]:
            x = layer(x)
        return x


class Contract(nn.Module):
    """The Carve/LaMa-ONNX contract around the generator (what our `lama` consumes; IOPaint's
    big-lama.pt does the same composite, without the 0..255 scale)."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator

    def forward(self, image, mask):
        inv = 1 - mask
        pred = self.generator(torch.cat([image * inv, mask], dim=1))
        return torch.clamp((mask * pred + inv * image) * 255, 0, 255)


def load_params(generator: Generator, params: mbl.Params) -> None:
    """Every weight and BatchNorm statistic from make_big_lama's Params (strict: a missing or
    extra key is an error)."""
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.t.items()}
    own = generator.state_dict()
    for k in own:
        if k.endswith("num_batches_tracked"):
            state[k] = own[k]
    generator.load_state_dict(state, strict=True)


def calibrated_params(seed: int) -> mbl.Params:
    """make_big_lama's calibrated weights, cached in benches/output (the calibration runs the
    numpy network, tens of seconds; every worker of compare_torch.py needs the same weights)."""
    cache = mbl.ROOT / "benches" / "output" / f"big-lama-params-seed{seed}.npz"
    params = mbl.Params(seed)
    if cache.is_file():
        with np.load(cache) as saved:
            params.t = {k: saved[k] for k in saved.files}
        return params
    params, _ = mbl.calibrated_params(seed)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".partial.npz")
    np.savez(tmp, **params.t)
    tmp.replace(cache)  # never a half-written cache
    return params


def build(seed: int = 0, fourier: str = "fft", size: int | None = None) -> tuple[Contract, mbl.Params]:
    params = calibrated_params(seed)
    generator = Generator(fourier, size)
    load_params(generator, params)
    return Contract(generator).eval(), params


def sample_inputs(size: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """make_big_lama's smooth image and mask, at 512 or resized (nearest) to `size`."""
    image, mask = mbl.sample_inputs(seed)
    reps = max(1, math.ceil(size / mbl.SIZE))
    image = np.tile(image, (1, 1, reps, reps))[:, :, :size, :size]
    mask = np.tile(mask, (1, 1, reps, reps))[:, :, :size, :size]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def export(model: Contract, size: int, out: Path, half: bool) -> None:
    # Traced on the GPU when there is one: float16 convolutions on the CPU are very slow.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    image, mask = (torch.from_numpy(a).to(device) for a in sample_inputs(size))
    model = model.to(device)
    if half:
        model, image, mask = model.half(), image.half(), mask.half()
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    partial = out.with_name(out.name + ".partial")  # renamed when complete: never a torn graph
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (image, mask),
            str(partial),
            input_names=["image", "mask"],
            output_names=["output"],
            opset_version=17,
            do_constant_folding=True,
            **kwargs,
        )
    partial.replace(out)
    print(
        f"wrote {out} ({size}x{size}, {'float16' if half else 'float32'}):"
        f" {out.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s"
    )


def check(seed: int) -> int:
    """Torch (fft and matmul forms) against make_big_lama's numpy network at 512²."""
    image, mask = sample_inputs(mbl.SIZE)
    fft, params = build(seed, "fft")  # (the cached weights, when benches/output has them)
    mat = Contract(Generator("matmul", mbl.SIZE))
    load_params(mat.generator, params)
    mat.eval()
    ref = mbl.contract_numpy(mbl.NumpyNet(params), image[0], mask[0])[None]
    worst = 0.0
    with torch.inference_mode():
        for name, model in (("fft", fft), ("matmul", mat)):
            out = model(torch.from_numpy(image), torch.from_numpy(mask)).numpy()
            diff = float(np.abs(out - ref).max())
            worst = max(worst, diff)
            print(f"torch {name}: max |torch - numpy| = {diff:.2e} (0..255 scale), mean {out.mean():.2f}")
    return 0 if worst < 0.05 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="write the ONNX graph (matmul Fourier units)")
    ex.add_argument("--size", type=int, default=512)
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--half", action="store_true", help="float16 weights and ports")
    ex.add_argument("--seed", type=int, default=0)
    ck = sub.add_parser("check", help="compare with make_big_lama's numpy network")
    ck.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.cmd == "check":
        return check(args.seed)
    if args.size % 2**N_DOWNSAMPLING:
        ap.error(f"--size must be a multiple of {2**N_DOWNSAMPLING}")
    model, _ = build(args.seed, "matmul", args.size)
    export(model, args.size, args.out, args.half)
    return 0


if __name__ == "__main__":
    sys.exit(main())
