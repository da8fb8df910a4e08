#!/usr/bin/env bash
# Submission throughput: the API (POST /api/leads through wrk) against pgbench running the same two-row insert
# transaction (in pgbench's extended and prepared protocols), taking turns in one run on one durable (fsync on) local
# PostgreSQL. About 4 minutes.
# Usage: bench/api/run.sh [--concurrency 16] [--duration 20] [--warmup 20] [--rounds 2] [--log-level Information]
#                         [--group 4] [--no-anchor] [--index-cost] [--compare-single] [--api-env Intake__GroupCommit__Writers=4]...
#                         [--variant "Intake__GroupCommit__Writers=4;Intake__GroupCommit__MaxBatch=8"]...   (one more API process each, measured in turn)
#                         [--pgbench-mode extended,prepared] [--npgsql "Max Auto Prepare=0;No Reset On Close=false"]
#                         [--framework]   (the framework-dependent Release build; by default the API is measured as its image
#                                          runs it: published with -p:HermesTrimmed=true. --published-api, the old switch
#                                          for that default, is still accepted. Figures recorded before 2026-12-07 without
#                                          --published-api were of the framework-dependent build: add --framework to
#                                          reproduce them.)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
  echo "bench: installing wrk from Debian"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi
fi
if ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
  echo "bench: installing PostgreSQL (server binaries and pgbench) from Debian"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi
fi

dotnet build Hermes.Api -c Release -nologo -v q
dotnet build bench/api/IntakeBench -c Release -nologo -v q

args=()
published=true
for a in "$@"; do
  if [[ $a == --framework ]]; then
    published=false
  elif [[ $a != --published-api ]]; then
    args+=("$a")
  fi
done
if $published; then
  dotnet publish Hermes.Api/Hermes.Api.csproj -c Release -r linux-x64 -p:HermesTrimmed=true \
    --artifacts-path bench/out/api-trimmed-artifacts -o bench/out/api-trimmed -v q -nologo >/dev/null
  args+=(--api bench/out/api-trimmed/Hermes.Api)
fi

mkdir -p bench/out/api
{
  echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr)"
  echo "tools: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(ls /usr/lib/postgresql/*/bin/pgbench | tail -1 | xargs -I{} sh -c '{} --version'), dotnet $(dotnet --version)"
  echo "command: bench/api/run.sh $*"
  dotnet bench/api/IntakeBench/bin/Release/net10.0/IntakeBench.dll --repo "$repo" ${args[@]+"${args[@]}"}
} | tee bench/out/api/last-run.txt
