#!/usr/bin/env python3
"""VADER parity of `carepulse classify` against the reference vaderSentiment 3.3.2.

Scores every text of the VADER tweets ground truth (tab-separated id, mean, text; CRLF) with
the reference package and with the carepulse binary, and reports:

  1. scorer parity: `carepulse classify --raw` (no markup stripping) against the reference on
     the raw texts: max abs diff of compound/pos/neu/neg and the number of texts above 1e-4;
  2. pipeline parity: `carepulse classify --echo-text` (the ingest pipeline, which strips
     @handles, URLs, HTML tags and entities) against the reference run on the very text the
     pipeline scored;
  3. how many texts the markup stripping changed, and how far the pipeline's scores then are
     from the reference's scores of the raw text (informative, not a parity failure);
  4. accuracy against the human means: Pearson r and 3-class F1 (thresholds +-0.05 on the
     compound, human mean / 4; macro and support-weighted), and the positive/negative F1 on
     the texts humans did not rate neutral, for the reference and for carepulse.

Usage: bench/vader_parity.py [--bin PATH] [--data PATH]
Needs `pip install vaderSentiment==3.3.2` in the interpreter that runs it.
"""

import argparse
import json
import math
import os
import subprocess
import sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = ("compound", "pos", "neu", "neg")
TOL = 1e-4


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for profile in ("release", "debug"):
        p = os.path.join(target, profile, "carepulse")
        if os.path.exists(p):
            return p
    sys.exit("carepulse binary not found: build it (cargo build --release) or pass --bin")


def load(path):
    rows = []
    with open(path, "rb") as f:
        for raw in f.read().decode("utf-8", "replace").split("\n"):
            line = raw.rstrip("\r")
            if not line.strip():
                continue
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            rows.append((parts[0], float(parts[1]), parts[2]))
    return rows


def run_bin(binary, texts, extra):
    for t in texts:
        assert "\n" not in t and "\r" not in t, "texts must be single lines"
    out = subprocess.run(
        [binary, "classify", "--format", "json"] + extra,
        input="\n".join(texts).encode() + b"\n",
        capture_output=True,
        check=True,
    ).stdout.decode()
    res = [json.loads(l) for l in out.splitlines()]
    assert len(res) == len(texts), (len(res), len(texts))
    return res


def diffs(a, b):
    worst, above, worst_text = 0.0, 0, None
    for i, (x, y) in enumerate(zip(a, b)):
        d = max(abs(x[f] - y[f]) for f in FIELDS)
        if d > TOL:
            above += 1
        if d > worst:
            worst, worst_text = d, i
    return worst, above, worst_text


def pearson(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy)


def cls(v):
    return 1 if v >= 0.05 else (-1 if v <= -0.05 else 0)


def f1s(truth, pred, classes=(-1, 0, 1)):
    out = {}
    for c in classes:
        tp = sum(1 for t, p in zip(truth, pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(truth, pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(truth, pred) if t == c and p != c)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        out[c] = (2 * pr * rc / (pr + rc) if pr + rc else 0.0, tp + fn)
    macro = sum(v[0] for v in out.values()) / len(classes)
    weighted = sum(v[0] * v[1] for v in out.values()) / len(truth)
    return macro, weighted


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=None)
    ap.add_argument(
        "--data",
        default=os.path.join(ROOT, "..", "shared", "data", "vader", "tweets_GroundTruth.txt"),
    )
    args = ap.parse_args()
    binary = args.bin or default_bin()
    rows = load(args.data)
    texts = [r[2] for r in rows]
    human = [r[1] for r in rows]
    sia = SentimentIntensityAnalyzer()
    ref_raw = [sia.polarity_scores(t) for t in texts]
    ours_raw = run_bin(binary, texts, ["--raw"])
    ours = run_bin(binary, texts, ["--echo-text"])
    ref_clean = [sia.polarity_scores(o["text"]) for o in ours]

    print(f"texts: {len(texts)} from {args.data}; binary {binary}")
    w, n, i = diffs(ref_raw, ours_raw)
    print(f"1. scorer parity (--raw vs reference on raw text): max abs diff {w:.6f}, texts above {TOL}: {n}")
    if n:
        print(f"   worst: {texts[i]!r} ref={ref_raw[i]} ours={ours_raw[i]}")
    w2, n2, i2 = diffs(ref_clean, ours)
    print(f"2. pipeline parity (pipeline vs reference on the stripped text): max abs diff {w2:.6f}, texts above {TOL}: {n2}")
    if n2:
        print(f"   worst: {ours[i2]['text']!r} ref={ref_clean[i2]} ours={ours[i2]}")
    changed = sum(1 for t, o in zip(texts, ours) if o["text"] != t)
    w3, n3, _ = diffs(ref_raw, ours)
    moved_c = sum(1 for a, b in zip(ref_raw, ours) if abs(a["compound"] - b["compound"]) > TOL)
    print(
        f"3. markup stripping changed {changed} texts; pipeline vs reference on raw text: "
        f"{n3} texts differ in some field (compound differs in {moved_c}), max abs diff {w3:.4f}"
    )
    truth = [cls(h / 4) for h in human]
    for name, scores in (("reference", ref_raw), ("carepulse --raw", ours_raw), ("carepulse pipeline", ours)):
        comp = [s["compound"] for s in scores]
        macro, weighted = f1s(truth, [cls(c) for c in comp])
        # The published 0.96 matches a positive/negative split of the texts humans did not
        # rate neutral (compound >= 0 counts as positive).
        idx = [i for i, t in enumerate(truth) if t != 0]
        bin_macro, _ = f1s([truth[i] for i in idx], [1 if comp[i] >= 0 else -1 for i in idx], (-1, 1))
        print(
            f"4. {name:<19} Pearson r {pearson(comp, human):.3f}; 3-class F1 macro {macro:.3f}, "
            f"weighted {weighted:.3f}; pos/neg F1 on non-neutral texts {bin_macro:.3f} "
            f"(published: r 0.881, F1 0.96)"
        )
    return 0 if n == 0 and n2 == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
