#!/usr/bin/env python3
"""Turns the detection corpus (JSON lines) into raw HTTP/1.1 requests for the in-process harnesses
(modsec_diff, bench_rules). Requests are built by score.py's own build_request, so the engines see the bytes
the proxy would see.

Output records:  "@@ <id> <expect> <category> <length>\n" + <length> raw bytes + "\n"
Usage: corpus_to_raw.py CORPUS.jsonl OUT.raw [--limit N]
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
detect = os.environ.get("EP_DETECT_DIR") or os.path.join(here, "..", "..", "..", "shared", "bench", "detect")
sys.path.insert(0, detect)
from score import build_request  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else 0
    n = 0
    with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "wb") as out:
        for line in src:
            line = line.strip()
            if not line:
                continue
            c = json.loads(line)
            method, target, hdrs, body = build_request(c, "localhost")
            raw = bytearray()
            raw += ("%s %s HTTP/1.1\r\n" % (method, target)).encode("utf-8")
            for k, v in hdrs:
                raw += k.encode("utf-8") + b": " + v + b"\r\n"
            if body or method.upper() in ("POST", "PUT", "PATCH"):
                raw += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            raw += b"\r\n" + body
            cid = c["id"].replace(" ", "_")
            out.write(("@@ %s %s %s %d\n" % (cid, c["expect"], c.get("category", "-"), len(raw))).encode("utf-8"))
            out.write(bytes(raw) + b"\n")
            n += 1
            if limit and n >= limit:
                break
    print("wrote %d requests to %s" % (n, sys.argv[2]))


if __name__ == "__main__":
    main()
