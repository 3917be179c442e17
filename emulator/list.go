package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	defaultPageSize = 50 // the API's documented default
	maxPageSize     = 1000
)

// pageCursor is the position after the last entry of a page. Continuing strictly after a
// key (not an offset) keeps paging correct while entries keep arriving.
type pageCursor struct {
	Query    uint64 `json:"q"`
	Nanos    int64  `json:"t"`
	InsertID string `json:"i"`
	LogName  string `json:"l"`
}

type entryKey struct {
	nanos    int64
	insertID string
	logName  string
}

func keyOf(e *loggingpb.LogEntry) entryKey {
	return entryKey{e.GetTimestamp().AsTime().UnixNano(), e.GetInsertId(), e.GetLogName()}
}

func (a entryKey) less(b entryKey) bool {
	if a.nanos != b.nanos {
		return a.nanos < b.nanos
	}
	if a.insertID != b.insertID {
		return a.insertID < b.insertID
	}
	return a.logName < b.logName
}

// ListLogEntries returns stored entries under req.resource_names that match req.filter,
// ordered by timestamp (then insertId, as the API does), with entries sharing logName,
// insertId and timestamp returned once.
func (s *Server) ListLogEntries(ctx context.Context, req *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	if len(req.GetResourceNames()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "resourceNames: at least one is required, e.g. projects/PROJECT_ID")
	}
	prefixes := make([]string, 0, len(req.GetResourceNames()))
	for _, rn := range req.GetResourceNames() {
		p, err := resourcePrefix(rn)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, p)
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > maxPageSize:
		return nil, status.Errorf(codes.InvalidArgument, "pageSize: %d is outside 0..%d", size, maxPageSize)
	case size == 0:
		size = defaultPageSize
	}
	desc, err := parseOrderBy(req.GetOrderBy())
	if err != nil {
		return nil, err
	}
	conds, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	query := queryHash(req)
	var after *entryKey
	if tok := req.GetPageToken(); tok != "" {
		c, err := decodeToken(tok)
		if err != nil || c.Query != query {
			return nil, status.Errorf(codes.InvalidArgument, "pageToken: %q is not a token returned for this resourceNames/filter/orderBy", tok)
		}
		after = &entryKey{c.Nanos, c.InsertID, c.LogName}
	}

	s.mu.Lock()
	seen := make(map[entryKey]bool)
	var hits []*loggingpb.LogEntry
	for _, e := range s.entries {
		if !underAny(e.GetLogName(), prefixes) || !matchAll(conds, e) {
			continue
		}
		k := keyOf(e)
		if seen[k] {
			continue // first arrival wins, like a re-sent entry the API ignores
		}
		seen[k] = true
		hits = append(hits, e)
	}
	s.mu.Unlock()

	sort.SliceStable(hits, func(i, j int) bool {
		if desc {
			return keyOf(hits[j]).less(keyOf(hits[i]))
		}
		return keyOf(hits[i]).less(keyOf(hits[j]))
	})
	start := 0
	if after != nil {
		start = sort.Search(len(hits), func(i int) bool {
			k := keyOf(hits[i])
			if desc {
				return k.less(*after)
			}
			return after.less(k)
		})
	}
	end := min(start+size, len(hits))
	resp := &loggingpb.ListLogEntriesResponse{Entries: make([]*loggingpb.LogEntry, 0, end-start)}
	for _, e := range hits[start:end] {
		resp.Entries = append(resp.Entries, proto.Clone(e).(*loggingpb.LogEntry))
	}
	if end < len(hits) {
		k := keyOf(hits[end-1])
		resp.NextPageToken = encodeToken(pageCursor{Query: query, Nanos: k.nanos, InsertID: k.insertID, LogName: k.logName})
	}
	return resp, ctx.Err()
}

// resourcePrefix maps a resource name (projects/P, organizations/O, folders/F,
// billingAccounts/B, optionally followed by /locations/L/buckets/B/views/V) to the prefix
// of the log names it covers.
func resourcePrefix(rn string) (string, error) {
	parts := strings.Split(rn, "/")
	ok := len(parts) >= 2 && knownParent(parts[0]+"/") && parts[1] != ""
	if ok && len(parts) > 2 {
		ok = len(parts) == 8 && parts[2] == "locations" && parts[4] == "buckets" && parts[6] == "views"
	}
	if !ok {
		return "", status.Errorf(codes.InvalidArgument, "resourceNames: %q is not projects/ID, organizations/ID, folders/ID or billingAccounts/ID (optionally .../locations/L/buckets/B/views/V)", rn)
	}
	return parts[0] + "/" + parts[1] + "/logs/", nil
}

func underAny(logName string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(logName, p) {
			return true
		}
	}
	return false
}

func parseOrderBy(s string) (desc bool, err error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 0:
		return false, nil
	case f[0] != "timestamp" || len(f) > 2:
		return false, status.Errorf(codes.InvalidArgument, "orderBy: %q is not supported: use \"timestamp asc\" or \"timestamp desc\"", s)
	case len(f) == 1 || strings.EqualFold(f[1], "asc"):
		return false, nil
	case strings.EqualFold(f[1], "desc"):
		return true, nil
	}
	return false, status.Errorf(codes.InvalidArgument, "orderBy: %q is not supported: use \"timestamp asc\" or \"timestamp desc\"", s)
}

func queryHash(req *loggingpb.ListLogEntriesRequest) uint64 {
	h := fnv.New64a()
	for _, rn := range req.GetResourceNames() {
		fmt.Fprintf(h, "%q,", rn)
	}
	fmt.Fprintf(h, "|%q|%q", req.GetFilter(), req.GetOrderBy())
	return h.Sum64()
}

func encodeToken(c pageCursor) string {
	b, _ := json.Marshal(c) // cannot fail: plain struct of strings and ints
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(tok string) (pageCursor, error) {
	var c pageCursor
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return c, err
	}
	err = json.Unmarshal(b, &c)
	return c, err
}
