#!/usr/bin/env python3
"""Throughput of `carepulse classify` (sentiment + category + rules, the whole ingest
pipeline, one process on all cores; with --single-core pinned to one CPU with taskset) on the 4,200 VADER ground-truth tweets repeated to
1,000,000 texts, against the reference Python vaderSentiment 3.3.2 (sentiment only) on the
same machine in the same run.

The reference is timed on the first --ref-texts texts of the same repeated stream (default
84,000 = 20 repetitions; its rate is steady, so timing all 1,000,000 would only take longer).

Usage: bench/classify_throughput.py [--bin PATH] [--n 1000000] [--ref-texts 84000] [--single-core]
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
    ap.add_argument("--single-core", action="store_true", help="pin carepulse to CPU 0 (taskset)")
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

    load0 = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(("\n".join(stream) + "\n").encode())
        path = f.name
    try:
        with open(path, "rb") as inp:
            t0 = time.perf_counter()
            cmd = [args.bin, "classify", "--format", "json"]
            if args.single_core:
                cmd = ["taskset", "-c", "0"] + cmd
            out = subprocess.run(cmd, stdin=inp,
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

    where = "one CPU" if args.single_core else f"{os.cpu_count()} CPUs"
    print(f"machine load average (1 min) when the run started: {load0:.2f} on {os.cpu_count()} CPUs")
    print(f"carepulse classify (full pipeline, {where}): {args.n} texts in {rust_s:.1f} s = {rust_rate:,.0f} texts/s")
    print(f"reference vaderSentiment (sentiment only): {len(ref)} texts in {py_s:.1f} s = {py_rate:,.0f} texts/s")
    print(f"speed-up: {rust_rate / py_rate:.1f}x (bar: 20x)")
    return 0 if rust_rate / py_rate >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
