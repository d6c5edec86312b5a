// Package orchestrator is the orchestrator side of Dagster Pipes, reduced to
// what a test or a local runner needs: build the context data, inject it (in
// a file or inside the bootstrap value), hand the two bootstrap values to the
// external process (env vars or CLI arguments), read the messages it writes
// (from a file or a stream) and turn them into typed results, checking every
// message as strictly as Dagster's message handler does.
//
// It is shared by package pipestest and the pipes command (pipes run); users get at
// it through them.
package orchestrator
