"""Scores `carepulse alerts backtest` on NAB's five Twitter-volume series.

Usage:
  python3 bench/nab/score.py [--binary PATH] [--data DIR] [--preset balanced] [-- EXTRA ARGS]
  python3 bench/nab/score.py --loso      # leave-one-series-out over a small parameter grid

Runs the release binary (target/release/carepulse, or $CARGO_TARGET_DIR/release/carepulse) on
each series, reads the `alert` column as the detections and prints per-series and overall
normalised NAB scores for the three profiles, next to the published standard-profile results.
Python 3 standard library only.
"""

import argparse
import csv
import io
import itertools
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nab  # noqa: E402

SERIES = ["AAPL", "AMZN", "CRM", "CVS", "FB"]
PUBLISHED = [
    ("ARTime", 83.8),
    ("contextOSE", 76.0),
    ("Numenta HTM", 66.1),
    ("Twitter ADVec", 66.0),
    ("windowed Gaussian", 64.8),
    ("random cut forest", 53.2),
    ("null", 0.0),
    ("perfect", 100.0),
]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def default_binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "carepulse")


def run_backtest(binary, path, extra):
    out = subprocess.run(
        [binary, "alerts", "backtest", "--series", path] + extra,
        check=True, capture_output=True, text=True,
    ).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return [nab.parse_ts(r["timestamp"]) for r in rows], [float(r["alert"]) for r in rows]


def score_series(binary, data, name, extra, cache):
    key = (name, tuple(extra))
    if key not in cache:
        path = os.path.join(data, "Twitter_volume_%s.csv" % name)
        ts, alerts = run_backtest(binary, path, extra)
        wins = nab.load_windows(os.path.join(data, "windows.json"), "Twitter_volume_%s.csv" % name)
        cache[key] = {p: nab.score(ts, alerts, wins, p, 0.5) for p in nab.PROFILES}
        cache[key]["alerts"] = int(sum(alerts))
    return cache[key]


def total(results, profile):
    raw = sum(r[profile]["raw"] for r in results)
    null = sum(r[profile]["null"] for r in results)
    perfect = sum(r[profile]["perfect"] for r in results)
    return nab.normalised(raw, null, perfect)


GRID = [
    ["--z", str(z), "--ratio", str(r)]
    for z, r in itertools.product([4.0, 5.0, 6.0, 7.0, 8.0, 9.0], [1.5, 2.0, 3.0, 4.0])
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=default_binary())
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "nab"))
    ap.add_argument("--preset", default="balanced")
    ap.add_argument("--loso", action="store_true")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        sys.exit("no binary at %s: run `cargo build --release` first or pass --binary" % a.binary)
    base = ["--preset", a.preset] + a.extra
    cache = {}
    if not a.loso:
        results = [score_series(a.binary, a.data, s, base, cache) for s in SERIES]
        print("%-6s %6s %5s %4s %4s %4s %9s %9s %9s" % (
            "series", "alerts", "wins", "det", "fp", "fn", "standard", "low_FP", "low_FN"))
        for s, r in zip(SERIES, results):
            st = r["standard"]
            print("%-6s %6d %5d %4d %4d %4d %9.1f %9.1f %9.1f" % (
                s, r["alerts"], st["windows"], st["windows"] - st["fn"], st["fp"], st["fn"],
                *(nab.normalised(r[p]["raw"], r[p]["null"], r[p]["perfect"]) for p in
                  ("standard", "reward_low_FP_rate", "reward_low_FN_rate"))))
        print("%-6s %38s %9.1f %9.1f %9.1f" % (
            "ALL", "", total(results, "standard"), total(results, "reward_low_FP_rate"),
            total(results, "reward_low_FN_rate")))
        print("\npublished (standard, these five series): " +
              ", ".join("%s %.1f" % p for p in PUBLISHED))
        return
    # Leave-one-series-out: pick the grid point that scores best (standard) on four series,
    # then score the held-out fifth with it.
    held_results = []
    for held in SERIES:
        train = [s for s in SERIES if s != held]
        best = max(GRID, key=lambda g: total(
            [score_series(a.binary, a.data, s, base + g, cache) for s in train], "standard"))
        r = score_series(a.binary, a.data, held, base + best, cache)
        held_results.append(r)
        st = r["standard"]
        print("held out %-5s params %-28s train %5.1f  held-out %5.1f" % (
            held, " ".join(best),
            total([score_series(a.binary, a.data, s, base + best, cache) for s in train], "standard"),
            nab.normalised(st["raw"], st["null"], st["perfect"])))
    print("LOSO overall (held-out series pooled): standard %.1f, low_FP %.1f, low_FN %.1f" % (
        total(held_results, "standard"), total(held_results, "reward_low_FP_rate"),
        total(held_results, "reward_low_FN_rate")))


if __name__ == "__main__":
    main()
