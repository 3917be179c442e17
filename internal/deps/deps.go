//go:build deps

// Package deps pins modules that the project imports from several packages while they are written;
// go mod tidy keeps them because this file names them. It is never built.
package deps

import (
	_ "cloud.google.com/go/compute/metadata"
	_ "cloud.google.com/go/logging"
	_ "cloud.google.com/go/logging/apiv2"
	_ "cloud.google.com/go/logging/apiv2/loggingpb"
	_ "github.com/elastic/go-libaudit/v2"
	_ "github.com/elastic/go-libaudit/v2/aucoalesce"
	_ "github.com/elastic/go-libaudit/v2/auparse"
	_ "github.com/fluent/fluent-bit-go/output"
	_ "github.com/moby/buildkit/frontend/dockerfile/parser"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/prometheus/client_model/go"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/vmihailenco/msgpack/v5"
	_ "golang.org/x/time/rate"
	_ "google.golang.org/api/option"
	_ "google.golang.org/genproto/googleapis/api/monitoredres"
	_ "google.golang.org/genproto/googleapis/logging/type"
	_ "google.golang.org/genproto/googleapis/rpc/status"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/protobuf/encoding/protojson"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "k8s.io/api/apps/v1"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "sigs.k8s.io/yaml"
)
