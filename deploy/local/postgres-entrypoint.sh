#!/bin/sh
# The official postgres image's first-start behaviour, as much as docker-compose.yml
# uses: POSTGRES_PASSWORD_FILE, POSTGRES_USER (default postgres), the init scripts.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${PGPORT:=5432}"
: "${PGHOST_LISTEN:=*}"
export PGPORT
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE is required}"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-host=scram-sha-256 \
    --auth-local=trust --encoding=UTF8 -D "$PGDATA" >/dev/null
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$POSTGRES_USER" -d postgres -f "$f" ;;
      *.sh) echo "running $f"; PGHOST=/var/run/postgresql sh "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "database initialised"
fi
if [ "${1:-postgres}" = "postgres" ]; then
  shift || true
  exec postgres -D "$PGDATA" -c listen_addresses="$PGHOST_LISTEN" \
    -c unix_socket_directories=/var/run/postgresql "$@"
fi
exec "$@"
