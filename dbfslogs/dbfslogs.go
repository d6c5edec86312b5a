// Package dbfslogs discovers, with the standard library only, where the
// Databricks cluster a job runs on delivers its driver logs, for the
// root package's mount-based [pipes.DBFSMessageWriter]:
//
//	pipes.DBFSMessageWriter{DiscoverLogRoot: dbfslogs.DiscoverDriverLogRoot}
//
// It is a package of its own because it needs net/http, which the root
// package does not import: linking net makes every Go job a dynamically
// linked binary that starts about 2 ms later and is 1.7 MB larger (issue
// 16, BENCHMARKS.md). The databrickspipes package discovers the same
// through the Databricks SDK.
package dbfslogs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// logDiscoveryTimeout bounds the Clusters API call of the discovery.
const logDiscoveryTimeout = 10 * time.Second

// DiscoverDriverLogRoot finds where the cluster this process runs
// on delivers its driver logs, with the standard library only: the cluster
// id from [ClusterIDFromEnv], then the Clusters API (GET
// /api/2.1/clusters/get) on DATABRICKS_HOST with the personal access token
// in DATABRICKS_TOKEN. It returns "" when any of these is missing, the call
// fails, or the cluster delivers no logs to DBFS: the log root is an
// optional extra, never a reason to fail. (The databrickspipes package
// discovers it through the Databricks SDK, with every authentication
// method the SDK supports.)
func DiscoverDriverLogRoot(ctx context.Context) string {
	id := pipes.ClusterIDFromEnv()
	host := os.Getenv("DATABRICKS_HOST")
	token := os.Getenv("DATABRICKS_TOKEN")
	if id == "" || host == "" || token == "" {
		return ""
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	ctx, cancel := context.WithTimeout(ctx, logDiscoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimRight(host, "/")+"/api/2.1/clusters/get?cluster_id="+url.QueryEscape(id), nil)
	if err != nil {
		return ""
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	var cluster struct {
		ClusterLogConf struct {
			DBFS struct {
				Destination string `json:"destination"`
			} `json:"dbfs"`
		} `json:"cluster_log_conf"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&cluster); err != nil {
		return ""
	}
	return pipes.ClusterDriverLogRoot(cluster.ClusterLogConf.DBFS.Destination, id)
}
