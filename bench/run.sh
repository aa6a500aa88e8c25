#!/usr/bin/env bash
# `make bench`: builds the shipped binary (./webhookd) and the benchmark programs, runs each on
# SQLite and PostgreSQL, and prints every figure beside its ceiling measured in the same run.
#   BENCH_DBS="sqlite postgres"   databases to run on
#   BENCH_QUICK=1                 tiny loads (seconds): checks that the programs work (CI)
#   BENCH_DATABASE_URL            the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export BENCH_OUT=$out BENCH_LOGS=${BENCH_LOGS:-/tmp}
quick=${BENCH_QUICK:+-quick}

go build -o webhookd ./cmd/webhookd
go build -o "$out/" ./bench/riverceiling ./bench/deliveries ./bench/lists ./bench/echoceiling

echo "webhookd benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)${quick:+ (quick run: figures are not meaningful)}"
for db in ${BENCH_DBS:-sqlite postgres}; do
  "$out/riverceiling" -db "$db" $quick
  "$out/deliveries" -db "$db" -bin ./webhookd $quick
  "$out/lists" -db "$db" -bin ./webhookd -echo "$out/echoceiling" $quick
done 2> >(grep -v "DEVELOPMENT signing key\|webhookd's log" >&2) | sed -u 's/^RESULT //'
