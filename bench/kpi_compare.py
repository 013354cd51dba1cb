#!/usr/bin/env python3
"""carepulse KPIs side by side with pandas and DuckDB over the same data.

Usage (scratch venv with pandas, duckdb, pyarrow from PyPI):

    python3 -m venv /tmp/kpienv && /tmp/kpienv/bin/pip install pandas duckdb pyarrow
    /tmp/kpienv/bin/python bench/kpi_compare.py --db /tmp/carepulse-kpi-bench/m1.db \
        --bin $CARGO_TARGET_DIR/release/carepulse --window month [--db10 .../m10.db]

The database is one built by `cargo bench --bench kpi` (synthetic care data through
Store::ingest). The script exports the messages and conversation facts to Parquet and CSV once
(next to the database), then in one run:

1. times `carepulse kpi --window W --format json` (wall time of the whole process, median of
   N runs, and the peak resident memory of one more run, from GNU time);
2. computes the same KPI set with pandas (reading the Parquet files) and with DuckDB (SQL over
   the Parquet files), timed the same way (median of N runs, reading included);
3. prints the three side by side and fails if any value differs or if carepulse is not at least
   10x faster than pandas and no slower than DuckDB.

The KPI set and its rules are KPI.md's: volumes and categories by message time; response rate,
FRT mean/median/p90 (nearest rank) and grade of service over actionable conversations started in
the window; backlog at now; resolution (marked, thanks, auto after 24 h of customer silence) by
resolution time; sentiment mean over classified inbound messages.
"""

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import duckdb
import pandas as pd

SLA = 3600
AUTO = 24 * 3600
MSG_COLS = ["created_at", "brand", "platform", "direction", "category", "compound"]
CONV_COLS = [
    "id", "brand", "platform", "first_inbound_at", "first_response_at", "last_message_at",
    "last_inbound_at", "last_outbound_at", "waiting_since", "replies", "thanks_resolved_at",
    "marked_resolved_at", "actionable",
]
KEYS = [
    "inbound_volume", "outbound_volume", "complaints", "praise", "conversations_new",
    "response_rate", "frt_mean_s", "frt_median_s", "frt_p90_s", "gos", "backlog",
    "backlog_oldest_wait_s", "resolved", "resolved_by_us", "resolution_median_s",
    "sentiment_mean",
]


def window(name, now):
    """[start, end) in UTC for today/yesterday/week/month (UTC zone)."""
    today = datetime(now.year, now.month, now.day, tzinfo=timezone.utc)
    if name == "today":
        return int(today.timestamp()), int(now.timestamp())
    days = {"yesterday": 1, "week": 7, "month": 30}[name]
    return int((today - timedelta(days=days)).timestamp()), int(today.timestamp())


def export(db, out_dir):
    """Messages and conversation facts to Parquet and CSV (once)."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {t: os.path.join(out_dir, f"{t}.parquet") for t in ("messages", "conversations")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    con = sqlite3.connect(db)
    for table, cols in (("messages", MSG_COLS), ("conversations", CONV_COLS)):
        df = pd.read_sql_query(f"SELECT {', '.join(cols)} FROM {table}", con)
        df.to_parquet(paths[table], index=False)
        df.to_csv(os.path.join(out_dir, f"{table}.csv"), index=False)
    con.close()
    return paths


def nearest_rank(sorted_values, p):
    n = len(sorted_values)
    if n == 0:
        return None
    return int(sorted_values[max(1, min(n, math.ceil(p * n))) - 1])


def kpis_pandas(paths, start, end, now):
    m = pd.read_parquet(paths["messages"], columns=MSG_COLS)
    c = pd.read_parquet(paths["conversations"], columns=CONV_COLS)
    r = {}
    w = m[(m.created_at >= start) & (m.created_at < end)]
    inbound = w[w.direction == "inbound"]
    r["inbound_volume"] = int(len(inbound))
    r["outbound_volume"] = int((w.direction == "outbound").sum())
    r["complaints"] = int((inbound.category == "complaint").sum())
    r["praise"] = int((inbound.category == "praise").sum())
    classified = inbound.compound.dropna()
    r["sentiment_mean"] = float(classified.mean()) if len(classified) else None

    started = c[(c.first_inbound_at >= start) & (c.first_inbound_at < end)]
    r["conversations_new"] = int(len(started))
    act = started[started.actionable == 1]
    reply = act.first_response_at.where(act.first_response_at <= now)
    frt = (reply - act.first_inbound_at).dropna().sort_values()
    r["response_rate"] = float(len(frt) / len(act)) if len(act) else None
    r["frt_mean_s"] = float(frt.mean()) if len(frt) else None
    r["frt_median_s"] = float(frt.median()) if len(frt) else None
    r["frt_p90_s"] = nearest_rank(frt.to_numpy(), 0.9)
    hits = int((frt <= SLA).sum())
    misses = int((frt > SLA).sum()) + int(
        (reply.isna() & (now - act.first_inbound_at > SLA)).sum()
    )
    r["gos"] = hits / (hits + misses) if hits + misses else None

    waiting = c[c.waiting_since.notna() & (c.actionable == 1) & (c.waiting_since <= now)]
    r["backlog"] = int(len(waiting))
    r["backlog_oldest_wait_s"] = int(now - waiting.waiting_since.min()) if len(waiting) else None

    has_first = c.first_inbound_at.notna()
    explicit = pd.concat(
        [c.marked_resolved_at.where(c.marked_resolved_at <= now),
         c.thanks_resolved_at.where(c.thanks_resolved_at <= now)], axis=1
    ).min(axis=1)
    auto_ok = (
        c.waiting_since.isna()
        & c.last_outbound_at.notna()
        & (c.last_inbound_at.isna() | (c.last_outbound_at >= c.last_inbound_at))
        & (c.last_outbound_at == c.last_message_at)
        & (now - c.last_outbound_at >= AUTO)
    )
    resolved_at = explicit.where(explicit.notna(), c.last_outbound_at.where(auto_ok))
    res = c[has_first & resolved_at.notna() & (resolved_at >= start) & (resolved_at < end)]
    at = resolved_at[res.index]
    r["resolved"] = int(len(res))
    r["resolved_by_us"] = int((res.replies >= 1).sum())
    times = (at - res.first_inbound_at).clip(lower=0)
    r["resolution_median_s"] = float(times.median()) if len(times) else None
    return r


def kpis_duckdb(paths, start, end, now):
    con = duckdb.connect()
    msg, conv = paths["messages"], paths["conversations"]
    q = lambda sql: con.execute(sql).fetchone()
    r = {}
    row = q(f"""
        SELECT count(*) FILTER (direction = 'inbound'), count(*) FILTER (direction = 'outbound'),
               count(*) FILTER (direction = 'inbound' AND category = 'complaint'),
               count(*) FILTER (direction = 'inbound' AND category = 'praise'),
               avg(compound) FILTER (direction = 'inbound')
        FROM '{msg}' WHERE created_at >= {start} AND created_at < {end}""")
    (r["inbound_volume"], r["outbound_volume"], r["complaints"], r["praise"],
     r["sentiment_mean"]) = row
    row = q(f"""
        WITH s AS (SELECT * FROM '{conv}' WHERE first_inbound_at >= {start} AND first_inbound_at < {end}),
        a AS (SELECT first_inbound_at AS f, CASE WHEN first_response_at <= {now}
                THEN first_response_at - first_inbound_at END AS frt FROM s WHERE actionable = 1),
        ranked AS (SELECT frt, row_number() OVER (ORDER BY frt) AS rn, count(*) OVER () AS n
                   FROM a WHERE frt IS NOT NULL)
        SELECT (SELECT count(*) FROM s), count(frt) / nullif(count(*), 0), avg(frt), median(frt),
               (SELECT frt FROM ranked WHERE rn = greatest(1, ceil(0.9 * n))),
               count(*) FILTER (frt <= {SLA}),
               count(*) FILTER (frt > {SLA} OR (frt IS NULL AND {now} - f > {SLA}))
        FROM a""")
    r["conversations_new"], r["response_rate"], r["frt_mean_s"], r["frt_median_s"], r["frt_p90_s"] = row[:5]
    hits, misses = row[5], row[6]
    r["gos"] = hits / (hits + misses) if hits + misses else None
    row = q(f"""SELECT count(*), {now} - min(waiting_since) FROM '{conv}'
               WHERE waiting_since IS NOT NULL AND actionable = 1 AND waiting_since <= {now}""")
    r["backlog"], r["backlog_oldest_wait_s"] = row
    row = q(f"""
        WITH x AS (
          SELECT *, coalesce(
              least(CASE WHEN marked_resolved_at <= {now} THEN marked_resolved_at END,
                    CASE WHEN thanks_resolved_at <= {now} THEN thanks_resolved_at END),
              CASE WHEN waiting_since IS NULL AND last_outbound_at IS NOT NULL
                        AND (last_inbound_at IS NULL OR last_outbound_at >= last_inbound_at)
                        AND last_outbound_at = last_message_at
                        AND {now} - last_outbound_at >= {AUTO} THEN last_outbound_at END) AS res_at
          FROM '{conv}' WHERE first_inbound_at IS NOT NULL)
        SELECT count(*), count(*) FILTER (replies >= 1), median(greatest(res_at - first_inbound_at, 0))
        FROM x WHERE res_at >= {start} AND res_at < {end}""")
    r["resolved"], r["resolved_by_us"], r["resolution_median_s"] = row
    con.close()
    return r


def kpis_carepulse(binary, db, window_name, now_s):
    out = subprocess.run(
        [binary, "kpi", "--db", db, "--window", window_name, "--now", now_s, "--tz", "UTC",
         "--format", "json"],
        check=True, capture_output=True,
    ).stdout
    j = json.loads(out)
    return {k: j[k] for k in KEYS}


def peak_rss_mb(binary, db, window_name, now_s):
    """Peak resident memory of one `carepulse kpi` run, from GNU time. (The children's rusage
    of this process would count the interpreter's own memory, copied at fork, as theirs.)"""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M", binary, "kpi", "--db", db, "--window", window_name,
         "--now", now_s, "--tz", "UTC", "--format", "json"],
        check=True, capture_output=True, text=True,
    )
    return int(out.stderr.strip().splitlines()[-1]) / 1024


def timed(fn, runs):
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--window", default="month")
    ap.add_argument("--now", default="2026-11-23T08:00:00Z")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--db10", help="also time `--window yesterday` on this (10M) database")
    args = ap.parse_args()
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    now_s = int(now.timestamp())
    start, end = window(args.window, now)
    paths = export(args.db, args.db + ".export")

    cp_t, cp = timed(lambda: kpis_carepulse(args.bin, args.db, args.window, args.now), args.runs)
    peak_mb = peak_rss_mb(args.bin, args.db, args.window, args.now)
    pd_t, pdr = timed(lambda: kpis_pandas(paths, start, end, now_s), max(3, args.runs // 3))
    dd_t, ddr = timed(lambda: kpis_duckdb(paths, start, end, now_s), args.runs)

    print(f"window {args.window} [{start}, {end}) on {args.db}")
    print(f"{'metric':24} {'carepulse':>16} {'pandas':>16} {'duckdb':>16}")
    ok = True
    for k in KEYS:
        flag = "" if same(cp[k], pdr[k]) and same(cp[k], ddr[k]) else "  MISMATCH"
        ok &= flag == ""
        fmt = lambda v: "null" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
        print(f"{k:24} {fmt(cp[k]):>16} {fmt(pdr[k]):>16} {fmt(ddr[k]):>16}{flag}")
    print(f"{'median time (ms)':24} {cp_t * 1000:16.1f} {pd_t * 1000:16.1f} {dd_t * 1000:16.1f}")
    print(f"carepulse peak RSS: {peak_mb:.1f} MB; vs pandas {pd_t / cp_t:.1f}x faster, vs DuckDB {dd_t / cp_t:.2f}x")
    if args.db10:
        t10, _ = timed(lambda: kpis_carepulse(args.bin, args.db10, "yesterday", args.now), args.runs)
        peak10 = peak_rss_mb(args.bin, args.db10, "yesterday", args.now)
        print(f"carepulse --window yesterday on {args.db10}: median {t10 * 1000:.1f} ms, peak RSS {peak10:.1f} MB")
    if not ok:
        print("results differ", file=sys.stderr)
        return 1
    if not (pd_t >= 10 * cp_t and dd_t >= cp_t):
        print("speed bar missed: carepulse must be >= 10x faster than pandas and no slower than DuckDB", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
