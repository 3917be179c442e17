package delivery

import (
	"fmt"
	"slices"
	"sync"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the default "proto" codec we delegate to
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// requestCodec encodes WriteLogEntriesRequests with the hand-written entry encoder
// (wire.go), which walks each entry once, without protobuf-go's reflection; entries it
// does not handle go through protobuf-go. sizeHint is the request size split computed,
// so the buffer is taken once at the right size. Anything else (and all responses) goes
// to gRPC's default proto codec.
type requestCodec struct {
	fallback encoding.CodecV2
	sizeHint int
}

// cachedSize marshals an entry right after proto.Size sized it, so its own size is not
// computed twice.
var cachedSize = proto.MarshalOptions{UseCachedSize: true}

var protoCodec = encoding.GetCodecV2("proto")

func newRequestCodec(sizeHint int) requestCodec {
	return requestCodec{fallback: protoCodec, sizeHint: sizeHint}
}

func (c requestCodec) Name() string { return "proto" }

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return c.fallback.Unmarshal(data, v)
}

func (c requestCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*loggingpb.WriteLogEntriesRequest)
	if !ok {
		return c.fallback.Marshal(v)
	}
	buf, err := encodePooled(req, c.sizeHint)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{buf}, nil
}

// encodePooled encodes req like encodeRequest, into a reused buffer when the request is
// large (as gRPC's own codec does): a request is up to 10 MB, and one fresh buffer per
// request was most of the bytes the writer allocates. Free the buffer after use.
func encodePooled(req *loggingpb.WriteLogEntriesRequest, sizeHint int) (mem.Buffer, error) {
	if mem.IsBelowBufferPoolingThreshold(sizeHint) {
		b, err := encodeRequest(req, sizeHint)
		return mem.SliceBuffer(b), err
	}
	buf := requestBuffers.Get(sizeHint)
	b, err := appendRequest((*buf)[:0], req)
	if err != nil {
		requestBuffers.Put(buf)
		return nil, err
	}
	if cap(b) != cap(*buf) {
		// The hint was short and append moved the bytes: the pooled buffer goes back unused.
		requestBuffers.Put(buf)
		return mem.SliceBuffer(b), nil
	}
	*buf = b
	return mem.NewBuffer(buf, requestBuffers), nil
}

// requestBuffers keeps the last few request buffers for the next requests. gRPC's default
// pool zeroes the whole buffer (1 MB for a 600 KB request) on every Get and loses its
// buffers at every GC cycle (sync.Pool); a request is written from its first byte to its
// last, so zeroing is not needed, and a plain list survives the GC.
var requestBuffers = &bufferList{}

const (
	keptBuffers   = 2       // a write at a time per instance, and its split requests one after another
	maxKeptBuffer = 4 << 20 // larger requests (Max_Request_Bytes is up to 10 MB) get a buffer each time
)

type bufferList struct {
	mu   sync.Mutex
	bufs []*[]byte
}

// Get returns a buffer of length n, the smallest kept one that fits; its bytes are not
// zeroed.
func (l *bufferList) Get(n int) *[]byte {
	l.mu.Lock()
	best := -1
	for i, b := range l.bufs {
		if cap(*b) >= n && (best < 0 || cap(*b) < cap(*l.bufs[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := l.bufs[best]
		l.bufs = slices.Delete(l.bufs, best, best+1) // clears the freed slot: nothing kept twice
		l.mu.Unlock()
		*b = (*b)[:n]
		return b
	}
	l.mu.Unlock()
	b := make([]byte, n)
	return &b
}

func (l *bufferList) Put(b *[]byte) {
	if cap(*b) > maxKeptBuffer {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bufs) < keptBuffers {
		l.bufs = append(l.bufs, b)
		return
	}
	// Full: keep the larger buffers, which fit more requests.
	smallest := 0
	for i, k := range l.bufs {
		if cap(*k) < cap(*l.bufs[smallest]) {
			smallest = i
		}
	}
	if cap(*l.bufs[smallest]) < cap(*b) {
		l.bufs[smallest] = b
	}
}

// encodeRequest is proto.Marshal(req), up to map order. sizeHint only presizes the
// buffer (0: estimate).
func encodeRequest(req *loggingpb.WriteLogEntriesRequest, sizeHint int) ([]byte, error) {
	if sizeHint <= 0 {
		sizeHint = 256 + len(req.Entries)*1024
	}
	return appendRequest(make([]byte, 0, sizeHint), req)
}

// appendRequest appends proto.Marshal(req), up to map order. Repeated message fields
// encode independently, so the head (every field but entries) followed by each entry as
// tag + length + body is the same message.
func appendRequest(b []byte, req *loggingpb.WriteLogEntriesRequest) ([]byte, error) {
	head := &loggingpb.WriteLogEntriesRequest{
		LogName: req.LogName, Resource: req.Resource, Labels: req.Labels,
		PartialSuccess: req.PartialSuccess, DryRun: req.DryRun,
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(b, head)
	if err != nil {
		return nil, fmt.Errorf("encoding request head: %w", err)
	}
	for i, e := range req.Entries {
		b = protowire.AppendTag(b, entriesFieldNumber, protowire.BytesType)
		mark := len(b)
		if out, ok := appendEntry(append(b, 0, 0), e); ok {
			b = finishLen(out, mark)
			continue
		}
		b = b[:mark]
		// protobuf-go for what the wire encoder does not handle; it also names the
		// problem (invalid UTF-8) when there is one.
		n := proto.Size(e)
		b = protowire.AppendVarint(b, uint64(n))
		start := len(b)
		out, merr := cachedSize.MarshalAppend(b, e)
		if merr == nil && len(out)-start == n {
			b = out
			continue
		}
		body, err := proto.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encoding entry %d: %w", i, err)
		}
		b = append(protowire.AppendVarint(b[:mark], uint64(len(body))), body...)
	}
	return b, nil
}
