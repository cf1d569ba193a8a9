#!/usr/bin/env bash
# A throwaway PostgreSQL server for the sweep tests (tests/sweeps/test_postgres.py), also handy
# for developers:
#
#   eval "$(.ci/postgres.sh start)"   # prints: export GENDER_DESKTOP_TEST_POSTGRES=postgresql+psycopg2://...
#   python -m pytest tests/sweeps/test_postgres.py
#   .ci/postgres.sh stop              # stops the server and removes its cluster
#
# start: installs Debian's postgresql package when initdb is missing (apt-get, non-interactive,
# without the package's own "main" cluster, which would start on port 5432 and outlive CI),
# initialises a cluster in a new temp folder (mktemp: two runs never share one) as an unprivileged user (gdci, created when missing, when
# this runs as root; the current user otherwise), starts it with pg_ctl on a free local port
# (127.0.0.1 and a unix socket in that folder only, trust authentication, no fsync: a test
# server, never a real one) and creates one database; it prints the exports (the URL and
# PGCI_DIR) to eval. stop: stops the server in $PGCI_DIR and removes that folder; safe to call
# twice, and a no-op without PGCI_DIR. PGCI_PORT and PGCI_USER override the first port tried
# and the user.
set -euo pipefail

FIRST_PORT="${PGCI_PORT:-55432}"
DB="gender_desktop_test"

as_root() { [ "$(id -u)" -eq 0 ]; }

pg_user() {
  if as_root; then echo "${PGCI_USER:-gdci}"; else id -un; fi
}

# Run a command as the server's user (PostgreSQL refuses to run as root).
as_pg() {
  if as_root; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u "$(pg_user)" -- "$@"
    else
      su -s /bin/sh "$(pg_user)" -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

# The newest server's bin folder: the one holding initdb (the client package alone fills a
# bin folder with psql and createdb but no initdb).
pg_bin() {
  local initdb
  initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$initdb" ] && command -v initdb >/dev/null 2>&1; then
    initdb="$(command -v initdb)"
  fi
  [ -n "$initdb" ] && dirname "$initdb"
  return 0
}

install_postgres() {
  [ -n "$(pg_bin)" ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "postgres.sh: no initdb and no apt-get: install PostgreSQL to run its tests" >&2
    return 1
  fi
  local sudo=""
  as_root || sudo="sudo"
  echo "Installing PostgreSQL (Debian's postgresql package)" >&2
  # Debian's documented switch: no "main" cluster is created (and started) by the install.
  $sudo mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | $sudo tee -a /etc/postgresql-common/createcluster.conf >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql >&2
  [ -n "$(pg_bin)" ] || { echo "postgres.sh: postgresql installed but no initdb found" >&2; return 1; }
}

free_port() {
  local port
  for port in $(seq "$FIRST_PORT" $((FIRST_PORT + 20))); do
    # a refused connection: nothing listens there
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "postgres.sh: no free port from $FIRST_PORT to $((FIRST_PORT + 20))" >&2
  return 1
}

start() {
  install_postgres
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/gender-desktop-postgres.XXXXXX")"
  if ! start_in "$DIR"; then
    # the logs say why; they go with the folder
    tail -n 20 "$DIR"/initdb.log "$DIR"/server.log >&2 2>/dev/null || true
    PGCI_DIR="$DIR" stop
    return 1
  fi
}

start_in() {
  local bin user port
  bin="$(pg_bin)"
  user="$(pg_user)"
  if as_root && ! id "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  port="$(free_port)" || return 1
  mkdir -p "$DIR/socket"
  chmod 755 "$DIR"  # mktemp's 700 would keep the server's user out before the chown
  if as_root; then chown -R "$user" "$DIR"; fi
  chmod 700 "$DIR"
  # --no-locale: a container's LANG often names a locale that is not generated
  as_pg "$bin/initdb" -D "$DIR/data" -U "$user" --auth=trust -E UTF8 --no-locale --no-sync \
    >"$DIR/initdb.log" 2>&1 || return 1
  as_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $port -k $DIR/socket -c listen_addresses=127.0.0.1 -c fsync=off" start >&2 || return 1
  echo "$port" >"$DIR/port"
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$DB" || return 1
  echo "export PGCI_DIR=$DIR"
  echo "export GENDER_DESKTOP_TEST_POSTGRES=postgresql+psycopg2://$user@127.0.0.1:$port/$DB"
}

stop() {
  local DIR="${PGCI_DIR:-}"
  [ -n "$DIR" ] && [ -d "$DIR" ] || return 0
  local bin
  bin="$(pg_bin)"
  if [ -n "$bin" ] && [ -f "$DIR/data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >&2 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
