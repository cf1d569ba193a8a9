#!/usr/bin/env bash
# A throwaway PostgreSQL server for the sweep tests (tests/sweeps/test_postgres.py), also handy
# for developers:
#
#   eval "$(.ci/postgres.sh start)"   # prints: export GENDER_DESKTOP_TEST_POSTGRES=postgresql+psycopg2://...
#   python -m pytest tests/sweeps/test_postgres.py
#   .ci/postgres.sh stop              # stops the server and removes its cluster
#
# start: installs Debian's postgresql package when initdb is missing (apt-get, non-interactive),
# initialises a cluster in a temp folder as an unprivileged user (gdci, created when missing, when
# this runs as root; the current user otherwise), starts it with pg_ctl on a free local port
# (127.0.0.1 and a unix socket in that folder only, trust authentication, no fsync: a test
# server, never a real one) and creates one database. stop: the reverse, safe to call twice.
# PGCI_DIR, PGCI_PORT and PGCI_USER override the folder, the first port tried and the user.
set -euo pipefail

DIR="${PGCI_DIR:-${TMPDIR:-/tmp}/gender-desktop-postgres}"
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

pg_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bin" ] && command -v initdb >/dev/null 2>&1; then
    bin="$(dirname "$(command -v initdb)")"
  fi
  echo "$bin"
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
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql >&2
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
  local bin user port
  bin="$(pg_bin)"
  user="$(pg_user)"
  [ -f "$DIR/port" ] && stop  # a cluster left by an earlier run that was not stopped
  if as_root && ! id "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  port="$(free_port)"
  mkdir -p "$DIR/socket"
  as_root && chown -R "$user" "$DIR"
  chmod 700 "$DIR"
  as_pg "$bin/initdb" -D "$DIR/data" -U "$user" --auth=trust -E UTF8 --no-sync >"$DIR/initdb.log"
  as_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $port -k $DIR/socket -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
  echo "$port" >"$DIR/port"
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$user" "$DB"
  echo "export GENDER_DESKTOP_TEST_POSTGRES=postgresql+psycopg2://$user@127.0.0.1:$port/$DB"
}

stop() {
  [ -d "$DIR" ] || return 0
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
