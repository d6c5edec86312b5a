package moto_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/dagster-pipes-go/pipes/internal/moto"
)

func TestStartServesS3(t *testing.T) {
	srv := moto.Start(t)
	require.True(t, strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:"), srv.Endpoint)
	srv.CreateBucket(t, "moto-test")

	ctx := context.Background()
	client := srv.Client(t)
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("moto-test"), Key: aws.String("a/b.json"), Body: strings.NewReader(`{"x":1}`),
	})
	require.NoError(t, err)
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("moto-test"), Key: aws.String("a/b.json")})
	require.NoError(t, err)
	body, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	require.Equal(t, `{"x":1}`, string(body))

	srv.Reset(t)
	_, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("moto-test"), Key: aws.String("a/b.json")})
	require.Error(t, err, "reset removes buckets and objects")

	env := srv.Env()
	require.Contains(t, env, "AWS_ENDPOINT_URL="+srv.Endpoint)

	srv.Stop()
	srv.Stop() // idempotent
}

func TestModuleRoot(t *testing.T) {
	root, err := moto.ModuleRoot()
	require.NoError(t, err)
	require.FileExists(t, root+"/go.mod")
}
