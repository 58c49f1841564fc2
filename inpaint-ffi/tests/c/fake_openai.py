#!/usr/bin/env python3
"""A fake OpenAI-compatible `images/edits` server on 127.0.0.1, for the C tests of "openai-compat".

Usage: fake_openai.py PORT_FILE LOG_FILE KEY [SECONDS]

Binds 127.0.0.1 on a free port, writes the port to PORT_FILE, appends one line per request to
LOG_FILE ("POST /ok/v1/images/edits 200"), and exits after SECONDS (default 900) even if
nobody stops it. Standard library only. Each base URL the tests use is a route:

  /ok/v1           checks the request (the key KEY, the multipart fields in order, PNG image
                   and mask of the size asked for, the prompt "a red bench", n=1) and answers
                   a solid (10, 200, 30) PNG of that size as `b64_json`; any failed check is a
                   400 that names it
  /unauthorized/v1 401 with a message quoting the key, as OpenAI's does
  /fail/v1         500: the tests send here only requests the budget must refuse, so any line
                   for it in LOG_FILE is a failure (scripts/test-c.sh checks)
"""

import base64
import json
import os
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIELDS = ["image", "mask", "prompt", "model", "n", "size", "response_format"]
PROMPT = "a red bench"
COLOR = bytes([10, 200, 30])


def png(width, height, color):
    """A solid RGB PNG."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = (b"\x00" + color * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def png_size(data):
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def fields(content_type, body):
    """The multipart fields, in order: [(name, bytes)]."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    parts = body.split(b"--" + boundary)
    out = []
    for part in parts[1:-1]:
        head, _, value = part[2:-2].partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        out.append((name, value))
    return out


def check(handler, body, key):
    """(why the request is wrong or None, the size asked for)."""
    if handler.headers.get("Authorization") != "Bearer " + key:
        return "wrong Authorization header", None
    got = fields(handler.headers.get("Content-Type", ""), body)
    names = [name for name, _ in got]
    if names != FIELDS:
        return "fields %s, expected %s" % (names, FIELDS), None
    values = dict(got)
    size = values["size"].decode()
    width, height = (int(side) for side in size.split("x"))
    for name in ("image", "mask"):
        if png_size(values[name]) != (width, height):
            return "%s is not a %s PNG" % (name, size), None
    if values["prompt"].decode() != PROMPT:
        return "wrong prompt: %r" % values["prompt"].decode(), None
    if values["n"] != b"1" or values["response_format"] != b"b64_json":
        return "n or response_format wrong", None
    return None, (width, height)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/ok/v1/images/edits":
            problem, size = check(self, body, self.server.key)
            if problem:
                self.answer(400, {"error": {"message": problem}})
            else:
                width, height = size
                b64 = base64.b64encode(png(width, height, COLOR)).decode()
                self.answer(200, {"created": 0, "data": [{"b64_json": b64}]})
        elif self.path == "/unauthorized/v1/images/edits":
            message = "Incorrect API key provided: %s." % self.server.key
            self.answer(401, {"error": {"message": message, "code": "invalid_api_key"}})
        else:
            self.answer(500, {"error": {"message": "this request should not have been sent"}})

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(self.server.log, "a", encoding="utf-8") as log:
            log.write("%s %s %d\n" % (self.command, self.path, status))

    def log_message(self, *args):
        pass


def main():
    port_file, log_file, key = sys.argv[1:4]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 900.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.key = key
    server.log = log_file
    timer = threading.Timer(seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    with open(port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write("%d\n" % server.server_address[1])
    # Renamed into place, so the script never reads half a number.
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
