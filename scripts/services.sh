#!/usr/bin/env bash
# Install (Debian packages) and start the real services tshoot's tests talk to:
# a Docker engine, PostgreSQL 15 and MariaDB, all on loopback / local sockets.
# Idempotent: a service that already answers is left alone. Prints the env file path.
set -euo pipefail

STATE="${TSHOOT_SERVICES_DIR:-/tmp/tshoot-services}"
PG_PORT="${TSHOOT_PG_PORT:-55432}"
MY_PORT="${TSHOOT_MYSQL_PORT:-53306}"
PASSWORD="tshoot-test"
mkdir -p "$STATE"
chmod 755 "$STATE"

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -x awk >/dev/null || need_pkgs+=(busybox-static)
command -v mariadbd >/dev/null || need_pkgs+=(mariadb-server)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_pkgs+=(postgresql-15)
command -v tmux >/dev/null || need_pkgs+=(tmux)
command -v gdb >/dev/null || need_pkgs+=(gdb)  # memory traces inject tracemalloc into Python < 3.14
[ -x /lib/systemd/systemd-journal-remote ] || need_pkgs+=(systemd-journal-remote)  # the Logs tests write real journals
[ -x /usr/sbin/nginx ] || need_pkgs+=(nginx)  # the Logs tests read a real nginx's access log (it is started by the test)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "services: installing ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d 101 keeps package scripts from starting system-wide daemons we start ourselves.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
  rm -f /usr/sbin/policy-rc.d
fi

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "services: $what did not come up; see $STATE/*.log" >&2; return 1
}

# --- Docker engine (vfs storage, no iptables/bridge: works inside this sandbox) ---
if ! docker info >/dev/null 2>&1; then
  setsid dockerd --storage-driver=vfs --iptables=false --bridge=none \
    --data-root "$STATE/docker" --exec-root "$STATE/docker-exec" --pidfile "$STATE/dockerd.pid" \
    >"$STATE/dockerd.log" 2>&1 < /dev/null &
  wait_for 60 dockerd docker info
fi
if ! docker image inspect tshoot-busybox:latest >/dev/null 2>&1; then
  root="$(mktemp -d)"; mkdir -p "$root/bin" "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
  tar -C "$root" -c . | docker import - tshoot-busybox:latest >/dev/null
  rm -rf "$root"
fi

# --- PostgreSQL 15 (password auth so wrong-password cases are real) ---
PGBIN=/usr/lib/postgresql/15/bin
if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  if [ ! -f "$STATE/pg/PG_VERSION" ]; then
    mkdir -p "$STATE/pg"; chown postgres: "$STATE/pg"
    echo "$PASSWORD" > "$STATE/pgpass"; chown postgres: "$STATE/pgpass"
    su postgres -s /bin/sh -c "$PGBIN/initdb -D '$STATE/pg' -U postgres --auth=scram-sha-256 --pwfile='$STATE/pgpass'" >"$STATE/initdb.log" 2>&1
  fi
  touch "$STATE/postgres.log"; chown postgres: "$STATE/postgres.log"
  su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$STATE/pg' -l '$STATE/postgres.log' -w -t 60 start -o \"-c listen_addresses=127.0.0.1 -p $PG_PORT -k /tmp -c max_connections=100 -c shared_preload_libraries=pg_stat_statements\"" >/dev/null
  wait_for 30 postgres "$PGBIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT"
fi

# --- MariaDB ---
my_sql() { mariadb --protocol=tcp -h 127.0.0.1 -P "$MY_PORT" -uroot -p"$PASSWORD" -N -e "$1"; }
if ! my_sql "SELECT 1" >/dev/null 2>&1; then
  if [ ! -d "$STATE/mysql/mysql" ]; then
    mkdir -p "$STATE/mysql"; chown mysql: "$STATE/mysql"
    mariadb-install-db --datadir="$STATE/mysql" --user=mysql --auth-root-authentication-method=normal >"$STATE/mysql-install.log" 2>&1
  fi
  mkdir -p "$STATE/mysql-run"; chown mysql: "$STATE/mysql-run"
  if ! mariadb-admin --socket="$STATE/mysql-run/mysql.sock" ping >/dev/null 2>&1; then
    setsid mariadbd --datadir="$STATE/mysql" --socket="$STATE/mysql-run/mysql.sock" --port="$MY_PORT" \
      --bind-address=127.0.0.1 --user=mysql --pid-file="$STATE/mysql-run/mariadb.pid" --max-connections=150 \
      >"$STATE/mariadb.log" 2>&1 < /dev/null &
    wait_for 60 mariadb mariadb-admin --socket="$STATE/mysql-run/mysql.sock" ping
  fi
  # A fresh data dir lets root in over the socket without a password: give it one, and a TCP login.
  mariadb --socket="$STATE/mysql-run/mysql.sock" -uroot <<SQL 2>/dev/null || true
ALTER USER 'root'@'localhost' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  wait_for 30 "mariadb (tcp login)" my_sql "SELECT 1"
fi

cat > "$STATE/env" <<ENV
export TSHOOT_TEST_PG_URL=postgresql+psycopg://postgres:$PASSWORD@127.0.0.1:$PG_PORT/postgres
export TSHOOT_TEST_MYSQL_URL=mysql+pymysql://root:$PASSWORD@127.0.0.1:$MY_PORT/mysql
export TSHOOT_TEST_DOCKER_IMAGE=tshoot-busybox:latest
ENV
echo "$STATE/env"
