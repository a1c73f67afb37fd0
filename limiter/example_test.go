package limiter_test

import (
	"fmt"
	"time"

	"github.com/keygate/keygate/limiter"
)

func ExampleLimiter_AllowAt() {
	l := limiter.New(limiter.Options{})
	lim := limiter.Limits{PerMinute: 2, PerDay: 1000}
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for range 3 {
		d, err := l.AllowAt("lineage-1", lim, now)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(d.Allowed, d.MinuteRemaining, d.RetryAfter)
	}
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 30s
}

func ExampleLimiter_Drain() {
	l := limiter.New(limiter.Options{
		// Seed each key's day from storage; here every key already has 41.
		Load: func(key string, day time.Time) (int64, error) { return 41, nil },
	})
	lim := limiter.Limits{PerMinute: 60, PerDay: 5000}
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	if _, err := l.AllowAt("lineage-1", lim, now); err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range l.Drain() {
		fmt.Println(u.Key, u.Day.Format(time.DateOnly), u.Count)
	}
	fmt.Println(len(l.Drain()), "changed since")
	// Persist what Drain returned before evicting: Load reads it back.
	fmt.Println(l.Evict(now.Add(time.Hour)), "evicted")
	// Output:
	// lineage-1 2025-03-10 42
	// 0 changed since
	// 1 evicted
}
