package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// clearStoreEnv empties the variables the stores read, so that the
// machine's own configuration does not decide a test.
func clearStoreEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		gcsEmulatorHostEnv, "GOOGLE_APPLICATION_CREDENTIALS",
		azurepipes.ConnectionStringEnvVar, azurepipes.AccountURLEnvVar, azurepipes.AccountEnvVar,
	} {
		t.Setenv(k, "")
	}
}

func TestExecFlagsAcceptEveryStore(t *testing.T) {
	for _, name := range []string{"default", "s3", "gcs", "azure", "dbfs", "volumes"} {
		t.Run(name, func(t *testing.T) {
			o, err := parseExecFlags([]string{"--context-loader", name, "--message-writer", name, "--", "true"}, &bytes.Buffer{})
			require.NoError(t, err)
			assert.Equal(t, name, o.loader)
			assert.Equal(t, name, o.writer)
			assert.Equal(t, defaultDBFSRoot, o.dbfsRoot)
		})
	}
	o, err := parseExecFlags([]string{"--", "true"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "default", o.loader, "the default loader")
	assert.Equal(t, "default", o.writer, "the default writer")

	o, err = parseExecFlags([]string{"--context-loader", "dbfs", "--dbfs-root", "/mnt/dbfs", "--", "true"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "/mnt/dbfs", o.dbfsRoot)
}

func TestExecFlagsRefuseUnknownStores(t *testing.T) {
	_, err := parseExecFlags([]string{"--message-writer", "gs", "--", "true"}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Equal(t, `--message-writer "gs": unknown store; want one of azure, dbfs, default, gcs, s3, volumes`, err.Error())

	var errOut bytes.Buffer
	assert.Equal(t, 2, execMain(t.Context(), []string{"--message-writer", "", "--", "true"}, &errOut, &errOut))
	assert.Contains(t, errOut.String(), `--message-writer "": unknown store`)
}

func TestExecHelpListsStores(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, 0, execMain(t.Context(), []string{"-help"}, &out, &out))
	help := out.String()
	assert.Contains(t, help, "where the context comes from: a store of azure, dbfs, default, gcs, s3, volumes")
	assert.Contains(t, help, "where the messages go: a store of azure, dbfs, default, gcs, s3, volumes")
	for _, line := range []string{
		"  azure    PipesAzureBlobStorageContextInjector",
		"  dbfs     PipesDbfsContextInjector",
		"  default  Dagster's default",
		"  gcs      PipesGCSContextInjector",
		"  s3       PipesS3ContextInjector",
		"  volumes  PipesUnityCatalogVolumesContextInjector",
	} {
		assert.Contains(t, help, "\n"+line)
	}
	for _, line := range strings.Split(help[strings.Index(help, "\nStores"):], "\n") {
		assert.LessOrEqual(t, len(line), 100, "line %q", line)
	}
	assert.Contains(t, help, "AZURE_STORAGE_CONNECTION_STRING")
	assert.Contains(t, help, "STORAGE_EMULATOR_HOST")
	assert.Contains(t, help, "-dbfs-root directory")
}

func TestOpenStoresSelects(t *testing.T) {
	clearStoreEnv(t)
	t.Setenv(gcsEmulatorHostEnv, "127.0.0.1:1")
	t.Setenv(azurepipes.ConnectionStringEnvVar, "UseDevelopmentStorage=true")
	dbfs := t.TempDir()

	for _, tc := range []struct {
		name   string
		loader pipes.ContextLoader
		writer pipes.MessageWriter
	}{
		{"default", pipes.DefaultContextLoader{}, pipes.DefaultMessageWriter{}},
		{"s3", s3pipes.ContextLoader{}, s3pipes.MessageWriter{}},
		{"gcs", gcsLoader{}, gcsWriter{}},
		{"azure", azurepipes.ContextLoader{}, azurepipes.MessageWriter{}},
		{"dbfs", pipes.DBFSContextLoader{Root: dbfs}, pipes.DBFSMessageWriter{Root: dbfs}},
		{"volumes", pipes.VolumesContextLoader{}, pipes.VolumesMessageWriter{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, w, env, err := openStores(t.Context(), tc.name, tc.name, dbfs)
			require.NoError(t, err)
			defer env.close()
			assert.IsType(t, tc.loader, l)
			assert.IsType(t, tc.writer, w)
			switch tc.name {
			case "dbfs", "default", "volumes":
				assert.Equal(t, tc.loader, l)
				assert.Equal(t, tc.writer, w)
			case "s3":
				require.NotNil(t, l.(s3pipes.ContextLoader).Client)
				assert.Same(t, l.(s3pipes.ContextLoader).Client, w.(s3pipes.MessageWriter).Client, "one client for both sides")
			case "gcs":
				c := l.(gcsLoader).client
				require.NotNil(t, c)
				assert.Equal(t, "http://127.0.0.1:1", c.base, "host:port gets a scheme")
				assert.Same(t, c, w.(gcsWriter).client, "one client for both sides")
			case "azure":
				require.NotNil(t, l.(azurepipes.ContextLoader).Client)
				assert.Same(t, l.(azurepipes.ContextLoader).Client, w.(azurepipes.MessageWriter).Client, "one client for both sides")
			}
		})
	}

	// Mixed: each side its own store.
	l, w, env, err := openStores(t.Context(), "gcs", "default", dbfs)
	require.NoError(t, err)
	env.close()
	assert.IsType(t, gcsLoader{}, l)
	assert.Equal(t, pipes.DefaultMessageWriter{}, w)
}

func TestOpenStoresErrors(t *testing.T) {
	clearStoreEnv(t)
	missing := filepath.Join(t.TempDir(), "nowhere")

	t.Run("gcs without credentials", func(t *testing.T) {
		// A key file that is not there: Application Default Credentials
		// fail without looking for a metadata server.
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(missing, "key.json"))
		_, _, _, err := openStores(t.Context(), "gcs", "default", "")
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "--context-loader gcs: no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS"), err.Error())
		assert.Contains(t, err.Error(), "or set STORAGE_EMULATOR_HOST for an emulator")
		assert.Contains(t, err.Error(), "key.json")
	})
	t.Run("gcs bad emulator host without scheme", func(t *testing.T) {
		t.Setenv(gcsEmulatorHostEnv, "/path")
		_, _, _, err := openStores(t.Context(), "gcs", "default", "")
		require.Error(t, err)
		assert.Equal(t, `--context-loader gcs: STORAGE_EMULATOR_HOST="/path": want host:port or http://host:port`, err.Error())
	})
	t.Run("gcs bad emulator host", func(t *testing.T) {
		t.Setenv(gcsEmulatorHostEnv, "http://")
		_, _, _, err := openStores(t.Context(), "default", "gcs", "")
		require.Error(t, err)
		assert.Equal(t, `--message-writer gcs: STORAGE_EMULATOR_HOST="http://": want host:port or http://host:port`, err.Error())
	})
	t.Run("azure without an account", func(t *testing.T) {
		_, _, _, err := openStores(t.Context(), "default", "azure", "")
		require.Error(t, err)
		assert.Equal(t, "--message-writer azure: azurepipes: no storage account configured: set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_URL or AZURE_STORAGE_ACCOUNT", err.Error())
	})
	t.Run("azure bad connection string", func(t *testing.T) {
		t.Setenv(azurepipes.ConnectionStringEnvVar, "AccountName=x;AccountKey=secret-not-base64")
		_, _, _, err := openStores(t.Context(), "azure", "azure", "")
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "--context-loader azure: azurepipes: bad storage connection string"), err.Error())
		assert.NotContains(t, err.Error(), "secret-not-base64", "the secret is not repeated")
	})
	t.Run("dbfs not mounted", func(t *testing.T) {
		_, _, _, err := openStores(t.Context(), "dbfs", "dbfs", missing)
		require.Error(t, err)
		assert.Equal(t, "--context-loader dbfs: DBFS is not mounted at "+missing+" (no such directory): run on a Databricks cluster, "+
			"whose DBFS mount this store reads and writes, or pass --dbfs-root with where it is mounted", err.Error())
	})
	t.Run("dbfs root is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, _, _, err := openStores(t.Context(), "default", "dbfs", file)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "--message-writer dbfs: DBFS is not mounted at "+file+" (not a directory)")
	})
	t.Run("unknown", func(t *testing.T) {
		_, _, _, err := openStores(t.Context(), "s4", "default", "")
		require.Error(t, err)
		assert.Equal(t, `--context-loader "s4": unknown store; want one of azure, dbfs, default, gcs, s3, volumes`, err.Error())
	})
}

// A store whose client cannot be made stops pipes exec before COMMAND
// runs, with status 1 (the session could not be opened) and the reason.
func TestExecStoreErrorExits1(t *testing.T) {
	clearStoreEnv(t)
	marker := filepath.Join(t.TempDir(), "ran")
	var errOut bytes.Buffer
	code := execMain(t.Context(), []string{"--message-writer", "azure", "--", "touch", marker}, &errOut, &errOut)
	assert.Equal(t, 1, code)
	assert.Equal(t, "pipes exec: --message-writer azure: azurepipes: no storage account configured: set AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_ACCOUNT_URL or AZURE_STORAGE_ACCOUNT\n", errOut.String())
	assert.NoFileExists(t, marker, "COMMAND did not run")
}

// The dbfs and volumes stores under pipes exec: a whole session whose
// context and messages are files under the mount, as Dagster's DBFS and
// volumes injectors and readers lay them out (DBFS paths are relative to
// the mount, volume paths are used as they are).
func TestExecFileStores(t *testing.T) {
	pipesOnPath(t)
	for _, store := range []string{"dbfs", "volumes"} {
		t.Run(store, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "tmp", "pipes")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "messages"), 0o755))
			ctxData := `{"asset_keys": ["a"], "run_id": "r1", "extras": {"limit": 4}}`
			require.NoError(t, os.WriteFile(filepath.Join(dir, "context.json"), []byte(ctxData), 0o600))
			paramDir := "/tmp/pipes"
			if store == "volumes" {
				paramDir = dir
			}
			ctxParam, err := pipes.EncodeParam(map[string]any{"path": paramDir + "/context.json"})
			require.NoError(t, err)
			msgParam, err := pipes.EncodeParam(map[string]any{"path": paramDir + "/messages"})
			require.NoError(t, err)
			t.Setenv(pipes.ContextEnvVar, ctxParam)
			t.Setenv(pipes.MessagesEnvVar, msgParam)

			var out, errOut bytes.Buffer
			code := execMain(t.Context(), []string{"--context-loader", store, "--message-writer", store, "--dbfs-root", root, "--",
				"sh", "-c", `pipes materialize --meta rows="$(pipes context extras.limit)"`}, &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			chunk, err := os.ReadFile(filepath.Join(dir, "messages", "1.json"))
			require.NoError(t, err)
			lines := strings.Split(string(chunk), "\n")
			require.Len(t, lines, 3, "opened, report_asset_materialization, closed: %q", chunk)
			assert.Contains(t, lines[0], `"method":"opened"`)
			assert.Contains(t, lines[1], `"method":"report_asset_materialization"`)
			assert.Contains(t, lines[1], `"rows":{"raw_value":4,"type":"int"}`)
			assert.Contains(t, lines[2], `"method":"closed"`)
		})
	}
}

// Every process of this binary, each report verb included, runs the
// package initialisation of everything linked in: the stores must not
// bring in the GCS SDK's gRPC and OpenTelemetry (see gcs.go).
func TestBinaryLinksNoHeavySDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/dagster-pipes-go/pipes/azurepipes", "the premise: the stores are linked")
	for _, d := range deps {
		for _, heavy := range []string{"cloud.google.com/go/storage", "google.golang.org/grpc", "go.opentelemetry.io/", "go.opencensus.io/"} {
			assert.False(t, strings.HasPrefix(d, heavy), "the pipes binary links %s", d)
		}
	}
}

// With Application Default Credentials (here a user's credentials file,
// which needs no network to load), the gcs store talks to Cloud Storage.
func TestGCSStoreWithCredentials(t *testing.T) {
	clearStoreEnv(t)
	key := filepath.Join(t.TempDir(), "adc.json")
	require.NoError(t, os.WriteFile(key, []byte(`{"type": "authorized_user", "client_id": "id", "client_secret": "s", "refresh_token": "r"}`), 0o600))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", key)
	l, w, env, err := openStores(t.Context(), "gcs", "gcs", "")
	require.NoError(t, err)
	defer env.close()
	c := l.(gcsLoader).client
	assert.Equal(t, "https://storage.googleapis.com", c.base)
	assert.Same(t, c, w.(gcsWriter).client)
}
