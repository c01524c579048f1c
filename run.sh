#!/usr/bin/env bash
# run.sh — set up what ChatSlices needs on a Debian (bookworm) machine, then run the service.
#
# Usage:
#   ./run.sh                  set up, then run the service on http://localhost:7001
#                             (ASPNETCORE_ENVIRONMENT=Development, AI__Provider=local unless set)
#   ./run.sh --setup-only     set up only, then print `export NAME=value` lines on STDOUT, so that
#                             another script can do:  eval "$(./run.sh --setup-only)"
#   ./run.sh [--] ARGS...     extra ARGS are passed on to the service
#
# Environment:
#   ConnectionStrings__Postgres  if already set, it is used as it is: no PostgreSQL server or
#                                pgvector is installed here and no private cluster is started.
#   CHATSLICES_PG_PORT           port of the private cluster. Unset: the port this checkout's
#                                cluster already uses, else 55432, else (taken by another
#                                server) the next free port above it.
#   CHATSLICES_REDIS_PORT        port of the private redis-server, chosen the same way (56379).
#   Redis__Connection            if already set, it is used as it is: no private redis-server.
#
# What the setup does (each step only if its result is missing, so a second run is fast):
#   1. Debian packages: poppler-utils (pdftotext/pdfinfo); postgresql-15,
#      postgresql-server-dev-15 and build-essential for the private cluster.
#   2. pgvector 0.8.x, built from Debian's own source package (trixie) against PostgreSQL 15.
#   3. A private PostgreSQL 15 cluster in .local/pgdata, on 127.0.0.1 only, with database
#      `chatslices` (superuser chatslices / password chatslices, scram-sha-256) and
#      pg_stat_statements preloaded (bench/ reads it). It is left running, and reused by the
#      next run (restarted once when these settings change).
#   4. A private redis-server (Debian's) in .local/redis, on 127.0.0.1 only, nothing saved to
#      disk: the shared rate limits and resumable streams of several instances. Left running.
#      The service is given it as Redis__Connection; --setup-only prints it as CHATSLICES_REDIS
#      (tests choose per test whether an instance uses it).
#
# Works as root, and as a normal user with sudo. As root the cluster runs as the `postgres`
# system user (initdb refuses root); as a normal user it runs as that user.
# Every progress message goes to STDERR, in every mode.
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
PG_CONFIG="${PG_BIN}/pg_config"
PGVECTOR_WANTED="0.8"                 # accept any 0.8.x from Debian's source package
PGVECTOR_SRC_SUITE="trixie"           # bookworm has no pgvector; trixie's source builds on PG 15
PGVECTOR_SRC_LIST="/etc/apt/sources.list.d/chatslices-pgvector-src.list"

LOCAL_DIR="${ROOT}/.local"
PGDATA_DIR="${LOCAL_DIR}/pgdata"
PGSOCK_DIR="${LOCAL_DIR}/pgsocket"
PGLOG_FILE="${LOCAL_DIR}/postgres.log"
PG_PORT="${CHATSLICES_PG_PORT:-55432}"
PG_DB="chatslices"
PG_USER="chatslices"
PG_PASSWORD="chatslices"

REDIS_DIR="${LOCAL_DIR}/redis"
REDIS_PORT="${CHATSLICES_REDIS_PORT:-56379}"

APP_URLS="http://localhost:7001"

# ---------------------------------------------------------------------------------------------
# Output: keep the real STDOUT on fd 3 for the `export` lines; everything else goes to STDERR
# (also the output of apt-get, make, ...), so `eval "$(./run.sh --setup-only)"` is safe.
# ---------------------------------------------------------------------------------------------
exec 3>&1 1>&2

log() { printf '[run.sh] %s\n' "$*" >&2; }
die() { printf '[run.sh] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------
SETUP_ONLY=0
APP_ARGS=()
while (($#)); do
  case "$1" in
    --setup-only) SETUP_ONLY=1 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; APP_ARGS+=("$@"); break ;;
    *) APP_ARGS+=("$1") ;;
  esac
  shift
done

# Every mode ends in dotnet (run, or test.sh's dotnet test): say so before the long setup.
command -v dotnet >/dev/null 2>&1 || die "dotnet is not installed: install the .NET 10 SDK \
(https://learn.microsoft.com/dotnet/core/install/linux-debian, e.g. apt-get install dotnet-sdk-10.0 \
from packages.microsoft.com, or https://dot.net/v1/dotnet-install.sh --channel 10.0) and put it on PATH"

# ---------------------------------------------------------------------------------------------
# Privileges: SUDO is empty as root, "sudo" otherwise.
# ---------------------------------------------------------------------------------------------
ME="$(id -un)"
if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=""
else
  SUDO="sudo"
fi
need_sudo() {   # fail early, with a clear message, when a step needs root and sudo is missing
  if [[ -n "$SUDO" ]] && ! command -v sudo >/dev/null 2>&1; then
    die "this step needs root: run as root or install sudo ($*)"
  fi
}

# ---------------------------------------------------------------------------------------------
# Debian packages: install only what is missing; `apt-get update` at most once, and only when
# something must be installed.
# ---------------------------------------------------------------------------------------------
APT_UPDATED=0
apt_update() {
  if [[ "$APT_UPDATED" -eq 0 ]]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
}
pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
apt_install() {   # apt_install PKG... — installs those of PKG... that are not installed yet
  local missing=() p
  for p in "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  need_sudo "apt-get install ${missing[*]}"
  apt_update
  log "installing Debian packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ---------------------------------------------------------------------------------------------
# The Debian mirror this machine already uses (first `deb` entry for its own release), so that
# no host name is written into this repository.
# Prints "URI<TAB>SIGNED-BY" (SIGNED-BY may be empty).
# ---------------------------------------------------------------------------------------------
debian_mirror() {
  local codename
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-bookworm}")"
  local files=() f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && files+=("$f")
  done
  # deb822 files (e.g. debian.sources): one stanza per paragraph.
  if [[ ${#files[@]} -gt 0 ]]; then
    local found
    found="$(awk -v want="$codename" '
      function flush() {
        if (!done && types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*no/ && uris != "") {
          n = split(suites, s, /[ \t]+/)
          for (i = 1; i <= n; i++) if (s[i] == want) {
            split(uris, u, /[ \t]+/)
            if (signed !~ /^\//) signed = ""      # only a keyring path, not an inline key
            print u[1] "\t" signed; done = 1; break
          }
        }
        types = uris = suites = signed = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^Types:/     { sub(/^Types:[ \t]*/, "");     types = $0 }
      /^URIs:/      { sub(/^URIs:[ \t]*/, "");      uris = $0 }
      /^Suites:/    { sub(/^Suites:[ \t]*/, "");    suites = $0 }
      /^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); signed = $0 }
      /^Enabled:/   { sub(/^Enabled:[ \t]*/, "");   enabled = $0 }
      END { flush() }
    ' "${files[@]}")"
    if [[ -n "$found" ]]; then
      printf '%s\n' "$found"
      return 0
    fi
  fi
  # One-line format: "deb [options] URI SUITE COMPONENT..."
  files=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" && "$f" != "$PGVECTOR_SRC_LIST" ]] && files+=("$f")
  done
  [[ ${#files[@]} -gt 0 ]] || return 1
  awk -v want="$codename" '
    $1 == "deb" {
      i = 2; opts = ""
      if ($i ~ /^\[/) { while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } i++ } }
      if ($(i + 1) == want) {
        signed = ""
        if (match(opts, /signed-by=[^] \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
        print $i "\t" signed; exit
      }
    }' "${files[@]}" | grep . || return 1
}

# ---------------------------------------------------------------------------------------------
# Step 1: Debian packages
# ---------------------------------------------------------------------------------------------
setup_packages() {
  local pkgs=(poppler-utils)
  [[ -n "${Redis__Connection:-}" ]] || pkgs+=(redis-server)
  if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
    pkgs+=("postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" build-essential)
  fi
  apt_install "${pkgs[@]}"
  command -v pdftotext >/dev/null 2>&1 || die "pdftotext is missing after install"
}

# ---------------------------------------------------------------------------------------------
# Step 2: pgvector, built from Debian's source package for trixie against PostgreSQL 15.
# ---------------------------------------------------------------------------------------------
setup_pgvector() {
  local control
  control="$("$PG_CONFIG" --sharedir)/extension/vector.control"
  if [[ -f "$control" ]]; then
    return 0
  fi
  need_sudo "install pgvector"
  log "pgvector is not installed: building it from Debian's source package (${PGVECTOR_SRC_SUITE})"

  local mirror uri signed
  mirror="$(debian_mirror)" || die "found no Debian 'deb' entry in /etc/apt to take the mirror from"
  uri="${mirror%%$'\t'*}"
  signed="${mirror#*$'\t'}"
  [[ -n "$uri" ]] || die "could not parse the Debian mirror URI"

  # A deb-src-only entry in its own file: no binary package of trixie can be installed through it.
  local entry="deb-src"
  [[ -n "$signed" ]] && entry+=" [signed-by=${signed}]"
  entry+=" ${uri} ${PGVECTOR_SRC_SUITE} main"
  printf '# Added by ChatSlices run.sh: source packages only, to build pgvector for PostgreSQL %s.\n%s\n' \
    "$PG_MAJOR" "$entry" | $SUDO tee "$PGVECTOR_SRC_LIST" >/dev/null
  log "added ${PGVECTOR_SRC_LIST}: ${entry}"

  # Refresh only that entry's index (fast; leaves the other lists as they are).
  log "apt-get update (only ${PGVECTOR_SRC_LIST})"
  $SUDO apt-get update -qq \
    -o Dir::Etc::sourcelist="$PGVECTOR_SRC_LIST" \
    -o Dir::Etc::sourceparts="-" \
    -o APT::Get::List-Cleanup="0"

  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/chatslices-pgvector.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  mkdir "$work/dl" "$work/src"
  # apt downloads as the unprivileged _apt user when run as root: let it reach and write there
  # (mktemp's 0700 would make apt warn that the download is unsandboxed).
  if [[ -z "$SUDO" ]] && id _apt >/dev/null 2>&1; then
    chmod 755 "$work"
    chown _apt "$work/dl"
  fi
  (cd "$work/dl" && apt-get source -qq --download-only pgvector)

  local orig version
  orig="$(find "$work/dl" -maxdepth 1 -name 'pgvector_*.orig.tar.*' | head -n 1)"
  [[ -n "$orig" ]] || die "apt-get source gave no pgvector orig tarball"
  version="$(basename "$orig")"
  version="${version#pgvector_}"
  version="${version%%.orig.tar.*}"
  [[ "$version" == "${PGVECTOR_WANTED}".* ]] ||
    die "Debian's source package has pgvector ${version}, wanted ${PGVECTOR_WANTED}.x"
  log "building pgvector ${version} against PostgreSQL ${PG_MAJOR}"

  tar -xf "$orig" -C "$work/src"
  local srcdir
  srcdir="$(find "$work/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
  [[ -f "$srcdir/vector.control" ]] || die "unexpected layout of the pgvector tarball"
  # OPTFLAGS="" : no -march=native, so the library also runs on another CPU of this machine kind.
  make -s -C "$srcdir" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS=""
  $SUDO make -s -C "$srcdir" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install

  rm -rf "$work"
  trap - EXIT
  # The source entry was only needed for this download.
  $SUDO rm -f "$PGVECTOR_SRC_LIST"

  [[ -f "$control" ]] || die "pgvector install did not produce ${control}"
  local installed
  installed="$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$control")"
  [[ "$installed" == "${PGVECTOR_WANTED}".* ]] ||
    die "installed pgvector has version '${installed}', wanted ${PGVECTOR_WANTED}.x"
  [[ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]] || die "vector.so is missing after install"
  log "pgvector ${installed} installed"
}

# ---------------------------------------------------------------------------------------------
# Step 3: the private PostgreSQL cluster.
# ---------------------------------------------------------------------------------------------
CLUSTER_USER=""
as_cluster() {   # run a command as the cluster's owner, from "/" (its cwd may be unreadable to it)
  # fd 3 (our real STDOUT) is closed, so a started server never holds the caller's pipe open.
  if [[ "$CLUSTER_USER" == "$ME" ]]; then
    (cd / && "$@") 3>&-
  elif [[ -z "$SUDO" ]]; then
    (cd / && runuser -u "$CLUSTER_USER" -- "$@") 3>&-
  else
    (cd / && sudo -u "$CLUSTER_USER" -- "$@") 3>&-
  fi
}
own_for_cluster() {   # give PATH... to the cluster user (no-op when that is us)
  if [[ "$CLUSTER_USER" != "$ME" ]]; then
    $SUDO chown "$CLUSTER_USER:" "$@"
  fi
}
ensure_traversable() {   # let the cluster user reach DIR: o+x on each ancestor it cannot enter
  [[ "$CLUSTER_USER" == "$ME" ]] && return 0
  local dir="$1" chain=()
  while [[ "$dir" != "/" && -n "$dir" ]]; do
    chain=("$dir" "${chain[@]}")
    dir="$(dirname "$dir")"
  done
  local d
  for d in "${chain[@]}"; do   # top-down, so only the blocking folders change
    if ! as_cluster test -x "$d"; then
      log "allowing ${CLUSTER_USER} to traverse ${d} (chmod o+x)"
      $SUDO chmod o+x "$d"
    fi
  done
}
port_in_use() {   # port_in_use PORT — true if something accepts TCP connections on 127.0.0.1:PORT
  (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
free_port_above() {   # free_port_above PORT VARIABLE — prints the first free port above PORT (VARIABLE: what chooses it)
  local p="$1" n
  for ((n = 0; n < 100; n++)); do
    p=$((p + 1))
    port_in_use "$p" || { printf '%s\n' "$p"; return 0; }
  done
  die "no free port in $1..${p}: set $2"
}
psql_admin() {   # psql_admin SQL — run SQL in database "postgres" over TCP as the superuser
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -c "$1"
}

setup_cluster() {
  [[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "CHATSLICES_PG_PORT must be a number (got '${PG_PORT}')"

  # Who owns the cluster: the owner of an existing one; else postgres as root, else ourselves.
  if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
    CLUSTER_USER="$(stat -c %U "$PGDATA_DIR")"
  elif [[ -z "$SUDO" ]]; then
    CLUSTER_USER="postgres"
  else
    CLUSTER_USER="$ME"
  fi
  if [[ "$CLUSTER_USER" != "$ME" ]]; then
    need_sudo "run PostgreSQL as ${CLUSTER_USER}"
    id "$CLUSTER_USER" >/dev/null 2>&1 || die "user ${CLUSTER_USER} does not exist"
  fi

  mkdir -p "$LOCAL_DIR"
  ensure_traversable "$LOCAL_DIR"

  # Unix socket inside .local/ — unless the path is too long for a socket (108 bytes), then
  # TCP only (this script and the service use TCP anyway).
  local sockdirs="$PGSOCK_DIR"
  if (( ${#PGSOCK_DIR} + 16 > 107 )); then   # + "/.s.PGSQL.NNNNN"
    log "note: ${PGSOCK_DIR} is too long for a Unix socket path: TCP only"
    sockdirs=""
  else
    if [[ ! -d "$PGSOCK_DIR" ]]; then
      mkdir -p "$PGSOCK_DIR"
      own_for_cluster "$PGSOCK_DIR"
    fi
  fi

  # New cluster: initdb with superuser chatslices and a scram-sha-256 password.
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    log "creating the PostgreSQL ${PG_MAJOR} cluster in ${PGDATA_DIR#"$ROOT"/} (owner ${CLUSTER_USER})"
    mkdir -p "$PGDATA_DIR"
    chmod 700 "$PGDATA_DIR"
    own_for_cluster "$PGDATA_DIR"
    local pwfile
    pwfile="$(mktemp "${TMPDIR:-/tmp}/chatslices-pw.XXXXXX")"
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    own_for_cluster "$pwfile"
    local locale_opt="--locale=C"
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
      locale_opt="--locale=C.UTF-8"
    fi
    if ! as_cluster "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$PG_USER" --pwfile="$pwfile" \
      --auth=scram-sha-256 --encoding=UTF8 "$locale_opt" >/dev/null; then
      rm -f "$pwfile"
      die "initdb failed"
    fi
    rm -f "$pwfile"
    # Our own settings live in chatslices.conf (rewritten by every run).
    printf "\n# ChatSlices: settings written by run.sh\ninclude_if_exists = 'chatslices.conf'\n" |
      as_cluster tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  fi
  [[ "$(stat -c %U "$PGDATA_DIR")" == "$CLUSTER_USER" ]] || die "unexpected owner of ${PGDATA_DIR}"

  # Port. CHATSLICES_PG_PORT if set (strictly). Otherwise the port this checkout's cluster runs
  # on or used last time (so its connection string stays put), else 55432; and if that one is
  # taken by another server (e.g. another checkout's cluster on this machine, such as CI's fresh
  # clone next to a developer's running cluster), the next free port above it.
  local status=0 running_port=""
  as_cluster "$PG_BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1 || status=$?
  if [[ "$status" -eq 0 ]]; then
    running_port="$(as_cluster sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
  fi
  if [[ -z "${CHATSLICES_PG_PORT:-}" ]]; then
    if [[ -n "$running_port" ]]; then
      PG_PORT="$running_port"
    else
      local last_port
      last_port="$(as_cluster sed -n 's/^port = \([0-9][0-9]*\)$/\1/p' \
        "$PGDATA_DIR/chatslices.conf" 2>/dev/null || true)"
      [[ -n "$last_port" ]] && PG_PORT="$last_port"
      if port_in_use "$PG_PORT"; then
        local p
        p="$(free_port_above "$PG_PORT" CHATSLICES_PG_PORT)"
        log "port ${PG_PORT} is taken by another server: using ${p} (CHATSLICES_PG_PORT chooses)"
        PG_PORT="$p"
      fi
    fi
  elif [[ "$running_port" != "$PG_PORT" ]] && port_in_use "$PG_PORT"; then
    die "port ${PG_PORT} (CHATSLICES_PG_PORT) is taken by another server"
  fi

  # Settings: loopback only, our port, socket in .local/; a few connections to spare for tests
  # that use one database per test class.
  local conf
  conf="$(printf '%s\n' \
    "# Written by ChatSlices run.sh on every run: edit run.sh, not this file." \
    "listen_addresses = '127.0.0.1'" \
    "port = ${PG_PORT}" \
    "unix_socket_directories = '${sockdirs}'" \
    "max_connections = 300" \
    "password_encryption = 'scram-sha-256'" \
    "shared_preload_libraries = 'pg_stat_statements'  # bench/: where PostgreSQL's time goes")"
  local conf_changed=0
  if [[ "$(as_cluster cat "$PGDATA_DIR/chatslices.conf" 2>/dev/null || true)" != "$conf" ]]; then
    printf '%s\n' "$conf" | as_cluster tee "$PGDATA_DIR/chatslices.conf" >/dev/null
    conf_changed=1
  fi

  # Running already? Reuse it (restart only when CHATSLICES_PG_PORT asks for another port, or the settings changed).
  if [[ "$status" -eq 0 ]]; then
    if [[ "$running_port" != "$PG_PORT" || "$conf_changed" -eq 1 ]]; then
      log "restarting the cluster (port ${running_port} → ${PG_PORT}, settings changed: ${conf_changed})"
      as_cluster "$PG_BIN/pg_ctl" restart -D "$PGDATA_DIR" -l "$PGLOG_FILE" -w -t 60 -s -m fast ||
        { tail -n 20 "$PGLOG_FILE" >&2 || true; die "PostgreSQL did not restart (log: ${PGLOG_FILE})"; }
    else
      log "PostgreSQL is running (port ${PG_PORT}, data ${PGDATA_DIR#"$ROOT"/})"
    fi
  else
    log "starting PostgreSQL on 127.0.0.1:${PG_PORT} (log: ${PGLOG_FILE#"$ROOT"/})"
    if [[ ! -e "$PGLOG_FILE" ]]; then
      touch "$PGLOG_FILE"
      own_for_cluster "$PGLOG_FILE"
    fi
    as_cluster "$PG_BIN/pg_ctl" start -D "$PGDATA_DIR" -l "$PGLOG_FILE" -w -t 60 -s ||
      { tail -n 20 "$PGLOG_FILE" >&2 || true; die "PostgreSQL did not start (log: ${PGLOG_FILE})"; }
  fi

  # Wait until it accepts connections (pg_ctl -w waits too; this covers a server still starting).
  local i
  for ((i = 0; i < 60; i++)); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.5
  done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" ||
    die "PostgreSQL is not ready on 127.0.0.1:${PG_PORT} (log: ${PGLOG_FILE})"

  # Database chatslices.
  local exists
  exists="$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'")" ||
    die "cannot log in as ${PG_USER} on 127.0.0.1:${PG_PORT} (is another server on that port?)"
  if [[ "$exists" != "1" ]]; then
    log "creating database ${PG_DB}"
    psql_admin "CREATE DATABASE ${PG_DB}" >/dev/null
  fi
}

# ---------------------------------------------------------------------------------------------
# Step 4: the private redis-server.
# ---------------------------------------------------------------------------------------------
redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == "PONG" ]]; }

setup_redis() {
  mkdir -p "$REDIS_DIR"
  local pid=""
  [[ -f "$REDIS_DIR/redis.pid" ]] && pid="$(cat "$REDIS_DIR/redis.pid")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ -f "$REDIS_DIR/port" ]]; then
    local running_port
    running_port="$(cat "$REDIS_DIR/port")"
    if redis_ping "$running_port" && [[ -z "${CHATSLICES_REDIS_PORT:-}" || "$running_port" == "$REDIS_PORT" ]]; then
      REDIS_PORT="$running_port"
      log "redis-server is running (port ${REDIS_PORT})"
      return 0
    fi
    kill "$pid" 2>/dev/null || true
  fi
  [[ "$REDIS_PORT" =~ ^[0-9]+$ ]] || die "CHATSLICES_REDIS_PORT must be a number (got '${REDIS_PORT}')"
  if port_in_use "$REDIS_PORT"; then
    [[ -z "${CHATSLICES_REDIS_PORT:-}" ]] || die "port ${REDIS_PORT} (CHATSLICES_REDIS_PORT) is taken by another server"
    REDIS_PORT="$(free_port_above "$REDIS_PORT" CHATSLICES_REDIS_PORT)"
  fi
  log "starting redis-server on 127.0.0.1:${REDIS_PORT} (log: ${REDIS_DIR#"$ROOT"/}/redis.log)"
  (cd / && redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --dir "$REDIS_DIR" --save '' --appendonly no --pidfile "$REDIS_DIR/redis.pid" \
    --logfile "$REDIS_DIR/redis.log") 3>&- >/dev/null || die "redis-server did not start"
  printf '%s\n' "$REDIS_PORT" >"$REDIS_DIR/port"
  local i
  for ((i = 0; i < 50; i++)); do
    redis_ping "$REDIS_PORT" && return 0
    sleep 0.1
  done
  die "redis-server is not answering on 127.0.0.1:${REDIS_PORT} (log: ${REDIS_DIR}/redis.log)"
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }   # single-quote a value for the shell

SECONDS=0
setup_packages
if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
  setup_pgvector
fi
if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
  setup_cluster
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=${PG_PORT};Database=${PG_DB};Username=${PG_USER};Password=${PG_PASSWORD}"
else
  log "ConnectionStrings__Postgres is set: using it, no private cluster"
fi
if [[ -z "${Redis__Connection:-}" ]]; then
  setup_redis
  CHATSLICES_REDIS="127.0.0.1:${REDIS_PORT}"
else
  log "Redis__Connection is set: using it, no private redis-server"
  CHATSLICES_REDIS="$Redis__Connection"
fi
log "setup done in ${SECONDS}s"

if [[ "$SETUP_ONLY" -eq 1 ]]; then
  printf 'export ConnectionStrings__Postgres=%s\n' "$(sq "$ConnectionStrings__Postgres")" >&3
  printf 'export CHATSLICES_REDIS=%s\n' "$(sq "$CHATSLICES_REDIS")" >&3
  exit 0
fi
export Redis__Connection="$CHATSLICES_REDIS"

export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
export AI__Provider="${AI__Provider:-local}"
export DOTNET_NOLOGO="${DOTNET_NOLOGO:-1}"
export DOTNET_CLI_TELEMETRY_OPTOUT="${DOTNET_CLI_TELEMETRY_OPTOUT:-1}"
log "starting ChatSlices on ${APP_URLS} (${ASPNETCORE_ENVIRONMENT}, AI provider ${AI__Provider})"
# Give the service the real STDOUT back. --no-launch-profile: launchSettings.json must not
# override the environment set here.
exec 1>&3 3>&-
exec dotnet run --project "${ROOT}/ChatSlices.csproj" -c Release --no-launch-profile \
  -- --urls "$APP_URLS" "${APP_ARGS[@]}"
