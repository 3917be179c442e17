package flbchunk

import (
	"strings"
	"testing"
	"time"
)

func TestJournalJSON(t *testing.T) {
	fallback := time.Unix(5, 0)
	line := `{"__REALTIME_TIMESTAMP":"1795637123025000","__CURSOR":"s=1","__MONOTONIC_TIMESTAMP":"9",` +
		`"_HOSTNAME":"vm","MESSAGE":[83,89,83,255],"X":["a","b"],"N":7,"Z":null}`
	ts, fields, err := JournalJSON([]byte(line), fallback)
	if err != nil {
		t.Fatal(err)
	}
	if !ts.Equal(time.UnixMicro(1795637123025000)) {
		t.Errorf("time %v", ts)
	}
	var got []string
	for _, f := range fields {
		var vs []string
		for _, v := range f.Values {
			vs = append(vs, string(v))
		}
		got = append(got, f.Key+"="+strings.Join(vs, "|"))
	}
	want := "MESSAGE=SYS\xff N=7 X=a|b _HOSTNAME=vm"
	if strings.Join(got, " ") != want {
		t.Errorf("fields %q, want %q", strings.Join(got, " "), want)
	}
	if ts, _, err := JournalJSON([]byte(`{"MESSAGE":"x"}`), fallback); err != nil || !ts.Equal(fallback) {
		t.Errorf("without __REALTIME_TIMESTAMP: %v %v", ts, err)
	}
	for _, bad := range []string{`{`, `{"__REALTIME_TIMESTAMP":"soon"}`, `{"B":[1,300]}`, `[]`} {
		if _, _, err := JournalJSON([]byte(bad), fallback); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
