package parser

// Records' field arrays are most of what parsing allocates (a COS SYSCALL record's 25 fields
// are a 1 KB array). The Assembler's ParseLine and ParseJournal take them from the arrays of
// the events given back through Recycle, so a long-running reader parses without them.
//
// Arrays are kept by capacity class (8, 16, ... 256 fields) so that any array of a class
// fits any record needing that class; a record with more fields gets an array of its own
// that is not kept.

const (
	fieldClasses     = 6 // 8 << 5 = 256 fields
	fieldsPerClass   = 512
	minFieldClassCap = 8
)

type fieldPool struct {
	free [fieldClasses][][]Field
}

// fieldClass returns the class whose arrays hold n fields, or -1 for more than 256.
func fieldClass(n int) int {
	for c, size := 0, minFieldClassCap; c < fieldClasses; c, size = c+1, size*2 {
		if n <= size {
			return c
		}
	}
	return -1
}

// get returns an empty array with room for n fields; from the pool when it has one. A nil
// pool allocates exactly n.
func (p *fieldPool) get(n int) []Field {
	if p == nil {
		return make([]Field, 0, n)
	}
	c := fieldClass(n)
	if c < 0 {
		return make([]Field, 0, n)
	}
	if k := len(p.free[c]); k > 0 {
		fs := p.free[c][k-1]
		p.free[c][k-1] = nil
		p.free[c] = p.free[c][:k-1]
		return fs
	}
	return make([]Field, 0, minFieldClassCap<<c)
}

// put keeps a record's field array for a later record. Only arrays with a class's exact
// capacity are kept. A record whose fields share their array with its ENRICHED fields has
// its fields capped at their count: that slice is kept only when the count is a class size,
// and then only its own part of the array is reused (the ENRICHED part is the recycled
// event's, no longer read).
func (p *fieldPool) put(fs []Field) {
	c := fieldClass(cap(fs))
	if c < 0 || cap(fs) != minFieldClassCap<<c || len(p.free[c]) >= fieldsPerClass {
		return
	}
	fs = fs[:cap(fs)]
	clear(fs) // the pool must not keep old records' text alive
	p.free[c] = append(p.free[c], fs[:0])
}
