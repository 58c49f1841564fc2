#!/usr/bin/env python3
"""Fetches CLIP's real BPE vocabulary and writes it as a `tokenizer/` folder's vocab.json and
merges.txt, for the tokenizer check (scripts/test-clip-tokenizer.sh).

The data ships in the open-clip-torch wheel on PyPI (MIT licence) as
`open_clip/bpe_simple_vocab_16e6.txt.gz`; the wheel and that file are checked against pinned
sha256 digests. The folder is built as OpenAI's `SimpleTokenizer` builds its encoder (and as
the vocab.json/merges.txt of every Stable Diffusion tokenizer folder were made): the 256 byte
symbols, the same with `</w>`, one symbol per merge, then `<|startoftext|>` and
`<|endoftext|>` — 49,408 ids and 48,894 merges.

    python3 scripts/fetch-clip-vocab.py target/clip-vocab

Only the standard library and pip are used. Does nothing when the folder already holds the
expected files. The vocabulary is not committed to the repository.
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "open_clip_torch-3.3.0-py3-none-any.whl"
WHEEL_PIN = "open_clip_torch==3.3.0"
WHEEL_SHA256 = "c549ad5ed6bfc119cc11105033c0a2b9d7a2a4afeb40a58a09aab3da1a0043ce"
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
# Digests of the files this script writes, so a stale or damaged folder is rebuilt.
VOCAB_SHA256 = "3f0c4f7d2086b61b38487075278ea9ed04edb53a03cbb045b86c27190fa8fb69"
MERGES_SHA256 = "9fd691f7c8039210e0fced15865466c65820d09b63988b0174bfe25de299051a"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bytes_to_unicode() -> dict:
    """GPT-2's printable stand-ins for the 256 bytes: the printable Latin-1 bytes stand for
    themselves, the others take the code points from U+0100 on. Insertion order matters: it is
    the order of the first 256 ids."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def build(bpe_gz: bytes) -> tuple:
    """vocab.json and merges.txt (as bytes) from bpe_simple_vocab_16e6.txt.gz."""
    lines = gzip.decompress(bpe_gz).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    encoder = {token: i for i, token in enumerate(vocab)}
    assert len(encoder) == 49408 and len(merges) == 48894, (len(encoder), len(merges))
    vocab_json = json.dumps(encoder, ensure_ascii=False).encode("utf-8")
    merges_txt = ("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n").encode("utf-8")
    return vocab_json, merges_txt


def fetch_wheel(work: str) -> bytes:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
         "--no-deps", "--only-binary=:all:", "--dest", work, WHEEL_PIN],
        check=True,
    )
    with open(os.path.join(work, WHEEL), "rb") as f:
        wheel = f.read()
    if sha256(wheel) != WHEEL_SHA256:
        sys.exit(f"{WHEEL}: sha256 {sha256(wheel)}, expected {WHEEL_SHA256}")
    return wheel


def write_atomically(path: str, data: bytes) -> None:
    with open(path + ".partial", "wb") as f:
        f.write(data)
    os.replace(path + ".partial", path)


def up_to_date(out: str) -> bool:
    for name, digest in [("vocab.json", VOCAB_SHA256), ("merges.txt", MERGES_SHA256)]:
        try:
            with open(os.path.join(out, name), "rb") as f:
                if sha256(f.read()) != digest:
                    return False
        except FileNotFoundError:
            return False
    return True


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    out = sys.argv[1]
    if up_to_date(out):
        print(f"{out}: CLIP vocabulary already there", file=sys.stderr)
        return
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as work:
        wheel = fetch_wheel(work)
    bpe_gz = zipfile.ZipFile(io.BytesIO(wheel)).read(BPE_MEMBER)
    if sha256(bpe_gz) != BPE_SHA256:
        sys.exit(f"{BPE_MEMBER}: sha256 {sha256(bpe_gz)}, expected {BPE_SHA256}")
    vocab_json, merges_txt = build(bpe_gz)
    for name, data, digest in [("vocab.json", vocab_json, VOCAB_SHA256), ("merges.txt", merges_txt, MERGES_SHA256)]:
        if sha256(data) != digest:
            sys.exit(f"built {name} has sha256 {sha256(data)}, expected {digest}")
        write_atomically(os.path.join(out, name), data)
    print(f"{out}: vocab.json (49,408 ids) and merges.txt (48,894 merges) written", file=sys.stderr)


if __name__ == "__main__":
    main()
