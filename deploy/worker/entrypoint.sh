#!/bin/sh
# The worker image's entry point. The dispatcher — `run`, the default, and its options — is the native build
# (/app/native, Native AOT: docs/outbox-worker.md, "The native worker"); the operator verbs and help are the .NET build's
# (/app/Hermes.Outbox.Worker.dll), which has them all.
#   docker run hermes-worker                 the dispatcher
#   docker run hermes-worker migrate --roles an operator verb
for arg in "$@"; do
  case $arg in -h | --help | '-?') exec dotnet /app/Hermes.Outbox.Worker.dll "$@" ;; esac
done
case ${1:-run} in
  run | -*) exec /app/native/Hermes.Outbox.Worker "$@" ;;
  *) exec dotnet /app/Hermes.Outbox.Worker.dll "$@" ;;
esac
