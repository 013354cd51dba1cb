"""Checks the NAB scorer on the known case: Numenta HTM's output on Twitter_volume_AAPL at
threshold 0.5421876907 with the standard profile gives raw score 1.2639, 11 true-positive rows
and 6 false-positive rows. Usage: python3 bench/nab/check_scorer.py [DATA_DIR]"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nab  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data", "nab")
    rows = nab.read_series(os.path.join(data, "numenta_HTM_output_AAPL.csv"))
    ts = [nab.parse_ts(r["timestamp"]) for r in rows]
    sc = [float(r["anomaly_score"]) for r in rows]
    wins = nab.load_windows(os.path.join(data, "windows.json"), "Twitter_volume_AAPL.csv")
    r = nab.score(ts, sc, wins, "standard", 0.5421876907)
    print("raw %.4f tp %d fp %d fn %d" % (r["raw"], r["tp"], r["fp"], r["fn"]))
    ok = abs(r["raw"] - 1.2639) < 5e-4 and r["tp"] == 11 and r["fp"] == 6
    print("scorer check: %s" % ("ok" if ok else "MISMATCH (expected raw 1.2639, 11 TP, 6 FP)"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
