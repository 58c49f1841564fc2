#!/usr/bin/env python3
"""inpaint-server against IOPaint 1.6.0 itself: the same POST /api/v1/inpaint, end to end.

Starts both servers on 127.0.0.1 (IOPaint's `cv2` model, OpenCV's Navier-Stokes with radius 4;
ours `navier-stokes`, the same algorithm), then measures them alternately, request by request,
so that the shared machine's noise hits both alike:

  * latency of one request at 512² and 2048² (a JPEG photo, a 6 %-area stroke, IOPaint's
    defaults: HD strategy Crop, trigger 800, margin 128), median and p90 over --rounds;
  * throughput with 4 clients at once (16 requests each round);
  * where the time goes: ours from the server's per-request log (decode, queue, model, encode),
    IOPaint's from its own "process time" log line (the model call) and the rest.

Needs a Python with iopaint 1.6.0 importable (see BENCHMARKS.md for how it was installed here)
and a release build of the server:

  cargo build --release -p inpaint-server
  python3 benches/compare_iopaint_server.py --iopaint-python target/iopaint-venv/bin/python
"""
import argparse
import base64
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

IOPAINT_LAUNCHER = r"""
import sys
from fastapi import FastAPI
from iopaint.api import Api
from iopaint.schema import ApiConfig
port = int(sys.argv[1])
app = FastAPI(title="IOPaint")
config = ApiConfig(host="127.0.0.1", port=port, inbrowser=False, model="cv2", no_half=False,
    low_mem=False, cpu_offload=False, disable_nsfw_checker=True, local_files_only=True,
    cpu_textencoder=False, device="cpu", input=None, mask_dir=None, output_dir=None, quality=100,
    enable_interactive_seg=False, interactive_seg_model="vit_b", interactive_seg_device="cpu",
    enable_remove_bg=False, remove_bg_device="cpu", remove_bg_model="briaai/RMBG-1.4",
    enable_anime_seg=False, enable_realesrgan=False, realesrgan_device="cpu",
    realesrgan_model="realesr-general-x4v3", enable_gfpgan=False, gfpgan_device="cpu",
    enable_restoreformer=False, restoreformer_device="cpu")
Api(app, config).launch()
"""


def make_body(side):
    """The sample photo scaled to side², as JPEG, and a stroke mask (PNG), as the app sends them."""
    from PIL import Image, ImageDraw

    photo = Image.open(os.path.join(ROOT, "examples/data/photo.jpg")).convert("RGB")
    photo = photo.resize((side, side), Image.BICUBIC)
    jpeg = io.BytesIO()
    photo.save(jpeg, format="JPEG", quality=95)
    mask = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(mask)
    width = max(4, side // 16)
    draw.line([(side * 0.2, side * 0.3), (side * 0.5, side * 0.55), (side * 0.8, side * 0.5)],
              fill=255, width=width)
    png = io.BytesIO()
    mask.save(png, format="PNG")
    return json.dumps({
        "image": "data:image/jpeg;base64," + base64.b64encode(jpeg.getvalue()).decode(),
        "mask": "data:image/png;base64," + base64.b64encode(png.getvalue()).decode(),
        "hd_strategy": "Crop", "hd_strategy_crop_trigger_size": 800,
        "hd_strategy_crop_margin": 128, "hd_strategy_resize_limit": 1280,
        "cv2_flag": "INPAINT_NS", "cv2_radius": 4, "sd_seed": 42,
    }).encode()


def post(url, body):
    started = time.perf_counter()
    request = urllib.request.Request(url + "/api/v1/inpaint", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        data = response.read()
        if response.status != 200 or len(data) < 100:
            raise RuntimeError(f"{url}: status {response.status}")
    return time.perf_counter() - started


def wait_up(url, proc, log, limit=300):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{url} exited:\n{open(log).read()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/api/v1/model", timeout=2).read()
            return
        except Exception:
            time.sleep(0.5)
    sys.exit(f"{url} did not come up in {limit} s")


def log_tail(path, start):
    with open(path, errors="replace") as f:
        f.seek(start)
        return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iopaint-python", required=True, help="a Python that imports iopaint 1.6.0")
    parser.add_argument("--server", default=os.path.join(ROOT, "target/release/inpaint-server"))
    parser.add_argument("--workers", type=int, default=2, help="inpaint-server --workers")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--sizes", default="512,2048")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="compare-iopaint-")
    iopaint_log, ours_log = os.path.join(work, "iopaint.log"), os.path.join(work, "ours.log")
    launcher = os.path.join(work, "launch_iopaint.py")
    with open(launcher, "w") as f:
        f.write(IOPAINT_LAUNCHER)
    procs = []
    try:
        iopaint = subprocess.Popen([args.iopaint_python, launcher, "18711"],
                                   stdout=open(iopaint_log, "w"), stderr=subprocess.STDOUT)
        procs.append(iopaint)
        ours = subprocess.Popen([args.server, "--port", "18712", "--model", "navier-stokes",
                                 "--workers", str(args.workers), "--queue", "64"],
                                stdout=open(ours_log, "w"), stderr=subprocess.STDOUT,
                                env=dict(os.environ, RUST_LOG="inpaint_server=info", NO_COLOR="1"))
        procs.append(ours)
        servers = {"IOPaint (cv2)": ("http://127.0.0.1:18711", iopaint_log),
                   "inpaint-server (navier-stokes)": ("http://127.0.0.1:18712", ours_log)}
        for url, log in servers.values():
            wait_up(url, iopaint if "18711" in url else ours, log)

        print(f"machine: {os.cpu_count()} cores (shared); rounds: {args.rounds}; "
              f"inpaint-server --workers {args.workers}")
        results = {}
        for side in [int(s) for s in args.sizes.split(",")]:
            body = make_body(side)
            for url, _ in servers.values():  # warm-up
                post(url, body)
            times = {name: [] for name in servers}
            logs = {name: "" for name in servers}
            for _ in range(args.rounds):
                for name, (url, log) in servers.items():
                    start = os.path.getsize(log)
                    times[name].append(post(url, body))
                    logs[name] += log_tail(log, start)
            results[side] = (times, logs, len(body))
            print(f"\n{side}×{side} JPEG, body {len(body) / 1e6:.2f} MB, one client")
            medians = {}
            for name in servers:
                t = sorted(times[name])
                medians[name] = statistics.median(t)
                print(f"  {name:32s} median {medians[name] * 1000:8.1f} ms   "
                      f"p90 {t[int(0.9 * (len(t) - 1))] * 1000:8.1f} ms")
            names = list(servers)
            print(f"  ratio IOPaint / ours: {medians[names[0]] / medians[names[1]]:.1f}×")
            # Where the time goes.
            process = [float(x) for x in re.findall(r"process time: ([0-9.]+)ms", logs[names[0]])]
            if process:
                model = statistics.median(process)
                print(f"  IOPaint: model {model:.1f} ms, the rest (base64+decode, encode, "
                      f"framework) {medians[names[0]] * 1000 - model:.1f} ms")
            parts = {k: [] for k in ("decode_ms", "queue_ms", "model_ms", "encode_ms")}
            for line in logs[names[1]].splitlines():
                for key in parts:
                    m = re.search(key + r"=([0-9.]+)", line)
                    if m:
                        parts[key].append(float(m.group(1)))
            if parts["model_ms"]:
                split = ", ".join(f"{k[:-3]} {statistics.median(v):.1f} ms" for k, v in parts.items())
                print(f"  ours: {split}; HTTP and JSON the rest")

            # Four clients at once, alternating servers.
            rates = {name: [] for name in servers}
            for _ in range(max(2, args.rounds // 4)):
                for name, (url, _) in servers.items():
                    started = time.perf_counter()
                    with ThreadPoolExecutor(4) as pool:
                        list(pool.map(lambda _: post(url, body), range(16)))
                    rates[name].append(16 / (time.perf_counter() - started))
            print(f"  4 clients: " + "; ".join(
                f"{name} {statistics.median(r):.2f} req/s" for name, r in rates.items()))
            r = [statistics.median(rates[n]) for n in names]
            print(f"  throughput ratio ours / IOPaint: {r[1] / r[0]:.1f}×")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
