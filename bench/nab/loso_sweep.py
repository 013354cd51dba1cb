"""Leave-one-series-out over a parameter sweep: reads the CSVs written by
`cargo test --test alerts_nab_sweep -- --ignored` (same CP_SETS, same CP_OUT), and for each of
the five series picks the override set that scores best (standard profile, pooled) on the other
four, then scores the held-out series with it. Prints each fold and the pooled held-out scores
for the three profiles. Python 3 standard library only.
Usage: CP_OUT=... CP_SETS='[...]' python3 bench/nab/loso_sweep.py"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nab  # noqa: E402

SERIES = ["AAPL", "AMZN", "CRM", "CVS", "FB"]
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data", "nab")


def load(out, i, s):
    rows = list(csv.DictReader(open(os.path.join(out, "%d_%s.csv" % (i, s)))))
    ts = [nab.parse_ts(r["timestamp"]) for r in rows]
    al = [float(r["alert"]) for r in rows]
    w = nab.load_windows(os.path.join(DATA, "windows.json"), "Twitter_volume_%s.csv" % s)
    return {p: nab.score(ts, al, w, p, 0.5) for p in nab.PROFILES}


def pooled(results, profile):
    return nab.normalised(sum(r[profile]["raw"] for r in results),
                          sum(r[profile]["null"] for r in results),
                          sum(r[profile]["perfect"] for r in results))


def main():
    out = os.environ.get("CP_OUT", "/tmp")
    sets = json.loads(os.environ.get("CP_SETS", "[{}]"))
    res = {(i, s): load(out, i, s) for i in range(len(sets)) for s in SERIES}
    held = []
    for h in SERIES:
        train = [s for s in SERIES if s != h]
        best = max(range(len(sets)), key=lambda i: pooled([res[(i, s)] for s in train], "standard"))
        r = res[(best, h)]
        held.append(r)
        print("held out %-5s set %-45s train %5.1f  held-out %5.1f" % (
            h, json.dumps(sets[best]), pooled([res[(best, s)] for s in train], "standard"),
            pooled([r], "standard")))
    print("LOSO pooled held-out: standard %.1f, low_FP %.1f, low_FN %.1f" % tuple(
        pooled(held, p) for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate")))


if __name__ == "__main__":
    main()
