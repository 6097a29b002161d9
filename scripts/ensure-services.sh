#!/usr/bin/env bash
# Start PostgreSQL and Redis when installed but stopped (the commands this machine's image uses).
# Under CI=true a service that cannot be reached is an error; elsewhere the tests skip with a reason.
set -u
ci=false; case "${CI:-}" in 1|true|yes|TRUE) ci=true ;; esac
problems=0

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { echo "services: PostgreSQL is not reachable on 127.0.0.1:5432"; problems=1; }
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "services: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 20); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.5; done
  fi
  (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null || { echo "services: Redis is not reachable on 127.0.0.1:6379"; problems=1; }
fi

if [ "$problems" -ne 0 ] && [ "$ci" = true ]; then
  echo "services: CI=true needs PostgreSQL and Redis; failing." >&2
  exit 1
fi
exit 0
