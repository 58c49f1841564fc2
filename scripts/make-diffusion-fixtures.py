#!/usr/bin/env python3
"""Builds the diffusion test fixtures: tiny random-weight Stable Diffusion 1.5 inpainting pipelines
with the real architectures, exported to ONNX in Optimum's layout, and diffusers' outputs on them
with every noise draw recorded, so that the Rust tests check our pipeline against diffusers without
torch.

Run in the pinned environment that scripts/diffusion-fixtures-env.sh creates (torch, diffusers,
Optimum):

    python scripts/make-diffusion-fixtures.py                       # writes the committed fixtures
    python scripts/make-diffusion-fixtures.py --bench-unet DIR      # an SD-1.5-sized pipeline (not committed)

What it writes under inpaint-models/tests/fixtures/diffusion/:

* `sd15-tiny-inpaint/`: an Optimum ONNX folder (model_index.json, text_encoder, unet, vae_encoder,
  vae_decoder, tokenizer, scheduler) whose UNet takes 9 channels (latents, mask, masked-image
  latents), as runwayml/stable-diffusion-inpainting does; `sd15-tiny-plain/`: the same with a
  4-channel UNet (diffusers blends re-noised known latents each step).
* `sd15-tiny-inpaint-fp16/`: the inpainting folder converted to float16; `nan_unet.onnx`: a graph
  with the UNet's contract that outputs NaN.
* `input.png`, `mask.png`: the image and mask every case runs on (48×32: not square, so a swapped
  height and width shows).
* `cases.json`: one entry per run of Optimum's `ORTStableDiffusionInpaintPipeline` (the ONNX graphs
  driven by diffusers' torch pipeline), with its settings, the token ids, and the shape of every
  noise draw in draw order; `cases/<name>.noise.f32` holds the draws, `.latents.f32` the latents
  after the last step, `.png` the image (IOPaint's `(x·255).round()`), all little-endian.

Every sampler runs four times, covering each pair of settings: (9 channels, strength 1, guidance 7.5),
(9 channels, strength 0.6, guidance 1), (4 channels, strength 1, guidance 1),
(4 channels, strength 0.6, guidance 7.5). Schedulers are built as IOPaint 1.6.0's
`model/utils.py get_scheduler` builds them (`from_config` on the model's scheduler config).

SDXL (`sdxl-tiny-inpaint/`, `sdxl-tiny-plain/`): diffusers' SDXL UNet config shrunk (three levels,
`DownBlock2D` then two cross-attention blocks with 1, 1, 2 transformer layers, linear projections,
`text_time` added conditioning), `CLIPTextModel` + `CLIPTextModelWithProjection` (hidden 16 and 32,
`tokenizer_2` padding with `!`), SDXL's VAE scaling factor and scheduler config, exported by
Optimum (`text_encoder_2`, `tokenizer_2`, a UNet taking `text_embeds` and `time_ids`). Recorded with
Optimum's `ORTStableDiffusionXLInpaintPipeline` called as IOPaint 1.6.0's `model/sdxl.py` calls it
(strength 0.999 when 1 is asked) on `sdxl-input.png`/`sdxl-mask.png` (64×32: SDXL's three UNet levels
need sides a multiple of 32) into `sdxl-cases.json` and `sdxl-cases/`. Every sampler runs twice —
(9 channels, strength 1, guidance 7.5) and (4 channels, strength 0.6, guidance 1) — and four more
cases cover the other pairs: (9, 0.6, 1) and (4, 1, 7.5) with Euler a and DPM++ 2M.
`sdxl-tiny-aesthetic/` is a plain SDXL folder with `requires_aesthetics_score` (a smaller UNet
taking 5 `time_ids`, as the SDXL refiner's does, but with both text encoders): two more cases,
Euler at strength 1 and DPM++ 2M at 0.6, both with guidance 7.5.
"""

import argparse
import gzip
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "inpaint-models" / "tests" / "fixtures" / "diffusion"
OPEN_CLIP = "open-clip-torch==3.3.0"  # ships OpenAI's CLIP BPE merges (MIT)
VOCAB_SIZE = 1000
WIDTH, HEIGHT = 48, 32
STEPS = 4
SEED = 7
PROMPT = "a photo of a red cat on a sofa"
NEGATIVE = "blurry"

# runwayml/stable-diffusion-inpainting's scheduler/scheduler_config.json (diffusers 0.6 keys).
SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

# stabilityai/stable-diffusion-xl-base-1.0's scheduler/scheduler_config.json.
SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}
SDXL_WIDTH, SDXL_HEIGHT = 64, 32

SAMPLERS = [
    "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE", "DPM++ 2M SDE Karras", "DPM++ SDE",
    "DPM++ SDE Karras", "DPM2", "DPM2 Karras", "DPM2 a", "DPM2 a Karras", "Euler", "Euler a",
    "Heun", "LMS", "LMS Karras", "DDIM", "PNDM", "UniPC", "LCM",
]


def get_scheduler(name, config):
    """IOPaint 1.6.0 `iopaint/model/utils.py get_scheduler`, restated (IOPaint is not installed)."""
    import diffusers as d

    table = {
        "DPM++ 2M": (d.DPMSolverMultistepScheduler, {}),
        "DPM++ 2M Karras": (d.DPMSolverMultistepScheduler, dict(use_karras_sigmas=True)),
        "DPM++ 2M SDE": (d.DPMSolverMultistepScheduler, dict(algorithm_type="sde-dpmsolver++")),
        "DPM++ 2M SDE Karras": (
            d.DPMSolverMultistepScheduler,
            dict(algorithm_type="sde-dpmsolver++", use_karras_sigmas=True),
        ),
        "DPM++ SDE": (d.DPMSolverSinglestepScheduler, {}),
        "DPM++ SDE Karras": (d.DPMSolverSinglestepScheduler, dict(use_karras_sigmas=True)),
        "DPM2": (d.KDPM2DiscreteScheduler, {}),
        "DPM2 Karras": (d.KDPM2DiscreteScheduler, dict(use_karras_sigmas=True)),
        "DPM2 a": (d.KDPM2AncestralDiscreteScheduler, {}),
        "DPM2 a Karras": (d.KDPM2AncestralDiscreteScheduler, dict(use_karras_sigmas=True)),
        "Euler": (d.EulerDiscreteScheduler, {}),
        "Euler a": (d.EulerAncestralDiscreteScheduler, {}),
        "Heun": (d.HeunDiscreteScheduler, {}),
        "LMS": (d.LMSDiscreteScheduler, {}),
        "LMS Karras": (d.LMSDiscreteScheduler, dict(use_karras_sigmas=True)),
        "DDIM": (d.DDIMScheduler, {}),
        "PNDM": (d.PNDMScheduler, {}),
        "UniPC": (d.UniPCMultistepScheduler, {}),
        "LCM": (d.LCMScheduler, {}),
    }
    config = dict(config)
    for key in ("use_karras_sigmas", "algorithm_type"):
        config.pop(key, None)
    cls, overrides = table[name]
    return cls.from_config(config, **overrides)


def bytes_to_unicode():
    """OpenAI CLIP's byte-to-printable-character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer(dir_: Path, size: int):
    """A `size`-id CLIP vocabulary built as OpenAI builds the real one (bytes, bytes + `</w>`, the
    first merges in order, the two special tokens), from the real merges in open_clip's wheel."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, OPEN_CLIP],
            check=True,
        )
        wheel = next(Path(tmp).glob("open_clip_torch-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            data = gzip.decompress(z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode()
    lines = data.split("\n")[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(line.split()) for line in lines]
    chars = bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars]
    n_merges = size - len(vocab) - 2
    merges = merges[:n_merges]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == size
    from transformers import CLIPTokenizer

    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (dir_ / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n"
    )
    tok = CLIPTokenizer(str(dir_ / "vocab.json"), str(dir_ / "merges.txt"), model_max_length=77)
    return tok


def build_pipeline(tok, unet_channels, sized_like_sd15=False):
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionInpaintPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    if sized_like_sd15:
        # runwayml/stable-diffusion-inpainting's unet/config.json and vae/config.json shapes.
        unet = UNet2DConditionModel(
            in_channels=unet_channels, out_channels=4, sample_size=64, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768,
            attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        )
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
            block_out_channels=(128, 256, 512, 512), sample_size=512,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
        )
        text = CLIPTextConfig(
            vocab_size=tok.vocab_size, hidden_size=768, intermediate_size=3072,
            num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id, hidden_act="quick_gelu", projection_dim=768,
        )
    else:
        unet = UNet2DConditionModel(
            in_channels=unet_channels, out_channels=4, sample_size=8, layers_per_block=1,
            block_out_channels=(16, 32), norm_num_groups=8, cross_attention_dim=32,
            attention_head_dim=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        )
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
            block_out_channels=(8, 8, 16, 16), norm_num_groups=8, sample_size=64,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
        )
        text = CLIPTextConfig(
            vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=37,
            num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id, projection_dim=32,
        )
    # Random weights are far smaller than trained ones; scale the UNet's output to a real one's spread (std ≈ 1) so the
    # samplers move the latents visibly and a wrong step shows in the comparison.
    with torch.no_grad():
        unet.conv_out.weight.mul_(4.0)
        unet.conv_out.bias.mul_(4.0)
    text_encoder = CLIPTextModel(text)
    scheduler = PNDMScheduler.from_config(SD15_SCHEDULER)
    return StableDiffusionInpaintPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(), tokenizer=tok, unet=unet.eval(),
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )


def export(pipe, out: Path, validate=True):
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory() as tmp:
        pipe.save_pretrained(tmp)
        # save_pretrained writes diffusers' keys; keep the scheduler config as SD 1.5 ships it.
        (Path(tmp) / "scheduler" / "scheduler_config.json").write_text(
            json.dumps(SD15_SCHEDULER, indent=2)
        )
        if out.exists():
            shutil.rmtree(out)
        main_export(
            tmp, out, task="inpainting", library_name="diffusers", opset=17, do_validation=validate
        )
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(SD15_SCHEDULER, indent=2))


def write_nan_unet(path: Path):
    """A graph with the 4-channel UNet's contract whose output is NaN wherever the input is finite
    (`sqrt(−|x| − 1)`), to check that a run fails instead of returning a picture."""
    import onnx
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    graph = helper.make_graph(
        [
            helper.make_node("Abs", ["sample"], ["abs"]),
            helper.make_node("Neg", ["abs"], ["neg"]),
            helper.make_node("Sub", ["neg", "one"], ["below"]),
            helper.make_node("Sqrt", ["below"], ["out_sample"]),
        ],
        "nan_unet",
        [
            helper.make_tensor_value_info("sample", f, ["batch_size", 4, "height", "width"]),
            helper.make_tensor_value_info("timestep", f, []),
            helper.make_tensor_value_info("encoder_hidden_states", f, ["batch_size", "sequence_length", 32]),
        ],
        [helper.make_tensor_value_info("out_sample", f, ["batch_size", 4, "height", "width"])],
        [helper.make_tensor("one", f, [], [1.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def write_fp16_copy(folder: Path, out: Path):
    """`folder` with every graph converted to float16 inputs, weights and outputs (ONNX Runtime's
    converter; Optimum's own `--dtype fp16` export needs a GPU), to test the float16 path."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folder, out)
    for graph in ("text_encoder", "unet", "vae_encoder", "vae_decoder"):
        path = out / graph / "model.onnx"
        onnx.save(convert_float_to_float16(onnx.load(path), keep_io_types=False), path)


class DrawRecorder:
    """Records every `torch.randn` call (diffusers' `randn_tensor` goes through it) in order."""

    def __init__(self):
        self.draws = []
        self._randn = torch.randn

    def __enter__(self):
        def randn(*args, **kwargs):
            t = self._randn(*args, **kwargs)
            assert kwargs.get("generator") is not None, "a draw without the run's generator"
            self.draws.append(t.detach().to(torch.float32).cpu().numpy().copy())
            return t

        torch.randn = randn
        return self

    def __exit__(self, *exc):
        torch.randn = self._randn


def input_image_and_mask(width=WIDTH, height=HEIGHT):
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 / (width - 1)).astype(np.uint8)
    g = (y * 255 / (height - 1)).astype(np.uint8)
    b = (((x // 4 + y // 4) % 2) * 200 + 30).astype(np.uint8)
    image = np.stack([r, g, b], axis=-1)
    mask = np.zeros((height, width), np.uint8)
    mask[8:24, 12:36] = 255
    mask[2:6, 40:46] = 255
    return image, mask


def record_cases(folders):
    from optimum.onnxruntime import ORTStableDiffusionInpaintPipeline

    image, mask = input_image_and_mask()
    Image.fromarray(image).save(OUT / "input.png")
    Image.fromarray(mask).save(OUT / "mask.png")
    cases_dir = OUT / "cases"
    if cases_dir.exists():
        shutil.rmtree(cases_dir)
    cases_dir.mkdir()
    pipes = {
        kind: ORTStableDiffusionInpaintPipeline.from_pretrained(str(folder), provider="CPUExecutionProvider")
        for kind, folder in folders.items()
    }
    settings = [("inpaint", 1.0, 7.5), ("inpaint", 0.6, 1.0), ("plain", 1.0, 1.0), ("plain", 0.6, 7.5)]
    cases = []
    for sampler in SAMPLERS:
        for kind, strength, guidance in settings:
            pipe = pipes[kind]
            pipe.scheduler = get_scheduler(sampler, SD15_SCHEDULER)
            name = f"{sampler.replace(' ', '_').replace('+', 'p')}-{kind}-s{strength}-g{guidance}"
            final = {}

            def on_step_end(p, i, t, kwargs):
                final["latents"] = kwargs["latents"].detach().cpu().numpy().copy()
                return kwargs

            with DrawRecorder() as rec:
                out = pipe(
                    prompt=PROMPT, negative_prompt=NEGATIVE, image=Image.fromarray(image),
                    mask_image=Image.fromarray(mask, mode="L"), num_inference_steps=STEPS,
                    strength=strength, guidance_scale=guidance, output_type="np",
                    height=HEIGHT, width=WIDTH, generator=torch.manual_seed(SEED),
                    callback_on_step_end=on_step_end,
                ).images[0]
            pixels = (out * 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(cases_dir / f"{name}.png")
            np.concatenate([d.ravel() for d in rec.draws]).astype("<f4").tofile(
                cases_dir / f"{name}.noise.f32"
            )
            final["latents"].astype("<f4").tofile(cases_dir / f"{name}.latents.f32")
            cases.append(
                dict(
                    name=name, model=f"sd15-tiny-{kind}", sampler=sampler, steps=STEPS,
                    strength=strength, guidance_scale=guidance, seed=SEED,
                    draws=[list(d.shape) for d in rec.draws],
                    latents_shape=list(final["latents"].shape),
                )
            )
            print(name, len(rec.draws), "draws", file=sys.stderr)
    tok = pipes["inpaint"].tokenizer
    ids = lambda text: tok(text, padding="max_length", max_length=77, truncation=True).input_ids
    manifest = dict(
        generator="scripts/make-diffusion-fixtures.py",
        versions={m: metadata.version(m) for m in ("torch", "diffusers", "transformers", "onnxruntime", "optimum", "optimum-onnx")},
        width=WIDTH, height=HEIGHT, prompt=PROMPT, negative_prompt=NEGATIVE,
        prompt_ids=ids(PROMPT), negative_prompt_ids=ids(NEGATIVE), cases=cases,
    )
    (OUT / "cases.json").write_text(json.dumps(manifest, indent=1) + "\n")


def build_sdxl_pipeline(tok, tok2, unet_channels, aesthetic=False):
    """diffusers' SDXL UNet config (stabilityai/stable-diffusion-xl-base-1.0's unet/config.json)
    shrunk: the same block types, linear projections and `text_time` conditioning, fewer channels
    and layers. The two text encoders are the classes SDXL uses, tiny."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    # The text encoders and the VAE come first from their own seed, so that the two folders
    # share them byte for byte (git stores them once); only the UNets differ.
    torch.manual_seed(0)
    common = dict(
        vocab_size=tok.vocab_size, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    hidden, hidden_2, projection_dim = 16, 32, 16
    text_encoder = CLIPTextModel(CLIPTextConfig(
        hidden_size=hidden, intermediate_size=37, pad_token_id=tok.pad_token_id,
        hidden_act="quick_gelu", projection_dim=hidden, **common,
    ))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(
        hidden_size=hidden_2, intermediate_size=37, pad_token_id=tok2.pad_token_id, hidden_act="gelu",
        projection_dim=projection_dim, **common,
    ))
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        block_out_channels=(8, 8, 16, 16), norm_num_groups=8, sample_size=64,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        scaling_factor=0.13025, force_upcast=True,
    )
    torch.manual_seed(1)
    time_embed_dim = 8
    # The aesthetic-score variant (as the SDXL refiner's UNet: `time_ids` of 5, with the score
    # instead of the target size) is smaller still: it only has to show the conditioning.
    unet = UNet2DConditionModel(
        in_channels=unet_channels, out_channels=4, sample_size=16, layers_per_block=1,
        block_out_channels=(8, 8, 8) if aesthetic else (8, 16, 16),
        # One channel per group would normalise the time embedding (and so the score) away.
        norm_num_groups=2 if aesthetic else 8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 1, 1) if aesthetic else (1, 1, 2),
        attention_head_dim=(2, 2, 2) if aesthetic else (2, 4, 4),
        use_linear_projection=True, cross_attention_dim=hidden + hidden_2,
        addition_embed_type="text_time", addition_time_embed_dim=time_embed_dim,
        projection_class_embeddings_input_dim=(5 if aesthetic else 6) * time_embed_dim + projection_dim,
    )
    with torch.no_grad():
        unet.conv_out.weight.mul_(4.0)
        unet.conv_out.bias.mul_(4.0)
        if aesthetic:
            # Random weights barely react to the score; a trained refiner does. Amplify the
            # added-conditioning path so that a wrong score shows.
            unet.add_embedding.linear_1.weight.mul_(10.0)
    return StableDiffusionXLInpaintPipeline(
        vae=vae.eval(), text_encoder=text_encoder.eval(), text_encoder_2=text_encoder_2.eval(),
        tokenizer=tok, tokenizer_2=tok2, unet=unet.eval(),
        scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER),
        requires_aesthetics_score=aesthetic, force_zeros_for_empty_prompt=True, add_watermarker=False,
    )


def export_sdxl(pipe, out: Path):
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory() as tmp:
        pipe.save_pretrained(tmp)
        (Path(tmp) / "scheduler" / "scheduler_config.json").write_text(json.dumps(SDXL_SCHEDULER, indent=2))
        if out.exists():
            shutil.rmtree(out)
        main_export(tmp, out, task="inpainting", library_name="diffusers", opset=17)
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(SDXL_SCHEDULER, indent=2))


def record_sdxl_cases(folders):
    """Optimum's ORT SDXL inpainting pipeline called as IOPaint's model/sdxl.py calls it."""
    from optimum.onnxruntime import ORTStableDiffusionXLInpaintPipeline

    image, mask = input_image_and_mask(SDXL_WIDTH, SDXL_HEIGHT)
    Image.fromarray(image).save(OUT / "sdxl-input.png")
    Image.fromarray(mask).save(OUT / "sdxl-mask.png")
    cases_dir = OUT / "sdxl-cases"
    if cases_dir.exists():
        shutil.rmtree(cases_dir)
    cases_dir.mkdir()
    pipes = {
        kind: ORTStableDiffusionXLInpaintPipeline.from_pretrained(
            str(folder), provider="CPUExecutionProvider", add_watermarker=False
        )
        for kind, folder in folders.items()
    }
    runs = [(s, "inpaint", 1.0, 7.5) for s in SAMPLERS] + [(s, "plain", 0.6, 1.0) for s in SAMPLERS]
    runs += [(s, k, st, g) for s in ("Euler a", "DPM++ 2M") for k, st, g in (("inpaint", 0.6, 1.0), ("plain", 1.0, 7.5))]
    runs += [("Euler", "aesthetic", 1.0, 7.5), ("DPM++ 2M", "aesthetic", 0.6, 7.5)]
    cases = []
    for sampler, kind, strength, guidance in runs:
        pipe = pipes[kind]
        assert pipe.watermark is None
        pipe.scheduler = get_scheduler(sampler, SDXL_SCHEDULER)
        name = f"{sampler.replace(' ', '_').replace('+', 'p')}-{kind}-s{strength}-g{guidance}"
        final = {}

        def on_step_end(p, i, t, kwargs):
            final["latents"] = kwargs["latents"].detach().cpu().numpy().copy()
            return kwargs

        with DrawRecorder() as rec:
            out = pipe(
                prompt=PROMPT, negative_prompt=NEGATIVE, image=Image.fromarray(image),
                mask_image=Image.fromarray(mask, mode="L"), num_inference_steps=STEPS,
                strength=0.999 if strength == 1.0 else strength, guidance_scale=guidance,
                output_type="np", height=SDXL_HEIGHT, width=SDXL_WIDTH,
                generator=torch.manual_seed(SEED), callback_on_step_end=on_step_end,
            ).images[0]
        pixels = (out * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(cases_dir / f"{name}.png")
        np.concatenate([d.ravel() for d in rec.draws]).astype("<f4").tofile(cases_dir / f"{name}.noise.f32")
        final["latents"].astype("<f4").tofile(cases_dir / f"{name}.latents.f32")
        cases.append(
            dict(
                name=name, model=f"sdxl-tiny-{kind}", sampler=sampler, steps=STEPS,
                strength=strength, guidance_scale=guidance, seed=SEED,
                draws=[list(d.shape) for d in rec.draws], latents_shape=list(final["latents"].shape),
            )
        )
        print(name, len(rec.draws), "draws", file=sys.stderr)
    ids = lambda tok, text: tok(text, padding="max_length", max_length=77, truncation=True).input_ids
    p = pipes["inpaint"]
    manifest = dict(
        generator="scripts/make-diffusion-fixtures.py",
        versions={m: metadata.version(m) for m in ("torch", "diffusers", "transformers", "onnxruntime", "optimum", "optimum-onnx")},
        width=SDXL_WIDTH, height=SDXL_HEIGHT, prompt=PROMPT, negative_prompt=NEGATIVE,
        prompt_ids=ids(p.tokenizer, PROMPT), prompt_ids_2=ids(p.tokenizer_2, PROMPT),
        negative_prompt_ids_2=ids(p.tokenizer_2, NEGATIVE), cases=cases,
    )
    (OUT / "sdxl-cases.json").write_text(json.dumps(manifest, indent=1) + "\n")


def make_sdxl(skip_export):
    folders = {
        "inpaint": OUT / "sdxl-tiny-inpaint", "plain": OUT / "sdxl-tiny-plain",
        "aesthetic": OUT / "sdxl-tiny-aesthetic",
    }
    if not skip_export:
        with tempfile.TemporaryDirectory() as tmp:
            tok = write_tokenizer(Path(tmp) / "tok", VOCAB_SIZE)
            tok.save_pretrained(Path(tmp) / "tok")
            # SDXL's tokenizer_2 (stabilityai/stable-diffusion-xl-base-1.0) pads with `!`.
            from transformers import CLIPTokenizer

            tok2 = CLIPTokenizer.from_pretrained(Path(tmp) / "tok", pad_token="!")
            assert tok2.pad_token_id == 0, tok2.pad_token_id
            for kind, channels in (("inpaint", 9), ("plain", 4), ("aesthetic", 4)):
                pipe = build_sdxl_pipeline(tok, tok2, channels, aesthetic=kind == "aesthetic")
                export_sdxl(pipe, folders[kind])
    record_sdxl_cases(folders)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench-unet", type=Path, help="write an SD-1.5-sized random pipeline here")
    parser.add_argument("--skip-export", action="store_true", help="reuse the exported folders")
    parser.add_argument("--only", choices=("sd15", "sdxl"), help="make one family's fixtures only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.only != "sd15":
        OUT.mkdir(parents=True, exist_ok=True)
        make_sdxl(args.skip_export)
    if args.only == "sdxl":
        return
    if args.bench_unet:
        with tempfile.TemporaryDirectory() as tmp:
            tok = write_tokenizer(Path(tmp) / "tok", VOCAB_SIZE)
            # Validation would run the SD-sized graphs in torch and ORT once more: minutes, no gain.
            export(build_pipeline(tok, 9, sized_like_sd15=True), args.bench_unet, validate=False)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    folders = {"inpaint": OUT / "sd15-tiny-inpaint", "plain": OUT / "sd15-tiny-plain"}
    if not args.skip_export:
        with tempfile.TemporaryDirectory() as tmp:
            tok = write_tokenizer(Path(tmp) / "tok", VOCAB_SIZE)
            for kind, channels in (("inpaint", 9), ("plain", 4)):
                export(build_pipeline(tok, channels), folders[kind])
    write_nan_unet(OUT / "nan_unet.onnx")
    write_fp16_copy(folders["inpaint"], OUT / "sd15-tiny-inpaint-fp16")
    record_cases(folders)


if __name__ == "__main__":
    main()
