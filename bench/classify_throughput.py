#!/usr/bin/env python3
"""Throughput of `carepulse classify` (sentiment + category + rules, the whole ingest
pipeline, JSON output included) on the 4,200 VADER ground-truth tweets repeated to
1,000,000 texts, pinned to one CPU (taskset) and then on all CPUs, against the reference
Python vaderSentiment 3.3.2 (sentiment only, one thread) on the same machine in the same
run. Prints the three rates and both ratios; --single-core skips the all-CPUs run.

The three are measured in turn, --rounds times (default 3), so that each round's ratio
compares runs made moments apart: on a shared machine, speed drifts from minute to minute.
The result is the median of the rounds' ratios.

The reference is timed on the first --ref-texts texts of the same repeated stream (default
84,000 = 20 repetitions; its rate is steady, so timing all 1,000,000 would only take longer).

Usage: bench/classify_throughput.py [--bin PATH] [--n 1000000] [--ref-texts 84000]
                                    [--rounds 3] [--single-core]
Build first: cargo build --release.
"""

import argparse
import os
import statistics
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
    ap.add_argument("--rounds", type=int, default=3)
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

    sia = SentimentIntensityAnalyzer()
    ref = stream[: args.ref_texts]

    def run_reference():
        t0 = time.perf_counter()
        for t in ref:
            sia.polarity_scores(t)
        return len(ref) / (time.perf_counter() - t0)

    rounds = []
    try:
        for r in range(1, max(1, args.rounds) + 1):
            single_rate = args.n / run_rust(True)
            multi_rate = None if args.single_core else args.n / run_rust(False)
            py_rate = run_reference()
            rounds.append((py_rate, single_rate, multi_rate))
            print(f"round {r}: reference {py_rate:,.0f} texts/s; carepulse one CPU {single_rate:,.0f} texts/s "
                  f"= {single_rate / py_rate:.1f}x", end="")
            if multi_rate is not None:
                print(f"; all {os.cpu_count()} CPUs {multi_rate:,.0f} texts/s = {multi_rate / py_rate:.1f}x", end="")
            print(flush=True)
    finally:
        os.unlink(path)

    med = statistics.median
    py_rate = med(x[0] for x in rounds)
    single_rate = med(x[1] for x in rounds)
    single_ratio = med(x[1] / x[0] for x in rounds)
    print(f"machine load average (1 min) when the run started: {load0:.2f} on {os.cpu_count()} CPUs")
    print(f"medians of {len(rounds)} rounds, {args.n} texts per carepulse run, {len(ref)} per reference run:")
    print(f"reference vaderSentiment (sentiment only, one thread): {py_rate:,.0f} texts/s")
    print(f"carepulse classify (full pipeline, one CPU): {single_rate:,.0f} texts/s = {single_ratio:.1f}x the reference")
    best = single_ratio
    if not args.single_core:
        multi_rate = med(x[2] for x in rounds)
        multi_ratio = med(x[2] / x[0] for x in rounds)
        best = max(best, multi_ratio)
        print(f"carepulse classify (full pipeline, all {os.cpu_count()} CPUs): {multi_rate:,.0f} texts/s = "
              f"{multi_ratio:.1f}x the reference")
    print(f"speed-up (best of the above): {best:.1f}x (bar: 20x)")
    print(f"machine load average (1 min) when the run ended: {os.getloadavg()[0]:.2f}")
    if not args.single_core:
        print(f"ALL-CPU RATIO: {multi_ratio:.1f}x the reference (bar: 20x)")
    return 0 if best >= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
