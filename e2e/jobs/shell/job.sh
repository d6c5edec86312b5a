#!/usr/bin/env bash
# The e2e shell job (e2e/exec_test.go): Dagster launches it through
# `pipes exec -- bash job.sh MODE`. It reports only with the pipes verbs.
#
#   report  reads the context, logs, materializes with typed metadata, reports
#           two checks, prints on stdout and stderr; a child process reports too
#   fail    prints on stderr and exits 3
#   stdio   prints on stdout and stderr (its own and a child's), materializes
set -euo pipefail
mode=${1:-report}

limit=$(pipes context extras.limit)
asset=$(pipes context asset_keys)
pipes log "shell job starting: asset=$asset limit=$limit run=$(pipes context run_id)"
pipes log --level WARNING "a warning from bash"
echo "shell stdout line"
echo "shell stderr line" >&2

case "$mode" in
fail)
  echo "about to fail: disk full" >&2
  exit 3
  ;;
stdio)
  bash -c 'echo "child stdout line"; echo "child stderr line" >&2'
  pipes materialize --meta rows="$limit"
  exit 0
  ;;
esac

# A child process reports through the same session.
bash -c 'pipes message "{\"from\": \"child\", \"limit\": '"$limit"'}" && pipes log --level DEBUG "child reported"'

pipes materialize --data-version "v-$limit" \
  --meta rows="$limit" --meta ratio=0.5 --meta ok=true --meta note="hello world" \
  --meta page=https://example.com/shell --meta-type page=url \
  --meta-json cfg='{"a": [1, 2]}'
pipes check --name row_count --passed --meta rows="$limit"
pipes check --name freshness --failed --severity WARN --meta lag_hours=30

# A mistake is an error the script sees: a second materialization.
if pipes materialize 2>/dev/null; then
  echo "a second materialization was accepted" >&2
  exit 1
fi
echo "done"
