package server

import (
	"strconv"
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

// number returns n in decimal as a header value: made once for the small
// numbers most values are (the seconds of a minute, what is left of a
// per-minute limit), else carved like value.
func (hv *headerValues) number(n int64) []string {
	if small, ok := smallValue(n); ok {
		return small
	}
	var buf [20]byte
	return hv.value(hv.str(strconv.AppendInt(buf[:0], n, 10)))
}

// numberText is number(n) for an n whose decimal text is at hand already,
// in a string that nothing writes to again (one made by str).
func (hv *headerValues) numberText(n int64, text string) []string {
	if small, ok := smallValue(n); ok {
		return small
	}
	return hv.value(text)
}

func smallValue(n int64) ([]string, bool) {
	if 0 <= n && n < int64(len(smallValues)) {
		return smallValues[n : n+1 : n+1], true
	}
	return nil, false
}

// smallValues[n] is n in decimal. Shared by every response like
// jsonContentType: each value handed out has capacity one, and none is
// ever written to.
var smallValues = func() []string {
	v := make([]string, 1024)
	for i := range v {
		v[i] = strconv.Itoa(i)
	}
	return v
}()
