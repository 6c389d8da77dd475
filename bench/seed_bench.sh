#!/usr/bin/env bash
# Time `flask clinic seed-demo` on a fresh database (wall clock of the whole command).
#   bench/seed_bench.sh sqlite 100000 [seed-demo options]  instance in a temp dir, deleted after
#   bench/seed_bench.sh pg 100000 [seed-demo options]      database seed_bench_<pid>, dropped after
# KEEP=/dir (sqlite: instance directory) or KEEP=name (pg: database name) keeps the database;
# it is created afresh (an existing clinicdesk.db in /dir, or database `name`, is replaced).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=$1 count=$2
shift 2
export FLASK_APP=run.py
PG=${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432}
instance=$(mktemp -d /tmp/seed-bench.XXXXXX)

if [ "$backend" = sqlite ]; then
  dir=${KEEP:-$instance}
  mkdir -p "$dir"
  rm -f "$dir/clinicdesk.db" "$dir/clinicdesk.db-wal" "$dir/clinicdesk.db-shm"
  export CLINICDESK_INSTANCE=$dir
  unset DATABASE_URL
  size() { du -sh "$dir/clinicdesk.db" | cut -f1; }
  cleanup() { rm -rf "$instance"; }
else
  db=${KEEP:-seed_bench_$$}
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\""
  export DATABASE_URL=$PG/$db CLINICDESK_INSTANCE=$instance
  size() { psql "$PG/$db" -tAc "SELECT pg_size_pretty(pg_database_size(current_database()))"; }
  cleanup() {
    [ -n "${KEEP:-}" ] || psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    rm -rf "$instance"
  }
fi
trap cleanup EXIT

.venv/bin/flask clinic init --admin-password "bench-$RANDOM$RANDOM$RANDOM" >/dev/null 2>&1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s%N)
.venv/bin/flask clinic seed-demo --patients "$count" "$@" | tail -1
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
echo "backend=$backend patients=$count options='$*' wall=$((ms / 1000)).$(printf %03d $((ms % 1000)))s" \
     "size=$(size) load_before=[$load_before] load_after=[$(cut -d' ' -f1-3 /proc/loadavg)]"
