// Package azurepipes carries Dagster Pipes traffic through Azure Blob
// Storage, on github.com/Azure/azure-sdk-for-go/sdk/storage/azblob. It is
// the Go counterpart of the reference's PipesAzureBlobStorageMessageWriter
// and PipesAzureBlobStorageContextLoader, and works with Dagster's
// PipesAzureBlobStorageMessageReader and PipesAzureBlobStorageContextInjector
// (package dagster-azure, which PipesAzureMLClient uses too).
//
// Dagster's side names the container "bucket" in its params, as the other
// blob stores do; this package keeps that name. [MessageWriter] uploads the
// job's messages as the blobs "<key_prefix>/1.json", "<key_prefix>/2.json",
// … at a fixed interval (10 s by default) and once more on close, so that
// the last chunk holds the closed message. [ContextLoader] reads the
// context blob Dagster put in the container. Both take the client from the
// caller, so any account, endpoint (Azurite included) or credential works;
// [NewClientFromConnectionString], [NewClientWithDefaultCredential] and
// [NewClientFromEnv] build one.
//
// A failed upload is retried by the SDK's retry policy (5xx, 429, 408
// answers) and, if it still fails, the chunk stays queued and is tried
// again, under the same number, at the next interval and on close:
// Dagster's reader never sees a gap and no message is lost because one
// upload failed. An upload overwrites a blob of the same name, so a chunk
// whose answer was lost is simply written again. Close reports what could
// not be delivered.
//
// The rest of the job uses the root package as usual; only the wiring
// names this package:
//
//	client, err := azurepipes.NewClientFromEnv(nil)
//	…
//	pc, err := pipes.Open(ctx,
//		pipes.WithContextLoader(azurepipes.ContextLoader{Client: client}),
//		pipes.WithMessageWriter(azurepipes.MessageWriter{Client: client}))
package azurepipes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/dagster-pipes-go/pipes"
)

// Params keys that Dagster's Azure Blob Storage injector and reader send.
const (
	// BucketKey names the container, in both the context and the messages
	// params ("bucket" is the reference's name for it).
	BucketKey = "bucket"
	// KeyKey is the name of the context blob.
	KeyKey = "key"
	// KeyPrefixKey is the prefix under which message chunks go; it may be
	// absent.
	KeyPrefixKey = "key_prefix"
)

// Component names used in error texts: the reference's class names.
const (
	messageWriterName = "PipesAzureBlobStorageMessageWriter"
	contextLoaderName = "PipesAzureBlobStorageContextLoader"
)

// Client is the part of the Blob Storage API this package uses.
// *azblob.Client implements it; a wrapper (for tracing, say) can too.
type Client interface {
	UploadBuffer(ctx context.Context, containerName, blobName string, buffer []byte, o *azblob.UploadBufferOptions) (azblob.UploadBufferResponse, error)
	DownloadStream(ctx context.Context, containerName, blobName string, o *azblob.DownloadStreamOptions) (azblob.DownloadStreamResponse, error)
}

var _ Client = (*azblob.Client)(nil)

// noClient reports whether c is missing: nil, or a nil *azblob.Client
// (which would panic on first use, in the upload goroutine).
func noClient(c Client) bool {
	if c == nil {
		return true
	}
	sdk, ok := c.(*azblob.Client)
	return ok && sdk == nil
}

// ErrNoClient is returned by [MessageWriter.Open] and
// [ContextLoader.LoadContext] when their Client is nil.
var ErrNoClient = errors.New("azurepipes: no Azure Blob Storage client: set the Client field (see NewClientFromConnectionString and NewClientWithDefaultCredential)")

// MessageWriter is a [pipes.MessageWriter] that uploads message chunks to
// Azure Blob Storage. It reads the messages params of Dagster's
// PipesAzureBlobStorageMessageReader: "bucket" (the container, required)
// and "key_prefix" (optional).
//
// When the reader sets "include_stdio_in_messages", [pipes.Open] forwards
// the process's stdout and stderr too (see [pipes.CaptureStdio]).
type MessageWriter struct {
	// Client uploads the chunks. Required.
	Client Client
	// Options tune the uploads; the zero value uploads every 10 s, as the
	// reference does. See [pipes.BlobStoreOptions].
	Options pipes.BlobStoreOptions
}

var _ pipes.MessageWriter = MessageWriter{}

// Open implements [pipes.MessageWriter]. The channel it returns is a
// [*pipes.BlobStoreChannel]; its Close performs the final upload and
// returns an error if some messages could not be delivered.
func (w MessageWriter) Open(_ context.Context, params pipes.Params) (pipes.MessageWriterChannel, error) {
	container, err := params.String(BucketKey, messageWriterName)
	if err != nil {
		return nil, err
	}
	prefix, err := params.OptionalString(KeyPrefixKey, messageWriterName)
	if err != nil {
		return nil, err
	}
	if noClient(w.Client) {
		return nil, ErrNoClient
	}
	return NewChannel(w.Client, container, prefix, w.Options), nil
}

// NewChannel returns a channel that uploads the messages written to it as
// the blobs [ChunkKey](keyPrefix, n) in container, n = 1, 2, 3, … It
// is the reference's PipesAzureBlobStorageMessageWriterChannel, for a job
// that does not take its container and prefix from Dagster's params.
func NewChannel(client Client, container, keyPrefix string, opts pipes.BlobStoreOptions) *pipes.BlobStoreChannel {
	return pipes.NewBlobStoreChannel(func(ctx context.Context, chunk []byte, index int) error {
		name := ChunkKey(keyPrefix, index)
		if noClient(client) {
			return fmt.Errorf("azurepipes: upload to %s: %w", location(container, name), ErrNoClient)
		}
		if _, err := client.UploadBuffer(ctx, container, name, chunk, nil); err != nil {
			return fmt.Errorf("azurepipes: upload to %s: %w", location(container, name), err)
		}
		return nil
	}, opts)
}

// ChunkKey returns the name of message chunk index:
// "<keyPrefix>/<index>.json", or "<index>.json" when keyPrefix is empty
// (see [pipes.ChunkKey]).
func ChunkKey(keyPrefix string, index int) string { return pipes.ChunkKey(keyPrefix, index) }

// ContextLoader is a [pipes.ContextLoader] that reads the context data from
// the blob named by the context params of Dagster's
// PipesAzureBlobStorageContextInjector: "bucket" (the container) and "key"
// (the blob).
type ContextLoader struct {
	// Client downloads the blob. Required.
	Client Client
}

var _ pipes.ContextLoader = ContextLoader{}

// LoadContext implements [pipes.ContextLoader]. A failed download is an
// error matching [pipes.ErrInvalidContext] that also wraps the SDK's error
// (an *azcore.ResponseError for an answer of the service; see
// bloberror.HasCode).
func (l ContextLoader) LoadContext(ctx context.Context, params pipes.Params) (*pipes.ContextData, error) {
	container, err := params.String(BucketKey, contextLoaderName)
	if err != nil {
		return nil, err
	}
	key, err := params.String(KeyKey, contextLoaderName)
	if err != nil {
		return nil, err
	}
	if noClient(l.Client) {
		return nil, ErrNoClient
	}
	return pipes.ReadContextBlob(ctx, location(container, key), func(ctx context.Context) (io.ReadCloser, error) {
		resp, err := l.Client.DownloadStream(ctx, container, key, nil)
		if err != nil {
			return nil, err
		}
		if resp.Body == nil {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return resp.Body, nil
	})
}

// location names a blob in errors, as an fsspec (adlfs) URL:
// az://<container>/<blob>.
func location(container, name string) string {
	return "az://" + container + "/" + name
}

// Environment variables read by [NewClientFromEnv].
const (
	// ConnectionStringEnvVar holds a storage connection string, as for
	// the Azure CLI and the Python SDK's samples.
	ConnectionStringEnvVar = "AZURE_STORAGE_CONNECTION_STRING"
	// AccountURLEnvVar holds the blob service URL of the account, such as
	// https://myaccount.blob.core.windows.net/.
	AccountURLEnvVar = "AZURE_STORAGE_ACCOUNT_URL"
	// AccountEnvVar holds the account name, as for the Azure CLI: the
	// service URL is then https://<name>.blob.core.windows.net/.
	AccountEnvVar = "AZURE_STORAGE_ACCOUNT"
)

// developmentStorage is what the connection string
// "UseDevelopmentStorage=true" stands for: the emulator's well-known
// development account (a published, non-secret key) on its default port.
// The Python SDK understands the shorthand; the Go SDK does not.
const developmentStorage = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"

// NewClientFromConnectionString returns a client for the account of a
// storage connection string (account key or SAS; an explicit BlobEndpoint
// is honoured, which is how Azurite is reached on any port).
// "UseDevelopmentStorage=true" stands for Azurite's development account on
// 127.0.0.1:10000, as in the Python SDK. opts may be nil.
func NewClientFromConnectionString(connectionString string, opts *azblob.ClientOptions) (*azblob.Client, error) {
	cs := normalizeConnectionString(connectionString)
	if strings.EqualFold(cs, "UseDevelopmentStorage=true") {
		cs = developmentStorage
	}
	client, err := azblob.NewClientFromConnectionString(cs, opts)
	if err != nil {
		// The connection string holds a secret: do not repeat it.
		return nil, fmt.Errorf("azurepipes: bad storage connection string (want e.g. \"DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…\" or one with BlobEndpoint=… and SharedAccessSignature=…): %w", err)
	}
	return client, nil
}

// connectionStringKeys are the keys of a connection string in the casing
// the Go SDK expects; the Python SDK, which Dagster's side uses, takes any.
var connectionStringKeys = []string{
	"DefaultEndpointsProtocol", "AccountName", "AccountKey", "BlobEndpoint",
	"EndpointSuffix", "SharedAccessSignature", "UseDevelopmentStorage",
}

// normalizeConnectionString accepts what the Python SDK accepts, so that a
// job and Dagster can share one string: blanks around the parts, empty
// parts, and keys in any case.
func normalizeConnectionString(cs string) string {
	var parts []string
	for _, part := range strings.Split(cs, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if ok {
			key = strings.TrimSpace(key)
			for _, k := range connectionStringKeys {
				if strings.EqualFold(key, k) {
					key = k
				}
			}
			part = key + "=" + strings.TrimSpace(value)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ";")
}

// NewClientWithDefaultCredential returns a client for the blob service at
// accountURL (such as https://myaccount.blob.core.windows.net/) that
// authenticates with the Azure SDK's default credential chain
// (azidentity.DefaultAzureCredential: environment, workload identity,
// managed identity, Azure CLI, …), the counterpart of Python's
// DefaultAzureCredential. opts may be nil.
func NewClientWithDefaultCredential(accountURL string, opts *azblob.ClientOptions) (*azblob.Client, error) {
	if accountURL == "" {
		return nil, errors.New("azurepipes: no account URL: pass the blob service URL, such as https://myaccount.blob.core.windows.net/")
	}
	var credOpts *azidentity.DefaultAzureCredentialOptions
	if opts != nil {
		// The same transport, cloud and logging for the token requests.
		credOpts = &azidentity.DefaultAzureCredentialOptions{ClientOptions: opts.ClientOptions}
	}
	cred, err := azidentity.NewDefaultAzureCredential(credOpts)
	if err != nil {
		return nil, fmt.Errorf("azurepipes: default Azure credential: %w", err)
	}
	client, err := azblob.NewClient(accountURL, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azurepipes: client for %s: %w", accountURL, err)
	}
	return client, nil
}

// NewClientFromEnv returns a client configured by the environment: the
// connection string in AZURE_STORAGE_CONNECTION_STRING if set (see
// [NewClientFromConnectionString]); otherwise the default credential (see
// [NewClientWithDefaultCredential]) on the account URL in
// AZURE_STORAGE_ACCOUNT_URL, or on https://<name>.blob.core.windows.net/
// for the account name in AZURE_STORAGE_ACCOUNT. opts may be nil.
func NewClientFromEnv(opts *azblob.ClientOptions) (*azblob.Client, error) {
	if cs := os.Getenv(ConnectionStringEnvVar); cs != "" {
		return NewClientFromConnectionString(cs, opts)
	}
	if u := os.Getenv(AccountURLEnvVar); u != "" {
		return NewClientWithDefaultCredential(u, opts)
	}
	if name := os.Getenv(AccountEnvVar); name != "" {
		return NewClientWithDefaultCredential("https://"+name+".blob.core.windows.net/", opts)
	}
	return nil, fmt.Errorf("azurepipes: no storage account configured: set %s, %s or %s",
		ConnectionStringEnvVar, AccountURLEnvVar, AccountEnvVar)
}
