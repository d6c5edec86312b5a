package pipes

import (
	"os"
	"strings"
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
