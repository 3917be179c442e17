package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	logging "cloud.google.com/go/logging/apiv2"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
)

// noRetry turns off the client library's own retries for WriteLogEntries. By default
// apiv2 retries DeadlineExceeded, Internal and Unavailable with backoff for up to 60 s.
// We make exactly one attempt per request because (1) fluent-bit's scheduler already
// retries the chunk with its own backoff and Retry_Limit, which the operator configures
// and sees in metrics; (2) Write_Timeout must bound the whole call, and hidden retries
// would spend it on sleeps, turning a clear Unavailable into an opaque DeadlineExceeded;
// (3) a flush on the engine thread (Workers 0) must return promptly.
var noRetry = gax.WithRetry(func() gax.Retryer { return nil })

// encodeWith makes gRPC encode a request of size bytes with requestCodec (see there).
func encodeWith(size int) gax.CallOption {
	return gax.WithGRPCOptions(grpc.ForceCodecV2(newRequestCodec(size)))
}

type cloudWriter struct {
	client   *logging.Client
	template *loggingpb.WriteLogEntriesRequest
	baseSize int
	maxBytes int
	cfg      config.Config
}

// NewCloudWriter makes a Writer over cloud.google.com/go/logging/apiv2. The connection is
// made lazily: an unreachable endpoint shows up as Retry on the first Write, not here.
// Credentials: none with Insecure (plaintext, for an emulator at Endpoint), else
// Credentials_File, else Application Default Credentials. opts come last and win.
func NewCloudWriter(ctx context.Context, cfg config.Config, opts ...option.ClientOption) (Writer, error) {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = config.DefaultWriteTimeout
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = config.DefaultMaxRequestBytes
	}
	o := []option.ClientOption{option.WithUserAgent(config.PluginName)}
	if cfg.Endpoint != "" {
		o = append(o, option.WithEndpoint(cfg.Endpoint))
	}
	switch {
	case cfg.Insecure:
		o = append(o, option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	case cfg.CredentialsFile != "":
		ct, err := credentialsType(cfg.CredentialsFile)
		if err != nil {
			return nil, err
		}
		o = append(o, option.WithAuthCredentialsFile(ct, cfg.CredentialsFile))
	}
	client, err := logging.NewClient(ctx, append(o, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot create the Cloud Logging client (Endpoint %q, Credentials_File %q): %w",
			config.PluginName, cfg.Endpoint, cfg.CredentialsFile, err)
	}
	t := requestTemplate(cfg)
	return &cloudWriter{client: client, template: t, baseSize: proto.Size(t), maxBytes: cfg.MaxRequestBytes, cfg: cfg}, nil
}

// credentialsType reads the "type" of a JSON credentials file: the non-deprecated
// option.WithAuthCredentialsFile needs it, and the operator chose this file, so every
// type the auth library supports is accepted.
func credentialsType(path string) (option.CredentialsType, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: Credentials_File %q: %w", config.PluginName, path, err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("%s: Credentials_File %q is not a JSON credentials file: %v", config.PluginName, path, err)
	}
	switch option.CredentialsType(f.Type) {
	case option.ServiceAccount, option.AuthorizedUser, option.ExternalAccount, option.ImpersonatedServiceAccount:
		return option.CredentialsType(f.Type), nil
	}
	return "", fmt.Errorf("%s: Credentials_File %q has type %q; want service_account, authorized_user, external_account or impersonated_service_account",
		config.PluginName, path, f.Type)
}

func (w *cloudWriter) Close() error { return w.client.Close() }

func (w *cloudWriter) Write(ctx context.Context, entries []*loggingpb.LogEntry) Result {
	batches, rejected := split(entries, w.baseSize, w.maxBytes)
	res := Result{Rejected: rejected}
	var dropErr error
	for len(batches) > 0 {
		b := batches[0]
		batches = batches[1:]
		req := request(w.template, b.entries)
		cctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
		_, err := w.client.WriteLogEntries(cctx, req, noRetry, encodeWith(b.size))
		cancel()
		res.Requests++
		if err == nil {
			res.Written += len(b.entries)
			res.Bytes += b.size
			continue
		}
		// The server measures request size its own way (google-cloud-go#9479: refused at ~7.5 MB
		// by the client's count). A request refused for its size is sent again in halves, so
		// only an entry that is too large on its own is ever dropped.
		if isRequestTooLarge(err) && len(b.entries) > 1 {
			h := halve(b, w.baseSize)
			batches = append(h[:], batches...)
			continue
		}
		outcome := Classify(err)
		if outcome != Retry {
			if pe := partialErrors(err); pe != nil {
				n := rejectIndexed(&res, b.entries, pe)
				res.Written += len(b.entries) - n
				res.Bytes += b.size
				continue
			}
		}
		if outcome == Retry {
			res.Outcome, res.Err = Retry, err
			res.Unsent = append(res.Unsent, b.entries...)
			for _, rest := range batches {
				res.Unsent = append(res.Unsent, rest.entries...)
			}
			return res
		}
		dropErr = err
		reason := "request refused: " + err.Error()
		for _, e := range b.entries {
			res.Rejected = append(res.Rejected, Rejected{Entry: e, Reason: reason})
		}
	}
	if dropErr != nil {
		res.Outcome, res.Err = Drop, dropErr
	}
	return res
}

// rejectIndexed moves the entries named in pe to res.Rejected (in index order, so logs are
// deterministic) and returns how many. Indexes outside the request are ignored: they
// cannot name one of our entries.
func rejectIndexed(res *Result, entries []*loggingpb.LogEntry, pe *loggingpb.WriteLogEntriesPartialErrors) int {
	idx := make([]int, 0, len(pe.LogEntryErrors))
	for i := range pe.LogEntryErrors {
		if i >= 0 && int(i) < len(entries) {
			idx = append(idx, int(i))
		}
	}
	sort.Ints(idx)
	for _, i := range idx {
		st := pe.LogEntryErrors[int32(i)]
		reason := "rejected by Cloud Logging"
		if st != nil {
			reason = fmt.Sprintf("%s: %s", codes.Code(st.GetCode()), st.GetMessage())
		}
		res.Rejected = append(res.Rejected, Rejected{Entry: entries[i], Reason: reason})
	}
	return len(idx)
}
