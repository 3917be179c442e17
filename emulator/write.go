package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// API limits on labels (https://cloud.google.com/logging/quotas#log-limits).
const (
	maxLabels         = 64
	maxLabelKeyBytes  = 512
	maxLabelValBytes  = 64 << 10
	maxLogIDBytes     = 511 // "must be less than 512 characters"
	maxFutureTimeSkew = 24 * time.Hour
)

// WriteLogEntries stores the valid entries of req, following the real API:
//
//   - a request over MaxRequestBytes fails with InvalidArgument before anything else;
//   - request-level log_name and resource fill entries that lack them; request-level
//     labels are added to an entry unless it already has that key;
//   - an invalid request-level field fails the whole request;
//   - invalid entries fail the whole request unless partial_success is set, in which case
//     the valid entries are stored and the call still fails, with the code and message of
//     the first failed entry and a WriteLogEntriesPartialErrors detail mapping each failed
//     entry's index to its status;
//   - entries without timestamp or insertId get the receive time and a generated id.
func (s *Server) WriteLogEntries(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) (*loggingpb.WriteLogEntriesResponse, error) {
	s.mu.Lock()
	s.requests++
	fault := s.fault
	s.mu.Unlock()

	if size := proto.Size(req); size > s.maxRequest {
		return nil, status.Errorf(codes.InvalidArgument, "Request payload size exceeds the limit: %d bytes.", s.maxRequest)
	}

	rejected := map[int]*status.Status{}
	if fault != nil {
		err := fault(ctx, req)
		var ee EntryErrors
		switch {
		case err == nil:
		case errors.As(err, &ee):
			for i, st := range ee {
				if i < 0 || i >= len(req.GetEntries()) {
					return nil, status.Errorf(codes.Internal, "emulator: fault rejected entry %d of a %d-entry request", i, len(req.GetEntries()))
				}
				rejected[i] = st
			}
		default:
			return nil, err
		}
	}

	if err := s.validateRequest(req); err != nil {
		return nil, err
	}

	now := s.now()
	accepted := make([]*loggingpb.LogEntry, 0, len(req.GetEntries()))
	for i, e := range req.GetEntries() {
		if rejected[i] != nil {
			continue
		}
		m := merge(req, e)
		if st := s.validateEntry(m, now); st != nil {
			rejected[i] = st
			continue
		}
		accepted = append(accepted, m)
	}

	if len(rejected) > 0 && !req.GetPartialSuccess() {
		// The documentation says requests that write nothing carry no per-entry errors.
		return nil, firstRejection(rejected).Err()
	}

	s.mu.Lock()
	for _, m := range accepted {
		if m.Timestamp == nil {
			m.Timestamp = timestamppb.New(now)
		}
		if m.InsertId == "" {
			s.nextID++
			m.InsertId = "emu-" + strconv.FormatInt(now.UnixNano(), 36) + "-" + strconv.FormatUint(s.nextID, 36)
		}
		m.ReceiveTimestamp = timestamppb.New(now)
	}
	s.mu.Unlock()

	if err := s.store(accepted); err != nil {
		return nil, status.Errorf(codes.Internal, "emulator: %v", err)
	}

	if len(rejected) > 0 {
		return nil, partialError(rejected)
	}
	return &loggingpb.WriteLogEntriesResponse{}, nil
}

// firstRejection is the status of the lowest-index failed entry: the real API reports
// "the response status of one of the failed entries", observed to be the first.
func firstRejection(rejected map[int]*status.Status) *status.Status {
	first := -1
	for i := range rejected {
		if first < 0 || i < first {
			first = i
		}
	}
	return rejected[first]
}

// partialError builds the API's partial-success failure: the first failed entry's status
// with a google.logging.v2.WriteLogEntriesPartialErrors detail listing every failure.
func partialError(rejected map[int]*status.Status) error {
	pe := &loggingpb.WriteLogEntriesPartialErrors{LogEntryErrors: make(map[int32]*spb.Status, len(rejected))}
	for i, st := range rejected {
		pe.LogEntryErrors[int32(i)] = st.Proto()
	}
	first := firstRejection(rejected)
	st, err := status.New(first.Code(), first.Message()).WithDetails(pe)
	if err != nil {
		return status.Errorf(codes.Internal, "emulator: attaching partial errors: %v", err)
	}
	return st.Err()
}

// validateRequest checks request-level fields; a failure rejects the whole request.
func (s *Server) validateRequest(req *loggingpb.WriteLogEntriesRequest) error {
	if req.GetLogName() != "" {
		if _, msg := normalizeLogName(req.GetLogName()); msg != "" {
			return status.Error(codes.InvalidArgument, "logName: "+msg)
		}
	}
	if r := req.GetResource(); r != nil && r.GetType() == "" {
		return status.Error(codes.InvalidArgument, "resource.type: a monitored resource needs a type, e.g. k8s_node")
	}
	if len(req.GetLabels()) > maxLabels {
		return status.Errorf(codes.InvalidArgument, "labels: %d labels exceed the limit of %d", len(req.GetLabels()), maxLabels)
	}
	for k := range req.GetLabels() {
		if len(k) > maxLabelKeyBytes {
			return status.Errorf(codes.InvalidArgument, "labels: key %.40q... is %d bytes, over the limit of %d", k, len(k), maxLabelKeyBytes)
		}
	}
	// Strings are checked on the request only for fields merged into entries; each
	// entry's own strings are checked per entry so partial_success can isolate them.
	if path := invalidUTF8(req.GetResource().ProtoReflect(), "resource"); path != "" {
		return status.Errorf(codes.InvalidArgument, "%s: string is not valid UTF-8", path)
	}
	for k, v := range req.GetLabels() {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return status.Errorf(codes.InvalidArgument, "labels[%q]: string is not valid UTF-8", k)
		}
	}
	if !utf8.ValidString(req.GetLogName()) {
		return status.Error(codes.InvalidArgument, "logName: string is not valid UTF-8")
	}
	return nil
}

// merge returns a copy of e with the request's defaults applied.
func merge(req *loggingpb.WriteLogEntriesRequest, e *loggingpb.LogEntry) *loggingpb.LogEntry {
	m := proto.Clone(e).(*loggingpb.LogEntry)
	if m.LogName == "" {
		m.LogName = req.GetLogName()
	}
	if m.Resource == nil && req.GetResource() != nil {
		m.Resource = proto.Clone(req.GetResource()).(*monitoredres.MonitoredResource)
	}
	if len(req.GetLabels()) > 0 {
		if m.Labels == nil {
			m.Labels = make(map[string]string, len(req.GetLabels()))
		}
		for k, v := range req.GetLabels() {
			if _, ok := m.Labels[k]; !ok {
				m.Labels[k] = v
			}
		}
	}
	return m
}

// validateEntry checks one merged entry and normalizes it in place (leading "/" of the
// log name, over-long label values truncated as the API does). nil means accepted.
func (s *Server) validateEntry(m *loggingpb.LogEntry, now time.Time) *status.Status {
	bad := func(format string, args ...any) *status.Status {
		return status.Newf(codes.InvalidArgument, format, args...)
	}
	if path := invalidUTF8(m.ProtoReflect(), "entry"); path != "" {
		return bad("%s: string is not valid UTF-8", path)
	}
	if m.LogName == "" {
		return bad("logName: missing; set it on the entry or on the request (projects/PROJECT/logs/LOG_ID)")
	}
	name, msg := normalizeLogName(m.LogName)
	if msg != "" {
		return bad("logName: %s", msg)
	}
	m.LogName = name
	if m.Resource == nil {
		return bad("resource: missing; set it on the entry or on the request (e.g. type k8s_node)")
	}
	if m.Resource.GetType() == "" {
		return bad("resource.type: a monitored resource needs a type, e.g. k8s_node")
	}
	if ts := m.Timestamp; ts != nil {
		if err := ts.CheckValid(); err != nil {
			return bad("timestamp: %v", err)
		}
		if t := ts.AsTime(); t.After(now.Add(maxFutureTimeSkew)) {
			return bad("timestamp: %s is more than 24 hours in the future (now %s)", t.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339))
		}
	}
	if len(m.Labels) > maxLabels {
		return bad("labels: %d labels exceed the limit of %d", len(m.Labels), maxLabels)
	}
	for k, v := range m.Labels {
		if len(k) > maxLabelKeyBytes {
			return bad("labels: key %.40q... is %d bytes, over the limit of %d", k, len(k), maxLabelKeyBytes)
		}
		if len(v) > maxLabelValBytes {
			m.Labels[k] = truncateUTF8(v, maxLabelValBytes)
		}
	}
	if size := proto.Size(m); size > s.maxEntry {
		return bad("Log entry with size %s exceeds maximum size of %s", kib(size), kib(s.maxEntry))
	}
	return nil
}

// kib formats a byte count the way the API's size errors do ("388.9K").
func kib(n int) string { return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + "K" }

func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

var logParents = []string{"projects/", "organizations/", "folders/", "billingAccounts/"}

// normalizeLogName checks a log name of the form PARENT_TYPE/ID/logs/LOG_ID with a
// URL-encoded LOG_ID, and returns it without the leading "/" the API tolerates. A non-empty
// message says what is wrong.
func normalizeLogName(name string) (string, string) {
	name = strings.TrimPrefix(name, "/")
	parent, logID, ok := strings.Cut(name, "/logs/")
	if !ok {
		return "", fmt.Sprintf("%q is not of the form projects/PROJECT_ID/logs/LOG_ID", name)
	}
	typ, id, ok := strings.Cut(parent, "/")
	if !ok || id == "" || strings.Contains(id, "/") || !knownParent(typ+"/") {
		return "", fmt.Sprintf("%q: parent %q is not projects/ID, organizations/ID, folders/ID or billingAccounts/ID", name, parent)
	}
	if logID == "" {
		return "", fmt.Sprintf("%q: LOG_ID after /logs/ is empty", name)
	}
	if i := strings.IndexByte(logID, '/'); i >= 0 {
		return "", fmt.Sprintf("%q: LOG_ID %q must be URL-encoded (%%2F for /)", name, logID)
	}
	decoded, err := url.PathUnescape(logID)
	if err != nil {
		return "", fmt.Sprintf("%q: LOG_ID %q is not valid URL encoding: %v", name, logID, err)
	}
	if len(decoded) > maxLogIDBytes {
		return "", fmt.Sprintf("%q: LOG_ID is %d characters, must be less than 512", name, len(decoded))
	}
	for _, r := range decoded {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("./_-", r)) {
			return "", fmt.Sprintf("Log name contains illegal character %q. Allowed characters are alphanumerics and ./_- (log name %q)", r, name)
		}
	}
	return name, ""
}

func knownParent(prefix string) bool {
	for _, p := range logParents {
		if prefix == p {
			return true
		}
	}
	return false
}

// invalidUTF8 returns the path of the first string (or map key) in m that is not valid
// UTF-8, or "". Go's protobuf runtime refuses to marshal or unmarshal such strings, so
// over the wire this only matters for non-Go clients; handlers called in-process see it.
func invalidUTF8(m protoreflect.Message, path string) string {
	if !m.IsValid() {
		return ""
	}
	var bad string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && bad == ""; i++ {
				bad = invalidValue(fd, l.Get(i), fmt.Sprintf("%s[%d]", p, i))
			}
		case fd.IsMap():
			keys := []protoreflect.MapKey{}
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			for _, k := range keys {
				if ks, ok := k.Interface().(string); ok && !utf8.ValidString(ks) {
					bad = fmt.Sprintf("%s key %q", p, ks)
					break
				}
				if bad = invalidValue(fd.MapValue(), v.Map().Get(k), fmt.Sprintf("%s[%q]", p, k.String())); bad != "" {
					break
				}
			}
		default:
			bad = invalidValue(fd, v, p)
		}
		return bad == ""
	})
	return bad
}

func invalidValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !utf8.ValidString(v.String()) {
			return path
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return invalidUTF8(v.Message(), path)
	}
	return ""
}
