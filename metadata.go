package pipes

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MetadataType is the type string of a metadata value on the wire. Dagster
// turns each into the matching MetadataValue class.
type MetadataType string

// The 17 metadata types of the protocol.
const (
	// MetadataInfer lets Dagster infer the type from the JSON value: a string
	// becomes text, a number with a decimal point float, any other number int,
	// a bool bool, an object or array json, null null.
	MetadataInfer              MetadataType = "__infer__"
	MetadataText               MetadataType = "text"
	MetadataURL                MetadataType = "url"
	MetadataPath               MetadataType = "path"
	MetadataNotebook           MetadataType = "notebook"
	MetadataJSON               MetadataType = "json"
	MetadataMarkdown           MetadataType = "md"
	MetadataFloat              MetadataType = "float"
	MetadataInt                MetadataType = "int"
	MetadataBool               MetadataType = "bool"
	MetadataDagsterRun         MetadataType = "dagster_run"
	MetadataAsset              MetadataType = "asset"
	MetadataNull               MetadataType = "null"
	MetadataTable              MetadataType = "table"
	MetadataTableSchema        MetadataType = "table_schema"
	MetadataTableColumnLineage MetadataType = "table_column_lineage"
	MetadataTimestamp          MetadataType = "timestamp"
)

// metadataTypes lists every metadata type the protocol defines. It is not
// exported: appending to it would change what the API accepts.
var metadataTypes = []MetadataType{
	MetadataInfer, MetadataText, MetadataURL, MetadataPath, MetadataNotebook, MetadataJSON,
	MetadataMarkdown, MetadataFloat, MetadataInt, MetadataBool, MetadataDagsterRun, MetadataAsset,
	MetadataNull, MetadataTable, MetadataTableSchema, MetadataTableColumnLineage, MetadataTimestamp,
}

// AllMetadataTypes returns every metadata type of the protocol, in a new
// slice (changing it changes nothing here).
func AllMetadataTypes() []MetadataType { return slices.Clone(metadataTypes) }

// Valid reports whether t is one of the protocol's metadata types.
func (t MetadataType) Valid() bool { return slices.Contains(metadataTypes, t) }

// Metadata maps metadata labels to values. A value is either a
// [MetadataValue] (made by one of the typed constructors such as [Text],
// [Int] or [TableValue]) or a plain Go value (string, bool, any integer or
// float, nil, a slice, a map with string keys), which is sent as
// [MetadataInfer] and typed by Dagster.
type Metadata map[string]any

// MetadataValue is one typed metadata value, sent as
// {"raw_value": Raw, "type": Type}.
//
// A value Dagster's resolver cannot read is refused when it is sent, with
// [ErrInvalidMetadata], and nothing is written: a Raw of the wrong JSON type
// for Type (a json value that is a number or bool, a text value that is not a
// string, an int with a fraction…), a table, table_schema or
// table_column_lineage value that is not the matching Go type, a table cell
// that is an object or array, NaN or an infinity, a value that contains
// itself or nests deeper than [MaxNestingDepth]. A plain map whose keys are
// exactly "raw_value" and "type" in a [Metadata] is the typed value it
// spells, as in the reference.
type MetadataValue struct {
	Type MetadataType
	// Raw is the raw value as Dagster expects it for Type; see the typed
	// constructors for the shape each type takes.
	Raw any
}

// encode appends v as {"raw_value", "type"}, nested depth levels deep. It
// refuses what Dagster's metadata_value_from_external cannot resolve.
func (v MetadataValue) encode(dst []byte, depth int) ([]byte, error) {
	if !v.Type.Valid() {
		return dst, fmt.Errorf("unknown metadata type %q: expected one of %s", v.Type, pyStrSetRepr(metadataTypes))
	}
	if depth >= MaxNestingDepth {
		return dst, errTooDeep
	}
	dst = append(dst, `{"raw_value":`...)
	start := len(dst)
	var err error
	switch v.Type {
	case MetadataTable, MetadataTableSchema, MetadataTableColumnLineage:
		dst, err = appendTableRaw(dst, v.Type, v.Raw, depth+1)
	default:
		dst, err = encodeValue(dst, v.Raw, depth+1)
	}
	if err != nil {
		return dst, err
	}
	if err := checkRaw(v.Type, dst[start:]); err != nil {
		return dst, err
	}
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, string(v.Type))
	return append(dst, '}'), nil
}

// MarshalJSON encodes v as Dagster reads it. A value Dagster cannot read
// (see [MetadataValue]) is an error.
func (v MetadataValue) MarshalJSON() ([]byte, error) {
	out, err := v.encode(nil, 0)
	return out, depthError(v.Raw, err)
}

// appendTableRaw appends the raw value of the three table types, which must
// be the matching Go type ([Table], [TableSchema], [TableColumnLineage], or
// a non-nil pointer to one): these are the shapes Dagster resolves.
func appendTableRaw(dst []byte, t MetadataType, raw any, depth int) ([]byte, error) {
	switch x := raw.(type) {
	case *Table:
		if x != nil {
			raw = *x
		}
	case *TableSchema:
		if x != nil {
			raw = *x
		}
	case *TableColumnLineage:
		if x != nil {
			raw = *x
		}
	}
	switch x := raw.(type) {
	case Table:
		if t == MetadataTable {
			return x.appendRaw(dst, depth)
		}
	case TableSchema:
		if t == MetadataTableSchema {
			return x.appendRaw(dst)
		}
	case TableColumnLineage:
		if t == MetadataTableColumnLineage {
			return x.appendRaw(dst)
		}
	}
	want := map[MetadataType]string{MetadataTable: "pipes.Table (use pipes.TableValue)",
		MetadataTableSchema: "pipes.TableSchema (use pipes.TableSchemaValue)", MetadataTableColumnLineage: "pipes.TableColumnLineage (use pipes.ColumnLineage)"}[t]
	return dst, fmt.Errorf("a %s value must be a %s, got %T", t, want, raw)
}

// checkRaw refuses an encoded raw value that Dagster's resolver for type t
// (metadata_value_from_external) rejects: its checks are on the JSON type.
func checkRaw(t MetadataType, raw []byte) error {
	var kind byte // the JSON type: '{', '[', '"', 'n', 't' (bool), '0' (number)
	switch c := raw[0]; c {
	case '{', '[', '"', 'n':
		kind = c
	case 't', 'f':
		kind = 't'
	default:
		kind = '0'
	}
	isFloat := kind == '0' && bytes.ContainsAny(raw, ".eE")
	var want string
	switch t {
	case MetadataJSON:
		if kind == '{' || kind == '[' || kind == '"' || kind == 'n' {
			return nil
		}
		want = "a JSON object, array or string (a map, slice, struct or string) or nil"
	case MetadataText, MetadataURL, MetadataPath, MetadataNotebook, MetadataMarkdown:
		if kind == '"' || kind == 'n' {
			return nil
		}
		want = "a string"
	case MetadataDagsterRun, MetadataAsset:
		if kind == '"' {
			return nil
		}
		want = "a string"
	case MetadataFloat:
		if isFloat || kind == 'n' {
			return nil
		}
		want = "a float (Python reads a number without a decimal point as an int)"
	case MetadataInt:
		if kind == '0' && !isFloat || kind == 't' || kind == 'n' {
			return nil
		}
		want = "an integer"
	case MetadataBool:
		if kind == 't' || kind == 'n' {
			return nil
		}
		want = "a bool"
	case MetadataTimestamp:
		if kind == 't' {
			return nil
		}
		if kind == '0' {
			if f, err := strconv.ParseFloat(string(raw), 64); err == nil && !math.IsInf(f, 0) {
				return nil
			}
			return fmt.Errorf("a timestamp must be a number of seconds that fits a float, got %s", raw)
		}
		want = "a number of seconds since the Unix epoch"
	default:
		return nil
	}
	if len(raw) > 60 {
		raw = append(raw[:57:57], "..."...)
	}
	return fmt.Errorf("a %s value must be %s, got %s", t, want, raw)
}

// Infer wraps any JSON value to be typed by Dagster (see [MetadataInfer]).
func Infer(v any) MetadataValue { return MetadataValue{MetadataInfer, v} }

// Text is a plain-text metadata value.
func Text(s string) MetadataValue { return MetadataValue{MetadataText, s} }

// URL is a metadata value shown as a link.
func URL(s string) MetadataValue { return MetadataValue{MetadataURL, s} }

// Path is a file-system path metadata value.
func Path(s string) MetadataValue { return MetadataValue{MetadataPath, s} }

// Notebook is the path of a notebook, shown by Dagster with a notebook viewer.
func Notebook(s string) MetadataValue { return MetadataValue{MetadataNotebook, s} }

// JSON is a JSON metadata value: v must encode as a JSON object, array or
// string, or be nil (a map, slice, struct or string), which is what Dagster's
// MetadataValue.json accepts; a number or bool is refused when sent.
func JSON(v any) MetadataValue { return MetadataValue{MetadataJSON, v} }

// Markdown is a Markdown metadata value.
func Markdown(s string) MetadataValue { return MetadataValue{MetadataMarkdown, s} }

// Float is a float metadata value; it is always sent with a decimal point.
func Float(f float64) MetadataValue { return MetadataValue{MetadataFloat, f} }

// Int is an integer metadata value.
func Int(i int64) MetadataValue { return MetadataValue{MetadataInt, i} }

// Bool is a boolean metadata value.
func Bool(b bool) MetadataValue { return MetadataValue{MetadataBool, b} }

// DagsterRun is the id of a Dagster run, shown as a link to that run.
func DagsterRun(runID string) MetadataValue { return MetadataValue{MetadataDagsterRun, runID} }

// Asset is an asset key (parts joined by "/"), shown as a link to the asset.
func Asset(key string) MetadataValue { return MetadataValue{MetadataAsset, key} }

// Null is the null metadata value.
func Null() MetadataValue { return MetadataValue{MetadataNull, nil} }

// Timestamp is a point in time, sent as float seconds since the Unix epoch.
func Timestamp(t time.Time) MetadataValue {
	return MetadataValue{MetadataTimestamp, float64(t.UnixNano()) / 1e9}
}

// TableValue is a table metadata value: rows with a schema.
func TableValue(t Table) MetadataValue { return MetadataValue{MetadataTable, t} }

// TableSchemaValue is a table-schema metadata value.
func TableSchemaValue(s TableSchema) MetadataValue { return MetadataValue{MetadataTableSchema, s} }

// ColumnLineage is a column-lineage metadata value.
func ColumnLineage(l TableColumnLineage) MetadataValue {
	return MetadataValue{MetadataTableColumnLineage, l}
}

// Table is the value of a table metadata entry.
type Table struct {
	// Records are the rows: column name to a string, number, bool or nil.
	Records []map[string]any
	// Schema describes the columns.
	Schema []TableColumn
}

// TableSchema is the value of a table_schema metadata entry.
type TableSchema struct {
	Columns []TableColumn
}

// TableColumn describes one column of a table.
type TableColumn struct {
	Name string
	// Type is a free-form type name such as "string" or "int".
	Type        string
	Description string            // optional
	Tags        map[string]string // optional
	// Constraints is optional; nil means Dagster's defaults (nullable, not unique).
	Constraints *TableColumnConstraints
}

// TableColumnConstraints are constraints on the values of a column.
type TableColumnConstraints struct {
	Nullable bool
	Unique   bool
	Other    []string
}

// TableColumnLineage maps each column of an asset to the upstream columns it
// is computed from.
type TableColumnLineage struct {
	DepsByColumn map[string][]TableColumnDep
}

// TableColumnDep names one upstream column.
type TableColumnDep struct {
	// AssetKey is the upstream asset's key, parts joined by "/".
	AssetKey   string
	ColumnName string
}

func (t Table) appendRaw(dst []byte, depth int) ([]byte, error) {
	dst = append(dst, `{"records":[`...)
	for i, rec := range t.Records {
		if i > 0 {
			dst = append(dst, ',')
		}
		if rec == nil {
			// Dagster's TableRecord needs an object.
			rec = map[string]any{}
		}
		var keysBuf [16]string
		keys := appendSortedKeys(keysBuf[:0], rec)
		if err := checkKeys(keys); err != nil {
			return dst, fmt.Errorf("records[%d]: %w", i, err)
		}
		dst = append(dst, '{')
		for j, k := range keys {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			start := len(dst)
			var err error
			if dst, err = encodeValue(dst, rec[k], depth+3); err != nil {
				return dst, wrapPath(fmt.Sprintf("records[%d][%q]", i, k), err)
			}
			// A cell is a string, number, bool or null for Dagster.
			if c := dst[start]; c == '{' || c == '[' {
				return dst, fmt.Errorf("records[%d][%q]: a table cell must be a string, number, bool or nil, got %s", i, k, dst[start:])
			}
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"schema":`...)
	dst = appendColumns(dst, t.Schema)
	return append(dst, '}'), nil
}

func (s TableSchema) appendRaw(dst []byte) ([]byte, error) {
	dst = append(dst, `{"columns":`...)
	dst = appendColumns(dst, s.Columns)
	return append(dst, '}'), nil
}

func appendColumns(dst []byte, cols []TableColumn) []byte {
	dst = append(dst, '[')
	for i, c := range cols {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendString(dst, c.Name)
		dst = append(dst, `,"type":`...)
		dst = appendString(dst, c.Type)
		if c.Description != "" {
			dst = append(dst, `,"description":`...)
			dst = appendString(dst, c.Description)
		}
		if len(c.Tags) > 0 {
			dst = append(dst, `,"tags":`...)
			dst, _ = appendJSON(dst, c.Tags) // map[string]string cannot fail
		}
		if k := c.Constraints; k != nil {
			dst = append(dst, `,"constraints":{"nullable":`...)
			dst = appendBool(dst, k.Nullable)
			dst = append(dst, `,"unique":`...)
			dst = appendBool(dst, k.Unique)
			dst = append(dst, `,"other":`...)
			other := k.Other
			if other == nil {
				other = []string{}
			}
			dst, _ = appendJSON(dst, other)
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

func (l TableColumnLineage) appendRaw(dst []byte) ([]byte, error) {
	dst = append(dst, `{"deps_by_column":{`...)
	for i, col := range sortedKeys(l.DepsByColumn) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, col)
		dst = append(dst, ":["...)
		for j, dep := range l.DepsByColumn[col] {
			if j > 0 {
				dst = append(dst, ',')
			}
			// Dagster coerces the asset key; a list of parts keeps
			// multi-part keys intact.
			dst = append(dst, `{"asset_key":`...)
			dst, _ = appendJSON(dst, AssetKeyPath(dep.AssetKey))
			dst = append(dst, `,"column_name":`...)
			dst = appendString(dst, dep.ColumnName)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}"...), nil
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// MarshalJSON encodes t as Dagster's raw table value.
func (t Table) MarshalJSON() ([]byte, error) {
	out, err := t.appendRaw(nil, 0)
	return out, depthError(t, err)
}

// MarshalJSON encodes s as Dagster's raw table-schema value.
func (s TableSchema) MarshalJSON() ([]byte, error) { return s.appendRaw(nil) }

// MarshalJSON encodes l as Dagster's raw column-lineage value.
func (l TableColumnLineage) MarshalJSON() ([]byte, error) { return l.appendRaw(nil) }

// AssetKeyPath splits an escaped asset-key string into its parts: "/"
// separates parts and a backslash escapes the next character ("a\/b/c" is
// ["a/b", "c"]). It mirrors Dagster's AssetKey.from_escaped_user_string.
func AssetKeyPath(key string) []string {
	parts := []string{}
	var cur strings.Builder
	escaped := false
	for _, r := range key {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '/':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(parts, cur.String())
}

// appendMetadata writes the metadata map of a report message: sorted keys,
// each value wrapped as {"raw_value", "type"}. A nil or empty map is null,
// as in the reference.
func appendMetadata(dst []byte, md Metadata, method string) ([]byte, error) {
	if len(md) == 0 {
		return append(dst, "null"...), nil
	}
	var keysBuf [16]string
	keys := appendSortedKeys(keysBuf[:0], md)
	if err := checkKeys(keys); err != nil {
		return dst, wrapError(ErrInvalidMetadata, err, "Invalid metadata of `%s`", method)
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		var err error
		dst, err = appendMetadataEntry(dst, k, md[k], method)
		if err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendMetadataEntry(dst []byte, key string, v any, method string) ([]byte, error) {
	mv, ok := v.(MetadataValue)
	if !ok {
		if p, isPtr := v.(*MetadataValue); isPtr && p != nil {
			mv, ok = *p, true
		}
	}
	if !ok {
		var err error
		if mv, ok, err = typedMap(v); err != nil {
			return dst, newError(ErrInvalidMetadata,
				"Invalid value for parameter `metadata.%s.type` of `%s`. Expected one of `%s`, got `%v`.",
				key, method, pyStrSetRepr(metadataTypes), err)
		}
	}
	if !ok {
		mv = MetadataValue{MetadataInfer, v}
	}
	if !mv.Type.Valid() {
		return dst, newError(ErrInvalidMetadata,
			"Invalid value for parameter `metadata.%s.type` of `%s`. Expected one of `%s`, got `%s`.",
			key, method, pyStrSetRepr(metadataTypes), mv.Type)
	}
	dst, err := mv.encode(dst, 2)
	if err != nil {
		return dst, wrapError(ErrInvalidMetadata, depthError(mv.Raw, err),
			"Invalid value for metadata `%s` of `%s` (type %s): it cannot be sent as a value Dagster reads", key, method, mv.Type)
	}
	return dst, nil
}

// typedMap recognizes a plain map whose keys are exactly "raw_value" and
// "type": the reference sends such a dict as the typed value it spells, so
// this package does too. A type that is not a metadata type is returned as
// the error (its value), for the reference's error text.
func typedMap(v any) (MetadataValue, bool, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String || rv.Len() != 2 {
		return MetadataValue{}, false, nil
	}
	var raw, typ reflect.Value
	iter := rv.MapRange()
	for iter.Next() {
		switch iter.Key().String() {
		case "raw_value":
			raw = iter.Value()
		case "type":
			typ = iter.Value()
		}
	}
	if !raw.IsValid() || !typ.IsValid() {
		return MetadataValue{}, false, nil
	}
	t, _ := typ.Interface().(string)
	if mt, isType := typ.Interface().(MetadataType); isType {
		t = string(mt)
	}
	if !MetadataType(t).Valid() {
		return MetadataValue{}, false, fmt.Errorf("%v", typ.Interface())
	}
	return MetadataValue{Type: MetadataType(t), Raw: raw.Interface()}, true, nil
}

// pyStrSetRepr formats names like a Python set of strings, sorted so that the
// text is stable.
func pyStrSetRepr(types []MetadataType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	slices.Sort(names)
	return "{" + pyStrListItems(names) + "}"
}
