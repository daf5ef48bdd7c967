#!/usr/bin/env bash
# Starts the web server and a real Celery worker (with the beat scheduler embedded) on the
# embedded defaults; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var/broker/queue var/broker/processed

"$BIN/celery" -A interview_platform worker --beat --schedule var/celerybeat-schedule \
  --queues grading,default --pool threads --concurrency "${CELERY_CONCURRENCY:-4}" \
  --loglevel INFO --hostname "dev@%h" &
worker_pid=$!

stop() {
  trap - INT TERM EXIT
  kill -TERM "$worker_pid" 2>/dev/null || true
  wait "$worker_pid" 2>/dev/null || true
}
trap stop INT TERM EXIT

echo "Portal: http://127.0.0.1:8000/  Admin: http://127.0.0.1:8000/admin/  API docs: http://127.0.0.1:8000/api/v1/docs/"
"$BIN/python" manage.py runserver "${RUN_ADDRESS:-127.0.0.1:8000}"
