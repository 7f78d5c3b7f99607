#!/bin/bash
# Installs sports-log on one Podman host (Rocky Linux / RHEL 9 or any Linux with Podman >= 4.4)
# as systemd services, through Quadlet. Run it from a checkout, as root:
#
#   sudo deploy/setup.sh --build --start        # first install
#   sudo deploy/setup.sh --scale activities=3 --start
#
# Each run is safe to repeat (it is also how you upgrade: git pull, then --build --start):
#   - the units in deploy/quadlets go to /etc/containers/systemd;
#   - /etc/sports-log/<service>.env is created from deploy/quadlets/env/ once, mode 0600, and
#     never overwritten (your edits stay);
#   - the PostgreSQL init script, Prometheus and Grafana files under /etc/sports-log are ours
#     and are replaced;
#   - every podman secret the units name is created with a random value when it is missing,
#     and kept when it exists (create your own first to choose a value).
#
# Options:
#   --build              build the four service images from this checkout (podman build)
#   --start              start everything; the four services are restarted (new image,
#                        new settings)
#   --scale SERVICE=N    run N containers of auth, activities or notifier (default: as many
#                        as installed, 1 at first); copies share the service's network alias,
#                        so the gateway and Prometheus reach every one
#
# SPORTSLOG_ETC_DIR and SPORTSLOG_UNIT_DIR change the two directories (rootless Podman:
# SPORTSLOG_UNIT_DIR=~/.config/containers/systemd); PODMAN and SYSTEMCTL the commands.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ETC_DIR=${SPORTSLOG_ETC_DIR:-/etc/sports-log}
UNIT_DIR=${SPORTSLOG_UNIT_DIR:-/etc/containers/systemd}
PODMAN=${PODMAN:-podman}
SYSTEMCTL=${SYSTEMCTL:-systemctl}

APPS=(auth activities notifier gateway)
SCALABLE=(auth activities notifier)  # the gateway publishes :8000, so one per host
MAX_COPIES=16

die() {
  echo "setup: $*" >&2
  exit 1
}

usage() {
  sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

build=0
start=0
declare -A scale=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=1 ;;
    --start) start=1 ;;
    --scale)
      [ $# -ge 2 ] || die "--scale needs SERVICE=N"
      shift
      service=${1%%=*}
      count=${1#*=}
      [[ " ${SCALABLE[*]} " == *" $service "* ]] ||
        die "--scale: $service cannot be scaled here (one of: ${SCALABLE[*]})"
      [[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le $MAX_COPIES ] ||
        die "--scale: $service needs a count from 1 to $MAX_COPIES, not '$count'"
      scale[$service]=$count
      ;;
    -h | --help) usage 0 ;;
    *)
      echo "setup: unknown option $1" >&2
      usage 2
      ;;
  esac
  shift
done

command -v "$PODMAN" >/dev/null || die "podman is missing (dnf install podman)"
command -v openssl >/dev/null || die "openssl is missing (dnf install openssl)"
version=$("$PODMAN" version --format '{{.Client.Version}}')
[ "$(printf '%s\n' 4.4 "$version" | sort -V | head -n1)" = 4.4 ] ||
  die "Quadlet needs Podman 4.4 or later; this host has $version"

# --- configuration under /etc/sports-log ---------------------------------------------------

install -d -m 0755 "$ETC_DIR" "$ETC_DIR/postgres" "$ETC_DIR/prometheus" "$ETC_DIR/grafana"
for app in "${APPS[@]}"; do
  if [ -e "$ETC_DIR/$app.env" ]; then
    echo "kept    $ETC_DIR/$app.env"
  else
    install -m 0600 "$REPO/deploy/quadlets/env/$app.env.example" "$ETC_DIR/$app.env"
    echo "created $ETC_DIR/$app.env (edit it, see the comments inside)"
  fi
done
install -m 0755 "$REPO/deploy/postgres/init-databases.sh" "$ETC_DIR/postgres/"
install -m 0644 "$REPO/deploy/prometheus/prometheus.yml" "$REPO/deploy/prometheus/alerts.yml" \
  "$ETC_DIR/prometheus/"
rm -rf "$ETC_DIR/grafana/provisioning" "$ETC_DIR/grafana/dashboards"
cp -R "$REPO/deploy/grafana/provisioning" "$REPO/deploy/grafana/dashboards" "$ETC_DIR/grafana/"
chmod -R u=rwX,go=rX "$ETC_DIR/grafana"

# --- podman secrets --------------------------------------------------------------------------

random_hex() { openssl rand -hex 24; }      # goes inside URLs, so URL-safe
random_key() { openssl rand -base64 32; }   # 32 random bytes, standard base64

# create_secret NAME COMMAND...: the command's output, without its final newline.
create_secret() {
  local name=$1 value
  shift
  if "$PODMAN" secret exists "$name"; then
    echo "kept    secret $name"
    return
  fi
  value=$("$@")
  printf '%s' "$value" | "$PODMAN" secret create "$name" - >/dev/null
  echo "created secret $name"
}

# The broker's password and the services' AMQP_URL carry the same value: made together.
rabbit_exists=0
amqp_exists=0
"$PODMAN" secret exists sportslog-rabbitmq-password && rabbit_exists=1
"$PODMAN" secret exists sportslog-amqp-url && amqp_exists=1
if [ $rabbit_exists != $amqp_exists ]; then
  die "sportslog-rabbitmq-password and sportslog-amqp-url must be made together; remove the" \
    "one that exists (podman secret rm ...) or create the other with the same password:" \
    "amqp://sportslog:<password>@rabbitmq:5672/"
fi
password=$(random_hex)
create_secret sportslog-rabbitmq-password printf '%s' "$password"
create_secret sportslog-amqp-url printf 'amqp://sportslog:%s@rabbitmq:5672/' "$password"
unset password

create_secret sportslog-postgres-password random_hex
for app in auth activities notifier; do
  create_secret "sportslog-$app-db-password" random_hex
done
create_secret sportslog-jwt-key openssl genpkey -algorithm ed25519
create_secret sportslog-token-hmac-secret random_key
create_secret sportslog-event-seal-key random_key
create_secret sportslog-oauth-token-encryption-key random_key
create_secret sportslog-cursor-secret random_key
create_secret sportslog-internal-api-key random_key
create_secret sportslog-grafana-admin-password random_hex

# --- units -------------------------------------------------------------------------------------

install -d -m 0755 "$UNIT_DIR"
install -m 0644 "$REPO"/deploy/quadlets/*.container "$REPO"/deploy/quadlets/*.volume \
  "$REPO"/deploy/quadlets/*.network "$UNIT_DIR/"

# Copies 2..N of a service: the same unit under another container name. They keep the
# network alias, so DNS answers with every copy's address: the gateway's client rotates over
# them, Prometheus scrapes each, and notifiers share the queue.
copies=()
for service in "${SCALABLE[@]}"; do
  installed=1
  for unit in "$UNIT_DIR/sportslog-$service"-[0-9]*.container; do
    [ -e "$unit" ] || continue
    index=${unit##*-}
    index=${index%.container}
    [ "$index" -gt "$installed" ] && installed=$index
  done
  wanted=${scale[$service]:-$installed}
  for ((index = wanted + 1; index <= installed; index++)); do
    "$SYSTEMCTL" stop "sportslog-$service-$index.service" 2>/dev/null || true
    rm -f "$UNIT_DIR/sportslog-$service-$index.container"
    echo "removed copy sportslog-$service-$index"
  done
  for ((index = 2; index <= wanted; index++)); do
    sed "s/^ContainerName=sportslog-$service\$/ContainerName=sportslog-$service-$index/" \
      "$REPO/deploy/quadlets/sportslog-$service.container" \
      >"$UNIT_DIR/sportslog-$service-$index.container"
    chmod 0644 "$UNIT_DIR/sportslog-$service-$index.container"
    copies+=("sportslog-$service-$index.service")
  done
  echo "$service: $wanted container(s)"
done

# --- images and services -----------------------------------------------------------------------

if [ $build = 1 ]; then
  for app in "${APPS[@]}"; do
    "$PODMAN" build -f "$REPO/Containerfile" --build-arg "SERVICE=$app" \
      -t "localhost/sportslog-$app:latest" "$REPO"
  done
fi

"$SYSTEMCTL" daemon-reload

if [ $start = 1 ]; then
  "$SYSTEMCTL" start sportslog-postgres.service sportslog-rabbitmq.service
  "$SYSTEMCTL" restart sportslog-auth.service sportslog-activities.service \
    sportslog-notifier.service sportslog-gateway.service "${copies[@]}"
  "$SYSTEMCTL" start sportslog-prometheus.service sportslog-grafana.service
  echo "started; check with: systemctl status 'sportslog-*' and curl http://127.0.0.1:8000/ready"
else
  echo "installed; start with: sudo $0 --start"
fi
