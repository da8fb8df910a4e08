#!/usr/bin/env bash
# Delivery throughput and latency of the outbox worker, and what the NOTIFY trigger costs the insert rate.
# Starts its own durable PostgreSQL cluster (fsync on) from the local binaries, a loopback receiver that
# answers 200 at once, and the worker as its own process: the native worker the image runs (published first), or with
# --framework the framework-dependent Release build. (--native, the old switch for the default, is still accepted;
# figures recorded before 2026-12-07 without --native were of the framework-dependent build: add --framework.)
#   bench/worker/run.sh [--stock-postgres] [--framework] [throughput|latency|notify-cost|all]
#   bench/worker/run.sh [--stock-postgres] [--framework] after-drain [rows]   (commit → receipt on a fresh table and after a 250,000-row drain, ~4 min)
#   bench/worker/run.sh [--stock-postgres] [--framework] [held-xmin|replicas [counts [rounds [rows]]]|sustained [minutes]|capacity]   (capacity: the three, ~20 min; docs/capacity.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
# A schema variant: HERMES_BENCH_SCHEMA_SQL="DROP INDEX idx_hermes_leads_status" bench/worker/run.sh replicas 1 2 250000
# runs that SQL once on the migrated database before the scenario.
# PostgreSQL runs with the settings Hermes ships (deploy/postgres/postgresql.conf); --stock-postgres: with its own
# defaults, as every figure recorded before 2026-12-07 05:20 UTC was measured.
kept=()
for a in "$@"; do
  if [[ $a == --stock-postgres ]]; then export HERMES_BENCH_POSTGRES=stock; else kept+=("$a"); fi
done
set -- ${kept[@]+"${kept[@]}"}
if [[ ${1:-} == --native ]]; then
  shift
fi
if [[ ${1:-} == --framework ]]; then
  shift
  dotnet build -c Release -v q -nologo Hermes.Outbox.Worker/Hermes.Outbox.Worker.csproj >/dev/null
  worker=Hermes.Outbox.Worker/bin/Release/net10.0/Hermes.Outbox.Worker.dll
else
  dotnet publish Hermes.Outbox.Worker/Hermes.Outbox.Worker.csproj -c Release -r linux-x64 -p:HermesNative=true \
    --artifacts-path bench/out/native/artifacts -o bench/out/native/out -v q -nologo >/dev/null
  worker=bench/out/native/out/Hermes.Outbox.Worker
fi
dotnet build -c Release -v q -nologo bench/worker/Hermes.Bench.Worker.csproj >/dev/null
exec dotnet bench/worker/bin/Release/net10.0/Hermes.Bench.Worker.dll "$worker" "${1:-all}" "${@:2}"
