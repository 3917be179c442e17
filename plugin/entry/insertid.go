package entry

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"

	"github.com/gke-audit/auditd-cloud-logging/parser"
)

// Insert ids are 22 characters: base64url (no padding) of the first 16 bytes of a SHA-256
// over an unambiguous encoding of what identifies the item. 128 bits make a collision
// between distinct events irrelevant in practice, and Cloud Logging only de-duplicates
// entries whose insertId AND timestamp are equal, which narrows it further. SHA-256 is
// hardware-accelerated on current x86 and arm64 (about 100 ns here) and needs no dependency.
//
// Each kind of item has its own domain byte so an event can never share an id with an
// unparsed input or a lost-events notice.
const (
	domainEvent    = 'e'
	domainUnparsed = 'u'
	domainLost     = 'l'
)

// InsertID returns the stable insertId of the event with key k: a re-sent event (fluent-bit
// replaying a chunk after FLB_RETRY) gets the same id and is de-duplicated by Cloud Logging.
// Node, boot id, millisecond timestamp and serial all go in: serials restart at boot and are
// only unique per node.
func InsertID(k parser.EventKey) string {
	id := insertID(k)
	return string(id[:])
}

func insertID(k parser.EventKey) [idLen]byte {
	var buf [96]byte
	return hashSum(appendEventKey(buf[:0], k))
}

// appendEventKey writes what identifies an event: node, boot id, millisecond time and serial.
func appendEventKey(b []byte, k parser.EventKey) []byte {
	b = append(b, domainEvent)
	b = appendLenString(b, k.Node)
	b = appendLenString(b, k.BootID)
	b = binary.BigEndian.AppendUint64(b, uint64(k.UnixMilli))
	return binary.BigEndian.AppendUint64(b, k.Serial)
}

// eventID is the insertId of an event. A complete event is identified by its key alone. An
// incomplete one may share its key with another entry: the assembler emits records that
// arrive after their event was shipped as a second, incomplete event with the same key, and
// Cloud Logging would silently de-duplicate the two if they shared an id. So an incomplete
// event's id also covers its first record, which differs between the two parts.
// key is the event's key with the node filled in as the entry carries it.
func eventID(key parser.EventKey, ev *parser.Event) [idLen]byte {
	if !ev.Incomplete || len(ev.Records) == 0 {
		return insertID(key)
	}
	var buf [256]byte
	b := appendEventKey(buf[:0], key)
	b = binary.BigEndian.AppendUint16(b, ev.Records[0].Type)
	b = appendLenString(b, ev.Records[0].Text)
	return hashSum(b)
}

// unparsedID identifies an unparsed input by its node, time, text and reason: the same line
// read again (a replayed chunk) gets the same id. The reason is part of it because it tells
// apart identical bytes at different places: two malformed msgpack records with the same
// bytes in one chunk (or in two chunks with the same time) are two inputs, named by their
// offsets in the reason, and must not be de-duplicated into one by Cloud Logging.
func unparsedID(u *parser.Unparsed) string {
	var buf [256]byte
	b := append(buf[:0], domainUnparsed)
	b = appendLenString(b, u.Node)
	b = binary.BigEndian.AppendUint64(b, uint64(u.Time.UnixNano()))
	b = appendLenString(b, u.Text)
	b = appendLenString(b, u.Reason)
	return hashID(b)
}

// lostID identifies a lost-events notice by its stream (node, boot) and serial range.
func lostID(l *parser.Lost) string {
	var buf [96]byte
	b := append(buf[:0], domainLost)
	b = appendLenString(b, l.Node)
	b = appendLenString(b, l.BootID)
	b = binary.BigEndian.AppendUint64(b, l.From)
	b = binary.BigEndian.AppendUint64(b, l.To)
	return hashID(b)
}

// appendLenString writes s length-prefixed, so ("ab","c") and ("a","bc") differ.
func appendLenString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

const idLen = 22 // 16 bytes of SHA-256 in unpadded base64url

func hashID(b []byte) string {
	out := hashSum(b)
	return string(out[:])
}

func hashSum(b []byte) [idLen]byte {
	sum := sha256.Sum256(b)
	var out [idLen]byte
	base64.RawURLEncoding.Encode(out[:], sum[:16])
	return out
}
