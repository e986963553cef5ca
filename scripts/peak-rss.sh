#!/usr/bin/env bash
# Runs a command and reports the peak memory of its whole process tree (jest, its workers, fauxqs, …).
# `/usr/bin/time -v` reports only the largest single process (wait4's ru_maxrss is the maximum over the child and
# its reaped descendants, not their sum), so this also samples the sum of RSS of the tree with ps every 0.5 s.
#   bash scripts/peak-rss.sh npm run test:pglite
set -uo pipefail
out=$(mktemp)
/usr/bin/time -v -o "$out" "$@" &
root=$!
peak=0
peak_n=0
peak_top=""
largest=0
largest_what=""
while kill -0 "$root" 2>/dev/null; do
  # Sum of RSS (KiB) of root and all its descendants, their count, and the largest of them (RSS and command).
  sample=$(ps -e -o pid=,ppid=,rss= | awk -v root="$root" '
    { ppid[$1] = $2; rss[$1] = $3 }
    END {
      s = 0; n = 0; top = 0; topPid = 0
      for (p in ppid) { q = p; while (q != "" && q != 0 && q != 1) { if (q == root) { s += rss[p]; n++; if (rss[p] > top) { top = rss[p]; topPid = p } break } q = ppid[q] } }
      print s, n, top, topPid
    }')
  read -r sum n top top_pid <<<"$sample"
  if [ "${sum:-0}" -gt "$peak" ]; then peak=$sum; peak_n=$n; fi
  if [ "${top:-0}" -gt "$largest" ]; then largest=$top; largest_what=$(ps -o args= -p "$top_pid" 2>/dev/null | cut -c1-160); fi
  sleep 0.5
done
wait "$root"
rc=$?
single=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$out")
echo "peak-rss: process tree $((peak / 1024)) MiB (sum of $peak_n processes at the peak); largest single process $((single / 1024)) MiB (time -v); wall $wall; exit $rc" >&2
echo "peak-rss: largest process sampled: $((largest / 1024)) MiB: $largest_what" >&2
rm -f "$out"
exit "$rc"
