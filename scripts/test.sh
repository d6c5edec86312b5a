#!/usr/bin/env bash
# The project's test command (the README's, and CI's through .ci/run).
#
# 1. Creates the Python virtual environment .venv (git-ignored) from the pinned
#    requirements-e2e.txt (transitive versions pinned by constraints-e2e.txt) if it
#    is missing or the requirements changed; a second
#    run reuses it without calling pip.
# 2. Installs Azurite (npm, the Azure Blob Storage emulator) into
#    .cache/azurite (git-ignored) if it is missing.
# 3. Exports PIPES_E2E=1 (the end-to-end tests against real Dagster must run,
#    a missing venv is a failure) and PIPES_E2E_PYTHON.
# 4. Runs gofmt, go vet, the tests with the race detector, every benchmark
#    once, and staticcheck.
# 5. govulncheck, cross-compilation for linux/darwin/windows
#    x amd64/arm64, and the e2e core scenarios against the oldest supported
#    Dagster (a second venv, .venv-oldest, from requirements-e2e-oldest.txt).
#
# Progress: pip shows each package it collects; the tests show each package
# and each end-to-end scenario as it finishes (internal/testprogress); every
# step says how long it took.
#
# Environment: PYTHON (default python3) is the interpreter that creates the
# venv; GO_TEST_FLAGS adds flags to `go test` (e.g. GO_TEST_FLAGS='-run TestLogs');
# STATICCHECK=0 skips staticcheck; GOVULNCHECK=0 skips govulncheck (it needs
# https://vuln.go.dev); OLDEST_DAGSTER=0 skips the oldest-Dagster run.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

python=${PYTHON:-python3}
venv="$root/.venv"
requirements="$root/requirements-e2e.txt"
constraints="$root/constraints-e2e.txt"
marker="$venv/.requirements-e2e.sha256"

# step TITLE starts a step: it prints how long the previous step took (and
# the total so far), then the title. A failing command stops the script
# (set -e) under the title of its step.
step_title=
step_start=$SECONDS
elapsed() {
  local s=$(($2 - $1))
  if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}
step() {
  local now=$SECONDS
  if [ -n "$step_title" ]; then
    printf '    %s: %s (total %s)\n' "$step_title" "$(elapsed "$step_start" "$now")" "$(elapsed 0 "$now")"
  fi
  step_title="$*"
  step_start=$now
  printf '\n==> %s\n' "$*"
}

# pip_install TOTAL ARGS...: pip install ARGS, showing one line per package
# it collects, numbered against TOTAL (0: not numbered against a total; the
# pins of a constraints file are a good one): "[ 12/173] dagster==1.13.27";
# then the large downloads and pip's closing line, instead of pip's several
# lines and progress bars per package. pip's errors (stderr) pass through.
pip_install() {
  local total=$1
  shift
  PYTHONUNBUFFERED=1 "$venv_python" -m pip install --disable-pip-version-check --progress-bar off "$@" |
    awk -v total="$total" '
      /^Collecting / {
        n++; sub(/^Collecting /, ""); sub(/ \(from .*\)$/, "")
        if (total == 0) printf "    %s\n", $0
        else if (n + have <= total) printf "    [%3d/%d] %s\n", n + have, total, $0
        else printf "    [%3d] %s\n", n + have, $0
        fflush(); next
      }
      /^Requirement already satisfied: / { have++; next }
      /^ +Downloading .*\([0-9.]+ MB\)$/ { sub(/^ +/, ""); printf "              %s\n", $0; fflush(); next }
      /^Installing collected packages:/ { printf "    installing %d package%s (pip is silent until done)\n", n, n == 1 ? "" : "s"; fflush(); next }
      /^Successfully installed / { printf "    installed %d package%s\n", NF - 2, NF == 3 ? "" : "s"; fflush(); next }
      /^ / { next }
      { print; fflush() }'
}

# --- Python venv -------------------------------------------------------------
if [ -x "$venv/bin/python" ]; then
  venv_python="$venv/bin/python"
elif [ -x "$venv/Scripts/python.exe" ]; then
  venv_python="$venv/Scripts/python.exe"
else
  step "creating $venv with $($python --version 2>&1)"
  if ! "$python" -m venv "$venv"; then
    echo "cannot create a venv with $python -m venv (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  fi
  venv_python="$venv/bin/python"
  [ -x "$venv_python" ] || venv_python="$venv/Scripts/python.exe"
fi

want_hash=$( { cat "$requirements" "$constraints"; "$venv_python" --version 2>&1; } | "$venv_python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "$want_hash" ]; then
  step "installing requirements-e2e.txt into .venv"
  pip_install 0 --upgrade pip
  pip_install "$(grep -c '^[A-Za-z0-9]' "$constraints")" -r "$requirements" -c "$constraints"
  echo "$want_hash" >"$marker"
else
  step "reusing .venv (requirements unchanged)"
fi

# --- Azurite (Azure Blob Storage emulator, npm) ---------------------------------
# Installed once into the git-ignored .cache/azurite; internal/azurite finds it
# there. Node 20 runs its blob service although the package declares node >= 22.
azurite_version=3.37.0
azurite_dir="$root/.cache/azurite"
azurite_bin="$azurite_dir/node_modules/.bin/azurite-blob"
if [ -x "$azurite_bin" ] && grep -qs "\"version\": \"$azurite_version\"" "$azurite_dir/node_modules/azurite/package.json"; then
  step "reusing Azurite $azurite_version in .cache/azurite"
else
  step "installing Azurite $azurite_version into .cache/azurite"
  if ! command -v npm >/dev/null; then
    echo "npm is needed to install Azurite (the Azure Blob Storage emulator of the tests)" >&2
    exit 1
  fi
  mkdir -p "$azurite_dir"
  npm install --prefix "$azurite_dir" --no-audit --no-fund --save-exact --loglevel=error "azurite@$azurite_version"
fi

export PIPES_E2E=1
export PIPES_E2E_PYTHON="$venv_python"
export PYTHONDONTWRITEBYTECODE=1

# --- Go ------------------------------------------------------------------------
step "gofmt"
unformatted=$(find . -name '*.go' -not -path './.venv/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then
  echo "gofmt -l reports unformatted files:" >&2
  echo "$unformatted" >&2
  exit 1
fi

# Every module of the workspace (go.work): the root, the cloud packages,
# examples/ and e2e/. In workspace mode this pattern matches the packages of
# all of them, where ./... would match the root module's only.
all=github.com/dagster-pipes-go/pipes/...

step "go vet (every module of go.work)"
go vet "$all"

step "go test -race (every module of go.work)"
# -p 2: the machine that runs CI has two cores, and the e2e tests start Dagster.
# -json through internal/testprogress: each package's go test line as it
# finishes, each test of a second or more (the end-to-end scenarios) as it
# ends, the output of every failure, and gotestsum's DONE line at the end.
# shellcheck disable=SC2086
go test -json -race -count=1 -p 2 ${GO_TEST_FLAGS:-} "$all" | go run ./internal/testprogress

step "allocation budgets (without the race detector, which changes allocation counts)"
# bench_allocs_test.go is built only without -race: run it on its own.
go test -count=1 -run '^TestAllocBudgets$' -v . | grep -E '^(=== RUN|--- |ok|FAIL|PASS)'

step "benchmarks (one iteration each, short mode: seconds; bench/compare without blob stores)"
go test -short -run '^$' -bench . -benchtime 1x "$all"

if [ "${STATICCHECK:-1}" != 0 ]; then
  step "staticcheck ${STATICCHECK_VERSION:=v0.8.2}"
  go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" "$all"
fi

# --- Robustness (issue 10): vulnerabilities, cross-compilation, oldest Dagster ---
if [ "${GOVULNCHECK:-1}" != 0 ]; then
  step "govulncheck ${GOVULNCHECK_VERSION:=v1.9.0} (every module of go.work)"
  # govulncheck reads Go's vulnerability database at https://vuln.go.dev;
  # a machine that cannot reach it (a sandbox with only package registries)
  # says so instead of failing on a missing network.
  if "$venv_python" -c 'import urllib.request,sys; urllib.request.urlopen("https://vuln.go.dev/index/db.json", timeout=10)' 2>/dev/null; then
    go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" "$all"
  else
    echo "  NOT RUN: https://vuln.go.dev cannot be reached from this machine (set GOVULNCHECK=0 to silence)"
  fi
fi

step "cross-compilation, static (linux, darwin, windows x amd64, arm64)"
# The root module (package pipes, pipestest, the test servers), the cloud
# packages whose SDKs are light, and cmd/pipes: the pipes binary is copied
# into job images of any platform and must build with no C toolchain.
# gcspipes and databrickspipes (gRPC, OpenTelemetry, the Databricks SDK) are
# built natively by the tests: cross-compiling their SDKs six times would
# double the run for the vendors' own portability. The benchmark tools
# (bench/) use Unix system calls and are left out on Windows.
for goos in linux darwin windows; do
  pkgs=$(GOOS=$goos go list "$all" | grep -v -e '/gcspipes' -e '/databrickspipes' -e '/e2e' -e '/examples' |
    { if [ "$goos" = windows ]; then grep -v '/bench/'; else cat; fi; })
  for goarch in amd64 arm64; do
    echo "  $goos/$goarch"
    # shellcheck disable=SC2086
    CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build $pkgs
  done
done

if [ "${OLDEST_DAGSTER:-1}" != 0 ]; then
  oldest_venv="$root/.venv-oldest"
  oldest_req="$root/requirements-e2e-oldest.txt"
  oldest_con="$root/constraints-e2e-oldest.txt"
  oldest_marker="$oldest_venv/.requirements.sha256"
  if [ ! -x "$oldest_venv/bin/python" ] && [ ! -x "$oldest_venv/Scripts/python.exe" ]; then
    step "creating $oldest_venv (the oldest supported Dagster, nothing else)"
    "$python" -m venv "$oldest_venv"
  fi
  oldest_python="$oldest_venv/bin/python"
  [ -x "$oldest_python" ] || oldest_python="$oldest_venv/Scripts/python.exe"
  oldest_hash=$( { cat "$oldest_req" "$oldest_con"; "$oldest_python" --version 2>&1; } | "$oldest_python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
  if [ ! -f "$oldest_marker" ] || [ "$(cat "$oldest_marker")" != "$oldest_hash" ]; then
    step "installing requirements-e2e-oldest.txt into .venv-oldest"
    "$oldest_python" -m pip install --disable-pip-version-check --quiet -r "$oldest_req" -c "$oldest_con"
    echo "$oldest_hash" >"$oldest_marker"
  fi
  # The core scenarios: every message, metadata type and failure path, the
  # class test of values, stdio capture. Not the S3 and Lambda scenarios
  # (they need dagster-aws) nor the examples (their definitions use today's
  # APIs), nor the retry scenario (step retries of materialize differ).
  step "e2e core scenarios against $("$oldest_python" -c 'import importlib.metadata as m; print("dagster", m.version("dagster"))')"
  PIPES_E2E_PYTHON="$oldest_python" go test -race -count=1 \
    -run 'TestAssetChecks|TestMultiAssetStep|TestContextInjection|TestPartitions|TestStdioCapture|TestStdioWriters|TestContextOpStep|TestCustomMessages|TestFailure|TestLogs|TestManyMessages|TestMetadataMatchesPythonReference|TestRobust|TestStartedOutsideDagster|TestContextLoadFailureReachesDagster|TestValuesDagsterReads' \
    -skip 'TestStdioWriters/lambda' \
    github.com/dagster-pipes-go/pipes/e2e
fi

step "all checks passed"
