package server

import (
	"strings"
	"sync"
)

// headerValues hands out the per-request header values of the hot path
// (X-Request-Id, the RateLimit fields, Retry-After) without an allocation per
// request: the text is carved from a shared block and each value
// slice from a shared array, a new block or array being made only when
// one is used up. Nothing given out is ever written again, so a response
// may keep its values as long as it likes; the garbage collector frees a
// block once no response refers to it.
type headerValues struct {
	text strings.Builder // append-only: earlier strings stay valid as it grows
	vals []string        // value slices not yet given out
}

// Block sizes: a request takes about 100 bytes and five values.
const (
	headerTextBlock = 4 << 10
	headerValsBlock = 256
)

// headerValuePool holds headerValues, so that each is used by one
// goroutine at a time.
var headerValuePool = sync.Pool{New: func() any { return new(headerValues) }}

func getHeaderValues() *headerValues   { return headerValuePool.Get().(*headerValues) }
func putHeaderValues(hv *headerValues) { headerValuePool.Put(hv) }

// str returns b as a string, copied into the current block.
func (hv *headerValues) str(b []byte) string {
	if hv.text.Cap()-hv.text.Len() < len(b) {
		hv.text = strings.Builder{} // the old block lives on in the strings made from it
		hv.text.Grow(max(headerTextBlock, len(b)))
	}
	start := hv.text.Len()
	hv.text.Write(b)
	return hv.text.String()[start:]
}

// value returns s as a header value: a slice of capacity one, so an Add
// to it elsewhere copies rather than writing into the next value.
func (hv *headerValues) value(s string) []string {
	if len(hv.vals) == 0 {
		hv.vals = make([]string, headerValsBlock)
	}
	v := hv.vals[:1:1]
	v[0], hv.vals = s, hv.vals[1:]
	return v
}
