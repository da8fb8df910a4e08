#!/usr/bin/env bash
# Server time of every console page with 100,000 leads (the issue's bound: under 100 ms each).
# Starts its own durable PostgreSQL cluster (fsync on), seeds it the way the API writes leads, shapes a day of
# deliveries and failures, starts the admin host (Release, Production) as its own process and times each page.
#   bench/console/run.sh [leads (default 100000)] [requests per page (default 200)]
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build -c Release -v q -nologo Hermes.Admin/Hermes.Admin.csproj >/dev/null
dotnet build -c Release -v q -nologo bench/console/Hermes.Bench.Console.csproj >/dev/null
mkdir -p bench/out/console
dotnet bench/console/bin/Release/net10.0/Hermes.Bench.Console.dll \
  Hermes.Admin/bin/Release/net10.0/Hermes.Admin.dll "${1:-100000}" "${2:-200}" | tee bench/out/console/last-run.txt
