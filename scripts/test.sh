#!/usr/bin/env bash
# The project's test command (the README's, and CI's through .ci/run).
#
# 1. Creates the Python virtual environment .venv (git-ignored) from the pinned
#    requirements-e2e.txt (transitive versions pinned by constraints-e2e.txt) if it
#    is missing or the requirements changed; a second
#    run reuses it without calling pip.
# 2. Exports PIPES_E2E=1 (the end-to-end tests against real Dagster must run,
#    a missing venv is a failure) and PIPES_E2E_PYTHON.
# 3. Runs gofmt, go vet, the tests with the race detector, cross-compiles
#    cmd/pipes for linux/darwin/windows x amd64/arm64, runs every benchmark
#    once, and staticcheck.
#
# Environment: PYTHON (default python3) is the interpreter that creates the
# venv; GO_TEST_FLAGS adds flags to `go test` (e.g. GO_TEST_FLAGS='-run TestLogs');
# STATICCHECK=0 skips staticcheck.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

python=${PYTHON:-python3}
venv="$root/.venv"
requirements="$root/requirements-e2e.txt"
constraints="$root/constraints-e2e.txt"
marker="$venv/.requirements-e2e.sha256"

step() { printf '\n==> %s\n' "$*"; }

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
  "$venv_python" -m pip install --disable-pip-version-check --quiet --upgrade pip
  "$venv_python" -m pip install --disable-pip-version-check --quiet -r "$requirements" -c "$constraints"
  echo "$want_hash" >"$marker"
else
  step "reusing .venv (requirements unchanged)"
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
# shellcheck disable=SC2086
go test -race -count=1 -p 2 ${GO_TEST_FLAGS:-} "$all"

step "cross-compiling cmd/pipes (static: linux, darwin, windows x amd64, arm64)"
# The pipes binary is copied into job images of any platform: it must build
# for each, with no C toolchain.
for goos in linux darwin windows; do
  for goarch in amd64 arm64; do
    printf '  %s/%s\n' "$goos" "$goarch"
    CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags='-s -w' -o /dev/null ./cmd/pipes
  done
done

step "benchmarks (one iteration each)"
go test -run '^$' -bench . -benchtime 1x "$all"

if [ "${STATICCHECK:-1}" != 0 ]; then
  step "staticcheck ${STATICCHECK_VERSION:=v0.8.2}"
  go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" "$all"
fi

step "all checks passed"
