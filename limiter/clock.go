package limiter

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// secondsPerDay is the length of a UTC calendar day; UTC has no DST and Go
// time ignores leap seconds.
const secondsPerDay = 24 * 60 * 60

// dayOf returns the UTC day of t, in days since the Unix epoch.
func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d-- // floor for times before 1970
	}
	return d
}

// dayStart returns UTC midnight at the start of day.
func dayStart(day int64) time.Time {
	return time.Unix(day*secondsPerDay, 0).UTC()
}

// perSecond converts a per-minute allowance to a rate.Limit (events per second).
func perSecond(perMinute int) rate.Limit {
	return rate.Limit(float64(perMinute) / 60)
}

// passes reports whether a bucket holding tokens lets one request through,
// with the arithmetic of rate.Limiter.AllowN: the shortfall is converted to a
// duration truncated to whole nanoseconds and the request passes if it is 0.
func passes(tokens float64, limit rate.Limit) bool {
	short := 1 - tokens
	return short <= 0 || short/float64(limit)*float64(time.Second) < 1
}

// timeFor returns how long limit takes to refill tokens, rounded up to the
// nanosecond; 0 if tokens <= 0.
func timeFor(tokens float64, limit rate.Limit) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(tokens / float64(limit) * float64(time.Second)))
}

// wholeTokens returns the whole tokens in tokens, at least 0.
func wholeTokens(tokens float64) int {
	return max(int(math.Floor(tokens)), 0)
}
