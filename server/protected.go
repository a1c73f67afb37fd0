package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// keyHandler serves a request whose API key has passed every check.
type keyHandler func(http.ResponseWriter, *http.Request, *keyEntry, *tier) error

// requireKey runs the checks of a protected route in the contract's order:
// key (401), tier (403), limits (429), then fn. Every answer to a request
// whose key was found carries the rate-limit headers.
func (s *Server) requireKey(tiers []string, fn keyHandler) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		raw, err := presentedKey(r)
		if err != nil {
			return err
		}
		now := s.now()
		e, t, d, err := s.verifyKey(r.Context(), raw, tiers, now)
		if t != nil {
			setLimitHeaders(w.Header(), t, d)
		}
		if err != nil {
			return err
		}
		s.keys.dirty.touch(&e.used, now.UnixNano())
		return fn(w, r, e, t)
	})
}

// verifyKey checks a presented key for a route admitting tiers, and spends
// one request of its limits if it passes. After a key's first use it
// touches no disk: the key, its owner and its counters are in memory. The
// tier and decision are returned whenever the key was found and active,
// for the rate-limit headers, even with an error (403, 429).
func (s *Server) verifyKey(ctx context.Context, raw string, tiers []string, now time.Time) (*keyEntry, *tier, limiter.Decision, error) {
	hash, err := auth.ParseKey(s.cfg.KeyPrefix, raw)
	if err != nil {
		return nil, nil, limiter.Decision{}, errUnauthorized("invalid API key")
	}
	e, err := s.activeKey(ctx, hash, now.UnixNano())
	if err != nil {
		return nil, nil, limiter.Decision{}, err
	}
	t := s.tiers[e.tier]
	if t == nil {
		return nil, nil, limiter.Decision{}, errForbidden(fmt.Sprintf("tier %q no longer exists", e.tier))
	}
	if !slices.Contains(tiers, e.tier) || !slices.Contains(e.ownerTiers, e.tier) {
		d, err := s.limits.PeekAt(e.lineage, t.limits, now)
		if err != nil {
			return nil, nil, limiter.Decision{}, err
		}
		return e, t, d, errForbidden(fmt.Sprintf("this route does not admit keys of tier %q", e.tier))
	}
	d, err := s.limits.AllowAt(e.lineage, t.limits, now)
	if err != nil {
		return nil, nil, limiter.Decision{}, err
	}
	if !d.Allowed {
		return e, t, d, limitError(t, d)
	}
	return e, t, d, nil
}

// activeKey finds the key with hash and checks that it and its owner may
// be used at now (unix nanoseconds).
func (s *Server) activeKey(ctx context.Context, hash auth.KeyHash, now int64) (*keyEntry, error) {
	e, err := s.lookupKey(ctx, hash)
	if err != nil {
		return nil, err
	}
	if now-e.seen.Load() > int64(time.Second) {
		e.seen.Store(now) // at most once a second: a shared write per request would cost more than it tells
	}
	switch {
	case !e.activeAt(now):
		return nil, errUnauthorized("API key is revoked or expired")
	case e.ownerDisabled:
		return nil, errUnauthorized("invalid API key")
	}
	return e, nil
}

// presentedKey reads the key from X-API-Key or Authorization: Bearer. Two
// different keys in one request are refused rather than guessed between.
func presentedKey(r *http.Request) (string, error) {
	fromHeader := r.Header.Get("X-API-Key")
	bearer, hasBearer := auth.ParseBearer(r.Header.Get("Authorization"))
	switch {
	case fromHeader != "" && hasBearer && bearer != fromHeader:
		return "", errUnauthorized("two different API keys presented")
	case fromHeader != "":
		return fromHeader, nil
	case hasBearer:
		return bearer, nil
	}
	return "", errUnauthorized("missing API key: send Authorization: Bearer <key> or X-API-Key")
}

// lookupKey returns the cached entry for hash, reading the store only on
// a miss. Unknown hashes are remembered too, within a bound.
func (s *Server) lookupKey(ctx context.Context, hash auth.KeyHash) (*keyEntry, error) {
	e, unknown, gen := s.keys.get(hash)
	if e != nil {
		return e, nil
	}
	if unknown {
		return nil, errUnauthorized("invalid API key")
	}
	k, err := s.db.APIKeyByHash(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		s.keys.put(hash, nil, gen)
		return nil, errUnauthorized("invalid API key")
	} else if err != nil {
		return nil, err
	}
	owner, err := s.db.UserByID(ctx, k.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errUnauthorized("invalid API key") // an orphaned key is no key
	} else if err != nil {
		return nil, err
	}
	return s.keys.put(hash, newKeyEntry(k, owner), gen), nil
}

// limitError is the 429 for a refused decision, naming the limit.
func limitError(t *tier, d limiter.Decision) error {
	if d.Reason == limiter.Day {
		return errRateLimited(fmt.Sprintf("Daily limit exceeded: %d/day", t.limits.PerDay), d.RetryAfter)
	}
	return errRateLimited(fmt.Sprintf("Rate limit exceeded: %d/min", t.limits.PerMinute), d.RetryAfter)
}

// setLimitHeaders writes both the IETF draft fields and the legacy
// X-RateLimit-* ones. The per-request values share one string and one
// slice backing array, to keep the hot path's allocations down.
func setLimitHeaders(h http.Header, t *tier, d limiter.Decision) {
	minuteReset := wholeSeconds(d.MinuteReset, 0)
	var buf [128]byte
	b := append(buf[:0], `"minute";r=`...)
	b = strconv.AppendInt(b, int64(d.MinuteRemaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, minuteReset, 10)
	b = append(b, `, "day";r=`...)
	b = strconv.AppendInt(b, d.DayRemaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, wholeSeconds(d.DayReset, 0), 10)
	rateEnd := len(b)
	b = strconv.AppendInt(b, int64(d.MinuteRemaining), 10)
	remainingEnd := len(b)
	b = strconv.AppendInt(b, minuteReset, 10)
	all := string(b)

	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = all[:rateEnd], all[rateEnd:remainingEnd], all[remainingEnd:]
	h["Ratelimit-Policy"] = t.policy
	h["Ratelimit"] = vals[0:1:1]
	h["X-Ratelimit-Limit"] = t.limit
	h["X-Ratelimit-Remaining"] = vals[1:2:2]
	h["X-Ratelimit-Reset"] = vals[2:3:3]
}
