#!/usr/bin/env python3
"""Write SDXL-sized random-weight ONNX folders (Optimum's layout) for benches/compare_diffusion.py,
on a machine with less memory than a stock export needs.

    scripts/diffusion-fixtures-env.sh                      # once: the heavy environment (torch, diffusers)
    python benches/make_sdxl_bench.py OUT [--dtypes fp32 fp16] [--plain]

writes `OUT/sdxl-inpaint-fp32/` and `OUT/sdxl-inpaint-fp16/` (with `--plain`, a 4-channel UNet:
`OUT/sdxl-fp32/`...). Shapes are those of diffusers/stable-diffusion-xl-1.0-inpainting-0.1: UNet
320/640/1280 with 1/2/10 transformer layers, cross-attention 2048, `text_time` conditioning
(2.6 G parameters, 10.3 GB in float32); CLIP ViT-L text encoder (12 × 768); OpenCLIP bigG
text encoder with projection (32 × 1280); VAE 128/256/512/512. The tokenizers, scheduler and
the configs' ids come from the committed tiny SDXL fixture (its vocabulary is small; the
embedding lookup's size does not change the timings). Not committed: about 14 GB (fp32) and
7 GB (fp16).

Why not Optimum's `main_export`: it holds the torch weights, a constant-folded copy and the
ONNX model at once (over 24 GB for this UNet). Here torch traces each graph without its
weights (`export_params=False`, so they stay graph inputs), and the weights are then streamed
into an external-data file one tensor at a time, each `Transpose` of a weight folded as it is
written (what the exporter's constant folding would have done). Peak memory is the torch
model plus one tensor. The float16 folder is the same graph through ONNX Runtime's float16
converter (as the tiny fp16 fixture; Optimum's own `--dtype fp16` export needs a GPU), the
weights cast as they are written. Input and output names, dtypes and dynamic axes are
Optimum's (checked against the tiny fixture's graphs before anything is written).
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "inpaint-models" / "tests" / "fixtures" / "diffusion"


class TextEncoder(torch.nn.Module):
    """Optimum's text-encoder outputs: the model's own, then `hidden_states.0..N`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        out = self.model(input_ids, output_hidden_states=True, return_dict=True)
        if hasattr(out, "text_embeds"):
            return (out.text_embeds, out.last_hidden_state, *out.hidden_states)
        return (out.last_hidden_state, out.pooler_output, *out.hidden_states)


class UNet(torch.nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids):
        return self.unet(
            sample, timestep, encoder_hidden_states,
            added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}, return_dict=False,
        )[0]


class VaeEncoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.encode(sample).latent_dist.parameters


class VaeDecoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample).sample


def ports(path):
    model = onnx.load(path, load_external_data=False)
    return [(v.name, v.type.tensor_type.elem_type, len(v.type.tensor_type.shape.dim))
            for v in (*model.graph.input, *model.graph.output)]


def export_graph(module, args, names, dynamic_axes, folders):
    """Traces `module` without its weights, then writes `model.onnx` + `model.onnx_data` into
    `folders[dtype]` for each dtype, streaming the weights."""
    inputs, outputs = names
    weights = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    with tempfile.TemporaryDirectory() as tmp:
        skeleton = Path(tmp) / "skeleton.onnx"
        with torch.no_grad():
            torch.onnx.export(
                module, args, skeleton, input_names=inputs, output_names=outputs,
                dynamic_axes=dynamic_axes, opset_version=17, export_params=False,
                keep_initializers_as_inputs=True, do_constant_folding=False, dynamo=False,
            )
        traced = skeleton.read_bytes()
    for dtype, folder in folders.items():
        model = onnx.ModelProto.FromString(traced)
        if dtype == "fp16":
            from onnxruntime.transformers.float16 import convert_float_to_float16

            model = convert_float_to_float16(model, keep_io_types=False, disable_shape_infer=True)
            keep_resize_scales_float32(model)
        attach_weights(model, weights, set(inputs), folder)


def keep_resize_scales_float32(model):
    """The converter turns the traced `scales` of each `Resize` (computed, not a constant,
    since nothing was folded) into float16, which ONNX forbids; cast them back."""
    nodes = []
    for node in model.graph.node:
        if node.op_type == "Resize" and len(node.input) > 2 and node.input[2]:
            scales = node.input[2] + "_float32"
            nodes.append(helper.make_node("Cast", [node.input[2]], [scales], to=TensorProto.FLOAT,
                                          name=node.name + "_scales_float32"))
            node.input[2] = scales
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def attach_weights(model, weights, real_inputs, folder: Path):
    graph = model.graph
    params = {v.name: v for v in graph.input if v.name not in real_inputs}
    missing = sorted(set(params) - set(weights))
    if missing:
        raise SystemExit(f"graph inputs that are not weights: {missing[:5]}")
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    # Fold `Transpose(weight)`: the transposed weight is written instead, under the node's output name.
    folded, dropped = {}, set()
    for node in graph.node:
        if node.op_type == "Transpose" and node.input[0] in params:
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            folded[node.output[0]] = (node.input[0], perm)
            dropped.add(id(node))
    kept = [n for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in graph.node for name in node.input}
    folder.mkdir(parents=True, exist_ok=True)
    data_name = "model.onnx_data"
    offset = 0
    with open(folder / data_name, "wb") as data:
        def write(name, array, elem_type):
            nonlocal offset
            array = np.ascontiguousarray(array.astype(helper.tensor_dtype_to_np_dtype(elem_type)))
            raw = array.tobytes()
            # 4 KiB alignment, as onnx's own external-data writer does for large tensors.
            pad = (-offset) % 4096
            data.write(b"\0" * pad)
            offset += pad
            data.write(raw)
            tensor = TensorProto(name=name, data_type=elem_type, dims=array.shape)
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            offset += len(raw)
            graph.initializer.append(tensor)

        for name, value in params.items():
            if name in used:
                write(name, weights[name].detach().numpy(), value.type.tensor_type.elem_type)
        for name, (source, perm) in folded.items():
            array = weights[source].detach().numpy()
            write(name, np.transpose(array, perm), params[source].type.tensor_type.elem_type)
    kept_inputs = [v for v in graph.input if v.name in real_inputs]
    del graph.input[:]
    graph.input.extend(kept_inputs)
    onnx.save(model, folder / "model.onnx")


def build(tiny: Path, plain: bool):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    config = json.loads((tiny / "unet" / "config.json").read_text())
    config.update(
        in_channels=4 if plain else 9, sample_size=128, layers_per_block=2,
        block_out_channels=[320, 640, 1280], norm_num_groups=32,
        transformer_layers_per_block=[1, 2, 10], attention_head_dim=[5, 10, 20],
        cross_attention_dim=2048, addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
    )
    unet = UNet2DConditionModel.from_config(config).eval()
    text = CLIPTextConfig.from_pretrained(tiny / "text_encoder")
    text.update(dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                     num_attention_heads=12, projection_dim=768))
    text_2 = CLIPTextConfig.from_pretrained(tiny / "text_encoder_2")
    text_2.update(dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                       num_attention_heads=20, projection_dim=1280))
    vae = json.loads((tiny / "vae_encoder" / "config.json").read_text())
    vae.update(block_out_channels=[128, 256, 512, 512], layers_per_block=2, norm_num_groups=32,
               sample_size=1024)
    return dict(
        unet=unet, text_encoder=CLIPTextModel(text).eval(),
        text_encoder_2=CLIPTextModelWithProjection(text_2).eval(),
        vae=AutoencoderKL.from_config(vae).eval(),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--dtypes", nargs="+", choices=("fp32", "fp16"), default=["fp32", "fp16"])
    parser.add_argument("--plain", action="store_true", help="a 4-channel UNet (plain SDXL)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    stem = "sdxl" if args.plain else "sdxl-inpaint"
    tiny = FIXTURES / ("sdxl-tiny-plain" if args.plain else "sdxl-tiny-inpaint")
    folders = {dtype: args.out / f"{stem}-{dtype}" for dtype in args.dtypes}
    for folder in folders.values():
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(tiny, folder, ignore=shutil.ignore_patterns("*.onnx", "*.onnx_data"))
    models = build(tiny, args.plain)
    channels = models["unet"].config.in_channels
    text_axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}}
    ids = torch.ones((1, 77), dtype=torch.int64)
    graphs = [
        ("text_encoder", TextEncoder(models["text_encoder"]), (ids,), ["input_ids"],
         ["last_hidden_state", "pooler_output", *(f"hidden_states.{i}" for i in range(13))], text_axes),
        ("text_encoder_2", TextEncoder(models["text_encoder_2"]), (ids,), ["input_ids"],
         ["text_embeds", "last_hidden_state", *(f"hidden_states.{i}" for i in range(33))], text_axes),
        ("vae_encoder", VaeEncoder(models["vae"]), (torch.zeros(1, 3, 64, 64),), ["sample"],
         ["latent_parameters"], {"sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"}}),
        ("vae_decoder", VaeDecoder(models["vae"]), (torch.zeros(1, 4, 8, 8),), ["latent_sample"],
         ["sample"], {"latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"}}),
        ("unet", UNet(models["unet"]),
         (torch.zeros(1, channels, 32, 32), torch.tensor(999.0), torch.zeros(1, 77, 2048),
          torch.zeros(1, 1280), torch.zeros(1, 6)),
         ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"], ["out_sample"],
         {"sample": {0: "batch_size", 2: "height", 3: "width"},
          "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
          "text_embeds": {0: "batch_size"}, "time_ids": {0: "batch_size"},
          "out_sample": {0: "batch_size", 2: "height", 3: "width"}}),
    ]
    for name, module, example, inputs, outputs, axes in graphs:
        print(f"{name}: tracing", flush=True)
        export_graph(module, example, (inputs, outputs), axes,
                     {dtype: folder / name for dtype, folder in folders.items()})
        # The layer count differs from the tiny fixture's, so `hidden_states.N` are left out.
        ours, theirs = ([(n, r) for n, _, r in ports(path) if not n.startswith("hidden_states.")]
                        for path in (folders[args.dtypes[0]] / name / "model.onnx", tiny / name / "model.onnx"))
        if ours != theirs:
            raise SystemExit(f"{name}: ports {ours} differ from the tiny fixture's {theirs}")
    for folder in folders.values():
        models["unet"].save_config(folder / "unet")
        models["text_encoder"].config.save_pretrained(folder / "text_encoder")
        models["text_encoder_2"].config.save_pretrained(folder / "text_encoder_2")
        for part in ("vae_encoder", "vae_decoder"):
            models["vae"].save_config(folder / part)
            if folder.name.endswith("fp16"):
                # A float16 VAE stands for madebyollin/sdxl-vae-fp16-fix (same shapes), which
                # does not ask for float32; the loader refuses a float16 VAE that does.
                config = json.loads((folder / part / "config.json").read_text())
                config["force_upcast"] = False
                (folder / part / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        print(f"wrote {folder}", flush=True)


if __name__ == "__main__":
    main()
