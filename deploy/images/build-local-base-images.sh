#!/usr/bin/env bash
# Builds LOCAL STAND-INS for the public images the shipped files name, from this machine's own installed files, and
# tags them with exactly those names, so deploy/Dockerfile.* and docker-compose.yml run unchanged where no image
# registry can be reached:
#   postgres:15                                  <- docker-compose.yml (postgres, backup)
#   mcr.microsoft.com/dotnet/sdk:10.0            <- the build stage of deploy/Dockerfile.api, .admin and .cli
#   mcr.microsoft.com/dotnet/sdk:10.0-noble-aot  <- the build stage of deploy/Dockerfile.worker (with clang, for Native AOT)
#   mcr.microsoft.com/dotnet/aspnet:10.0-noble   <- the runtime stage of deploy/Dockerfile.admin and .cli (glibc, ICU, bash)
#   mcr.microsoft.com/dotnet/runtime-deps:10.0-noble <- the runtime stage of deploy/Dockerfile.api and .worker (self-contained
#                                                   and native builds: glibc, ICU, bash, no .NET)
#   prom/prometheus:<tag>                        <- docker-compose.yml (prometheus): Debian's prometheus
#   prom/alertmanager:<tag>                      <- docker-compose.yml (alertmanager): Debian's prometheus-alertmanager
# (the names are read from those files, not written here). grafana/grafana has no stand-in: Grafana is not packaged
# by Debian (nor npm), and the compose test leaves that service out. What they are and are not:
# docs/deploy-compose.md, "Local stand-ins for the base images". On a machine that reaches Docker Hub and mcr.microsoft.com,
# do not run this: Docker pulls the real images.
#
#   deploy/images/build-local-base-images.sh [--force]
#
# Each image is one layer (`docker import` of a root filesystem put together by assemble-rootfs.py from Debian
# packages installed here, plus the machine's .NET installation) and carries the label org.hermes.stand-in.recipe:
# a hash of these scripts and of every input's version. An image whose label matches is kept (a warm run takes
# seconds); --force rebuilds. An image of that name without the label is a real one: it is never replaced.
# Needs root (files owned by the images' users), a running Docker engine (DOCKER_HOST) and python3; installs the
# few Debian packages it copies from when they are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
force=0
[[ ${1:-} == --force ]] && force=1

log() { printf 'base-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root: the images' files must belong to their users (postgres 999, app 1654)"
command -v docker >/dev/null || die "the docker client is missing (apt-get install -y docker.io)"
docker info >/dev/null 2>&1 || die "no Docker engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
command -v python3 >/dev/null || die "python3 is missing"

# --- The names, as the shipped files spell them ---------------------------------------------------------------
dotnet_arg=$(sed -n 's/^ARG DOTNET_VERSION=//p' "$repo/deploy/Dockerfile.api" | head -n1)
[[ $(sed -n 's/^ARG DOTNET_VERSION=//p' "$repo/deploy/Dockerfile.worker" | head -n1) == "$dotnet_arg" ]] ||
  die "deploy/Dockerfile.worker wants another .NET version than deploy/Dockerfile.api"
from_image() { sed -n "s|^FROM \\([^ ]*$1[^ ]*\\).*|\\1|p" "$repo/deploy/$2" | head -n1 | sed "s|\${DOTNET_VERSION}|$dotnet_arg|"; }
sdk_image=$(from_image /sdk: Dockerfile.api)
aspnet_image=$(from_image /aspnet: Dockerfile.admin)
sdk_aot_image=$(from_image /sdk: Dockerfile.worker)
runtime_deps_image=$(from_image /runtime-deps: Dockerfile.api)
[[ $(from_image /runtime-deps: Dockerfile.worker) == "$runtime_deps_image" ]] ||
  die "deploy/Dockerfile.worker wants another runtime-deps image than deploy/Dockerfile.api"
[[ $(from_image /aspnet: Dockerfile.cli) == "$aspnet_image" ]] ||
  die "deploy/Dockerfile.cli wants another ASP.NET image than deploy/Dockerfile.admin"
postgres_image=$(sed -n 's/^ *image: \(postgres:[^ ]*\)$/\1/p' "$repo/docker-compose.yml" | sort -u)
[[ -n $sdk_image && -n $aspnet_image && -n $sdk_aot_image && -n $runtime_deps_image && $(wc -w <<<"$postgres_image") == 1 ]] ||
  die "cannot read the base image names from the shipped files"
[[ $sdk_aot_image == *-aot && $runtime_deps_image != *-alpine* && $aspnet_image != *-alpine* ]] ||
  die "deploy/Dockerfile.worker should build on an -aot SDK and the images run on glibc, not $sdk_aot_image / $runtime_deps_image / $aspnet_image"
pg_major=${postgres_image#postgres:}
compose_image() { sed -n "s|^ *image: \\($1:[^ ]*\\)\$|\\1|p" "$repo/docker-compose.yml" | sort -u; }
prometheus_image=$(compose_image prom/prometheus)
alertmanager_image=$(compose_image prom/alertmanager)
[[ $(wc -w <<<"$prometheus_image") == 1 && $(wc -w <<<"$alertmanager_image") == 1 ]] || die "cannot read the Prometheus and Alertmanager image names from docker-compose.yml"

# --- What this machine has ------------------------------------------------------------------------------------
# The Native AOT toolchain of the -aot SDK: clang drives GNU ld (binutils) against glibc's and GCC's start files, zlib.
aot_toolchain=(clang-14 libclang-common-14-dev binutils binutils-x86-64-linux-gnu libc6-dev linux-libc-dev libcrypt-dev
  libgcc-12-dev zlib1g-dev)
packages=(bash dash coreutils findutils grep sed mawk gzip tzdata libc-bin util-linux busybox-static
  "postgresql-$pg_major" "postgresql-client-$pg_major" libpq5 libc6 libgcc-s1 libstdc++6 zlib1g libssl3
  prometheus prometheus-alertmanager "${aot_toolchain[@]}")
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing from Debian: ${missing[*]}"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
icu=$(dpkg-query -W -f '${Package} ${Status}\n' 'libicu[0-9]*' 2>/dev/null | awk '/ok installed/ { print $1; exit }')
[[ -n $icu ]] || die "no libicu package is installed (apt-get install -y libicu72)"

dotnet_root=${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}
[[ -x $dotnet_root/dotnet ]] || die "no .NET installation found (set DOTNET_ROOT)"
latest() { find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n1; }
sdk_version=$(latest "$dotnet_root/sdk")
runtime_version=$(latest "$dotnet_root/shared/Microsoft.NETCore.App")
aspnet_version=$(latest "$dotnet_root/shared/Microsoft.AspNetCore.App")
[[ $runtime_version == "$dotnet_arg".* ]] ||
  die "this machine has .NET $runtime_version; the Dockerfiles want $dotnet_arg (ARG DOTNET_VERSION)"
pg_version=$(dpkg-query -W -f '${Version}' "postgresql-$pg_major")
prometheus_version=$(dpkg-query -W -f '${Version}' prometheus)
alertmanager_version=$(dpkg-query -W -f '${Version}' prometheus-alertmanager)
# The tag says which upstream release compose wants; the stand-in is whatever Debian has. Said, not hidden.
for pair in "$prometheus_image $prometheus_version" "$alertmanager_image $alertmanager_version"; do
  read -r image version <<<"$pair"
  [[ ${image##*:v} == "${version%%[+-]*}" ]] || log "note: $image stands in with Debian's $version, not that release"
done
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -s $ca_bundle ]] || die "no CA bundle at $ca_bundle (apt-get install -y ca-certificates)"

recipe=$({
  cat "$0" "$here/assemble-rootfs.py" "$here/postgres/docker-entrypoint.sh"
  dpkg-query -W "${packages[@]}" "$icu"
  echo "$sdk_version $runtime_version $aspnet_version"
  sha256sum "$ca_bundle"
} | sha256sum | cut -c1-16)

work=$(mktemp -d "${TMPDIR:-/tmp}/hermes-base-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
label='org.hermes.stand-in="local stand-in, not the published image: built by deploy/images/build-local-base-images.sh from the Debian packages and the .NET installation of the machine it ran on"'

# Decides whether $1 needs building: 0 = build it.
wanted() {
  local have
  if ! have=$(docker image inspect --format '{{ index .Config.Labels "org.hermes.stand-in.recipe" }}' "$1" 2>/dev/null); then
    return 0
  fi
  if [[ -z $have || $have == "<no value>" ]]; then
    log "$1 is present and is not a stand-in (a pulled image): keeping it"
    return 1
  fi
  if [[ $have == "$recipe" && $force == 0 ]]; then
    log "$1: stand-in up to date (recipe $recipe)"
    return 1
  fi
  return 0
}

# import <root> <image> [--change ...]: the tree as a one-layer image.
import() {
  local root=$1 image=$2
  shift 2
  local started=$SECONDS
  tar -C "$root" --numeric-owner -cf - . | docker import --change "LABEL $label" --change "LABEL org.hermes.stand-in.recipe=$recipe" "$@" - "$image" >/dev/null
  log "$image: $(du -sm "$root" | cut -f1) MB, imported in $((SECONDS - started)) s"
}

users() { # users <root> <name:uid:home:shell>...
  local root=$1 entry name uid home shell
  shift
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  for entry in "$@"; do
    IFS=: read -r name uid home shell <<<"$entry"
    printf '%s:x:%s:%s::%s:%s\n' "$name" "$uid" "$uid" "$home" "$shell" >>"$root/etc/passwd"
    printf '%s:x:%s:\n' "$name" "$uid" >>"$root/etc/group"
    mkdir -p "$root$home"
    chown "$uid:$uid" "$root$home"
  done
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
}

certificates() { # the machine's trust store, where OpenSSL (and so .NET) looks for it
  local root=$1
  mkdir -p "$root/etc/ssl/certs" "$root/usr/lib/ssl"
  cp "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
  ln -sfn /etc/ssl/certs "$root/usr/lib/ssl/certs"
  ln -sfn /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
}

# The busybox applets that scripts and health checks use.
applets=(sh ash cat cp mv rm ls ln mkdir rmdir chmod chown echo env grep egrep sed awk find xargs head tail tr
  cut sort uniq wc tar gzip gunzip wget nc id whoami sleep ps kill date touch test '[' true false printf pwd
  readlink realpath dirname basename uname hostname mktemp stat du df less vi which tee sha256sum base64 od)

# Every .NET image's variables (runtime-deps has these alone); the images holding .NET add their versions.
container_env=(--change "ENV APP_UID=1654" --change "ENV ASPNETCORE_HTTP_PORTS=8080" --change "ENV DOTNET_RUNNING_IN_CONTAINER=true"
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
dotnet_env=("${container_env[@]}" --change "ENV DOTNET_VERSION=$runtime_version" --change "ENV ASPNET_VERSION=$aspnet_version")

# What every .NET image stand-in carries: the native libraries .NET needs, ICU among them; and, for the ASP.NET
# images, the runtimes without the SDK.
dotnet_libraries=(--package libc6 --package libgcc-s1 --package libstdc++6 --package zlib1g --package libssl3 --package "$icu"
  --exclude '*/gconv/*' --exclude '*/libcoreclrtraceptprovider.so')
runtime_paths=(--path "$dotnet_root/dotnet" --path "$dotnet_root/host" --path "$dotnet_root/LICENSE.txt" --path "$dotnet_root/ThirdPartyNotices.txt"
  --path "$dotnet_root/shared/Microsoft.NETCore.App/$runtime_version" --path "$dotnet_root/shared/Microsoft.AspNetCore.App/$aspnet_version")

# The SDK's root filesystem: the whole .NET installation, plus what assemble-rootfs.py is given ($2...).
assemble_sdk() {
  local root=$1
  shift
  python3 "$here/assemble-rootfs.py" "$root" "${dotnet_libraries[@]}" "$@" --path "$dotnet_root" "${applets[@]/#/--busybox=}"
  relocate_dotnet "$root"
  users "$root" app:1654:/home/app:/bin/sh
  certificates "$root"
}

# NUGET_CERT_REVOCATION_MODE=offline, as the environment of this kind of machine sets it for NuGet: its network
# reaches NuGet, not necessarily the certificate revocation servers NuGet's online signature check asks.
import_sdk() { # import_sdk <root> <image>
  import "$1" "$2" "${dotnet_env[@]}" --change "ENV DOTNET_SDK_VERSION=$sdk_version" \
    --change "ENV DOTNET_GENERATE_ASPNET_CERTIFICATE=false" --change "ENV DOTNET_NOLOGO=true" \
    --change "ENV DOTNET_USE_POLLING_FILE_WATCHER=true" --change "ENV NUGET_XMLDOC_MODE=skip" \
    --change "ENV NUGET_CERT_REVOCATION_MODE=offline"
}

build_sdk() {
  assemble_sdk "$work/sdk"
  import_sdk "$work/sdk" "$sdk_image"
}

# The -aot SDK: the SDK above plus clang and what it links with. clang-14 is reached as clang, as Ubuntu's package
# "clang" links it.
build_sdk_aot() {
  local root=$work/sdk-aot
  assemble_sdk "$root" "${aot_toolchain[@]/#/--package=}" --exclude '/usr/lib/clang/*/lib'
  ln -sfn clang-14 "$root/usr/bin/clang"
  ln -sfn clang-14 "$root/usr/bin/clang++"
  import_sdk "$root" "$sdk_aot_image"
}

# Ubuntu's runtime images: glibc, libstdc++, OpenSSL, ICU (Unicode normalisation), tzdata, the CA bundle and bash (the
# health checks' shell). runtime-deps stops there: the self-contained API and the native worker carry their own
# runtime. The ASP.NET image adds the .NET and ASP.NET Core runtimes (the admin host and the CLI), not
# globalization-invariant. build_glibc_runtime <folder under $work> [assemble-rootfs.py arguments...]
build_glibc_runtime() {
  local root=$work/$1
  shift
  python3 "$here/assemble-rootfs.py" "$root" "${dotnet_libraries[@]}" --package tzdata --package bash --package dash \
    --exclude '/usr/share/zoneinfo/right/*' "$@" "${applets[@]/#/--busybox=}"
  ln -sfn dash "$root/usr/bin/sh"
  users "$root" app:1654:/home/app:/bin/sh
  certificates "$root"
}

build_runtime_deps() {
  build_glibc_runtime runtime-deps
  import "$work/runtime-deps" "$runtime_deps_image" "${container_env[@]}"
}

build_aspnet() {
  build_glibc_runtime aspnet "${runtime_paths[@]}"
  relocate_dotnet "$work/aspnet"
  import "$work/aspnet" "$aspnet_image" "${dotnet_env[@]}"
}

# (libcoreclrtraceptprovider.so is left out: it is the LTTng tracing provider, which needs liblttng-ust; .NET loads
# it only when present and LTTng is installed, and this machine has no LTTng.)
# The .NET tree lives at /usr/share/dotnet in the official images, wherever it is on this machine.
relocate_dotnet() {
  local root=$1 from
  from=$(readlink -f "$dotnet_root")
  if [[ $from != /usr/share/dotnet ]]; then
    mkdir -p "$root/usr/share"
    rm -rf "$root/usr/share/dotnet"
    mv "$root${from}" "$root/usr/share/dotnet"
  fi
  ln -sfn ../share/dotnet/dotnet "$root/usr/bin/dotnet"
}

# The monitoring images of the Prometheus project: one Go binary (plus its command-line tool) on busybox, run as
# nobody (65534), the binary as ENTRYPOINT and the official image's flags as CMD.
monitoring_applets=(sh cat ls mkdir rm echo env printf grep sed wget id sleep ps kill date test '[' true false)

build_prometheus() {
  local root=$work/prometheus
  python3 "$here/assemble-rootfs.py" "$root" --package prometheus --exclude '/etc/init.d/*' --exclude '/lib/systemd/*' \
    --exclude '/etc/logrotate.d/*' --exclude '/etc/default/*' "${monitoring_applets[@]/#/--busybox=}"
  users "$root" nobody:65534:/home:/bin/false
  certificates "$root"
  mkdir -p "$root/prometheus"
  chown -R 65534:65534 "$root/prometheus" "$root/etc/prometheus"
  import "$root" "$prometheus_image" --change "USER nobody" --change "WORKDIR /prometheus" --change "EXPOSE 9090" \
    --change "VOLUME /prometheus" --change 'ENTRYPOINT ["/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.console.libraries=/etc/prometheus/console_libraries", "--web.console.templates=/etc/prometheus/consoles"]'
}

build_alertmanager() {
  local root=$work/alertmanager
  python3 "$here/assemble-rootfs.py" "$root" --package prometheus-alertmanager --exclude '/etc/init.d/*' --exclude '/lib/systemd/*' \
    --exclude '/etc/logrotate.d/*' --exclude '/etc/default/*' --exclude '/var/*' "${monitoring_applets[@]/#/--busybox=}"
  ln -sfn prometheus-alertmanager "$root/usr/bin/alertmanager"
  users "$root" nobody:65534:/home:/bin/false
  certificates "$root"
  mkdir -p "$root/alertmanager" "$root/etc/alertmanager"
  chown -R 65534:65534 "$root/alertmanager" "$root/etc/alertmanager"
  import "$root" "$alertmanager_image" --change "USER nobody" --change "WORKDIR /alertmanager" --change "EXPOSE 9093" \
    --change "VOLUME /alertmanager" --change 'ENTRYPOINT ["/bin/alertmanager"]' \
    --change 'CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]'
}

build_postgres() {
  local root=$work/postgres bin=/usr/lib/postgresql/$pg_major/bin
  python3 "$here/assemble-rootfs.py" "$root" --package "postgresql-$pg_major" --package "postgresql-client-$pg_major" \
    --package libpq5 --package bash --package dash --package coreutils --package findutils --package grep --package sed \
    --package mawk --package gzip --package tzdata --package libc-bin --path /usr/bin/setpriv \
    --exclude "/usr/lib/postgresql/$pg_major/lib/llvmjit*" --exclude "/usr/lib/postgresql/$pg_major/lib/bitcode*" \
    --exclude '/usr/share/zoneinfo/right/*'
  ln -sfn mawk "$root/usr/bin/awk"
  ln -sfn dash "$root/usr/bin/sh"
  users "$root" postgres:999:/var/lib/postgresql:/bin/bash
  install -D -m 755 "$here/postgres/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  ln -sfn usr/local/bin/docker-entrypoint.sh "$root/docker-entrypoint.sh"
  mkdir -p "$root/docker-entrypoint-initdb.d" "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
  chown 999:999 "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
  chmod 1777 "$root/var/lib/postgresql/data"
  chmod 3777 "$root/var/run/postgresql"
  # As the official image: initdb's sample listens on every address.
  sed -ri "s/^#?(listen_addresses)\s*=\s*\S+.*/\1 = '*'/" "$root/usr/share/postgresql/$pg_major/postgresql.conf.sample"
  import "$root" "$postgres_image" --change "ENV PATH=$bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV PG_MAJOR=$pg_major" --change "ENV PG_VERSION=$pg_version" --change "ENV PGDATA=/var/lib/postgresql/data" \
    --change "ENV LANG=C.UTF-8" --change "VOLUME /var/lib/postgresql/data" --change "EXPOSE 5432" \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["postgres"]'
  # `docker import` cannot set a stop signal. SIGINT is PostgreSQL's fast shutdown, as in the official image
  # (SIGTERM would wait for every client to disconnect).
  printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$postgres_image" | docker build -q -t "$postgres_image" - >/dev/null
}

started=$SECONDS
log "recipe $recipe: PostgreSQL $pg_version, .NET SDK $sdk_version (runtime $runtime_version, ASP.NET $aspnet_version), Prometheus $prometheus_version, Alertmanager $alertmanager_version"
if wanted "$postgres_image"; then build_postgres; fi
if wanted "$sdk_image"; then build_sdk; fi
if wanted "$aspnet_image"; then build_aspnet; fi
if wanted "$runtime_deps_image"; then build_runtime_deps; fi
if wanted "$sdk_aot_image"; then build_sdk_aot; fi
if wanted "$prometheus_image"; then build_prometheus; fi
if wanted "$alertmanager_image"; then build_alertmanager; fi
# Images replaced by a newer recipe leave dangling layers behind. Only those of another recipe go: every image built
# from a stand-in inherits its label, and the dangling build stages of deploy/Dockerfile.* built on the current ones
# hold the restore layers the next image builds reuse.
docker image prune -f --filter "label=org.hermes.stand-in.recipe" --filter "label!=org.hermes.stand-in.recipe=$recipe" >/dev/null 2>&1 || true
log "done in $((SECONDS - started)) s: $postgres_image, $sdk_image, $aspnet_image, $sdk_aot_image, $runtime_deps_image, $prometheus_image, $alertmanager_image"
