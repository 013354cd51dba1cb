"""Scores the demo series backtested by the sweep (`CP_DEMO` set for both
`cargo test --test alerts_demo -- --ignored` and `... --test alerts_nab_sweep -- --ignored`) the
way tests/alerts_demo.rs does: posts merged over the brand's series per bucket, false alarms per
week outside the outage windows, and each outage's detection delay (minutes, from the outage
onset to the close of the first firing bucket). Python 3 standard library only.
Usage: CP_OUT=... CP_DEMO=... CP_SETS='[...]' python3 bench/nab/demo_score.py"""
import csv
import json
import os

BUCKET = 300
DAYS = 35
WARMUP = 86_400


def evaluate(out, demo, i):
    outages = [int(x) for x in open(os.path.join(demo, "demo_outages.txt")).read().split()]
    posts = set()
    start = None
    for name in os.listdir(out):
        if not (name.startswith("%d_demo_" % i) and name.endswith(".csv")):
            continue
        for r in csv.DictReader(open(os.path.join(out, name))):
            at = int(r["timestamp"])
            start = at if start is None else min(start, at)
            if r["alert"] == "1":
                posts.add(at)
    if start is None:
        return None

    def in_outage(a):
        return any(o - BUCKET <= a < o + 4 * 3600 for o in outages)

    fa = sorted(a for a in posts if not in_outage(a))
    delays = []
    for o in outages:
        if o < start + WARMUP:
            continue
        hits = [a for a in sorted(posts) if o < a + BUCKET and a < o + 4 * 3600]
        delays.append((hits[0] + BUCKET - o) // 60 if hits else None)
    return len(fa) / (DAYS / 7.0), delays


def main():
    out = os.environ.get("CP_OUT", "/tmp")
    demo = os.environ.get("CP_DEMO", "/tmp")
    sets = json.loads(os.environ.get("CP_SETS", "[{}]"))
    for i, st in enumerate(sets):
        r = evaluate(out, demo, i)
        if r is None:
            continue
        rate, delays = r
        ok = rate < 1.0 and all(d is not None and d <= 15 for d in delays)
        print("%-60s FA/week %.2f delays(min) %s %s" % (json.dumps(st), rate, delays,
                                                     "MEETS" if ok else ""))


if __name__ == "__main__":
    main()
