#!/usr/bin/env python3
"""Throughput of `carepulse classify` (sentiment + category + rules, the whole ingest
pipeline, JSON output included) on the 4,200 VADER ground-truth tweets repeated to
1,000,000 texts, pinned to one CPU (taskset) and then on all CPUs, against the reference
Python vaderSentiment 3.3.2 (sentiment only, one thread) on the same machine in the same
run. Prints the three rates and both ratios; --single-core skips the all-CPUs run.

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
    ap.add_argument("--single-core", action="store_true", help="only the run pinned to CPU 0 (taskset)")
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

    def run_rust(pin):
        # The output goes to a file, as an import or a shell redirection would write it: read
        # through a pipe, this script would compete with carepulse for the CPUs it measures.
        with open(path, "rb") as inp, tempfile.TemporaryFile("w+b") as out:
            t0 = time.perf_counter()
            cmd = [args.bin, "classify", "--format", "json"]
            if pin:
                cmd = ["taskset", "-c", "0"] + cmd
            subprocess.run(cmd, stdin=inp, stdout=out, check=True)
            secs = time.perf_counter() - t0
            out.seek(0)
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
        assert lines == args.n, (lines, args.n)
        return secs

    try:
        single_s = run_rust(True)
        multi_s = None if args.single_core else run_rust(False)
    finally:
        os.unlink(path)

    sia = SentimentIntensityAnalyzer()
    ref = stream[: args.ref_texts]
    t0 = time.perf_counter()
    for t in ref:
        sia.polarity_scores(t)
    py_s = time.perf_counter() - t0
    py_rate = len(ref) / py_s

    single_rate = args.n / single_s
    print(f"machine load average (1 min) when the run started: {load0:.2f} on {os.cpu_count()} CPUs")
    print(f"reference vaderSentiment (sentiment only, one thread): {len(ref)} texts in {py_s:.1f} s = {py_rate:,.0f} texts/s")
    print(f"carepulse classify (full pipeline, one CPU): {args.n} texts in {single_s:.1f} s = {single_rate:,.0f} texts/s "
          f"= {single_rate / py_rate:.1f}x the reference")
    best = single_rate
    if multi_s is not None:
        multi_rate = args.n / multi_s
        best = max(best, multi_rate)
        print(f"carepulse classify (full pipeline, all {os.cpu_count()} CPUs): {args.n} texts in {multi_s:.1f} s = "
              f"{multi_rate:,.0f} texts/s = {multi_rate / py_rate:.1f}x the reference")
    print(f"speed-up (best of the above): {best / py_rate:.1f}x (bar: 20x)")
    print(f"machine load average (1 min) when the run ended: {os.getloadavg()[0]:.2f}")
    if multi_s is not None:
        print(f"ALL-CPU RATIO: {args.n / multi_s / py_rate:.1f}x the reference (bar: 20x)")
    return 0 if best / py_rate >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
