// Package e2e holds the end-to-end tests of the pipes library: real Dagster
// (Python, from the repository's .venv) launches the Go programs under
// e2e/jobs with PipesSubprocessClient, and the tests assert on what Dagster
// recorded, as reported by the Python probe in e2e/probe.
//
// Run them with scripts/test.sh (it creates .venv and sets PIPES_E2E=1), or,
// once .venv exists:
//
//	PIPES_E2E=1 go test ./e2e/
//
// Without a venv and without PIPES_E2E=1 the tests skip with a message that
// says how to enable them; with PIPES_E2E=1 a missing or broken venv is a
// failure. PIPES_E2E=0 skips them even when .venv exists. PIPES_E2E_PYTHON
// selects another Python interpreter (it must have the packages of
// requirements-e2e.txt).
//
// The package has no exported API; it exists for its tests.
package e2e
