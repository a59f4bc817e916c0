#!/usr/bin/env bash
# The compose deployment on this machine (`make compose-up`, `compose-down`, `compose-test`;
# docs/deployment.md). With a Docker engine: docker-compose.yml as it is, public images.
# Without one: podman + podman-compose, with compose.override.yml and local images built
# here from Debian's packages and PyPI (no container registry needed).
#
#   deploy/local/compose.sh up | down | reset | test | ps | logs [service] | images | env | client-env
#
# State kept between runs (git-ignored): .compose/ (the operator's password, the
# health-check ticker's pid, the last builds' and up's output). `reset` is `down` plus deleting the volumes. `test` runs
# its own project (COMPOSE_PROJECT_NAME=provisioning-test: its own volumes, deleted
# before and after) so it never touches the data of `up`; both use the same ports, so
# stop one before starting the other.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="$ROOT/deploy/local"
STATE="$ROOT/.compose"
PROJECT="${COMPOSE_PROJECT_NAME:-provisioning}"
PODMAN_COMPOSE_VERSION=1.6.0

log() { printf '[compose %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

engine() {
  if [[ -n "${COMPOSE_ENGINE:-}" ]]; then echo "$COMPOSE_ENGINE"; return; fi
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; else echo podman; fi
}

operator_password() {
  mkdir -p "$STATE" && chmod 700 "$STATE"
  if [[ -n "${OPERATOR_PASSWORD:-}" ]]; then
    (umask 077 && printf '%s' "$OPERATOR_PASSWORD" > "$STATE/operator_password")
  elif [[ ! -s "$STATE/operator_password" ]]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' > "$STATE/operator_password")
    log "generated the operator's password into .compose/operator_password"
  fi
  OPERATOR_PASSWORD="$(cat "$STATE/operator_password")"
  export OPERATOR_PASSWORD
  # a file secret is bind-mounted with its own owner and mode: identity runs as 10001
  if [[ $(id -u) == 0 ]]; then chown 10001 "$STATE/operator_password"; fi
}

# ---------------------------------------------------------------- podman
podman_setup() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
  PC="$ROOT/.tools/podman-compose/bin/podman-compose"
  if [[ ! -x "$PC" ]]; then
    log "installing podman-compose $PODMAN_COMPOSE_VERSION from PyPI into .tools/podman-compose"
    python3 -m venv "$ROOT/.tools/podman-compose"
    "$ROOT/.tools/podman-compose/bin/pip" install --quiet "podman-compose==$PODMAN_COMPOSE_VERSION"
  fi
  export CONTAINERS_CONF="$LOCAL/containers.conf"
}

local_build() {  # name containerfile [extra podman build args]
  local name=$1 file=$2; shift 2
  log "building $name"
  podman build --network host "$@" -t "$name" -f "$file" "$LOCAL" >>"$STATE/build.log" 2>&1 \
    || { tail -30 "$STATE/build.log" >&2; exit 1; }
}

podman_images() {
  local base=localhost/provisioning-local
  mkdir -p "$STATE" && : >"$STATE/build.log"  # the builds' output
  if ! podman image exists "$base/debian:bookworm"; then
    local dir
    dir="$(mktemp -d /var/tmp/provisioning-debootstrap.XXXXXX)"
    log "making the Debian base image with debootstrap (about a minute)"
    debootstrap --variant=minbase bookworm "$dir/rootfs" >"$dir/debootstrap.log" 2>&1 \
      || { tail -20 "$dir/debootstrap.log" >&2; exit 1; }
    tar -C "$dir/rootfs" -c . | podman import --quiet - "$base/debian:bookworm" >/dev/null
    rm -rf "$dir"
  fi
  # every step is cached by podman: unchanged files rebuild nothing
  local_build "$base/python:3.11-bookworm" "$LOCAL/python.Containerfile"
  local_build "$base/busybox:bookworm" "$LOCAL/busybox.Containerfile"
  local_build "$base/postgres:local" "$LOCAL/postgres.Containerfile"
  # pip inside reaches PyPI with the host's CA bundle
  local_build "$base/nats:local" "$LOCAL/nats.Containerfile" -v /etc/ssl/certs:/etc/ssl/certs:ro
  local_build "$base/mailpit:local" "$LOCAL/mailpit.Containerfile" -v /etc/ssl/certs:/etc/ssl/certs:ro
  log "building ${PROVISIONING_IMAGE:-provisioning:0.1.0} from the Dockerfile"
  podman build --network host -v /etc/ssl/certs:/etc/ssl/certs:ro \
    --build-arg PYTHON_IMAGE="$base/python:3.11-bookworm" \
    --build-arg BUSYBOX_IMAGE="$base/busybox:bookworm" \
    -t "${PROVISIONING_IMAGE:-provisioning:0.1.0}" -f "$ROOT/Dockerfile" "$ROOT" \
    >>"$STATE/build.log" 2>&1 || { tail -30 "$STATE/build.log" >&2; exit 1; }
}

pc() {
  "$PC" --in-pod false -p "$PROJECT" -f "$ROOT/docker-compose.yml" -f "$LOCAL/compose.override.yml" "$@"
}

# podman runs health checks from systemd timers; without systemd (as here) nothing
# runs them, so this loop does, every few seconds, while the stack is up.
ticker_start() {
  ticker_stop
  (
    trap 'exit 0' TERM
    while true; do
      podman ps --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}} {{.Status}}' \
        | awk '/\((healthy|unhealthy|starting)\)/ {print $1}' \
        | while read -r name; do podman healthcheck run "$name" </dev/null >/dev/null 2>&1 || true; done
      sleep "${HEALTH_TICK:-5}"
    done
  ) >/dev/null 2>&1 &
  echo $! > "$STATE/health-ticker.pid"
  disown || true
}

ticker_stop() {
  if [[ -f "$STATE/health-ticker.pid" ]]; then
    kill "$(cat "$STATE/health-ticker.pid")" 2>/dev/null || true
    rm -f "$STATE/health-ticker.pid"
  fi
}

wait_healthy() {  # service...; up to HEALTH_WAIT seconds
  local deadline=$((SECONDS + ${HEALTH_WAIT:-240})) s state
  for s in "$@"; do
    while true; do
      state="$(podman inspect --format '{{.State.Health.Status}}' "${PROJECT}_${s}_1" 2>/dev/null || echo missing)"
      [[ "$state" == healthy ]] && break
      if ((SECONDS > deadline)); then
        log "$s is $state after ${HEALTH_WAIT:-240}s; its log:"
        podman logs --tail 40 "${PROJECT}_${s}_1" >&2 || true
        return 1
      fi
      sleep 2
    done
    log "$s healthy"
  done
}

podman_up() {
  podman_setup
  operator_password
  podman_images
  ticker_start
  # In the compose file's order, one step at a time: podman-compose does not wait for
  # service_healthy on podman < 4.6, and the dependencies it would record (--requires)
  # keep podman from restarting a container whose dependency has exited (keys): so
  # --no-deps, and this script waits instead.
  : >"$STATE/up.log"
  log "running keys"
  pc up -d --no-deps keys >>"$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; exit 1; }
  local rc
  rc="$(podman wait "${PROJECT}_keys_1")"
  if [[ "$rc" != 0 ]]; then podman logs "${PROJECT}_keys_1" >&2; log "keys exited $rc"; exit 1; fi
  log "starting nats, postgres, mailpit"
  pc up -d --no-deps nats postgres mailpit >>"$STATE/up.log" 2>&1 || { cat "$STATE/up.log" >&2; exit 1; }
  wait_healthy nats postgres mailpit
  log "starting the services"
  pc up -d --no-deps account identity invite-scheduler engage-import >>"$STATE/up.log" 2>&1 \
    || { cat "$STATE/up.log" >&2; exit 1; }
  wait_healthy account identity invite-scheduler engage-import
}

podman_down() {
  podman_setup
  operator_password
  ticker_stop
  pc down "$@" >"$STATE/down.log" 2>&1 || { cat "$STATE/down.log" >&2; exit 1; }
}

# ---------------------------------------------------------------- docker
docker_up() {
  operator_password
  (cd "$ROOT" && docker compose up --build -d --wait)
}

docker_down() {
  operator_password
  (cd "$ROOT" && docker compose down "$@")
}

# ---------------------------------------------------------------- commands
cmd="${1:-}"; shift || true
eng="$(engine)"
case "$cmd" in
  up) log "engine: $eng"; "${eng}_up" ;;
  down) "${eng}_down" ;;
  reset) "${eng}_down" -v ;;
  env)  # what tests/compose reads: where the published ports are, from the host
    operator_password
    echo "COMPOSE_ENGINE=$eng"
    echo "COMPOSE_PROJECT=$PROJECT"
    echo "OPERATOR_PASSWORD=$OPERATOR_PASSWORD"
    if [[ $eng == docker ]]; then
      echo "COMPOSE_NATS_URL=nats://127.0.0.1:4222"
      echo "COMPOSE_MAIL_API=http://127.0.0.1:8025"
    else
      echo "COMPOSE_NATS_URL=nats://127.0.0.1:14222"
      echo "COMPOSE_MAIL_API=http://127.0.0.1:18025"
    fi ;;
  client-env)  # the client and ingest credentials for outside callers
    if [[ $eng == docker ]]; then
      (cd "$ROOT" && docker compose run --rm --no-deps keys cat /secrets/client.env)
    else
      podman_setup
      podman run --rm --network none --user 0 -v "${PROJECT}_secrets:/secrets:ro" \
        "${PROVISIONING_IMAGE:-provisioning:0.1.0}" cat /secrets/client.env
    fi ;;
  ps) if [[ $eng == docker ]]; then (cd "$ROOT" && docker compose ps); else podman_setup; podman ps -a --filter "label=io.podman.compose.project=$PROJECT"; fi ;;
  logs) if [[ $eng == docker ]]; then (cd "$ROOT" && docker compose logs "$@"); else podman_setup; operator_password; pc logs "$@"; fi ;;
  images) [[ $eng == podman ]] && { podman_setup; podman_images; } ;;
  test)
    start=$SECONDS
    export COMPOSE_PROJECT_NAME=provisioning-test
    "$0" reset >/dev/null 2>&1 || true
    rc=0
    "$0" up || rc=$?
    if ((rc == 0)); then
      log "up in $((SECONDS - start))s; running tests/compose"
      (cd "$ROOT" && COMPOSE_TEST=1 COMPOSE_ENGINE="$eng" .venv/bin/pytest tests/compose -v -p no:cacheprovider "$@") || rc=$?
    fi
    "$0" reset
    log "compose-test finished in $((SECONDS - start))s (pytest exit $rc)"
    exit $rc ;;
  *) sed -n 2,10p "$0" >&2; exit 2 ;;
esac
