#!/bin/sh
# Start one role of the platform: web | worker | beat | migrate, or any other command.
#   web     wait for the database, apply migrations (one replica at a time), serve with gunicorn
#   worker  wait for the database and the broker, run a Celery worker (thread pool)
#   beat    wait for the database and the broker, run the Celery beat scheduler
#   migrate wait for the database, apply migrations, exit
# Anything else is executed as given (e.g. `python manage.py export_bank`).
# The same script runs in the image and, in tests, from a checkout (python on PATH).
set -eu
cd "$(dirname "$0")/.."

role="${1:-web}"
wait_timeout="${WAIT_FOR_SERVICES_TIMEOUT:-90}"
var_dir="${VAR_DIR:-$(pwd)/var}"

case "$role" in
  web)
    python manage.py wait_for_services --timeout "$wait_timeout"
    if [ "${MIGRATE_ON_START:-true}" = "true" ]; then
      python manage.py migrate_serialized
    fi
    exec gunicorn --config docker/gunicorn.conf.py interview_platform.wsgi:application
    ;;
  worker)
    python manage.py wait_for_services --broker --timeout "$wait_timeout"
    exec celery -A interview_platform worker \
      --queues "${CELERY_QUEUES:-grading,default}" \
      --pool threads --concurrency "${CELERY_CONCURRENCY:-8}" \
      --hostname "${CELERY_WORKER_NAME:-worker}@%h" \
      --loglevel "${LOG_LEVEL:-info}"
    ;;
  beat)
    python manage.py wait_for_services --broker --timeout "$wait_timeout"
    mkdir -p "$var_dir"
    rm -f "$var_dir/celerybeat.pid"
    exec celery -A interview_platform beat \
      --schedule "$var_dir/celerybeat-schedule" --pidfile "$var_dir/celerybeat.pid" \
      --loglevel "${LOG_LEVEL:-info}"
    ;;
  migrate)
    python manage.py wait_for_services --timeout "$wait_timeout"
    exec python manage.py migrate_serialized
    ;;
  *)
    exec "$@"
    ;;
esac
