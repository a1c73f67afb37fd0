package limiter

import "time"

// minuteBucket is a key's minute bucket: the arithmetic of a rate.Limiter with
// limit perSecond(perMinute) and burst perMinute, used only through AllowN(t,
// 1), TokensAt, SetLimitAt and SetBurstAt, kept inside the entry. A
// rate.Limiter is a separate 80-byte allocation with its own mutex and
// three time.Time fields; a server holds one bucket per active key, and
// the entry's mutex already guards it. bucket_test.go checks it against
// rate.Limiter step by step.
//
// Times are offsets from the Limiter's epoch (see Limiter.offset), so a
// difference of two of them is what time.Time.Sub would give, monotonic
// clock included.
type minuteBucket struct {
	perMinute int     // limit and burst; 0 until the first use configures it
	tokens    float64 // as of last
	last      int64   // when tokens was last updated
}

// advance returns the tokens at at, without changing the bucket:
// rate.Limiter.advance.
func (b *minuteBucket) advance(at int64) float64 {
	last := min(b.last, at)
	elapsed := time.Duration(at - last)
	tokens := b.tokens + elapsed.Seconds()*float64(perSecond(b.perMinute))
	return min(tokens, float64(b.perMinute))
}

// configure makes the bucket hold perMinute at at: full if it is new, else
// what it holds now under the old rate, as rate.Limiter's SetLimitAt then
// SetBurstAt leave it.
func (b *minuteBucket) configure(perMinute int, at int64) {
	switch {
	case b.perMinute == 0:
		b.perMinute, b.tokens, b.last = perMinute, float64(perMinute), at
	case b.perMinute != perMinute:
		b.tokens, b.last = b.advance(at), at
		b.perMinute = perMinute
	}
}

// allow takes one token at at if the bucket lets a request through, as
// rate.Limiter.AllowN(t, 1) does; it reports whether it did.
func (b *minuteBucket) allow(at int64) bool {
	tokens := b.advance(at)
	if !passes(tokens, perSecond(b.perMinute)) {
		return false
	}
	b.tokens, b.last = tokens-1, at
	return true
}
