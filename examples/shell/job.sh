#!/usr/bin/env bash
# examples/shell: a plain bash job as a Dagster asset. It imports nothing:
# `pipes exec` runs it and the `pipes` commands below report to Dagster.
#
# Dagster launches it with definitions.py; without Dagster, from the
# repository root:
#
#   go run ./cmd/pipes run --asset daily_report --extra min_rows=3 -- go run ./cmd/pipes exec -- bash examples/shell/job.sh
set -euo pipefail

# Read the context: an extra with a default, the run id.
min_rows=$(pipes context extras.min_rows 2>/dev/null || echo 1)
pipes log "building the daily report (run $(pipes context run_id), at least $min_rows rows)"

# The work: any program, in any language.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
report="$dir/report.csv"
printf 'region,orders\nnorth,12\nsouth,7\neast,9\nwest,4\n' >"$report"
rows=$(($(wc -l <"$report") - 1))
total=$(awk -F, 'NR > 1 { s += $2 } END { print s }' "$report")
preview=$(awk -F, 'NR == 1 { print "| " $1 " | " $2 " |"; print "|---|---|"; next } { print "| " $1 " | " $2 " |" }' "$report")
echo "report: $rows rows, $total orders"   # stdout and stderr reach Dagster's console as usual

# Report the materialization: k=v values are typed as you would expect
# (int, float, bool, else text); --meta-type picks a type.
pipes materialize \
  --data-version "$(cksum <"$report" | cut -d' ' -f1)" \
  --meta rows="$rows" \
  --meta total_orders="$total" \
  --meta preview="$preview" --meta-type preview=md \
  --meta generated_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta-type generated_at=timestamp

# Two checks. A failed ERROR check fails the asset in Dagster; WARN does not.
if [ "$rows" -ge "$min_rows" ]; then
  pipes check --name enough_rows --passed --meta rows="$rows" --meta min_rows="$min_rows"
else
  pipes check --name enough_rows --failed --meta rows="$rows" --meta min_rows="$min_rows"
fi
smallest=$(awk -F, 'NR > 1 && (m == "" || $2 < m) { m = $2 } END { print m }' "$report")
if [ "$smallest" -ge 5 ]; then
  pipes check --name every_region_busy --passed
else
  pipes check --name every_region_busy --failed --severity WARN --meta smallest="$smallest"
fi
