#!/usr/bin/env python3
"""Throughput of `carepulse classify` (sentiment + category + rules, the whole ingest
pipeline, one process, one thread) on the 4,200 VADER ground-truth tweets repeated to
1,000,000 texts, against the reference Python vaderSentiment 3.3.2 (sentiment only) on the
same machine in the same run.

The reference is timed on the first --ref-texts texts of the same repeated stream (default
84,000 = 20 repetitions; its rate is steady, so timing all 1,000,000 would only take longer).

Usage: bench/classify_throughput.py [--bin PATH] [--n 1000000] [--ref-texts 84000]
Build first: cargo build --release.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin", default=os.path.join(target, "release", "carepulse"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "vader", "tweets_GroundTruth.txt"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--ref-texts", type=int, default=84_000)
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"{args.bin} not found: cargo build --release first, or pass --bin")

    texts = []
    with open(args.data, "rb") as f:
        for line in f.read().decode("utf-8", "replace").split("\n"):
            parts = line.rstrip("\r").split("\t", 2)
            if len(parts) == 3:
                texts.append(parts[2])
    stream = [texts[i % len(texts)] for i in range(args.n)]

    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(("\n".join(stream) + "\n").encode())
        path = f.name
    try:
        with open(path, "rb") as inp:
            t0 = time.perf_counter()
            out = subprocess.run([args.bin, "classify", "--format", "json"], stdin=inp,
                                 stdout=subprocess.PIPE, check=True).stdout
            rust_s = time.perf_counter() - t0
    finally:
        os.unlink(path)
    lines = out.count(b"\n")
    assert lines == args.n, (lines, args.n)
    rust_rate = args.n / rust_s

    sia = SentimentIntensityAnalyzer()
    ref = stream[: args.ref_texts]
    t0 = time.perf_counter()
    for t in ref:
        sia.polarity_scores(t)
    py_s = time.perf_counter() - t0
    py_rate = len(ref) / py_s

    print(f"carepulse classify (full pipeline): {args.n} texts in {rust_s:.1f} s = {rust_rate:,.0f} texts/s")
    print(f"reference vaderSentiment (sentiment only): {len(ref)} texts in {py_s:.1f} s = {py_rate:,.0f} texts/s")
    print(f"speed-up: {rust_rate / py_rate:.1f}x (bar: 20x)")
    return 0 if rust_rate / py_rate >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
