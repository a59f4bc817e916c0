#!/bin/sh
# Run once by the postgres image when the database is first created (after init.sql):
# sets each service role's password from the file the one-shot `keys` container
# generated (python -m shared.keys); no password is written in this repository.
set -eu
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -f /run/provisioning/roles.sql
