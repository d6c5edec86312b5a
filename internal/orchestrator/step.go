package orchestrator

import (
	"maps"
	"time"

	"github.com/dagster-pipes-go/pipes"
)

// Step describes a step as a test (pipestest.Context) or the local runner
// (its flags) chooses it; ContextData turns it into the context data Dagster
// would send. pipestest.Context has the same fields, in the same order, and
// converts to it.
type Step struct {
	AssetKeys           []string
	CodeVersions        map[string]string
	Provenance          map[string]*pipes.DataProvenance
	PartitionKey        string
	PartitionKeyRange   *pipes.PartitionKeyRange
	PartitionTimeWindow *pipes.TimeWindow
	RunID               string
	JobName             string
	RetryNumber         int
	Extras              map[string]any
}

// ContextData returns the context data as Dagster sends it for s: a random
// run id when s has none, every targeted asset in the code-version and
// provenance maps (null when s gives none), the range key..key for a
// partition key, the time window in Python's isoformat, and {} for no
// extras.
func (s Step) ContextData() pipes.ContextData {
	d := pipes.ContextData{
		AssetKeys:   s.AssetKeys,
		RunID:       s.RunID,
		RetryNumber: s.RetryNumber,
		Extras:      maps.Clone(s.Extras),
	}
	if d.RunID == "" {
		d.RunID = NewRunID()
	}
	if d.Extras == nil {
		d.Extras = map[string]any{}
	}
	if s.JobName != "" {
		d.JobName = &s.JobName
	}
	if s.AssetKeys != nil || s.CodeVersions != nil {
		d.CodeVersionByAssetKey = map[string]*string{}
		for _, k := range s.AssetKeys {
			d.CodeVersionByAssetKey[k] = nil
		}
		for k, v := range s.CodeVersions {
			d.CodeVersionByAssetKey[k] = &v
		}
	}
	if s.AssetKeys != nil || s.Provenance != nil {
		d.ProvenanceByAssetKey = map[string]*pipes.DataProvenance{}
		for _, k := range s.AssetKeys {
			d.ProvenanceByAssetKey[k] = nil
		}
		maps.Copy(d.ProvenanceByAssetKey, s.Provenance)
	}
	if s.PartitionKey != "" {
		d.PartitionKey = &s.PartitionKey
		d.PartitionKeyRange = &pipes.PartitionKeyRange{Start: s.PartitionKey, End: s.PartitionKey}
	}
	if s.PartitionKeyRange != nil {
		r := *s.PartitionKeyRange
		d.PartitionKeyRange = &r
	}
	if w := s.PartitionTimeWindow; w != nil {
		d.PartitionTimeWindow = &pipes.PartitionTimeWindowStrings{Start: Isoformat(w.Start), End: Isoformat(w.End)}
	}
	return d
}

// Isoformat formats t as Python's datetime.isoformat does for an aware
// datetime, which is what Dagster sends: microseconds only when not zero,
// the offset as +HH:MM.
func Isoformat(t time.Time) string {
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000000-07:00")
	}
	return t.Format("2006-01-02T15:04:05-07:00")
}
