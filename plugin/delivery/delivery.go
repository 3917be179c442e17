// Package delivery writes log entries to Cloud Logging with synchronous WriteLogEntries
// calls and turns the result into what fluent-bit understands: OK, Retry or Drop.
//
// Status mapping (Classify):
//
//	nil, OK                                          → OK
//	Unavailable, DeadlineExceeded, Internal, Aborted → Retry  (transient server or network trouble)
//	ResourceExhausted (quota)                        → Retry  (fluent-bit's out_stackdriver drops these; we do not)
//	Unauthenticated, PermissionDenied                → Retry  (usually IAM being fixed; IsAuthError lets the caller log loudly)
//	Canceled, Unknown, a non-gRPC error (dial,       → Retry  (the request may not have reached the API)
//	  connection reset, context deadline)
//	ResourceExhausted "message larger than max"      → Drop   (gRPC's own size limit: re-sending cannot succeed)
//	InvalidArgument without per-entry details        → Drop   (the whole request is malformed: resending it cannot help)
//	NotFound, FailedPrecondition, OutOfRange,        → Drop
//	  Unimplemented, AlreadyExists, DataLoss
//
// Per-entry errors under partial_success (google.logging.v2.WriteLogEntriesPartialErrors in
// the status details, normally with InvalidArgument) are permanent per the API: only those
// entries are dropped (Result.Rejected, each with its reason) and the rest of the request
// counts as written.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
)

// Outcome is a Write's verdict, mapped to FLB_OK, FLB_RETRY and FLB_ERROR by the cgo layer.
type Outcome int

const (
	OK    Outcome = iota // everything written, or dropped per entry with a reason in Rejected
	Retry                // something retryable failed: Unsent must be sent again
	Drop                 // a whole request was refused for good: its entries are in Rejected
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "OK"
	case Retry:
		return "RETRY"
	case Drop:
		return "DROP"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Rejected is an entry Cloud Logging (or the size check before sending) refused for good.
type Rejected struct {
	Entry  *loggingpb.LogEntry
	Reason string
}

// Result is what one Write did. Every entry passed to Write is in exactly one of: Written
// (a count), Rejected, Unsent.
type Result struct {
	Outcome  Outcome
	Written  int // entries accepted
	Bytes    int // request bytes of the requests that were accepted (fully or in part)
	Requests int // WriteLogEntries calls made
	Rejected []Rejected
	// Unsent are the entries not (known to be) written because a retryable error stopped the
	// Write: the failed request's entries and every later one, in order. Non-empty only
	// with Outcome Retry. Re-sending them is safe: identical insertIds are de-duplicated.
	Unsent []*loggingpb.LogEntry
	Err    error // the error behind Retry or Drop, for the log line
}

// Writer sends entries. Implementations are safe for concurrent use (fluent-bit Workers).
type Writer interface {
	// Write sends all entries, split into requests under MaxRequestBytes, with request-level
	// log_name, resource and labels, partial_success=true. Every call is bounded by
	// WriteTimeout. It stops at the first request that fails with a retryable error.
	// Write must not keep entries, or anything reached from them, once it returns (Unsent
	// and Rejected excepted): the caller reuses their memory (entry.Builder.Release).
	Write(ctx context.Context, entries []*loggingpb.LogEntry) Result
	Close() error
}

// Classify maps an error from WriteLogEntries to an Outcome (table in the package doc).
// It looks only at the status code and message; per-entry details are Write's business.
func Classify(err error) Outcome {
	if err == nil {
		return OK
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Retry
	}
	st, ok := status.FromError(err)
	if !ok {
		// Not a gRPC status: a transport or network error before any answer.
		return Retry
	}
	switch st.Code() {
	case codes.OK:
		return OK
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Aborted,
		codes.Unauthenticated, codes.PermissionDenied, codes.Canceled, codes.Unknown:
		return Retry
	case codes.ResourceExhausted:
		if isSizeLimit(st.Message()) {
			return Drop
		}
		return Retry
	default:
		return Drop
	}
}

// isSizeLimit recognises gRPC's own message-size errors (ResourceExhausted "grpc: received
// message larger than max (N vs. M)" / "trying to send message larger than max"): the same
// request will always be too large, so retrying it forever would block the pipeline.
func isSizeLimit(msg string) bool {
	return strings.Contains(msg, "message larger than max")
}

// isRequestTooLarge recognises a whole request refused for its size: the API's
// InvalidArgument "Request payload size exceeds the limit" or gRPC's own receive limit.
func isRequestTooLarge(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return strings.Contains(st.Message(), "Request payload size exceeds the limit")
	case codes.ResourceExhausted:
		return isSizeLimit(st.Message())
	}
	return false
}

// IsAuthError reports errors that mean the credentials or IAM are wrong. They are retried
// (IAM is often being fixed while the DaemonSet already runs) but deserve a loud log line.
func IsAuthError(err error) bool {
	st, ok := status.FromError(err)
	return ok && (st.Code() == codes.Unauthenticated || st.Code() == codes.PermissionDenied)
}

// partialErrors returns the per-entry errors in err's status details, or nil.
func partialErrors(err error) *loggingpb.WriteLogEntriesPartialErrors {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if pe, ok := d.(*loggingpb.WriteLogEntriesPartialErrors); ok && len(pe.LogEntryErrors) > 0 {
			return pe
		}
	}
	return nil
}

// requestTemplate is the request-level part every request of a Write shares.
func requestTemplate(cfg config.Config) *loggingpb.WriteLogEntriesRequest {
	return &loggingpb.WriteLogEntriesRequest{
		LogName:        cfg.LogPath(),
		Resource:       cfg.MonitoredResource(),
		Labels:         cfg.Labels,
		PartialSuccess: true,
	}
}

// request is the template's request carrying entries (the template itself is not changed).
func request(template *loggingpb.WriteLogEntriesRequest, entries []*loggingpb.LogEntry) *loggingpb.WriteLogEntriesRequest {
	return &loggingpb.WriteLogEntriesRequest{
		LogName:        template.LogName,
		Resource:       template.Resource,
		Labels:         template.Labels,
		Entries:        entries,
		PartialSuccess: template.PartialSuccess,
	}
}
