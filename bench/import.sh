#!/usr/bin/env bash
# Import benchmark (issue 2): a twcs file of ROWS rows made by `carepulse demo --out`, imported
# by `carepulse import` into a fresh database, against three floors: the sqlite3 shell's
# `.import` of the same CSV into a bare table, the sqlite3 shell copying every row the import
# stored into an empty database with carepulse's schema, and the same shell copying only the
# message rows into their table without the indexes the KPI engine reads. Prints rows/s and
# peak RSS of each (GNU time).
#
#   bench/import.sh                 # 1,000,000 rows, release build
#   ROWS=200000 bench/import.sh     # smaller
#
# Needs: a release build (cargo build --release), sqlite3, python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$TARGET/release/carepulse}
WORK=${WORK:-$(mktemp -d)}
CSV=$WORK/twcs_${ROWS}.csv
[ -x "$BIN" ] || { echo "build first: cargo build --release (looked for $BIN)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }

if [ ! -s "$CSV" ]; then
  # The demo writes about 30,000 messages per simulated day at --rate 1000; ask for enough
  # days, then keep the first ROWS records (python's csv module: texts may hold newlines).
  days=$(( ROWS / 25000 + 2 ))
  "$BIN" --config config.toml demo --days "$days" --rate 1000 --seed 7 \
    --now 2026-11-20T00:00:00Z --out "$WORK/full.csv" >/dev/null 2>&1
  python3 - "$WORK/full.csv" "$CSV" "$ROWS" <<'PY'
import csv, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, newline="") as f, open(dst, "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g)
    w.writerow(next(r))
    k = 0
    for row in r:
        if k == n:
            break
        w.writerow(row)
        k += 1
if k < n:
    sys.exit(f"the demo wrote only {k} rows; raise days in bench/import.sh")
PY
  rm -f "$WORK/full.csv"
fi
echo "file: $CSV ($(du -h "$CSV" | cut -f1), $ROWS rows)"

measure() { # label, command...
  local label=$1; shift
  local log=$WORK/$label.time
  /usr/bin/time -v "$@" >"$WORK/$label.out" 2>"$log" || { cat "$log" >&2; exit 1; }
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  printf '%-28s %8.2f s %10.0f rows/s  peak RSS %6.1f MB\n' "$label" "$secs" \
    "$(echo "$ROWS / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
  grep -h "imported\|in .* s" "$WORK/$label.out" "$log" 2>/dev/null | grep -v "Command being" | head -3 || true
}

rm -f "$WORK"/floor.db*
measure "sqlite3 .import" sqlite3 "$WORK/floor.db" -cmd "PRAGMA journal_mode=WAL" ".mode csv" ".import $CSV messages"
rm -f "$WORK"/carepulse.db*
measure "carepulse import" "$BIN" --config config.toml --db "$WORK/carepulse.db" import --format twcs "$CSV"
measure "carepulse re-import" "$BIN" --config config.toml --db "$WORK/carepulse.db" import --format twcs "$CSV"
# The floor for carepulse's own schema: the sqlite3 shell copying every row the import stored
# (messages with their labels and conversation ids, conversation facts, rollups, KPI blocks)
# into an empty database with the same tables, indexes and triggers, with carepulse's page
# cache (32 MB), in one transaction. No parsing, classifying, threading or computing: SQLite's
# own cost of writing what carepulse writes.
rm -f "$WORK"/schema.db*
sqlite3 "$WORK/carepulse.db" .schema | awk '/^CREATE TABLE sqlite_/ {next} {print}' | sqlite3 "$WORK/schema.db"
CONV_COLUMNS=$(sqlite3 "$WORK/carepulse.db" "SELECT group_concat(name, ', ') FROM pragma_table_xinfo('conversations') WHERE hidden = 0")
measure "sqlite3 schema floor" sqlite3 "$WORK/schema.db" -cmd "PRAGMA journal_mode=WAL" -cmd "PRAGMA synchronous=NORMAL" \
  -cmd "PRAGMA cache_size=-32000" -cmd "ATTACH '$WORK/carepulse.db' AS src" -cmd "BEGIN" \
  -cmd "INSERT INTO messages SELECT * FROM src.messages" \
  -cmd "INSERT INTO conversations ($CONV_COLUMNS) SELECT $CONV_COLUMNS FROM src.conversations" \
  -cmd "INSERT INTO rollup_volume SELECT * FROM src.rollup_volume" \
  -cmd "INSERT INTO rollup_tags SELECT * FROM src.rollup_tags" \
  -cmd "INSERT INTO author_activity SELECT * FROM src.author_activity" \
  -cmd "INSERT INTO kpi_blocks SELECT * FROM src.kpi_blocks" "COMMIT"
# The messages alone, into their table with its keys only (no index the KPI engine reads).
rm -f "$WORK"/keys.db*
sqlite3 "$WORK/carepulse.db" .schema | awk '/^CREATE TABLE sqlite_/ {next} {print}' | sqlite3 "$WORK/keys.db"
sqlite3 "$WORK/keys.db" "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL" | sqlite3 "$WORK/keys.db"
measure "sqlite3 messages, keys only" sqlite3 "$WORK/keys.db" -cmd "PRAGMA journal_mode=WAL" -cmd "PRAGMA synchronous=NORMAL" \
  -cmd "PRAGMA cache_size=-32000" -cmd "ATTACH '$WORK/carepulse.db' AS src" "INSERT INTO messages SELECT * FROM src.messages"
echo "  (the schema floor copied $(sqlite3 "$WORK/schema.db" "SELECT count(*) FROM messages") messages and $(sqlite3 "$WORK/schema.db" "SELECT count(*) FROM conversations") conversations)"
rm -f "$WORK"/schema.db* "$WORK"/keys.db*
rm -f "$WORK"/carepulse.db* "$WORK"/dry.db*
measure "carepulse --dry-run" "$BIN" --config config.toml --db "$WORK/dry.db" import --dry-run --format twcs "$CSV"
echo "work files in $WORK"
