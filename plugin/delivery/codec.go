package delivery

import (
	"fmt"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the default "proto" codec we delegate to
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// requestCodec encodes WriteLogEntriesRequests using the entry sizes split already
// computed, so each entry is walked twice (size, then marshal) instead of three times
// (split's size, then gRPC's own size and marshal). Sizing a structpb payload is not
// free: its map fields cost about as much as marshalling them (BenchmarkWrite1000).
//
// It relies on each entry's size cache being current, which holds because split sized
// every entry moments before and the caller does not mutate entries during Write. As a
// guard, an entry whose encoding does not match its cached size is re-encoded in full.
// Anything else (and all responses) goes to gRPC's default proto codec.
type requestCodec struct{ fallback encoding.CodecV2 }

var cachedSize = proto.MarshalOptions{UseCachedSize: true}

func newRequestCodec() requestCodec {
	return requestCodec{fallback: encoding.GetCodecV2("proto")}
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
	b, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// encodeRequest is proto.Marshal(req) reusing cached entry sizes. Repeated message
// fields encode independently, so the head (every field but entries) followed by each
// entry as tag + length + body is the same message.
func encodeRequest(req *loggingpb.WriteLogEntriesRequest) ([]byte, error) {
	head := &loggingpb.WriteLogEntriesRequest{
		LogName: req.LogName, Resource: req.Resource, Labels: req.Labels,
		PartialSuccess: req.PartialSuccess, DryRun: req.DryRun,
	}
	total := proto.Size(head)
	for _, e := range req.Entries {
		total += protowire.SizeTag(entriesFieldNumber) + protowire.SizeBytes(cachedSize.Size(e))
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(make([]byte, 0, total), head)
	if err != nil {
		return nil, fmt.Errorf("encoding request head: %w", err)
	}
	for i, e := range req.Entries {
		n := cachedSize.Size(e)
		b = protowire.AppendTag(b, entriesFieldNumber, protowire.BytesType)
		mark := len(b)
		b = protowire.AppendVarint(b, uint64(n))
		start := len(b)
		out, merr := cachedSize.MarshalAppend(b, e)
		if merr == nil && len(out)-start == n {
			b = out
		} else {
			// The entry changed after it was sized (protobuf may notice and refuse, or
			// the length differs): encode it from scratch.
			body, err := proto.Marshal(e)
			if err != nil {
				return nil, fmt.Errorf("encoding entry %d: %w", i, err)
			}
			b = append(protowire.AppendVarint(b[:mark], uint64(len(body))), body...)
		}
	}
	return b, nil
}
