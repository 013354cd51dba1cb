#!/usr/bin/env bash
# Idle memory benchmark (issue 5): starts `carepulse run` on a temp copy of the shipped
# config.toml (demo source, console chat, a fresh database), waits until start-up is over
# ("Stored N demo messages." on stderr, then no new output for QUIET seconds: the opening
# report, the catch-up digests and the first alert check are done), samples VmRSS every second
# for SAMPLE seconds, prints the peak (VmHWM) and the steady RSS (the mean of the last
# STEADY seconds of samples, when the bot's own 30-second memory release has run), then stops
# it with Ctrl-C.
#
#   bench/idle_memory.sh                 # release build, 90 s of samples
#   SAMPLE=180 bench/idle_memory.sh      # longer
#   RUNS=3 bench/idle_memory.sh          # repeat (each run on a fresh database)
#
# Needs: a release build (cargo build --release), Linux /proc.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$TARGET/release/carepulse}
SAMPLE=${SAMPLE:-90}
STEADY=${STEADY:-30}
QUIET=${QUIET:-10}
TIMEOUT=${TIMEOUT:-300}
RUNS=${RUNS:-1}
CONFIG=${CONFIG:-config.toml}
[ -x "$BIN" ] || { echo "build first: cargo build --release (looked for $BIN)" >&2; exit 1; }
BIN=$(realpath "$BIN")

kb() { awk -v k="$2" '$1 == k":" { print $2 }' "$1" 2>/dev/null || true; }

run_once() {
  local work pid start size prev quiet_since peak_rss=0 sum=0 n=0 rss first="" i=0
  work=$(mktemp -d)
  cp "$CONFIG" "$work/config.toml"
  mkfifo "$work/stdin"
  (
    cd "$work"
    exec "$BIN" --config config.toml run <stdin >out.log 2>err.log
  ) &
  pid=$!
  # Hold the console's stdin open (as a terminal would) without typing anything.
  exec 3>"$work/stdin"
  start=$(date +%s)
  until grep -q "^Stored [0-9]* demo messages" "$work/err.log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/err.log" >&2; exit 1; }
    (( $(date +%s) - start < TIMEOUT )) || { echo "no catch-up after ${TIMEOUT}s" >&2; kill -INT "$pid"; exit 1; }
    sleep 0.5
  done
  local caught_up=$(( $(date +%s) - start ))
  prev=-1
  quiet_since=$(date +%s)
  while :; do
    size=$(( $(stat -c %s "$work/out.log") + $(stat -c %s "$work/err.log") ))
    [ "$size" != "$prev" ] && { prev=$size; quiet_since=$(date +%s); }
    (( $(date +%s) - quiet_since >= QUIET )) && break
    (( $(date +%s) - start < TIMEOUT )) || { echo "output never settled" >&2; break; }
    sleep 1
  done
  local idle_at=$(( $(date +%s) - start ))
  for _ in $(seq "$SAMPLE"); do
    rss=$(kb "/proc/$pid/status" VmRSS)
    [ -n "$rss" ] || { echo "carepulse exited while sampling" >&2; exit 1; }
    [ -n "$first" ] || first=$rss
    (( rss > peak_rss )) && peak_rss=$rss
    i=$(( i + 1 ))
    (( i > SAMPLE - STEADY )) && { sum=$(( sum + rss )); n=$(( n + 1 )); }
    sleep 1
  done
  local hwm anon file threads posts
  hwm=$(kb "/proc/$pid/status" VmHWM)
  threads=$(kb "/proc/$pid/status" Threads)
  anon=$(kb "/proc/$pid/smaps_rollup" Anonymous)
  file=$(awk '$1 == "Rss:" { r = $2 } $1 == "Anonymous:" { a = $2 } END { print r - a }' "/proc/$pid/smaps_rollup")
  posts=$(grep -c '^\[#' "$work/out.log" || true)
  kill -INT "$pid"
  exec 3>&-
  wait "$pid" || true
  echo "catch-up done after ${caught_up}s, idle after ${idle_at}s; ${posts} posts printed; ${threads} threads"
  printf 'peak RSS (VmHWM): %6.1f MB\n' "$(echo "$hwm / 1024" | bc -l)"
  printf 'RSS once idle:    %6.1f MB (first sample), max %.1f MB over %ss\n' \
    "$(echo "$first / 1024" | bc -l)" "$(echo "$peak_rss / 1024" | bc -l)" "$SAMPLE"
  printf 'steady RSS:       %6.1f MB (mean of the last %ss)\n' \
    "$(echo "$sum / $n / 1024" | bc -l)" "$n"
  printf '  anonymous %.1f MB, file-backed %.1f MB (at the end)\n' \
    "$(echo "$anon / 1024" | bc -l)" "$(echo "$file / 1024" | bc -l)"
  rm -rf "$work"
}

echo "idle memory of: $BIN run ($CONFIG, fresh database)"
for r in $(seq "$RUNS"); do
  [ "$RUNS" -gt 1 ] && echo "run $r/$RUNS"
  run_once
done
