package pipes

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// ClusterDriverLogRootKey is the opened extra that tells Dagster's DBFS
// reader where the cluster delivers its driver logs, so that it forwards
// the driver's stdout and stderr.
const ClusterDriverLogRootKey = "cluster_driver_log_root"

// Environment variables that name the cluster a process runs on: the one
// the Databricks runtime sets, then the one of the Databricks SDKs'
// configuration.
const (
	RuntimeClusterIDEnvVar = "DB_CLUSTER_ID"
	SDKClusterIDEnvVar     = "DATABRICKS_CLUSTER_ID"
)

// ClusterIDFromEnv returns the id of the Databricks cluster this process
// runs on, from DB_CLUSTER_ID (set by the Databricks runtime) or else
// DATABRICKS_CLUSTER_ID; "" when neither is set.
func ClusterIDFromEnv() string {
	if id := os.Getenv(RuntimeClusterIDEnvVar); id != "" {
		return id
	}
	return os.Getenv(SDKClusterIDEnvVar)
}

// ClusterDriverLogRoot returns where a cluster with the given log delivery
// destination (cluster_log_conf.dbfs.destination, such as
// "dbfs:/cluster-logs") delivers its driver logs:
// "<destination>/<clusterID>/driver". It returns "" if either is empty.
func ClusterDriverLogRoot(destination, clusterID string) string {
	if destination == "" || clusterID == "" {
		return ""
	}
	return strings.TrimRight(destination, "/") + "/" + clusterID + "/driver"
}

// logDiscoveryTimeout bounds the Clusters API call of the discovery.
const logDiscoveryTimeout = 10 * time.Second

// DiscoverClusterDriverLogRoot finds where the cluster this process runs
// on delivers its driver logs, with the standard library only: the cluster
// id from [ClusterIDFromEnv], then the Clusters API (GET
// /api/2.1/clusters/get) on DATABRICKS_HOST with the personal access token
// in DATABRICKS_TOKEN. It returns "" when any of these is missing, the call
// fails, or the cluster delivers no logs to DBFS: the log root is an
// optional extra, never a reason to fail. (The databrickspipes package
// discovers it through the Databricks SDK, with every authentication
// method the SDK supports.)
func DiscoverClusterDriverLogRoot(ctx context.Context) string {
	id := ClusterIDFromEnv()
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
	return ClusterDriverLogRoot(cluster.ClusterLogConf.DBFS.Destination, id)
}
