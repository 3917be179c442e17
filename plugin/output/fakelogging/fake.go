// Package fakelogging is a scripted in-process Cloud Logging gRPC server for the plugin's
// tests: it records every WriteLogEntries request and answers with scripted faults.
package fakelogging

import (
	"context"
	"net"
	"sort"
	"sync"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Server is a fake LoggingServiceV2 on 127.0.0.1.
type Server struct {
	loggingpb.UnimplementedLoggingServiceV2Server

	Addr string
	srv  *grpc.Server

	mu       sync.Mutex
	faults   []error // answered to the next calls, in order, instead of accepting
	requests []*loggingpb.WriteLogEntriesRequest
	accepted []*loggingpb.WriteLogEntriesRequest
	hang     chan struct{}
}

// Start listens on 127.0.0.1 (random port) with the API's 10 MB request limit.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), srv: grpc.NewServer(grpc.MaxRecvMsgSize(10485760))}
	loggingpb.RegisterLoggingServiceV2Server(s.srv, s)
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Stop stops the server.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
	s.mu.Unlock()
	s.srv.Stop()
}

// FailNext makes the next len(errs) calls fail with these errors, in order.
func (s *Server) FailNext(errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, errs...)
}

// Unavailable is a retryable fault.
func Unavailable() error { return status.Error(codes.Unavailable, "fake: unavailable") }

// Hang makes calls block until Release (or Stop).
func (s *Server) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang == nil {
		s.hang = make(chan struct{})
	}
}

// Release ends Hang.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
}

// WriteLogEntries implements the API.
func (s *Server) WriteLogEntries(ctx context.Context, req *loggingpb.WriteLogEntriesRequest) (*loggingpb.WriteLogEntriesResponse, error) {
	s.mu.Lock()
	s.requests = append(s.requests, req)
	hang := s.hang
	var fault error
	if len(s.faults) > 0 {
		fault, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if fault != nil {
		return nil, fault
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, req)
	s.mu.Unlock()
	return &loggingpb.WriteLogEntriesResponse{}, nil
}

// Requests returns every request received (accepted or not).
func (s *Server) Requests() []*loggingpb.WriteLogEntriesRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*loggingpb.WriteLogEntriesRequest(nil), s.requests...)
}

// Entry is an accepted entry with its request's log name.
type Entry struct {
	LogName string
	*loggingpb.LogEntry
}

// Accepted returns the entries of accepted requests in arrival order.
func (s *Server) Accepted() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, r := range s.accepted {
		for _, e := range r.Entries {
			ln := e.LogName
			if ln == "" {
				ln = r.LogName
			}
			out = append(out, Entry{LogName: ln, LogEntry: e})
		}
	}
	return out
}

// InsertIDs returns the insertIds of accepted entries per log name, sorted, with repeats.
func (s *Server) InsertIDs() map[string][]string {
	out := map[string][]string{}
	for _, e := range s.Accepted() {
		out[e.LogName] = append(out[e.LogName], e.InsertId)
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

var _ loggingpb.LoggingServiceV2Server = (*Server)(nil)
