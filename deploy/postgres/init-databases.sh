#!/bin/bash
# One database and one role per service: sportslog_auth, sportslog_activities and
# sportslog_notifier each own the database of the same name and may connect to no other
# service's database. They cannot create roles or databases, and are not superusers.
#
# The postgres image runs this once, when its data directory is first initialised (compose.yaml
# and the quadlet mount it into /docker-entrypoint-initdb.d). It is safe to run again by hand,
# e.g. to rotate a password:
#   AUTH_DB_PASSWORD=... ACTIVITIES_DB_PASSWORD=... NOTIFIER_DB_PASSWORD=... \
#     PGHOST=127.0.0.1 POSTGRES_USER=postgres bash deploy/postgres/init-databases.sh
#
# The passwords come from the environment (compose's env file, podman secrets) and reach psql
# through its environment, never its command line. SPORTSLOG_DB_PREFIX (default sportslog)
# changes the names, e.g. for two deployments sharing one server.
# (No `exit` and no `set -u`: the image's entrypoint may source this file.)

set -eo pipefail

sportslog_init_databases() {
  local prefix="${SPORTSLOG_DB_PREFIX:-sportslog}" service variable
  for service in auth activities notifier; do
    variable="${service^^}_DB_PASSWORD"
    if [ -z "${!variable}" ]; then
      echo "init-databases: $variable is not set" >&2
      return 1
    fi
  done
  for service in auth activities notifier; do
    variable="${service^^}_DB_PASSWORD"
    SPORTSLOG_ROLE_PASSWORD="${!variable}" psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
      --username "${POSTGRES_USER:-postgres}" --dbname postgres \
      -v role="${prefix}_${service}" <<'SQL'
\getenv password SPORTSLOG_ROLE_PASSWORD
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION'
              ' NOBYPASSRLS PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'role', :'role') \gexec
-- CONNECT is granted to PUBLIC by default: only the owner (and superusers) may connect.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'role') \gexec
SQL
    echo "init-databases: role and database ${prefix}_${service} ready"
  done
}

sportslog_init_databases
