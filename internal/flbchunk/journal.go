package flbchunk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// JournalJSON converts one journal entry in `journalctl -o json` form (an object of field
// name → string, array of strings for a repeated field, or array of byte values for a binary
// field) into what in_systemd would send: the record time from __REALTIME_TIMESTAMP
// (microseconds; fallback when absent), and every field except __CURSOR and the
// __*_TIMESTAMP fields, sorted by name so the output is reproducible.
func JournalJSON(line []byte, fallback time.Time) (time.Time, []Field, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return time.Time{}, nil, fmt.Errorf("journal JSON line: %w", err)
	}
	ts := fallback
	fields := make([]Field, 0, len(obj))
	for k, raw := range obj {
		vals, err := jsonValues(raw)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("journal field %s: %w", k, err)
		}
		if k == "__REALTIME_TIMESTAMP" && len(vals) > 0 {
			us, err := strconv.ParseInt(string(vals[0]), 10, 64)
			if err != nil {
				return time.Time{}, nil, fmt.Errorf("journal field __REALTIME_TIMESTAMP %q: want microseconds", vals[0])
			}
			ts = time.UnixMicro(us)
		}
		if len(vals) == 0 || k == "__CURSOR" || (strings.HasPrefix(k, "__") && strings.HasSuffix(k, "_TIMESTAMP")) {
			continue
		}
		fields = append(fields, Field{Key: k, Values: vals})
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Key < fields[j].Key })
	return ts, fields, nil
}

func jsonValues(raw json.RawMessage) ([][]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty value")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return [][]byte{[]byte(s)}, nil
	case '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			return nil, err
		}
		if len(arr) > 0 && bytes.TrimSpace(arr[0])[0] != '"' && bytes.TrimSpace(arr[0])[0] != '[' {
			// An array of numbers: journalctl's form of a binary (non-UTF-8) value.
			var b []byte
			for _, n := range arr {
				v, err := strconv.ParseUint(string(bytes.TrimSpace(n)), 10, 8)
				if err != nil {
					return nil, fmt.Errorf("binary value byte %s: want 0..255", n)
				}
				b = append(b, byte(v))
			}
			return [][]byte{b}, nil
		}
		var out [][]byte
		for _, e := range arr {
			v, err := jsonValues(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v...)
		}
		return out, nil
	case 'n':
		return nil, nil
	}
	// Numbers: in_systemd sends every field as a string.
	return [][]byte{append([]byte(nil), raw...)}, nil
}
