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

The KPI set and its rules are KPI.md's, for the window and for the previous window carepulse
reports deltas against (`deltas.previous.*.base`): inbound and outbound volume, inbound by
platform and by category, complaints, praise and their ratio, sentiment mean and shares over
classified inbound messages (by message time); new conversations, response rate, FRT
mean/median/p90 (nearest rank), grade of service and the FRT histogram over actionable
conversations started in the window; resolution (marked, thanks, auto after 24 h of customer
silence; counts by kind), resolved by us, resolution mean and median, handling total and mean
and first contact resolution (by resolution time); and backlog with its oldest wait at now.
55 values; every one must be equal in the three.
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
    "last_inbound_at", "last_outbound_at", "waiting_since", "replies", "reopen_count",
    "thanks_resolved_at", "marked_resolved_at", "actionable",
]
# Scalar KPIs of one window, compared for the window and for the previous one (carepulse's
# deltas.previous.*.base), then the ones read at `now` and the maps of the window.
PREVIOUS_KEYS = [
    "inbound_volume", "outbound_volume", "complaints", "praise", "complaint_praise_ratio",
    "sentiment_mean", "sentiment_pos_share", "sentiment_neu_share", "sentiment_neg_share",
    "conversations_new", "response_rate", "frt_mean_s", "frt_median_s", "frt_p90_s", "gos",
    "resolved", "resolved_marked", "resolved_thanks", "resolved_auto", "resolved_by_us",
    "resolution_mean_s", "resolution_median_s", "handling_total_s", "handling_mean_s", "fcr_rate",
]
KEYS = PREVIOUS_KEYS + ["backlog", "backlog_oldest_wait_s"]
MAP_KEYS = ["by_platform", "by_category", "frt_histogram"]


def windows(name, now):
    """[start, end) in UTC for today/yesterday/week/month (UTC zone), and the previous window
    carepulse compares it with (the same span just before; for today, yesterday up to the same
    time of day)."""
    today = datetime(now.year, now.month, now.day, tzinfo=timezone.utc)
    if name == "today":
        start, end, span = int(today.timestamp()), int(now.timestamp()), 86400
    else:
        days = {"yesterday": 1, "week": 7, "month": 30}[name]
        start, end = int((today - timedelta(days=days)).timestamp()), int(today.timestamp())
        span = days * 86400
    return [(start, end), (start - span, end - span)]


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


def share(n, d):
    return n / d if d else None


def ratio(complaints, praise):
    """complaints / praise; None when both are 0, "inf" when only praise is (as carepulse's
    JSON says it with complaint_praise_ratio_infinite)."""
    if praise:
        return complaints / praise
    return "inf" if complaints else None


def histogram(frt, unanswered):
    edges = [("0-1h", 0, 3600), ("1-4h", 3600, 4 * 3600), ("4-8h", 4 * 3600, 8 * 3600),
             ("8-24h", 8 * 3600, 24 * 3600), ("24h+", 24 * 3600, None)]
    h = {k: int(((frt >= lo) & (frt < hi)).sum()) if hi else int((frt >= lo).sum())
         for k, lo, hi in edges}
    h["unanswered"] = int(unanswered)
    return h


def pandas_window(m, c, start, end, now):
    """The KPI set of one window [start, end) at `now`, with pandas."""
    r = {}
    w = m[(m.created_at >= start) & (m.created_at < end)]
    inbound = w[w.direction == "inbound"]
    r["inbound_volume"] = int(len(inbound))
    r["outbound_volume"] = int((w.direction == "outbound").sum())
    r["by_platform"] = {k: int(v) for k, v in inbound.platform.value_counts().items()}
    r["by_category"] = {k: int(v) for k, v in inbound.category.dropna().value_counts().items()}
    r["complaints"] = int((inbound.category == "complaint").sum())
    r["praise"] = int((inbound.category == "praise").sum())
    r["complaint_praise_ratio"] = ratio(r["complaints"], r["praise"])
    classified = inbound.compound.dropna()
    n = len(classified)
    r["sentiment_mean"] = float(classified.mean()) if n else None
    pos, neg = int((classified >= 0.05).sum()), int((classified <= -0.05).sum())
    r["sentiment_pos_share"] = share(pos, n)
    r["sentiment_neg_share"] = share(neg, n)
    r["sentiment_neu_share"] = share(n - pos - neg, n)

    started = c[(c.first_inbound_at >= start) & (c.first_inbound_at < end)]
    r["conversations_new"] = int(len(started))
    act = started[started.actionable == 1]
    reply = act.first_response_at.where(act.first_response_at <= now)
    frt = (reply - act.first_inbound_at).dropna().sort_values()
    r["response_rate"] = share(len(frt), len(act))
    r["frt_mean_s"] = float(frt.mean()) if len(frt) else None
    r["frt_median_s"] = float(frt.median()) if len(frt) else None
    r["frt_p90_s"] = nearest_rank(frt.to_numpy(), 0.9)
    hits = int((frt <= SLA).sum())
    misses = int((frt > SLA).sum()) + int(
        (reply.isna() & (now - act.first_inbound_at > SLA)).sum()
    )
    r["gos"] = share(hits, hits + misses)
    r["frt_histogram"] = histogram(frt, len(act) - len(frt))

    has_first = c.first_inbound_at.notna()
    marked = c.marked_resolved_at.where(c.marked_resolved_at <= now)
    thanks = c.thanks_resolved_at.where(c.thanks_resolved_at <= now)
    explicit = pd.concat([marked, thanks], axis=1).min(axis=1)
    auto_ok = (
        c.waiting_since.isna()
        & c.last_outbound_at.notna()
        & (c.last_inbound_at.isna() | (c.last_outbound_at >= c.last_inbound_at))
        & (c.last_outbound_at == c.last_message_at)
        & (now - c.last_outbound_at >= AUTO)
    )
    resolved_at = explicit.where(explicit.notna(), c.last_outbound_at.where(auto_ok))
    in_window = has_first & resolved_at.notna() & (resolved_at >= start) & (resolved_at < end)
    res = c[in_window]
    at = resolved_at[in_window]
    r["resolved"] = int(len(res))
    # Marked wins a tie with thanks; auto only when neither applies.
    is_marked = marked[in_window].notna() & (marked[in_window] == at)
    is_thanks = ~is_marked & thanks[in_window].notna() & (thanks[in_window] == at)
    r["resolved_marked"] = int(is_marked.sum())
    r["resolved_thanks"] = int(is_thanks.sum())
    r["resolved_auto"] = int(len(res) - is_marked.sum() - is_thanks.sum())
    times = (at - res.first_inbound_at).clip(lower=0)
    r["resolution_mean_s"] = float(times.mean()) if len(times) else None
    r["resolution_median_s"] = float(times.median()) if len(times) else None
    by_us = res.replies >= 1
    r["resolved_by_us"] = int(by_us.sum())
    handled = by_us & res.first_response_at.notna()
    handling = (at[handled] - res.first_response_at[handled]).clip(lower=0)
    r["handling_total_s"] = int(handling.sum())
    r["handling_mean_s"] = float(handling.mean()) if len(handling) else None
    fcr = int((by_us & (res.replies == 1) & (res.reopen_count == 0)).sum())
    r["fcr_rate"] = share(fcr, r["resolved_by_us"])
    return r


def pandas_at_now(c, now):
    waiting = c[c.waiting_since.notna() & (c.actionable == 1) & (c.waiting_since <= now)]
    oldest = int(now - waiting.waiting_since.min()) if len(waiting) else None
    return {"backlog": int(len(waiting)), "backlog_oldest_wait_s": oldest}


def kpis_pandas(paths, windows, now):
    m = pd.read_parquet(paths["messages"], columns=MSG_COLS)
    c = pd.read_parquet(paths["conversations"], columns=CONV_COLS)
    r = pandas_window(m, c, *windows[0], now)
    r.update(pandas_at_now(c, now))
    r["previous"] = pandas_window(m, c, *windows[1], now)
    return r


def duckdb_window(con, msg, conv, start, end, now):
    """The KPI set of one window [start, end) at `now`, in DuckDB SQL over the Parquet files."""
    q = lambda sql: con.execute(sql).fetchone()
    r = {}
    row = q(f"""
        SELECT count(*) FILTER (direction = 'inbound'), count(*) FILTER (direction = 'outbound'),
               count(*) FILTER (direction = 'inbound' AND category = 'complaint'),
               count(*) FILTER (direction = 'inbound' AND category = 'praise'),
               avg(compound) FILTER (direction = 'inbound'),
               count(compound) FILTER (direction = 'inbound'),
               count(*) FILTER (direction = 'inbound' AND compound >= 0.05),
               count(*) FILTER (direction = 'inbound' AND compound <= -0.05)
        FROM '{msg}' WHERE created_at >= {start} AND created_at < {end}""")
    (r["inbound_volume"], r["outbound_volume"], r["complaints"], r["praise"],
     r["sentiment_mean"], n, pos, neg) = row
    r["complaint_praise_ratio"] = ratio(r["complaints"], r["praise"])
    r["sentiment_pos_share"] = share(pos, n)
    r["sentiment_neg_share"] = share(neg, n)
    r["sentiment_neu_share"] = share(n - pos - neg, n)
    for key, col in (("by_platform", "platform"), ("by_category", "category")):
        rows = con.execute(f"""
            SELECT {col}, count(*) FROM '{msg}'
            WHERE created_at >= {start} AND created_at < {end} AND direction = 'inbound'
              AND {col} IS NOT NULL GROUP BY {col}""").fetchall()
        r[key] = {k: int(v) for k, v in rows}
    row = q(f"""
        WITH s AS (SELECT * FROM '{conv}' WHERE first_inbound_at >= {start} AND first_inbound_at < {end}),
        a AS (SELECT first_inbound_at AS f, CASE WHEN first_response_at <= {now}
                THEN first_response_at - first_inbound_at END AS frt FROM s WHERE actionable = 1),
        ranked AS (SELECT frt, row_number() OVER (ORDER BY frt) AS rn, count(*) OVER () AS n
                   FROM a WHERE frt IS NOT NULL)
        SELECT (SELECT count(*) FROM s), count(frt) / nullif(count(*), 0), avg(frt), median(frt),
               (SELECT frt FROM ranked WHERE rn = greatest(1, ceil(0.9 * n))),
               count(*) FILTER (frt <= {SLA}),
               count(*) FILTER (frt > {SLA} OR (frt IS NULL AND {now} - f > {SLA})),
               count(*) FILTER (frt < 3600), count(*) FILTER (frt >= 3600 AND frt < 14400),
               count(*) FILTER (frt >= 14400 AND frt < 28800),
               count(*) FILTER (frt >= 28800 AND frt < 86400), count(*) FILTER (frt >= 86400),
               count(*) FILTER (frt IS NULL)
        FROM a""")
    r["conversations_new"], r["response_rate"], r["frt_mean_s"], r["frt_median_s"], r["frt_p90_s"] = row[:5]
    hits, misses = row[5], row[6]
    r["gos"] = share(hits, hits + misses)
    r["frt_histogram"] = dict(zip(["0-1h", "1-4h", "4-8h", "8-24h", "24h+", "unanswered"], row[7:13]))
    row = q(f"""
        WITH x AS (
          SELECT *,
              CASE WHEN marked_resolved_at <= {now} THEN marked_resolved_at END AS marked,
              CASE WHEN thanks_resolved_at <= {now} THEN thanks_resolved_at END AS thanks,
              CASE WHEN waiting_since IS NULL AND last_outbound_at IS NOT NULL
                        AND (last_inbound_at IS NULL OR last_outbound_at >= last_inbound_at)
                        AND last_outbound_at = last_message_at
                        AND {now} - last_outbound_at >= {AUTO} THEN last_outbound_at END AS auto
          FROM '{conv}' WHERE first_inbound_at IS NOT NULL),
        y AS (SELECT *, coalesce(least(marked, thanks), auto) AS res_at FROM x)
        SELECT count(*), count(*) FILTER (marked = res_at),
               count(*) FILTER (thanks = res_at AND marked IS DISTINCT FROM res_at),
               avg(greatest(res_at - first_inbound_at, 0)),
               median(greatest(res_at - first_inbound_at, 0)),
               count(*) FILTER (replies >= 1),
               sum(greatest(res_at - first_response_at, 0)) FILTER (replies >= 1),
               avg(greatest(res_at - first_response_at, 0)) FILTER (replies >= 1),
               count(*) FILTER (replies = 1 AND reopen_count = 0)
        FROM y WHERE res_at >= {start} AND res_at < {end}""")
    (r["resolved"], r["resolved_marked"], r["resolved_thanks"], r["resolution_mean_s"],
     r["resolution_median_s"], r["resolved_by_us"], handling_total, r["handling_mean_s"], fcr) = row
    r["resolved_auto"] = r["resolved"] - r["resolved_marked"] - r["resolved_thanks"]
    r["handling_total_s"] = int(handling_total or 0)
    r["fcr_rate"] = share(fcr, r["resolved_by_us"])
    return r


def kpis_duckdb(paths, windows, now):
    con = duckdb.connect()
    msg, conv = paths["messages"], paths["conversations"]
    r = duckdb_window(con, msg, conv, *windows[0], now)
    row = con.execute(f"""SELECT count(*), {now} - min(waiting_since) FROM '{conv}'
               WHERE waiting_since IS NOT NULL AND actionable = 1 AND waiting_since <= {now}""").fetchone()
    r["backlog"], r["backlog_oldest_wait_s"] = row
    r["previous"] = duckdb_window(con, msg, conv, *windows[1], now)
    con.close()
    return r


def kpis_carepulse(binary, db, window_name, now_s):
    out = subprocess.run(
        [binary, "kpi", "--db", db, "--window", window_name, "--now", now_s, "--tz", "UTC",
         "--format", "json"],
        check=True, capture_output=True,
    ).stdout
    j = json.loads(out)
    r = {k: j[k] for k in KEYS + MAP_KEYS}
    if j.get("complaint_praise_ratio_infinite"):
        r["complaint_praise_ratio"] = "inf"
    base = j["deltas"]["previous"]["metrics"]
    r["previous"] = {k: base[k]["base"] if k in base else None for k in PREVIOUS_KEYS}
    return r


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
    if isinstance(a, dict) or isinstance(b, dict):
        a, b = a or {}, b or {}
        return all(same(a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b))
    if a is None or b is None or a == "inf" or b == "inf":
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def fmt(v):
    if v is None:
        return "null"
    if isinstance(v, dict):
        return " ".join(f"{k}:{v[k]}" for k in sorted(v))
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--window", default="month")
    # The instant the bench databases end (benches/kpi.rs NOW): a report at the end of the
    # data, as the bot makes them. An earlier --now is a report of the past, with stored
    # messages after it: a slower path (backlog and loyalty as they were then).
    ap.add_argument("--now", default="2026-11-23T16:00:00Z")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--db10", help="also time `--window yesterday` on this (10M) database")
    args = ap.parse_args()
    now = datetime.fromisoformat(args.now.replace("Z", "+00:00"))
    now_s = int(now.timestamp())
    spans = windows(args.window, now)
    paths = export(args.db, args.db + ".export2")

    cp_t, cp = timed(lambda: kpis_carepulse(args.bin, args.db, args.window, args.now), args.runs)
    peak_mb = peak_rss_mb(args.bin, args.db, args.window, args.now)
    pd_t, pdr = timed(lambda: kpis_pandas(paths, spans, now_s), max(3, args.runs // 3))
    dd_t, ddr = timed(lambda: kpis_duckdb(paths, spans, now_s), args.runs)

    (start, end), (pstart, pend) = spans
    print(f"window {args.window} [{start}, {end}), previous [{pstart}, {pend}) on {args.db}")
    print(f"{'metric':28} {'carepulse':>16} {'pandas':>16} {'duckdb':>16}")
    rows = [(k, cp[k], pdr[k], ddr[k]) for k in KEYS + MAP_KEYS]
    rows += [(f"previous.{k}", cp["previous"][k], pdr["previous"][k], ddr["previous"][k])
             for k in PREVIOUS_KEYS]
    ok = True
    for name, c, p, d in rows:
        flag = "" if same(c, p) and same(c, d) else "  MISMATCH"
        ok &= flag == ""
        if isinstance(c, dict):
            print(f"{name:28}{flag}")
            for label, v in (("carepulse", c), ("pandas", p), ("duckdb", d)):
                print(f"    {label:10} {fmt(v)}")
        else:
            print(f"{name:28} {fmt(c):>16} {fmt(p):>16} {fmt(d):>16}{flag}")
    print(f"{len(rows)} values compared, {'all equal' if ok else 'SOME DIFFER'}")
    print(f"{'median time (ms)':28} {cp_t * 1000:16.1f} {pd_t * 1000:16.1f} {dd_t * 1000:16.1f}")
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
