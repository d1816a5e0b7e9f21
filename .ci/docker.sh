#!/usr/bin/env bash
# Make a Docker engine answer on this machine, and install what image stand-ins are made from.
# Idempotent: installs only what is missing, starts dockerd only when no engine answers.
set -euo pipefail

DOCKER=/usr/bin/docker
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/gosvc-dockerd.log}
WAIT_SECONDS=${DOCKER_WAIT_SECONDS:-60}

# docker.io: the engine and Debian's client, which builds with BuildKit without the buildx plugin.
# busybox-static: the shell of the builder and alpine stand-ins. ca-certificates, tzdata: files the stand-ins carry.
packages=()
[ -x "$DOCKER" ] && [ -x /usr/sbin/dockerd ] || packages+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || packages+=(busybox-static)
[ -f /etc/ssl/certs/ca-certificates.crt ] || packages+=(ca-certificates)
[ -d /usr/share/zoneinfo ] || packages+=(tzdata)
if [ "${#packages[@]}" -gt 0 ]; then
    echo "docker.sh: installing ${packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

if ! timeout 10 "$DOCKER" info >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "docker.sh: no docker engine answers and starting dockerd needs root" >&2
        exit 1
    fi
    if ! pgrep -x dockerd >/dev/null; then
        echo "docker.sh: starting dockerd (log: $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        nohup /usr/sbin/dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    deadline=$((SECONDS + WAIT_SECONDS))
    until timeout 10 "$DOCKER" info >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "docker.sh: the docker engine did not answer within ${WAIT_SECONDS}s; last lines of $DOCKERD_LOG:" >&2
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            exit 1
        fi
        sleep 1
    done
fi
echo "docker.sh: docker engine $("$DOCKER" info --format '{{.ServerVersion}}') answers"
