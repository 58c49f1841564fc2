#!/usr/bin/env python3
"""Serves every model of a Triton model repository (`<name>/1/model.onnx`, as `models
export-triton` writes it) with KServe's own model server, on 127.0.0.1 only, through
onnxruntime: the real engine of scripts/test-remote.sh.

    .venv-kserve/bin/python scripts/kserve-predictor.py REPOSITORY PORT

Stock KServe: its REST data plane, its binary tensor extension, its error handling. The only
change is where it listens (its REST server binds 0.0.0.0; the tests stay on loopback).
KServe decodes binary inputs element by element, which makes it slow at 512x512: that is its
cost, measured and reported in BENCHMARKS.md, not patched here.
"""

import sys
from pathlib import Path

import onnxruntime as ort
import uvicorn

import kserve.protocol.rest.server as rest_server
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

DATATYPES = {
    "tensor(float)": "FP32",
    "tensor(float16)": "FP16",
    "tensor(uint8)": "UINT8",
    "tensor(int64)": "INT64",
}


class LoopbackConfig(uvicorn.Config):
    """uvicorn's config, always on 127.0.0.1."""

    def __init__(self, *args, **kwargs):
        kwargs["host"] = "127.0.0.1"
        super().__init__(*args, **kwargs)


class OnnxPredictor(Model):
    def __init__(self, name: str, path: Path):
        super().__init__(name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.ready = True

    @staticmethod
    def _ports(ports):
        return [
            {
                "name": p.name,
                "datatype": DATATYPES.get(p.type, p.type),
                "shape": [d if isinstance(d, int) else -1 for d in p.shape],
            }
            for p in ports
        ]

    def get_input_types(self):
        return self._ports(self.session.get_inputs())

    def get_output_types(self):
        return self._ports(self.session.get_outputs())

    async def predict(self, payload: InferRequest, headers=None, response_headers=None):
        feeds = {tensor.name: tensor.as_numpy() for tensor in payload.inputs}
        names = [o.name for o in self.session.get_outputs()]
        results = self.session.run(names, feeds)
        outputs = [
            InferOutput(
                name=name,
                shape=list(value.shape),
                datatype=DATATYPES[port.type],
                data=value,
            )
            for name, value, port in zip(names, results, self.session.get_outputs())
        ]
        return InferResponse(
            response_id=payload.id,
            model_name=self.name,
            infer_outputs=outputs,
            requested_outputs=payload.request_outputs,
        )


def main():
    repository, port = Path(sys.argv[1]), int(sys.argv[2])
    rest_server.uvicorn.Config = LoopbackConfig
    models = [
        OnnxPredictor(folder.name, folder / "1" / "model.onnx")
        for folder in sorted(repository.iterdir())
        if (folder / "1" / "model.onnx").is_file()
    ]
    # Its own argument parser reads sys.argv: leave it only the program name.
    sys.argv = sys.argv[:1]
    ModelServer(http_port=port, enable_grpc=False, workers=1).start(models)


if __name__ == "__main__":
    main()
