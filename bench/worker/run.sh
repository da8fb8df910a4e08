#!/usr/bin/env bash
# Delivery throughput and latency of the outbox worker, and what the NOTIFY trigger costs the insert rate.
# Starts its own durable PostgreSQL cluster (fsync on) from the local binaries, a loopback receiver that
# answers 200 at once, and the worker as its own process (Release build).
#   bench/worker/run.sh [throughput|latency|notify-cost|all]
#   bench/worker/run.sh [held-xmin|replicas|sustained [minutes]|capacity]   (capacity: the three, ~20 min; docs/capacity.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build -c Release -v q -nologo Hermes.Outbox.Worker/Hermes.Outbox.Worker.csproj >/dev/null
dotnet build -c Release -v q -nologo bench/worker/Hermes.Bench.Worker.csproj >/dev/null
exec dotnet bench/worker/bin/Release/net10.0/Hermes.Bench.Worker.dll \
  Hermes.Outbox.Worker/bin/Release/net10.0/Hermes.Outbox.Worker.dll "${1:-all}" "${@:2}"
