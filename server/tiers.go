package server

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/keygate/keygate/limiter"
)

// tier is one tier's limits with the header values that never change for
// it, made once so the hot path does not format them per request.
type tier struct {
	name   string
	limits limiter.Limits
	policy []string // RateLimit-Policy
	limit  []string // X-RateLimit-Limit

	minuteDetail, dayDetail string // the detail of a 429 for each limit
}

func newTiers(limits map[string]limiter.Limits) (map[string]*tier, error) {
	if _, ok := limits["basic"]; !ok {
		return nil, errors.New("server: tier \"basic\" is required")
	}
	tiers := make(map[string]*tier, len(limits))
	for name, l := range limits {
		if l.PerMinute < 1 || l.PerDay < 1 {
			return nil, fmt.Errorf("server: tier %q: limits must be at least 1", name)
		}
		tiers[name] = &tier{
			name:   name,
			limits: l,
			policy: []string{fmt.Sprintf(`"minute";q=%d;w=60, "day";q=%d;w=86400`, l.PerMinute, l.PerDay)},
			limit:  []string{strconv.Itoa(l.PerMinute)},

			minuteDetail: fmt.Sprintf("Rate limit exceeded: %d/min", l.PerMinute),
			dayDetail:    fmt.Sprintf("Daily limit exceeded: %d/day", l.PerDay),
		}
	}
	return tiers, nil
}
