#!/usr/bin/env bash
# Make PostgreSQL's server programs answer on PATH: the database check and the tests of a service with a database
# run a server of their own (initdb into a scratch folder, on loopback). Idempotent: installs only what is missing.
set -euo pipefail

if ! command -v psql >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "postgres.sh: installing postgresql"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
# Debian keeps initdb, pg_ctl and postgres out of PATH, under the major version's folder: the newest one serves.
if ! command -v initdb >/dev/null; then
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    for program in initdb pg_ctl postgres; do
        ln -sf "$bin/$program" "/usr/local/bin/$program"
    done
    echo "postgres.sh: linked $bin/{initdb,pg_ctl,postgres} into /usr/local/bin"
fi
initdb --version
