#!/usr/bin/env bash
# Profiles webhookd's hot paths under the benchmark loads: builds webhookd with -tags pprof (a
# build the shipped binary is not), runs bench/deliveries and bench/lists on it, and writes a CPU
# profile of each phase to ${BENCH_PROFILE:-/tmp/webhookd-profiles}/<db>-<phase>.prof, then
# prints the top of each (go tool pprof -top).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_PROFILE=${BENCH_PROFILE:-/tmp/webhookd-profiles} WEBHOOKD_PPROF_ADDR=127.0.0.1:${PPROF_PORT:-6099}
mkdir -p "$BENCH_PROFILE"
bin=$BENCH_PROFILE/webhookd-pprof
go build -tags pprof -o "$bin" ./cmd/webhookd
go build -o "$BENCH_PROFILE/" ./bench/deliveries ./bench/lists ./bench/echoceiling
for db in ${BENCH_DBS:-sqlite postgres}; do
  "$BENCH_PROFILE/deliveries" -db "$db" -bin "$bin"
  "$BENCH_PROFILE/lists" -db "$db" -bin "$bin" -echo "$BENCH_PROFILE/echoceiling"
done
for p in "$BENCH_PROFILE"/*.prof; do
  echo "=== $p"
  go tool pprof -top -cum -nodecount=25 "$bin" "$p" 2>/dev/null | tail -n +6
done
