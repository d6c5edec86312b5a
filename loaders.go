package pipes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ContextData is the context Dagster injects: what the step targets and
// where it runs. It is the JSON object of the protocol; a field Dagster sent
// as null is nil here.
type ContextData struct {
	// AssetKeys are the selected asset keys, each an escaped user string
	// ("a/b" for the key ["a", "b"]); nil when the step targets no asset.
	AssetKeys             []string                    `json:"asset_keys"`
	CodeVersionByAssetKey map[string]*string          `json:"code_version_by_asset_key"`
	ProvenanceByAssetKey  map[string]*DataProvenance  `json:"provenance_by_asset_key"`
	PartitionKey          *string                     `json:"partition_key"`
	PartitionKeyRange     *PartitionKeyRange          `json:"partition_key_range"`
	PartitionTimeWindow   *PartitionTimeWindowStrings `json:"partition_time_window"`
	RunID                 string                      `json:"run_id"`
	JobName               *string                     `json:"job_name"`
	RetryNumber           int                         `json:"retry_number"`
	// Extras are the user's extras; numbers are json.Number.
	Extras map[string]any `json:"extras"`
}

// DataProvenance is the provenance of an asset's last materialization.
type DataProvenance struct {
	CodeVersion       string            `json:"code_version"`
	InputDataVersions map[string]string `json:"input_data_versions"`
	IsUserProvided    bool              `json:"is_user_provided"`
}

// PartitionKeyRange is the first and last partition key of a step.
type PartitionKeyRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// PartitionTimeWindowStrings is the time window as Dagster sends it:
// ISO-8601 timestamps. [Context.PartitionTimeWindow] parses it.
type PartitionTimeWindowStrings struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// ParseContextData decodes the JSON context data. Missing keys are taken as
// null; a key of the wrong JSON type is an error that names it. Numbers in
// extras are kept exact as json.Number.
func ParseContextData(raw []byte) (*ContextData, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var data *ContextData
	if err := dec.Decode(&data); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return nil, wrapError(ErrInvalidContext, err,
				"context data: key %q has the wrong type: expected %s, got JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return nil, wrapError(ErrInvalidContext, err, "context data is not a valid JSON object")
	}
	if data == nil {
		return nil, newError(ErrInvalidContext, "context data is null: expected a JSON object")
	}
	if dec.More() {
		return nil, newError(ErrInvalidContext, "context data has unexpected data after the JSON object")
	}
	if data.Extras == nil {
		data.Extras = map[string]any{}
	}
	return data, nil
}

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
		return loadContextFile(path, l.MaxSize)
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
// context is a few kilobytes.
func loadContextFile(path string, maxSize int64) (*ContextData, error) {
	if maxSize <= 0 {
		maxSize = MaxContextSize
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, wrapError(ErrInvalidContext, err, "cannot read the context file Dagster named (%s)", path)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, wrapError(ErrInvalidContext, err, "cannot read the context file Dagster named (%s)", path)
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
	return loadContextFile(dbfsLocalPath(l.Root, path), l.MaxSize)
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
	return loadContextFile(path, l.MaxSize)
}
