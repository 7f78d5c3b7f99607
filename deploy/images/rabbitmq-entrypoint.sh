#!/bin/bash
# The default user from RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS (created on the first
# start of a data directory, as the public image does), logs to stdout, then the server as
# the rabbitmq user.
set -eo pipefail
{
  echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
  echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
  # The default user signs in from other containers, not only from localhost.
  echo "loopback_users = none"
  echo "log.console = true"
  echo "log.file = false"
} > /etc/rabbitmq/rabbitmq.conf
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
[ "$1" = rabbitmq-server ] && exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
  env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
exec "$@"
