#!/usr/bin/env bash
# What `make test` runs once the lab's brokers are up (`make pytest-all`): two streams at once.
#
# Shared: tests, lessons and exercises on $WORKERS workers, beside the lab's brokers. A
#   notebook's cells, and a test file's tests, stay on one worker and in order (the files
#   whose tests are spread one by one, and the order units start in: tests/conftest.py).
#   The suite mostly waits on sockets and timers, so more workers than cores pay off.
# Alone: in a lab of its own (its own Redis and RabbitMQ, in .lab/alone), one after another:
#   the solutions with checks strict (a check that does not pass raises), then what stops
#   or restarts a broker on purpose (marked `serial`: lesson 04's notebook and a few tests).
#   A broker restarted from a kernel belongs to that kernel and ends with it, so nothing
#   may use those brokers after or beside them. Its report is printed when both are done.
#
# Usage (from the Makefile): PY=.venv/bin/python WORKERS=3 NBVAL="..." tests/run_all.sh
set -u
cd "$(dirname "$0")/.."
: "${PY:?}" "${WORKERS:?}" "${NBVAL:?}"
ALONE="$PWD/.lab/alone"
mkdir -p "$ALONE"

alone() {
    local code=0
    if compgen -G "solutions/*.ipynb" >/dev/null; then
        echo "=== Solutions, checks strict"
        # shellcheck disable=SC2086  # NBVAL is a list of options
        LAB_CHECKS_STRICT=1 "$PY" -m pytest solutions/*.ipynb $NBVAL || code=1
    fi
    echo "=== Tests that stop or restart a broker"
    # shellcheck disable=SC2086
    "$PY" -m pytest -m serial tests notebooks/*.ipynb $NBVAL || code=1
    return $code
}

echo "=== Started alone, in a lab of its own: the solutions, then the broker-stopping tests"
export -f alone
export PY NBVAL
env -u REDIS_URL -u AMQP_URL LAB_DIR="$ALONE" "$PY" -m labsupport.lab run -- \
    bash -c alone >"$ALONE/report.txt" 2>&1 &
alone_pid=$!
trap 'kill $alone_pid 2>/dev/null' INT TERM

echo "=== Tests, lessons and exercises on $WORKERS workers, beside the lab's brokers"
# shellcheck disable=SC2086
"$PY" -m pytest -n "$WORKERS" --dist loadscope --no-loadscope-reorder -m "not serial" \
    tests notebooks/*.ipynb exercises/*.ipynb $NBVAL
shared=$?

wait $alone_pid
alone_code=$?
echo "=== Report of what ran alone, in $ALONE:"
cat "$ALONE/report.txt"
echo "=== make test: shared $([ $shared = 0 ] && echo passed || echo FAILED)," \
    "alone $([ $alone_code = 0 ] && echo passed || echo FAILED)"
[ $shared = 0 ] && [ $alone_code = 0 ]
