package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
	"github.com/keygate/keygate/storage"
)

// keyHandler serves a request whose API key has passed every check.
type keyHandler func(http.ResponseWriter, *http.Request, *keyEntry, *tier) error

// requireKey runs the checks of a protected route in the contract's order:
// key (401), tier (403), limits (429), then fn.
func (s *Server) requireKey(tiers []string, fn keyHandler) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.checkKey(w, r, tiers)
		if err != nil {
			return err
		}
		return fn(w, r, v.key, v.tier)
	})
}

// checkKey verifies the key r presents for a route admitting tiers, and
// sets the rate-limit headers on every answer for which the key's limits
// were consulted. The error is the refusal to send, if any.
func (s *Server) checkKey(w http.ResponseWriter, r *http.Request, tiers []string) (verification, error) {
	raw, err := presentedKey(r)
	if err != nil {
		return verification{}, err
	}
	v, err := s.verify(r.Context(), raw, tiers, s.now())
	if err != nil {
		return v, err
	}
	if v.limited {
		setLimitHeaders(w.Header(), v.tier, v.decision)
	}
	return v, v.err()
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
// a miss; nil, nil for a hash that matches no key. Unknown hashes are
// remembered too, within a bound.
func (s *Server) lookupKey(ctx context.Context, hash auth.KeyHash) (*keyEntry, error) {
	e, unknown, gen := s.keys.get(hash)
	if e != nil {
		return e, nil
	}
	if unknown {
		return nil, nil
	}
	k, err := s.db.APIKeyByHash(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) {
		s.keys.put(hash, nil, gen)
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	owner, err := s.db.UserByID(ctx, k.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil // an orphaned key is no key
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
