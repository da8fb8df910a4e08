#!/usr/bin/env bash
# Writes .env for docker-compose.yml from .env.example, replacing each generatable placeholder with a
# fresh random value:
#   CHANGE_ME_hex32  -> 32 hex characters (URL-safe: POSTGRES_PASSWORD goes into DATABASE_URL as is)
#   CHANGE_ME_hex64  -> 64 hex characters
#   CHANGE_ME_whsec  -> whsec_ + base64 of 32 random bytes (a Standard Webhooks secret)
# Other CHANGE_ME_* values (BREVO_API_KEY) cannot be generated: the script lists
# them for you to fill in.
#
#   deploy/generate-env.sh [output]     # default .env next to docker-compose.yml; never overwrites
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
example=$root/.env.example
out=${1:-$root/.env}

if [[ -e $out ]]; then
  echo "generate-env: $out exists; not overwriting it (delete it first to start again)" >&2
  exit 1
fi

random_bytes() { head -c "$1" /dev/urandom; }
hex() { random_bytes "$1" | od -An -vtx1 | tr -d ' \n'; }

umask 077
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [[ -n $line ]]; do
  case $line in
    *=CHANGE_ME_hex32) line="${line%=*}=$(hex 16)" ;;
    *=CHANGE_ME_hex64) line="${line%=*}=$(hex 32)" ;;
    *=CHANGE_ME_whsec) line="${line%=*}=whsec_$(random_bytes 32 | base64 | tr -d '\n')" ;;
  esac
  printf '%s\n' "$line" >>"$tmp"
done <"$example"
mv "$tmp" "$out"
trap - EXIT

echo "generate-env: wrote $out" >&2
if grep -q '=CHANGE_ME_' "$out"; then
  echo "generate-env: still to fill in by hand:" >&2
  grep '=CHANGE_ME_' "$out" | cut -d= -f1 | sed 's/^/  /' >&2
fi
