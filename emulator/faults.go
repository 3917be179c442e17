package emulator

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Fault is consulted for every WriteLogEntries call, after the call is counted and before
// the request is validated or stored.
//
//   - nil: the request proceeds normally.
//   - an EntryErrors value: those entries are rejected as if validation had failed them,
//     with partial_success semantics (the other entries are stored when partial_success is
//     set; otherwise the whole request fails).
//   - any other error: returned to the client as is (use status.Error for a gRPC code);
//     nothing is stored.
//
// A Fault may be called concurrently.
type Fault func(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) error

// EntryErrors rejects individual entries, keyed by their zero-based index in the request.
type EntryErrors map[int]*status.Status

func (e EntryErrors) Error() string {
	idx := make([]int, 0, len(e))
	for i := range e {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	parts := make([]string, len(idx))
	for n, i := range idx {
		parts[n] = fmt.Sprintf("entry %d: %s", i, e[i].Message())
	}
	return "rejected " + strings.Join(parts, "; ")
}

// Fail returns a Fault that fails every call with code and msg.
func Fail(code codes.Code, msg string) Fault {
	return func(context.Context, *loggingpb.WriteLogEntriesRequest) error {
		return status.Error(code, msg)
	}
}

// Times applies f to the first n calls and lets every later call through.
func Times(n int, f Fault) Fault {
	var calls atomic.Int64
	return func(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) error {
		if calls.Add(1) > int64(n) {
			return nil
		}
		return f(ctx, req)
	}
}

// Sequence applies fs[i] to the i-th call (a nil element lets that call through) and lets
// every call after the last one through: a script such as
// Sequence(Unavailable(), nil, Hang()).
func Sequence(fs ...Fault) Fault {
	var calls atomic.Int64
	return func(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) error {
		i := calls.Add(1) - 1
		if i >= int64(len(fs)) || fs[i] == nil {
			return nil
		}
		return fs[i](ctx, req)
	}
}

// Unavailable fails a call the way a restarting frontend does.
func Unavailable() Fault {
	return Fail(codes.Unavailable, "The service is currently unavailable.")
}

// UnavailableThenOK fails the first n calls with Unavailable and accepts the rest.
func UnavailableThenOK(n int) Fault { return Times(n, Unavailable()) }

// ResourceExhausted fails every call with the API's write-quota error, including the
// ErrorInfo and QuotaFailure details the real service attaches.
func ResourceExhausted() Fault {
	return func(context.Context, *loggingpb.WriteLogEntriesRequest) error {
		const metric = "logging.googleapis.com/write_requests"
		st := status.New(codes.ResourceExhausted,
			"Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute' "+
				"of service 'logging.googleapis.com' for consumer 'project_number:0'.")
		st, err := st.WithDetails(
			&errdetails.ErrorInfo{
				Reason:   "RATE_LIMIT_EXCEEDED",
				Domain:   "googleapis.com",
				Metadata: map[string]string{"quota_metric": metric, "service": "logging.googleapis.com"},
			},
			&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
				Subject:     "project_number:0",
				Description: "Write requests per minute",
			}}},
		)
		if err != nil {
			return status.Errorf(codes.Internal, "emulator: building quota error: %v", err)
		}
		return st.Err()
	}
}

// RejectEntries rejects, in every call, each entry for which match returns true (i is the
// entry's index in the request; e is the entry as sent, before request defaults merge).
func RejectEntries(match func(i int, e *loggingpb.LogEntry) bool, code codes.Code, msg string) Fault {
	return func(_ context.Context, req *loggingpb.WriteLogEntriesRequest) error {
		errs := EntryErrors{}
		for i, e := range req.GetEntries() {
			if match(i, e) {
				errs[i] = status.New(code, msg)
			}
		}
		if len(errs) == 0 {
			return nil
		}
		return errs
	}
}

// Hang blocks each call until the client gives up (deadline or cancellation), then
// returns the matching status. Server.Stop cuts hung calls off after its grace period.
func Hang() Fault {
	return func(ctx context.Context, _ *loggingpb.WriteLogEntriesRequest) error {
		<-ctx.Done()
		return status.FromContextError(ctx.Err()).Err()
	}
}
