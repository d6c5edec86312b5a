// Package depcheck holds a test that keeps the root package free of
// dependencies outside the Go standard library (see the architecture's
// first principle). It has no code of its own.
package depcheck
