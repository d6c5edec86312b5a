package pipes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ContextLoader loads the context data that Dagster injected, using the
// decoded context params.
//
// Implementations: [DefaultContextLoader] (file or inline data),
// [DBFSContextLoader], [VolumesContextLoader]; s3pipes and other packages
// add cloud stores.
type ContextLoader interface {
	LoadContext(ctx context.Context, params Params) (*ContextData, error)
}

// Params keys understood by the default context loader.
const (
	ContextPathKey = "path"
	ContextDataKey = "data"
)

// DefaultContextLoader reads the context from the file named by param "path"
// (Dagster's default temp-file injector) or, when there is no "path", from
// the object in param "data" (Dagster's env-var injector).
type DefaultContextLoader struct {
	// MaxSize bounds the size of the context file; 0 means MaxContextSize.
	MaxSize int64
}

// LoadContext implements [ContextLoader].
func (l DefaultContextLoader) LoadContext(_ context.Context, params Params) (*ContextData, error) {
	if _, ok := params[ContextPathKey]; ok {
		path, err := params.String(ContextPathKey, "PipesDefaultContextLoader")
		if err != nil {
			return nil, err
		}
		return loadContextFile(path, l.MaxSize, func() string {
			return databricksHint("WithContextLoader", "DBFSContextLoader", "VolumesContextLoader")
		})
	}
	if v, ok := params[ContextDataKey]; ok {
		if _, isObject := v.(map[string]any); !isObject {
			return nil, newError(ErrInvalidParams,
				"Invalid type for parameter `data` passed from orchestration side to `PipesDefaultContextLoader`. Expected `<class 'dict'>`, got `%s`.",
				pyTypeRepr(v))
		}
		// Re-encoded with encoding/json, not appendJSON: what Dagster sent
		// may nest deeper than the limit on what this package sends.
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, wrapError(ErrInvalidContext, err, "context data")
		}
		return ParseContextData(raw)
	}
	return nil, newError(ErrInvalidParams,
		`Invalid params for PipesDefaultContextLoader, expected key "path" or "data", received %s%s`, pyDictRepr(params), blobStoreHint(params, "context loader", "WithContextLoader", "ContextLoader"))
}

// loadContextFile reads and parses a context file of at most maxSize
// bytes (0 means MaxContextSize): the path comes from outside, and a
// context is a few kilobytes. hint, if not nil, makes the text added to
// the error when the file cannot be opened (only then: fmt's first use
// costs a small job's start-up about 10 page faults).
func loadContextFile(path string, maxSize int64, hint func() string) (*ContextData, error) {
	if maxSize <= 0 {
		maxSize = MaxContextSize
	}
	raw, err := readFileLimit(path, maxSize)
	if err != nil {
		h := ""
		var pe *os.PathError
		if hint != nil && errors.As(err, &pe) && pe.Op == "open" {
			h = hint()
		}
		return nil, wrapError(ErrInvalidContext, err, "cannot read the context file Dagster named (%s)%s", path, h)
	}
	if int64(len(raw)) > maxSize {
		return nil, newError(ErrInvalidContext, "the context file Dagster named (%s) is larger than %d bytes: it is not a Pipes context (raise the loader's MaxSize if it is)", path, maxSize)
	}
	data, err := ParseContextData(raw)
	if err != nil {
		return nil, fmt.Errorf("context file %s: %w", path, err)
	}
	return data, nil
}

// DBFSContextLoader reads the context from a DBFS path through the /dbfs
// mount of a Databricks cluster (param "path", as Dagster's DBFS injector
// sends it).
type DBFSContextLoader struct {
	// Root is the mount point; "" means "/dbfs".
	Root string
	// MaxSize bounds the size of the context file; 0 means MaxContextSize.
	MaxSize int64
}

// LoadContext implements [ContextLoader].
func (l DBFSContextLoader) LoadContext(_ context.Context, params Params) (*ContextData, error) {
	path, err := params.String(ContextPathKey, "PipesDbfsContextLoader")
	if err != nil {
		return nil, err
	}
	return loadContextFile(dbfsLocalPath(l.Root, path), l.MaxSize, nil)
}

func dbfsLocalPath(root, path string) string {
	if root == "" {
		root = "/dbfs"
	}
	return filepath.Join(root, strings.TrimLeft(path, "/"))
}

// VolumesContextLoader reads the context from a Unity Catalog volume path
// (param "path", used as is: /Volumes/...), for Databricks serverless.
type VolumesContextLoader struct {
	// MaxSize bounds the size of the context file; 0 means MaxContextSize.
	MaxSize int64
}

// LoadContext implements [ContextLoader].
func (l VolumesContextLoader) LoadContext(_ context.Context, params Params) (*ContextData, error) {
	path, err := params.String(ContextPathKey, "PipesUnityCatalogVolumesContextLoader")
	if err != nil {
		return nil, err
	}
	return loadContextFile(path, l.MaxSize, nil)
}
