#!/usr/bin/env bash
# The figures bench/api and bench/worker do not give: how fast a backlog of pending rows drains after an outage,
# resident memory (VmRSS, VmHWM) of the API and of the worker at steady load, and time from process start to ready.
# Starts its own durable PostgreSQL cluster (fsync on) and a loopback receiver answering 200.
# What ships is measured by default: the API published as its image runs it (-p:HermesTrimmed=true) and the native
# worker (-p:HermesNative=true). --framework measures both framework-dependent Release builds instead, --framework-api
# only the API's. (--native, the old switch for the native worker, is still accepted; figures recorded before
# 2026-12-07 without --native were of the framework-dependent worker: add --framework-worker to reproduce them.)
#   bench/report/run.sh [--stock-postgres] [--backlog 100000] [--concurrency N] [--batch N] [--starts 5] [--load-seconds 20] [--env "KEY=VALUE;..."] [--drop-indexes "a,b"] [--smaps N] [--framework] [--framework-api] [--framework-worker]
set -euo pipefail
cd "$(dirname "$0")/../.."
# PostgreSQL runs with the settings Hermes ships (deploy/postgres/postgresql.conf); --stock-postgres: with its own
# defaults, as every figure recorded before 2026-12-07 05:20 UTC was measured.
kept=()
for a in "$@"; do
  if [[ $a == --stock-postgres ]]; then export HERMES_BENCH_POSTGRES=stock; else kept+=("$a"); fi
done
set -- ${kept[@]+"${kept[@]}"}
dotnet build -c Release -v q -nologo Hermes.Api/Hermes.Api.csproj >/dev/null
dotnet build -c Release -v q -nologo Hermes.Outbox.Worker/Hermes.Outbox.Worker.csproj >/dev/null
dotnet build -c Release -v q -nologo Hermes.Cli/Hermes.Cli.csproj >/dev/null
dotnet build -c Release -v q -nologo bench/report/Hermes.Bench.Report.csproj >/dev/null
mkdir -p bench/out/report
# --native: measure the native dispatcher (docs/outbox-worker.md, "The native worker") instead of the .NET build. The
# backlog is seeded by the operator CLI (hermes seed) either way.
# The API is measured as its image runs it: published self-contained, trimmed and ReadyToRun (-p:HermesTrimmed=true);
# --framework-api measures the framework-dependent build instead.
api=bench/out/api-trimmed/Hermes.Api
native=true
args=()
for a in "$@"; do
  if [[ $a == --framework ]]; then
    api=Hermes.Api/bin/Release/net10.0/Hermes.Api.dll
    native=false
  elif [[ $a == --framework-api ]]; then
    api=Hermes.Api/bin/Release/net10.0/Hermes.Api.dll
  elif [[ $a == --framework-worker ]]; then
    native=false
  elif [[ $a != --native ]]; then
    args+=("$a")
  fi
done
if $native; then
  dotnet publish Hermes.Outbox.Worker/Hermes.Outbox.Worker.csproj -c Release -r linux-x64 -p:HermesNative=true \
    --artifacts-path bench/out/native/artifacts -o bench/out/native/out -v q -nologo >/dev/null
  args+=(--worker bench/out/native/out/Hermes.Outbox.Worker)
fi
set -- ${args[@]+"${args[@]}"}
if [[ $api == bench/out/api-trimmed/* ]]; then
  dotnet publish Hermes.Api/Hermes.Api.csproj -c Release -r linux-x64 -p:HermesTrimmed=true \
    --artifacts-path bench/out/api-trimmed-artifacts -o bench/out/api-trimmed -v q -nologo >/dev/null
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr); dotnet $(dotnet --version)"
  echo "command: bench/report/run.sh $*"
  dotnet bench/report/bin/Release/net10.0/Hermes.Bench.Report.dll \
    --api "$api" \
    --worker Hermes.Outbox.Worker/bin/Release/net10.0/Hermes.Outbox.Worker.dll \
    --hermes Hermes.Cli/bin/Release/net10.0/hermes.dll "$@"
} | tee bench/out/report/last-run.txt
