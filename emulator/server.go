// Package emulator is a local, in-memory stand-in for the Cloud Logging API
// (google.logging.v2.LoggingServiceV2) served over plaintext gRPC.
//
// It accepts WriteLogEntries and ListLogEntries the way the real service does for the
// cases this project depends on: request-level defaults merged into entries, the 10 MB
// request and 256 KiB entry limits with the API's error messages, partial_success with
// per-entry errors carried as google.logging.v2.WriteLogEntriesPartialErrors status
// details, and insertId+timestamp de-duplication in query results. Tests can script
// faults (Unavailable, quota, per-entry rejections, a hanging server) with Options.Fault
// or SetFault.
//
// It is what the plugin's `Endpoint 127.0.0.1:8085` + `Insecure On` point at in the demo
// and the end-to-end tests. See README.md in this directory.
package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const (
	// DefaultMaxRequestBytes is the Cloud Logging API's limit on one WriteLogEntries request.
	DefaultMaxRequestBytes = 10 << 20 // 10485760
	// DefaultMaxEntryBytes is the Cloud Logging API's limit on one LogEntry (256 KiB).
	DefaultMaxEntryBytes = 256 << 10
)

// Options configure a Server. The zero value gives the real API's limits and keeps
// entries in memory only.
type Options struct {
	// MaxRequestBytes rejects larger WriteLogEntries requests with InvalidArgument
	// "Request payload size exceeds the limit: N bytes.". 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxEntryBytes rejects larger entries (after request defaults are merged) with
	// "Log entry with size X exceeds maximum size of 256.0K". 0 means DefaultMaxEntryBytes.
	MaxEntryBytes int
	// JSONLFile, if set, gets each accepted entry appended as one protojson line. The file
	// is opened by New (created if missing) and closed by Close/Stop.
	JSONLFile string
	// Print, if set, also gets each accepted entry as one protojson line (the -print flag).
	Print io.Writer
	// Fault, if set, is consulted for every WriteLogEntries call before it is validated.
	// See Fault and the helpers in faults.go. SetFault replaces it at run time.
	Fault Fault
	// Now replaces time.Now (tests of the future-timestamp rule).
	Now func() time.Time
}

// Server implements loggingpb.LoggingServiceV2Server in memory.
type Server struct {
	loggingpb.UnimplementedLoggingServiceV2Server

	maxRequest int
	maxEntry   int
	now        func() time.Time

	// out serialises writes to the JSONL file and the print writer so lines never interleave.
	outMu sync.Mutex
	jsonl *os.File
	print io.Writer

	mu       sync.Mutex
	entries  []*loggingpb.LogEntry
	requests int
	nextID   uint64
	fault    Fault

	grpcOnce sync.Once
	grpc     *grpc.Server
}

// New returns a Server. It fails only if Options.JSONLFile cannot be opened.
func New(opts Options) (*Server, error) {
	s := &Server{
		maxRequest: opts.MaxRequestBytes,
		maxEntry:   opts.MaxEntryBytes,
		now:        opts.Now,
		print:      opts.Print,
		fault:      opts.Fault,
	}
	if s.maxRequest <= 0 {
		s.maxRequest = DefaultMaxRequestBytes
	}
	if s.maxEntry <= 0 {
		s.maxEntry = DefaultMaxEntryBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.JSONLFile != "" {
		f, err := os.OpenFile(opts.JSONLFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("emulator: JSONL file: %w", err)
		}
		s.jsonl = f
	}
	return s, nil
}

// GRPCServer returns the grpc.Server that Serve uses, with this Server registered on it.
//
// Its receive limit sits above MaxRequestBytes on purpose: a request a little over the
// limit must reach WriteLogEntries so the client gets the API's InvalidArgument (a
// permanent error) rather than grpc-go's ResourceExhausted, which callers reasonably
// treat as a retryable quota error. The receive limit only guards memory.
func (s *Server) GRPCServer() *grpc.Server {
	s.grpcOnce.Do(func() {
		s.grpc = grpc.NewServer(grpc.MaxRecvMsgSize(s.RecvLimit()))
		loggingpb.RegisterLoggingServiceV2Server(s.grpc, s)
	})
	return s.grpc
}

// RecvLimit is the grpc.MaxRecvMsgSize of GRPCServer: twice MaxRequestBytes, at least
// MaxRequestBytes+1 MiB. Larger messages fail in grpc-go with ResourceExhausted.
func (s *Server) RecvLimit() int {
	return max(2*s.maxRequest, s.maxRequest+1<<20)
}

// Serve serves gRPC on lis until Stop. It returns nil after Stop.
func (s *Server) Serve(lis net.Listener) error {
	err := s.GRPCServer().Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Start listens on addr (e.g. "127.0.0.1:0"), serves in the background and returns the
// bound address and a stop function that shuts the server down and closes the JSONL file.
func (s *Server) Start(addr string) (string, func(), error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			s.Stop(2 * time.Second)
			<-done
		})
	}
	return lis.Addr().String(), stop, nil
}

// Stop drains in-flight calls for up to grace (a hung call, e.g. from the Hang fault,
// would otherwise block forever), then closes all connections and the JSONL file.
func (s *Server) Stop(grace time.Duration) {
	g := s.GRPCServer()
	finished := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(grace):
		g.Stop()
		<-finished
	}
	_ = s.Close()
}

// Close closes the JSONL file. Later accepted entries are no longer appended to it.
func (s *Server) Close() error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if s.jsonl == nil {
		return nil
	}
	err := s.jsonl.Close()
	s.jsonl = nil
	return err
}

// SetFault replaces the fault hook (nil removes it).
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Entries returns copies of all stored entries in arrival order, duplicates included
// (de-duplication applies to ListLogEntries results only, as in the real API).
func (s *Server) Entries() []*loggingpb.LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*loggingpb.LogEntry, len(s.entries))
	for i, e := range s.entries {
		out[i] = proto.Clone(e).(*loggingpb.LogEntry)
	}
	return out
}

// Requests returns how many WriteLogEntries calls arrived, including failed ones.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Reset forgets stored entries and the request count. The fault hook is kept.
func (s *Server) Reset() {
	s.mu.Lock()
	s.entries = nil
	s.requests = 0
	s.mu.Unlock()
}

// store writes accepted entries to the JSONL file and print writer, then keeps them in
// memory. An output error fails the request (Internal, which clients retry) before the
// entries are kept, so the file never silently lacks an entry the client believes was
// written. Holding outMu throughout keeps file order and Entries() order the same.
func (s *Server) store(entries []*loggingpb.LogEntry) error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if err := s.emit(entries); err != nil {
		return err
	}
	s.mu.Lock()
	s.entries = append(s.entries, entries...)
	s.mu.Unlock()
	return nil
}

func (s *Server) emit(entries []*loggingpb.LogEntry) error {
	if s.jsonl == nil && s.print == nil {
		return nil
	}
	var buf bytes.Buffer
	for _, e := range entries {
		b, err := protojson.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding entry %q as JSON: %w", e.GetInsertId(), err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if s.jsonl != nil {
		if _, err := s.jsonl.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("appending to JSONL file: %w", err)
		}
	}
	if s.print != nil {
		if _, err := s.print.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("printing entries: %w", err)
		}
	}
	return nil
}

// currentFault reads the hook under the lock so SetFault may race with calls.
func (s *Server) currentFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

var _ loggingpb.LoggingServiceV2Server = (*Server)(nil)
