package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// A store makes the context loader and the message writer of one kind of
// storage, for --context-loader and --message-writer. Either may be nil when
// the store has only one side.
type store struct {
	loader func(ctx context.Context) (pipes.ContextLoader, error)
	writer func(ctx context.Context) (pipes.MessageWriter, error)
}

// stores are the values of --context-loader and --message-writer. Adding a
// store is one line here (and its module in go.mod): a client built from the
// environment, as Dagster's side shares it with the process it launches.
var stores = map[string]store{
	"default": {loader: static[pipes.ContextLoader](pipes.DefaultContextLoader{}), writer: static[pipes.MessageWriter](pipes.DefaultMessageWriter{})},
	"s3":      {loader: s3Loader, writer: s3Writer},
}

func static[T any](v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) { return v, nil }
}

func s3Loader(ctx context.Context) (pipes.ContextLoader, error) {
	c, err := s3pipes.NewClientFromEnv(ctx)
	return s3pipes.ContextLoader{Client: c}, err
}

func s3Writer(ctx context.Context) (pipes.MessageWriter, error) {
	c, err := s3pipes.NewClientFromEnv(ctx)
	return s3pipes.MessageWriter{Client: c}, err
}

// storeNames lists the stores that have the given side, for help and errors.
func storeNames(has func(store) bool) string {
	var names []string
	for name, s := range stores {
		if has(s) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func hasLoader(s store) bool { return s.loader != nil }
func hasWriter(s store) bool { return s.writer != nil }

// openStores returns the loader and writer named by the flags.
func openStores(ctx context.Context, loaderName, writerName string) (pipes.ContextLoader, pipes.MessageWriter, error) {
	ls, ok := stores[loaderName]
	if !ok || ls.loader == nil {
		return nil, nil, fmt.Errorf("--context-loader %q: unknown; want one of %s", loaderName, storeNames(hasLoader))
	}
	ws, ok := stores[writerName]
	if !ok || ws.writer == nil {
		return nil, nil, fmt.Errorf("--message-writer %q: unknown; want one of %s", writerName, storeNames(hasWriter))
	}
	l, err := ls.loader(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("--context-loader %s: %w", loaderName, err)
	}
	w, err := ws.writer(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("--message-writer %s: %w", writerName, err)
	}
	return l, w, nil
}
