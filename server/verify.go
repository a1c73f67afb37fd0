package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keygate/keygate/auth"
	"github.com/keygate/keygate/limiter"
)

// Verification codes, as POST /v1/keys/verify reports them.
const (
	codeValid         = "VALID"
	codeNotFound      = "NOT_FOUND"
	codeExpired       = "EXPIRED"
	codeRevoked       = "REVOKED"
	codeDisabled      = "DISABLED"
	codeForbidden     = "FORBIDDEN"
	codeRateLimited   = "RATE_LIMITED"
	codeUsageExceeded = "USAGE_EXCEEDED"
)

// verification is the outcome of checking one presented key: a code, and
// as much as was learnt on the way.
type verification struct {
	code     string
	key      *keyEntry        // nil for NOT_FOUND
	tier     *tier            // nil until the key's tier is known
	decision limiter.Decision // the limits' figures, when limited
	limited  bool             // whether the limits were consulted
}

// verify checks a presented key in the contract's order, key then tier
// then limits, for a route admitting tiers (nil: any tier the owner holds),
// and spends one request of the key's limits if every check passes. It
// touches no disk once the key has been seen: the key, its owner and its
// counters are in memory. The error is for failures of keygate itself;
// a refused key is a verification with a code other than VALID. Every
// verification is counted in the metrics by its code; a failure is not.
func (s *Server) verify(ctx context.Context, raw string, tiers []string, now time.Time) (verification, error) {
	v, err := s.verifyUncounted(ctx, raw, tiers, now)
	if err == nil {
		s.metrics.keyChecked(v.code)
	}
	return v, err
}

func (s *Server) verifyUncounted(ctx context.Context, raw string, tiers []string, now time.Time) (verification, error) {
	hash, err := auth.ParseKey(s.cfg.KeyPrefix, raw)
	if err != nil {
		return verification{code: codeNotFound}, nil
	}
	e, err := s.lookupKey(ctx, hash)
	if e == nil {
		return verification{code: codeNotFound}, err
	}
	v := verification{code: codeValid, key: e, tier: s.current().tiers[e.tier]}
	if v.code = keyState(e, now.UnixNano()); v.code != codeValid {
		return v, nil
	}
	if v.tier == nil || !e.ownerHasTier() || (tiers != nil && !slices.Contains(tiers, e.tier)) {
		v.code = codeForbidden
		if v.tier != nil {
			v.decision, err = s.limits.PeekAt(e.lineage(), v.tier.limits, now)
			v.limited = err == nil
		}
		return v, err
	}
	if v.decision, err = s.limits.AllowAt(e.lineage(), v.tier.limits, now); err != nil {
		return v, err
	}
	v.limited = true
	switch {
	case v.decision.Reason == limiter.Day:
		v.code = codeUsageExceeded
	case !v.decision.Allowed:
		v.code = codeRateLimited
	default:
		s.keys.dirty.touch(e, now.UnixNano())
	}
	return v, nil
}

// keyState says whether key e and its owner may be used at now (unix
// nanoseconds), and if not, why.
func keyState(e *keyEntry, now int64) string {
	if now-e.seen.Load() > int64(time.Second) {
		e.seen.Store(now) // at most once a second: a shared write per request would cost more than it tells
	}
	switch {
	case e.revokedAt != 0 && now >= e.revokedAt:
		return codeRevoked
	case e.expiresAt != 0 && now >= e.expiresAt:
		return codeExpired
	case e.ownerDisabled():
		return codeDisabled
	}
	return codeValid
}

// refusedByLimit says whether the key's limits refused it: the answer is
// a 429.
func (v verification) refusedByLimit() bool {
	return v.code == codeRateLimited || v.code == codeUsageExceeded
}

// err is the HTTP refusal of a verification, or nil for a valid one.
func (v verification) err() error {
	switch v.code {
	case codeValid:
		return nil
	case codeRevoked:
		return errUnauthorized("API key has been revoked")
	case codeExpired:
		return errUnauthorized("API key has expired")
	case codeDisabled:
		return errUnauthorized("the API key's account is disabled")
	case codeForbidden:
		if v.key == nil || v.tier == nil {
			return errForbidden("this key's tier is not available")
		}
		return errForbidden(fmt.Sprintf("this route does not admit keys of tier %q", v.key.tier))
	case codeRateLimited, codeUsageExceeded:
		return limitError(v.tier, v.decision)
	}
	return errUnauthorized("invalid API key")
}
