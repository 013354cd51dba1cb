"""Numenta Anomaly Benchmark scoring, Python 3 standard library only.

Implements NAB's rules (nab/sweeper.py, v1.1):
- probationary period: the first min(floor(0.15 * rows), 0.15 * 5000) rows are ignored;
- each labelled window is scored by its earliest detection only (later ones in the same window
  count as true-positive rows but add nothing), rewarded by the scaled sigmoid of the detection's position in the
  window, normalised so that a detection on the window's first row earns exactly A_tp;
- a window with no detection costs A_fn;
- every detection outside a window is a false positive weighted by A_fp; one after a window is
  scaled by the sigmoid of its distance past that window (close misses cost less), one before
  any window costs the full A_fp;
- a file's normalised score is 100 * (raw - null) / (perfect - null), where the null detector
  never fires and the perfect one fires on each window's first row.
"""

import csv
import json
import math
from datetime import datetime

PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}

PROBATION_PERCENT = 0.15


def scaled_sigmoid(x):
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def probation_rows(n):
    return min(math.floor(PROBATION_PERCENT * n), PROBATION_PERCENT * 5000)


def parse_ts(s):
    s = s.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            pass
    raise ValueError("bad timestamp %r" % s)


def load_windows(path, name):
    """Windows of one series as (start, end) datetimes; `name` is the file's base name."""
    with open(path) as f:
        data = json.load(f)
    for key, wins in data.items():
        if key.split("/")[-1] == name:
            return [(parse_ts(a), parse_ts(b)) for a, b in wins]
    raise KeyError("no windows for %s in %s" % (name, path))


def window_indices(timestamps, windows):
    """Map each window to (first row, last row) inside it."""
    out = []
    for start, end in windows:
        idx = [i for i, t in enumerate(timestamps) if start <= t <= end]
        if idx:
            out.append((idx[0], idx[-1]))
    return out


def row_weights(n, wins, profile):
    """Per-row (window id or None, weighted score) as NAB's sweeper assigns them."""
    p = PROFILES[profile]
    max_tp = scaled_sigmoid(-1.0)
    win_of = [None] * n
    weight = [0.0] * n
    prev_right = None
    prev_width = None
    wi = 0
    for i in range(n):
        while wi < len(wins) and wins[wi][1] < i:
            prev_right, prev_width = wins[wi][1], wins[wi][1] - wins[wi][0] + 1
            wi += 1
        if wi < len(wins) and wins[wi][0] <= i <= wins[wi][1]:
            left, right = wins[wi]
            width = float(right - left + 1)
            pos = -(right - i + 1) / width
            win_of[i] = wi
            weight[i] = scaled_sigmoid(pos) * p["tp"] / max_tp
        else:
            if prev_right is None:
                unweighted = -1.0
            else:
                unweighted = scaled_sigmoid(abs(prev_right - i) / float(prev_width - 1))
            weight[i] = unweighted * p["fp"]
    return win_of, weight


def score(timestamps, scores, windows, profile="standard", threshold=0.5):
    """Raw NAB score of one file. Returns dict(raw, null, perfect, tp, fp, fn, detected)."""
    n = len(timestamps)
    p = PROFILES[profile]
    wins = window_indices(timestamps, windows)
    win_of, weight = row_weights(n, wins, profile)
    probation = probation_rows(n)
    raw = -p["fn"] * len(wins)
    detected = set()
    tp = fp = 0
    for i in range(n):
        if scores[i] < threshold or i < probation:
            continue
        w = win_of[i]
        if w is None:
            fp += 1
            raw += weight[i]
        else:
            tp += 1
            if w not in detected:
                detected.add(w)
                raw += weight[i] + p["fn"]
    null = -p["fn"] * len(wins)
    perfect = p["tp"] * len(wins)
    return {
        "raw": raw,
        "null": null,
        "perfect": perfect,
        "tp": tp,
        "fp": fp,
        "fn": len(wins) - len(detected),
        "windows": len(wins),
    }


def normalised(raw, null, perfect):
    return 100.0 * (raw - null) / (perfect - null)


def read_series(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows
