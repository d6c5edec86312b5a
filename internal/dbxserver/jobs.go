package dbxserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A run of runs/submit: its tasks run one after the other on this machine.
type run struct {
	id         int64
	name       string
	tasks      []submitTask
	clusterID  string         // of the task being run
	newCluster map[string]any // its new_cluster spec, for clusters/get
	state      string         // life_cycle_state
	result     string         // result_state, once TERMINATED
	message    string
	gets       int
	cmd        *exec.Cmd
	output     *lockedBuffer
	cancelled  bool
	start      time.Time
}

type submitTask struct {
	TaskKey           string         `json:"task_key"`
	ExistingClusterID string         `json:"existing_cluster_id"`
	NewCluster        map[string]any `json:"new_cluster"`
	SparkPythonTask   *struct {
		PythonFile string   `json:"python_file"`
		Parameters []string `json:"parameters"`
	} `json:"spark_python_task"`
	EnvironmentKey string `json:"environment_key"`
}

func (s *Server) jobs(w http.ResponseWriter, r *http.Request, op string) *apiError {
	switch {
	case op == "submit" && r.Method == http.MethodPost:
		var req struct {
			RunName string       `json:"run_name"`
			Tasks   []submitTask `json:"tasks"`
		}
		if e := decode(r, &req); e != nil {
			return e
		}
		if len(req.Tasks) == 0 {
			return badParam("At least one task is required.")
		}
		for _, t := range req.Tasks {
			if t.SparkPythonTask == nil || t.SparkPythonTask.PythonFile == "" {
				return badParam("Task %s: only spark_python_task with a python_file is supported by this server.", t.TaskKey)
			}
			if t.NewCluster == nil && t.ExistingClusterID == "" && t.EnvironmentKey == "" {
				return badParam("Task %s: one of new_cluster, existing_cluster_id or environment_key is required.", t.TaskKey)
			}
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return errf(503, "TEMPORARILY_UNAVAILABLE", "server is closing")
		}
		s.nextID++
		rn := &run{id: s.nextID, name: req.RunName, tasks: req.Tasks, state: "PENDING", start: time.Now()}
		s.runs[rn.id] = rn
		s.wg.Add(1)
		s.mu.Unlock()
		go s.execute(rn)
		writeJSON(w, 200, map[string]any{"run_id": rn.id})
	case op == "get" && r.Method == http.MethodGet:
		id, err := strconv.ParseInt(r.URL.Query().Get("run_id"), 10, 64)
		if err != nil {
			return badParam("run_id must be an integer")
		}
		s.mu.Lock()
		rn := s.runs[id]
		var out map[string]any
		if rn != nil {
			rn.gets++
			state := map[string]any{"life_cycle_state": rn.state, "state_message": rn.message}
			if rn.result != "" {
				state["result_state"] = rn.result
			}
			tasks := make([]map[string]any, len(rn.tasks))
			for i, t := range rn.tasks {
				tasks[i] = map[string]any{"task_key": t.TaskKey, "state": state}
			}
			out = map[string]any{
				"run_id": rn.id, "run_name": rn.name, "state": state, "tasks": tasks,
				"run_page_url":     fmt.Sprintf("%s/#job/runs/%d", s.URL, rn.id),
				"start_time":       rn.start.UnixMilli(),
				"number_in_job":    rn.id,
				"run_type":         "SUBMIT_RUN",
				"cluster_instance": map[string]any{"cluster_id": rn.clusterID},
			}
		}
		s.mu.Unlock()
		if rn == nil {
			return errf(400, "INVALID_PARAMETER_VALUE", "Run %d does not exist.", id)
		}
		writeJSON(w, 200, out)
	case op == "cancel" && r.Method == http.MethodPost:
		var req struct {
			RunID int64 `json:"run_id"`
		}
		if e := decode(r, &req); e != nil {
			return e
		}
		s.mu.Lock()
		rn := s.runs[req.RunID]
		if rn != nil && rn.result == "" {
			rn.cancelled = true
			if rn.cmd != nil && rn.cmd.Process != nil {
				_ = rn.cmd.Process.Kill()
			}
			if rn.state == "PENDING" {
				rn.state = "TERMINATING"
			}
		}
		s.mu.Unlock()
		if rn == nil {
			return errf(400, "INVALID_PARAMETER_VALUE", "Run %d does not exist.", req.RunID)
		}
		writeJSON(w, 200, map[string]any{})
	default:
		return errf(404, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'", r.Method, r.URL.Path)
	}
	return nil
}

// RunLog returns what the tasks of run id printed (stdout and stderr
// together), for test diagnostics.
func (s *Server) RunLog(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rn := s.runs[id]; rn != nil && rn.output != nil {
		return rn.output.String()
	}
	return ""
}

// LastRunLog returns what the tasks of the latest run printed.
func (s *Server) LastRunLog() string {
	s.mu.Lock()
	var last int64
	for id := range s.runs {
		last = max(last, id)
	}
	s.mu.Unlock()
	return s.RunLog(last)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func (s *Server) finish(rn *run, result, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rn.cancelled {
		result, msg = "CANCELED", "Run cancelled."
	}
	rn.state, rn.result, rn.message = "TERMINATED", result, msg
}

// execute runs the tasks of rn in order.
func (s *Server) execute(rn *run) {
	defer s.wg.Done()
	time.Sleep(100 * time.Millisecond) // a run is PENDING first, as on Databricks
	for i, t := range rn.tasks {
		clusterID := t.ExistingClusterID
		if clusterID == "" {
			clusterID = fmt.Sprintf("0000-000000-run%d-%d", rn.id, i)
		}
		s.mu.Lock()
		if rn.cancelled || s.closed {
			s.mu.Unlock()
			s.finish(rn, "CANCELED", "Run cancelled.")
			return
		}
		rn.clusterID, rn.newCluster = clusterID, t.NewCluster
		spec := t.NewCluster
		if spec == nil {
			spec = s.opts.Clusters[clusterID]
		}
		s.mu.Unlock()

		if err := s.runTask(rn, t, clusterID, spec); err != nil {
			s.finish(rn, "FAILED", fmt.Sprintf("Task %s failed with message: %v.", t.TaskKey, err))
			return
		}
	}
	s.finish(rn, "SUCCESS", "")
}

func (s *Server) runTask(rn *run, t submitTask, clusterID string, spec map[string]any) error {
	file := t.SparkPythonTask.PythonFile
	local := file
	if strings.HasPrefix(file, "dbfs:") {
		local = s.LocalPath(file)
	} else if _, err := os.Stat(file); err != nil {
		local = s.LocalPath(file)
	}
	if _, err := os.Stat(local); err != nil {
		return fmt.Errorf("cannot read the python file %s", file)
	}
	var cmd *exec.Cmd
	if strings.HasSuffix(local, ".py") {
		cmd = exec.Command(s.opts.Python, append([]string{local}, t.SparkPythonTask.Parameters...)...)
	} else {
		cmd = exec.Command(local, t.SparkPythonTask.Parameters...)
	}
	// The runtime's credentials for the workspace (this server), then the
	// configured environment, then the cluster's.
	env := append(os.Environ(), s.Env()...)
	env = append(env, s.opts.Env...)
	env = append(env, "DB_CLUSTER_ID="+clusterID, "DB_IS_DRIVER=TRUE")
	if ev, ok := spec["spark_env_vars"].(map[string]any); ok && t.NewCluster != nil {
		for k, v := range ev {
			env = append(env, fmt.Sprintf("%s=%v", k, v))
		}
	}
	cmd.Env = env

	all := &lockedBuffer{}
	var stdout, stderr io.Writer = all, all
	var logFiles []*os.File
	if dest := logDestination(spec); dest != "" {
		dir := s.LocalPath(path.Join(dest, clusterID, "driver"))
		if err := os.MkdirAll(dir, 0o755); err == nil {
			for _, name := range []string{"stdout", "stderr"} {
				f, err := os.Create(dir + "/" + name)
				if err == nil {
					logFiles = append(logFiles, f)
				}
			}
		}
		if len(logFiles) == 2 {
			stdout = io.MultiWriter(all, logFiles[0])
			stderr = io.MultiWriter(all, logFiles[1])
		}
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	s.mu.Lock()
	if rn.cancelled {
		s.mu.Unlock()
		return errors.New("cancelled")
	}
	rn.cmd, rn.output = cmd, all
	err := cmd.Start()
	if err == nil {
		rn.state = "RUNNING"
	}
	s.mu.Unlock()
	if err == nil {
		err = cmd.Wait()
	}
	for _, f := range logFiles {
		_ = f.Close()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s exited with status %d", file, ee.ExitCode())
		}
		return err
	}
	return nil
}

// logDestination is the DBFS destination of a cluster's log delivery, "" if
// it has none.
func logDestination(spec map[string]any) string {
	conf, _ := spec["cluster_log_conf"].(map[string]any)
	dbfs, _ := conf["dbfs"].(map[string]any)
	dest, _ := dbfs["destination"].(string)
	return dest
}
