-- Runs once, when the PostgreSQL data directory is first initialised (mounted into
-- /docker-entrypoint-initdb.d by compose.yaml and the quadlet). One database per service;
-- each service applies its own migrations at start-up.
CREATE DATABASE sportslog_auth;
CREATE DATABASE sportslog_activities;
CREATE DATABASE sportslog_notifier;
