#!/usr/bin/env bash
# Pipeline lab: producer -> PostgreSQL -> loader -> Redis (transaction log), all on 127.0.0.1.
#
#   run.sh start  [--batch-size N] [--rate ROWS_PER_SEC] [--loader python|java] [--lab-dir DIR] [--pg-port P] [--redis-port P]
#   run.sh stop   [--lab-dir DIR]
#   run.sh status [--lab-dir DIR] [--json] [--interval SECONDS]
#
# The same settings can come from the environment: BATCH_SIZE (10), PRODUCER_RATE (3000),
# LAB_DIR (/tmp/bpfkit-pipeline), PG_PORT (25432), REDIS_PORT (26379), LOADER (python).
# The Java loader (Loader.java, the same behaviour as loader.py) is compiled at start with
# Debian's OpenJDK 17 (javac), into the lab directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-/usr/bin/python3}"  # Debian's python: python3-psycopg2/python3-redis live there
PG_BIN=/usr/lib/postgresql/15/bin
JDK_BIN=/usr/lib/jvm/java-17-openjdk-amd64/bin

BATCH_SIZE="${BATCH_SIZE:-10}"
PRODUCER_RATE="${PRODUCER_RATE:-3000}"
LAB_DIR="${LAB_DIR:-/tmp/bpfkit-pipeline}"
PG_PORT="${PG_PORT:-25432}"  # below the ephemeral range (32768-60999): no outgoing connection can hold it
REDIS_PORT="${REDIS_PORT:-26379}"
LOADER="${LOADER:-python}"
SLOT=bpfkit_lab
STREAM=txlog

cmd="${1:-}"
[ $# -gt 0 ] && shift
status_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --batch-size) BATCH_SIZE="$2"; shift 2 ;;
    --rate) PRODUCER_RATE="$2"; shift 2 ;;
    --lab-dir) LAB_DIR="$2"; shift 2 ;;
    --pg-port) PG_PORT="$2"; shift 2 ;;
    --redis-port) REDIS_PORT="$2"; shift 2 ;;
    --loader) LOADER="$2"; shift 2 ;;
    --json) status_args+=(--json); shift ;;
    --interval) status_args+=(--interval "$2"); shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for v in BATCH_SIZE PG_PORT REDIS_PORT; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
[[ "$LOADER" =~ ^(python|java)$ ]] || { echo "run.sh: --loader must be python or java, not '$LOADER'" >&2; exit 2; }
[[ "$PRODUCER_RATE" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: PRODUCER_RATE must be a number, not '$PRODUCER_RATE'" >&2; exit 2; }
LAB_DIR="$(realpath -m "$LAB_DIR")"  # absolute: commands run from other directories
export LAB_DIR PG_PORT REDIS_PORT BATCH_SIZE PRODUCER_RATE SLOT STREAM
export PYTHONDONTWRITEBYTECODE=1  # keep __pycache__ out of the source tree

log() { echo "pipeline: $*" >&2; }
die() { log "$*"; exit 1; }

pid_of() {  # pid from pid file $1 if that process runs and its command line has $2
  local f="$1" pid
  [ -f "$f" ] || return 1
  pid="$(head -n1 "$f" 2>/dev/null || true)"
  # The command-line check keeps a stale pid file from naming an unrelated process.
  [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" && grep -qaF -- "$2" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

alive() {  # a zombie counts as gone: it waits for init (not us) to reap it
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

wait_gone() {  # wait up to $2 tenths of a second for pid $1 to exit
  local i
  for ((i = 0; i < $2; i++)); do alive "$1" || return 0; sleep 0.1; done
  return 1
}

stop_pid() {  # SIGTERM, then SIGKILL if it does not exit within 5 s
  local name="$1" pid="$2"
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_gone "$pid" 50 || { log "$name ($pid) ignored SIGTERM, killing"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 20 || true; }
}

ensure_packages() {
  local missing=()
  [ -x "$PG_BIN/postgres" ] || missing+=(postgresql)
  [ "$LOADER" != java ] || [ -x "$JDK_BIN/javac" ] || missing+=(openjdk-17-jdk-headless)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if ! "$PY" -c 'import psycopg2, redis' 2>/dev/null; then  # one interpreter start in the common case
    "$PY" -c 'import psycopg2' 2>/dev/null || missing+=(python3-psycopg2)
    "$PY" -c 'import redis' 2>/dev/null || missing+=(python3-redis)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d on container images keeps the packages' own system services from starting.
  if ! apt-get install -y "${missing[@]}" >"$LAB_DIR.apt.log" 2>&1; then
    apt-get update >>"$LAB_DIR.apt.log" 2>&1
    apt-get install -y "${missing[@]}" >>"$LAB_DIR.apt.log" 2>&1 || die "apt-get failed, see $LAB_DIR.apt.log"
  fi
}

do_stop() {
  local pid
  # Upstream first so that nothing writes into a component that is already gone.
  if pid="$(pid_of "$LAB_DIR/producer.pid" producer.py)"; then stop_pid producer "$pid"; fi
  # Either loader: the pid file names the one that was started.
  if pid="$(pid_of "$LAB_DIR/loader.pid" loader.py || pid_of "$LAB_DIR/loader.pid" Loader)"; then stop_pid loader "$pid"; fi
  if pid="$(pid_of "$LAB_DIR/pgdata/postmaster.pid" "$LAB_DIR/pgdata")"; then
    as_postgres "$PG_BIN/pg_ctl" stop -D "$LAB_DIR/pgdata" -m fast -w -t 20 >/dev/null 2>&1 || stop_pid postgres "$pid"
    wait_gone "$pid" 50 || true
  fi
  if pid="$(pid_of "$LAB_DIR/redis.pid" redis-server)"; then stop_pid redis "$pid"; fi
  rm -f "$LAB_DIR"/*.pid
}

as_postgres() {  # PostgreSQL refuses to run as root; cd so it never sits in an unreadable cwd
  (cd "$LAB_DIR" && runuser -u postgres -- "$@")
}

psql_lab() {
  as_postgres "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$LAB_DIR/pgsock" -p "$PG_PORT" -U postgres -d postgres "$@"
}

start_service() {  # detached from this shell (setsid) so that stop is the only way it ends
  local name="$1"
  (cd "$HERE" && exec setsid "$PY" "$name.py" >"$LAB_DIR/$name.log" 2>&1 </dev/null) &
  echo $! >"$LAB_DIR/$name.pid"
}

start_java_loader() {  # compiled from source at every start: no build step, no jar to ship
  mkdir -p "$LAB_DIR/java"
  "$JDK_BIN/javac" -d "$LAB_DIR/java" "$HERE/Loader.java" >"$LAB_DIR/javac.log" 2>&1 || die "javac failed, see $LAB_DIR/javac.log"
  # A small fixed heap: the loader needs little, and the JVM's size does not depend on the host.
  (cd "$LAB_DIR" && exec setsid "$JDK_BIN/java" -Xms64m -Xmx64m -cp "$LAB_DIR/java" Loader >"$LAB_DIR/loader.log" 2>&1 </dev/null) &
  echo $! >"$LAB_DIR/loader.pid"
}

wait_for() {  # wait up to $2 seconds for the command in "${@:3}" to succeed
  local what="$1" secs="$2" i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up (logs in $LAB_DIR)"
}

close_inherited_fds() {  # the lab's daemons outlive us: they must not keep our caller's files (a flock) open
  local fd
  for fd in $(ls /proc/$$/fd); do
    [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-" 2>/dev/null || true
  done
}

do_start() {
  [ "$(id -u)" = 0 ] || die "start needs root (apt-get, runuser postgres)"
  close_inherited_fds
  do_stop
  # A start that fails half way must not leave components running.
  trap 'if [ $? -ne 0 ]; then log "start failed, stopping what was started"; do_stop; fi' EXIT
  ensure_packages
  # Every start begins from an empty state dir, except for the pristine cluster that
  # initdb made the first time (copying it is much faster than initdb; 1 MB WAL
  # segments keep it small).
  mkdir -p "$LAB_DIR"
  find "$LAB_DIR" -mindepth 1 -maxdepth 1 ! -name pgtemplate -exec rm -rf {} +
  mkdir -p "$LAB_DIR/redis" "$LAB_DIR/pgsock"
  chmod 755 "$LAB_DIR"
  touch "$LAB_DIR/postgres.log"
  chown postgres:postgres "$LAB_DIR/pgsock" "$LAB_DIR/postgres.log"

  # database: a private cluster; the system cluster is never touched.
  if [ ! -f "$LAB_DIR/pgtemplate/PG_VERSION" ]; then
    rm -rf "$LAB_DIR/pgtemplate"
    install -d -o postgres -g postgres -m 700 "$LAB_DIR/pgtemplate"
    as_postgres "$PG_BIN/initdb" -D "$LAB_DIR/pgtemplate" -U postgres --auth=trust -E UTF8 --no-sync --wal-segsize=1 >"$LAB_DIR/initdb.log" 2>&1 \
      || { rm -rf "$LAB_DIR/pgtemplate"; die "initdb failed, see $LAB_DIR/initdb.log"; }
  fi
  cp -a "$LAB_DIR/pgtemplate" "$LAB_DIR/pgdata"
  cat >>"$LAB_DIR/pgdata/postgresql.conf" <<EOF
# bpfkit pipeline lab
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$LAB_DIR/pgsock'
wal_level = logical
max_replication_slots = 4
shared_buffers = 64MB
# Commits do not wait for the disk, so the producer's rate does not depend on it;
# the WAL writer still flushes the log many times a second. Logical decoding only sees
# flushed WAL, so a short delay also keeps a keeping-up loader's lag near zero.
synchronous_commit = off
wal_writer_delay = 20ms
# A lagging slot keeps WAL; cap it so a forgotten lab cannot fill the disk.
max_slot_wal_keep_size = 2GB
logging_collector = off
EOF
  as_postgres "$PG_BIN/pg_ctl" start -D "$LAB_DIR/pgdata" -l "$LAB_DIR/postgres.log" -w -t 30 >/dev/null \
    || die "postgres did not start, see $LAB_DIR/postgres.log"
  psql_lab >/dev/null <<EOF
CREATE TABLE events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), payload text NOT NULL);
SELECT 1 FROM pg_create_logical_replication_slot('$SLOT', 'test_decoding');
EOF

  # transaction log: Redis with an append-only file.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$LAB_DIR/redis" --appendonly yes --save '' \
    --daemonize yes --pidfile "$LAB_DIR/redis.pid" --logfile "$LAB_DIR/redis.log" >/dev/null
  wait_for redis 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping

  cat >"$LAB_DIR/lab.json" <<EOF
{"batchSize": $BATCH_SIZE, "loader": "$LOADER", "producerRate": $PRODUCER_RATE, "pgPort": $PG_PORT, "redisPort": $REDIS_PORT, "slot": "$SLOT", "stream": "$STREAM"}
EOF
  if [ "$LOADER" = java ]; then start_java_loader; else start_service loader; fi
  start_service producer
  # Each service writes its counter file once it is connected and running.
  wait_for loader 10 test -s "$LAB_DIR/loader.count"
  wait_for producer 10 test -s "$LAB_DIR/producer.count"
  trap - EXIT
  log "started in $LAB_DIR: producer $PRODUCER_RATE rows/s, $LOADER loader batch size $BATCH_SIZE, postgres :$PG_PORT, redis :$REDIS_PORT"
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status) exec "$PY" "$HERE/status.py" "${status_args[@]}" ;;
  *) echo "usage: $0 start|stop|status [options]   (see the top of this file)" >&2; exit 2 ;;
esac
