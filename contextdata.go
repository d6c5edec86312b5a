package pipes

import (
	"bytes"
	"encoding/json"
	"errors"
)

// This file holds the context data: the JSON object Dagster injects, and
// its parser, shared by every ContextLoader.

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
	if data, ok := contextDataFast(raw); ok {
		return data, nil
	}
	return parseContextDataStd(raw)
}

// parseContextDataStd is ParseContextData through encoding/json: the path
// for whatever the fast decoder gives up on, errors included.
func parseContextDataStd(raw []byte) (*ContextData, error) {
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
