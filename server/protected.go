package server

import (
	"context"
	"errors"
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
			drainBody(r) // untouched: the refusal does not need it
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
		setLimitHeaders(w.Header(), v.tier, v.decision, v.refusedByLimit())
	}
	return v, v.err()
}

// presentedKey reads the key from X-API-Key or Authorization: Bearer. Two
// different keys in one request are refused rather than guessed between.
func presentedKey(r *http.Request) (string, error) {
	// Indexed by the canonical names, as Header.Get would, without
	// canonicalising "X-API-Key" into a new string every time.
	fromHeader := firstValue(r.Header, "X-Api-Key")
	bearer, hasBearer := auth.ParseBearer(firstValue(r.Header, "Authorization"))
	switch {
	case fromHeader != "" && hasBearer && bearer != fromHeader:
		return "", errTwoKeys
	case fromHeader != "":
		return fromHeader, nil
	case hasBearer:
		return bearer, nil
	}
	return "", errNoKey
}

// The refusals of presentedKey, made once: an apiError is never modified.
var (
	errTwoKeys = errUnauthorized("two different API keys presented")
	errNoKey   = errUnauthorized("missing API key: send Authorization: Bearer <key> or X-API-Key")
)

// firstValue is h.Get(key) for a key already in canonical form.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// lookupKey returns the cached entry for hash, reading the store only on
// a miss; nil, nil for a hash that matches no key. A hash the key filter
// rules out is refused without the store, so a client trying ever-new keys
// costs no disk read; the few unknown hashes it lets through are
// remembered too, within a bound.
func (s *Server) lookupKey(ctx context.Context, hash auth.KeyHash) (*keyEntry, error) {
	e, unknown, gen := s.keys.get(hash)
	if e != nil {
		return e, nil
	}
	if unknown || !s.known.mayHold(hash) {
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
	return s.keys.put(hash, newKeyEntry(k, owner, s.current().tiers), gen), nil
}

// limitRefusal is the 429 of a key's limit. It holds only a pointer to
// the refused limit's detail in the key's tier, so returning it as an error
// allocates nothing: a client flooding an exhausted key is answered from
// memory made once. Its Retry-After goes out with the rate-limit headers
// (setLimitHeaders), which every such refusal carries; writeError adds the
// body.
type limitRefusal struct{ detail *string }

func (e limitRefusal) Error() string { return "429 rate_limited: " + *e.detail }

// limitError is the 429 for a refused decision, naming the limit.
func limitError(t *tier, d limiter.Decision) error {
	if d.Reason == limiter.Day {
		return limitRefusal{&t.dayDetail}
	}
	return limitRefusal{&t.minuteDetail}
}

// setLimitHeaders writes both the IETF draft fields and the legacy
// X-RateLimit-* ones, and Retry-After when the limits refused. The values
// that never change for a tier are made with it, small numbers come from
// smallValues, and the rest are carved by headerValues: the legacy fields
// from the RateLimit text, which holds the same numbers. So the hot path
// neither allocates for them nor formats a number twice.
func setLimitHeaders(h http.Header, t *tier, d limiter.Decision, refused bool) {
	remaining, minuteReset := int64(d.MinuteRemaining), wholeSeconds(d.MinuteReset, 0)
	var buf [128]byte
	b := append(buf[:0], `"minute";r=`...)
	remainingAt := len(b)
	b = strconv.AppendInt(b, remaining, 10)
	remainingEnd := len(b)
	b = append(b, ";t="...)
	resetAt := len(b)
	b = strconv.AppendInt(b, minuteReset, 10)
	resetEnd := len(b)
	b = append(b, `, "day";r=`...)
	b = strconv.AppendInt(b, d.DayRemaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, wholeSeconds(d.DayReset, 0), 10)
	hv := getHeaderValues()
	defer putHeaderValues(hv)
	rate := hv.str(b)

	h["Ratelimit-Policy"] = t.policy
	h["Ratelimit"] = hv.value(rate)
	h["X-Ratelimit-Limit"] = t.limit
	h["X-Ratelimit-Remaining"] = hv.numberText(remaining, rate[remainingAt:remainingEnd])
	h["X-Ratelimit-Reset"] = hv.numberText(minuteReset, rate[resetAt:resetEnd])
	if refused {
		h["Retry-After"] = hv.number(wholeSeconds(d.RetryAfter, 1))
	}
}
