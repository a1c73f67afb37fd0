package limiter_test

import (
	"fmt"
	"testing"

	"github.com/keygate/keygate/limiter"
)

// benchLimits never refuse, so every call takes the admitting path.
var benchLimits = limiter.Limits{PerMinute: 1 << 30, PerDay: 1 << 62}

func BenchmarkAllowAt(b *testing.B) {
	l := limiter.New(limiter.Options{})
	if _, err := l.AllowAt("warm", benchLimits, t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.AllowAt("warm", benchLimits, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllowAtParallel(b *testing.B) {
	const keys = 10000
	names := make([]string, keys)
	l := limiter.New(limiter.Options{})
	for i := range names {
		names[i] = fmt.Sprint("key-", i)
		if _, err := l.AllowAt(names[i], benchLimits, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i = (i + 7919) % keys
			if _, err := l.AllowAt(names[i], benchLimits, t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkDrain(b *testing.B) {
	const keys = 100000
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprint("key-", i)
	}
	l := limiter.New(limiter.Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, k := range names {
			if _, err := l.AllowAt(k, benchLimits, t0); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if n := len(l.Drain()); n != keys {
			b.Fatalf("Drain returned %d usages, want %d", n, keys)
		}
	}
}
