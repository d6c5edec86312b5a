package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dagster-pipes-go/pipes"
)

// The three table types take their raw value in Dagster's wire shape
// (--meta-json k=JSON --meta-type k=table): it is read into the library's
// Go types, which check what Dagster's resolvers check, so a script gets the
// same errors a Go job would.

type wireConstraints struct {
	Nullable *bool    `json:"nullable"`
	Unique   bool     `json:"unique"`
	Other    []string `json:"other"`
}

type wireColumn struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Tags        map[string]string `json:"tags"`
	Constraints *wireConstraints  `json:"constraints"`
}

type wireDep struct {
	// AssetKey is "a/b" or ["a", "b"], as Dagster coerces it.
	AssetKey   json.RawMessage `json:"asset_key"`
	ColumnName string          `json:"column_name"`
}

func (c wireColumn) column() pipes.TableColumn {
	col := pipes.TableColumn{Name: c.Name, Type: c.Type, Description: c.Description, Tags: c.Tags}
	if k := c.Constraints; k != nil {
		nullable := k.Nullable == nil || *k.Nullable // Dagster's default
		col.Constraints = &pipes.TableColumnConstraints{Nullable: nullable, Unique: k.Unique, Other: k.Other}
	}
	return col
}

func columns(ws []wireColumn) []pipes.TableColumn {
	cols := make([]pipes.TableColumn, len(ws))
	for i, c := range ws {
		cols[i] = c.column()
	}
	return cols
}

// tableValue reads a table, table_schema or table_column_lineage value
// given as JSON.
func tableValue(t pipes.MetadataType, v string) (pipes.MetadataValue, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	fail := func(err error) (pipes.MetadataValue, error) {
		return pipes.MetadataValue{}, fmt.Errorf("type %s takes JSON in Dagster's shape (%s): %v", t, tableShapes[t], err)
	}
	switch t {
	case pipes.MetadataTableSchema:
		var w struct {
			Columns []wireColumn `json:"columns"`
		}
		if err := dec.Decode(&w); err != nil {
			return fail(err)
		}
		return pipes.TableSchemaValue(pipes.TableSchema{Columns: columns(w.Columns)}), nil
	case pipes.MetadataTable:
		var w struct {
			Records []map[string]any `json:"records"`
			Schema  []wireColumn     `json:"schema"`
		}
		if err := dec.Decode(&w); err != nil {
			return fail(err)
		}
		return pipes.TableValue(pipes.Table{Records: w.Records, Schema: columns(w.Schema)}), nil
	default: // pipes.MetadataTableColumnLineage
		var w struct {
			DepsByColumn map[string][]wireDep `json:"deps_by_column"`
		}
		if err := dec.Decode(&w); err != nil {
			return fail(err)
		}
		l := pipes.TableColumnLineage{DepsByColumn: map[string][]pipes.TableColumnDep{}}
		for col, deps := range w.DepsByColumn {
			for _, d := range deps {
				key, err := assetKeyText(d.AssetKey)
				if err != nil {
					return fail(fmt.Errorf("deps_by_column[%q]: %w", col, err))
				}
				l.DepsByColumn[col] = append(l.DepsByColumn[col], pipes.TableColumnDep{AssetKey: key, ColumnName: d.ColumnName})
			}
		}
		return pipes.ColumnLineage(l), nil
	}
}

var tableShapes = map[pipes.MetadataType]string{
	pipes.MetadataTableSchema:        `{"columns":[{"name":"id","type":"int"}]}`,
	pipes.MetadataTable:              `{"records":[{"id":1}],"schema":[{"name":"id","type":"int"}]}`,
	pipes.MetadataTableColumnLineage: `{"deps_by_column":{"id":[{"asset_key":"up","column_name":"id"}]}}`,
}

// assetKeyText reads an asset key given as "a/b" or ["a", "b"].
func assetKeyText(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []string
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf(`asset_key must be "a/b" or ["a", "b"], got %s`, raw)
	}
	return strings.Join(parts, "/"), nil
}
