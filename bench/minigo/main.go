// Command minigo is bench/compare's reference for a straightforward Go
// port of Pipes: the small job of bench/gojob (open, one materialization
// with 10 metadata entries, one asset check, close), written with the
// standard library's encoding/json, compress/zlib and os as a port
// without this package's start-up work would write it, without signal
// handling. It checks nothing a real port would not check, so it is a
// lower bound on what such a port costs.
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func param(name string) (map[string]any, error) {
	raw, err := base64.StdEncoding.DecodeString(os.Getenv(name))
	if err != nil {
		return nil, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(plain, &m)
}

type contextData struct {
	AssetKeys []string       `json:"asset_keys"`
	RunID     string         `json:"run_id"`
	JobName   string         `json:"job_name"`
	Extras    map[string]any `json:"extras"`
}

type message struct {
	Version string `json:"__dagster_pipes_version"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

func run() error {
	ctxParams, err := param("DAGSTER_PIPES_CONTEXT")
	if err != nil {
		return err
	}
	msgParams, err := param("DAGSTER_PIPES_MESSAGES")
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(fmt.Sprint(ctxParams["path"]))
	if err != nil {
		return err
	}
	var data contextData
	if err := json.Unmarshal(raw, &data); err != nil {
		return err
	}
	f, err := os.OpenFile(fmt.Sprint(msgParams["path"]), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	send := func(method string, params any) error {
		line, err := json.Marshal(message{"0.1", method, params})
		if err != nil {
			return err
		}
		_, err = f.Write(append(line, '\n'))
		return err
	}
	if err := send("opened", map[string]any{"extras": map[string]any{}}); err != nil {
		return err
	}
	v := func(raw any, typ string) map[string]any { return map[string]any{"raw_value": raw, "type": typ} }
	if err := send("report_asset_materialization", map[string]any{
		"asset_key": data.AssetKeys[0], "data_version": "v1",
		"metadata": map[string]any{
			"row_count": v(1234567, "int"), "size_mb": v(12.5, "float"), "path": v("/data/out/part-0001.parquet", "path"),
			"url": v("https://example.com/dashboards/42", "url"), "description": v("# Daily load\nAll **good**.", "md"),
			"ok": v(true, "bool"), "owner": v("data-team", "text"), "updated_at": v(1700000000.0, "timestamp"),
			"partitions": v(42, "int"), "source": v("warehouse.events", "text"),
		},
	}); err != nil {
		return err
	}
	if err := send("report_asset_check", map[string]any{
		"asset_key": data.AssetKeys[0], "check_name": "row_count_positive", "passed": true, "severity": "ERROR",
		"metadata": map[string]any{"rows": v(1234567, "int")},
	}); err != nil {
		return err
	}
	return send("closed", map[string]any{})
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
