package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dagster-pipes-go/pipes"
	"github.com/dagster-pipes-go/pipes/azurepipes"
	"github.com/dagster-pipes-go/pipes/s3pipes"
)

// A store makes the context loader and the message writer of one kind of
// storage, for --context-loader and --message-writer. Either may be nil when
// the store has only one side. Clients are built when `pipes exec` opens
// the session, never before: the report verbs share this binary and must
// not pay for them.
type store struct {
	// help says what the store matches on Dagster's side and what it
	// reads from the environment, for `pipes exec -help`.
	help   string
	loader func(ctx context.Context, e *storeEnv) (pipes.ContextLoader, error)
	writer func(ctx context.Context, e *storeEnv) (pipes.MessageWriter, error)
}

// stores are the values of --context-loader and --message-writer. Adding a
// store is one line here (and its module in go.mod): a client built from the
// environment, as Dagster's side shares it with the process it launches.
var stores = map[string]store{
	"default": {
		help:   "Dagster's default injectors and readers: a file, inline data, stdout/stderr",
		loader: static[pipes.ContextLoader](pipes.DefaultContextLoader{}),
		writer: static[pipes.MessageWriter](pipes.DefaultMessageWriter{}),
	},
	"s3": {
		help:   "PipesS3ContextInjector / PipesS3MessageReader; AWS_REGION, AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL_S3, … (the AWS SDK's chain)",
		loader: s3Loader, writer: s3Writer,
	},
	"gcs": {
		help: "PipesGCSContextInjector / PipesGCSMessageReader; Application Default Credentials " +
			"(GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata server), or " + gcsEmulatorHostEnv + " for an emulator",
		loader: newGCSLoader, writer: newGCSWriter,
	},
	"azure": {
		help: "PipesAzureBlobStorageContextInjector / PipesAzureBlobStorageMessageReader; " +
			azurepipes.ConnectionStringEnvVar + ", or " + azurepipes.AccountURLEnvVar + " or " + azurepipes.AccountEnvVar +
			" with the default Azure credential (AZURE_CLIENT_ID, workload or managed identity, az login)",
		loader: azureLoader, writer: azureWriter,
	},
	"dbfs": {
		help:   "PipesDbfsContextInjector / PipesDbfsMessageReader on a Databricks cluster: files through the DBFS mount (--dbfs-root)",
		loader: dbfsLoader, writer: dbfsWriter,
	},
	"volumes": {
		help: "PipesUnityCatalogVolumesContextInjector / PipesUnityCatalogVolumesMessageReader (Databricks serverless): " +
			"files under /Volumes, as mounted on the compute",
		loader: static[pipes.ContextLoader](pipes.VolumesContextLoader{}),
		writer: static[pipes.MessageWriter](pipes.VolumesMessageWriter{}),
	},
	// "databricks": DBFS and volumes through the REST API, without the mount, once databrickspipes lands.
}

// storeEnv is what the stores build from: the --dbfs-root flag, and the
// clients made so far, so that a loader and a writer of the same store
// share one client, closed when the session ends.
type storeEnv struct {
	dbfsRoot string

	s3    *s3.Client
	gcs   *gcsClient
	azure *azblob.Client
}

// close releases what the clients hold: their idle connections.
func (e *storeEnv) close() {
	if e.gcs != nil {
		e.gcs.http.CloseIdleConnections()
	}
}

func static[T any](v T) func(context.Context, *storeEnv) (T, error) {
	return func(context.Context, *storeEnv) (T, error) { return v, nil }
}

func (e *storeEnv) s3Client(ctx context.Context) (*s3.Client, error) {
	if e.s3 == nil {
		c, err := s3pipes.NewClientFromEnv(ctx)
		if err != nil {
			return nil, err
		}
		e.s3 = c
	}
	return e.s3, nil
}

func s3Loader(ctx context.Context, e *storeEnv) (pipes.ContextLoader, error) {
	c, err := e.s3Client(ctx)
	return s3pipes.ContextLoader{Client: c}, err
}

func s3Writer(ctx context.Context, e *storeEnv) (pipes.MessageWriter, error) {
	c, err := e.s3Client(ctx)
	return s3pipes.MessageWriter{Client: c}, err
}

func (e *storeEnv) gcsClient(ctx context.Context) (*gcsClient, error) {
	if e.gcs == nil {
		c, err := newGCSClientFromEnv(ctx)
		if err != nil {
			return nil, err
		}
		e.gcs = c
	}
	return e.gcs, nil
}

func newGCSLoader(ctx context.Context, e *storeEnv) (pipes.ContextLoader, error) {
	c, err := e.gcsClient(ctx)
	if err != nil {
		return nil, err
	}
	return gcsLoader{client: c}, nil
}

func newGCSWriter(ctx context.Context, e *storeEnv) (pipes.MessageWriter, error) {
	c, err := e.gcsClient(ctx)
	if err != nil {
		return nil, err
	}
	return gcsWriter{client: c}, nil
}

func (e *storeEnv) azureClient() (*azblob.Client, error) {
	if e.azure == nil {
		c, err := azurepipes.NewClientFromEnv(nil)
		if err != nil {
			return nil, err
		}
		e.azure = c
	}
	return e.azure, nil
}

func azureLoader(_ context.Context, e *storeEnv) (pipes.ContextLoader, error) {
	c, err := e.azureClient()
	if err != nil {
		return nil, err
	}
	return azurepipes.ContextLoader{Client: c}, nil
}

func azureWriter(_ context.Context, e *storeEnv) (pipes.MessageWriter, error) {
	c, err := e.azureClient()
	if err != nil {
		return nil, err
	}
	return azurepipes.MessageWriter{Client: c}, nil
}

// defaultDBFSRoot is where Databricks mounts DBFS on a cluster.
const defaultDBFSRoot = "/dbfs"

// dbfsMount checks that the DBFS mount is there, so that a job launched
// off a cluster is told so, not that some file under it is missing.
func (e *storeEnv) dbfsMount() (string, error) {
	root := e.dbfsRoot
	if root == "" {
		root = defaultDBFSRoot
	}
	st, err := os.Stat(root)
	if err == nil && !st.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = errors.New("no such directory")
		}
		return "", fmt.Errorf("DBFS is not mounted at %s (%v): run on a Databricks cluster, whose DBFS mount this store reads and writes, "+
			"or pass --dbfs-root with where it is mounted", root, err)
	}
	return root, nil
}

func dbfsLoader(_ context.Context, e *storeEnv) (pipes.ContextLoader, error) {
	root, err := e.dbfsMount()
	if err != nil {
		return nil, err
	}
	return pipes.DBFSContextLoader{Root: root}, nil
}

func dbfsWriter(_ context.Context, e *storeEnv) (pipes.MessageWriter, error) {
	root, err := e.dbfsMount()
	if err != nil {
		return nil, err
	}
	return pipes.DBFSMessageWriter{Root: root}, nil
}

// storeNames lists the stores that have the given side, for help and errors.
func storeNames(has func(store) bool) string {
	var names []string
	for name, s := range stores {
		if has(s) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func hasLoader(s store) bool { return s.loader != nil }
func hasWriter(s store) bool { return s.writer != nil }

// storesHelp describes each store, one per line, for `pipes exec -help`.
func storesHelp() string {
	names := make([]string, 0, len(stores))
	for name := range stores {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "  %-8s", name)
		// Words wrapped at 80 columns, under the first one.
		col := 10
		for _, word := range strings.Fields(stores[name].help) {
			if col > 11 && col+1+len(word) > 80 {
				b.WriteString("\n          ")
				col = 10
			}
			b.WriteString(" " + word)
			col += 1 + len(word)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkStores reports an unknown store name, with the names it knows.
func checkStores(loaderName, writerName string) error {
	if s, ok := stores[loaderName]; !ok || s.loader == nil {
		return fmt.Errorf("--context-loader %q: unknown store; want one of %s", loaderName, storeNames(hasLoader))
	}
	if s, ok := stores[writerName]; !ok || s.writer == nil {
		return fmt.Errorf("--message-writer %q: unknown store; want one of %s", writerName, storeNames(hasWriter))
	}
	return nil
}

// openStores returns the loader and writer named by the flags, and the
// environment whose clients the caller closes when the session is over.
// On error, nothing is left to close. Nothing is built before both names
// are known to be good.
func openStores(ctx context.Context, loaderName, writerName, dbfsRoot string) (pipes.ContextLoader, pipes.MessageWriter, *storeEnv, error) {
	if err := checkStores(loaderName, writerName); err != nil {
		return nil, nil, nil, err
	}
	ls, ws := stores[loaderName], stores[writerName]
	e := &storeEnv{dbfsRoot: dbfsRoot}
	l, err := ls.loader(ctx, e)
	if err != nil {
		e.close()
		return nil, nil, nil, fmt.Errorf("--context-loader %s: %w", loaderName, err)
	}
	w, err := ws.writer(ctx, e)
	if err != nil {
		e.close()
		return nil, nil, nil, fmt.Errorf("--message-writer %s: %w", writerName, err)
	}
	return l, w, e, nil
}
