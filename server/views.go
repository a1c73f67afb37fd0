package server

import (
	"strconv"
	"time"

	"github.com/keygate/keygate/storage"
)

// userView is the API's User.
type userView struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	Role      string   `json:"role"`
	Tiers     []string `json:"tiers"`
	Disabled  bool     `json:"disabled"`
	CreatedAt string   `json:"created_at"`
}

func viewUser(u storage.User) userView {
	tiers := u.Tiers
	if tiers == nil {
		tiers = []string{}
	}
	return userView{ID: u.ID, Email: u.Email, Role: u.Role, Tiers: tiers, Disabled: u.Disabled, CreatedAt: timestamp(u.CreatedAt)}
}

// keyView is the API's Key. It has no field for the hash, and Key (the raw
// key) is set only in the response of the call that created it.
type keyView struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Prefix             string  `json:"prefix"`
	Tier               string  `json:"tier"`
	RateLimitPerMinute int     `json:"rate_limit_per_minute"`
	RateLimitPerDay    int64   `json:"rate_limit_per_day"`
	IsActive           bool    `json:"is_active"`
	CreatedAt          string  `json:"created_at"`
	LastUsedAt         *string `json:"last_used_at"`
	ExpiresAt          *string `json:"expires_at"`
	RevokedAt          *string `json:"revoked_at"`
	Replaces           string  `json:"replaces,omitempty"`
	ReplacedBy         string  `json:"replaced_by,omitempty"`
	Key                string  `json:"key,omitempty"`
}

// viewKey shows k as of now, with limits from the tier table as it is now
// and the last use the server knows of, flushed or not.
func (s *Server) viewKey(k storage.APIKey, now time.Time) keyView {
	v := keyView{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Tier: k.Tier,
		IsActive:   k.ActiveAt(now),
		CreatedAt:  timestamp(k.CreatedAt),
		LastUsedAt: optionalTimestamp(later(k.LastUsedAt, s.keys.lastUsed(k.Hash))),
		ExpiresAt:  optionalTimestamp(k.ExpiresAt),
		Replaces:   k.Replaces,
		ReplacedBy: k.ReplacedBy,
	}
	if k.RevokedAt.IsZero() || now.Before(k.RevokedAt) {
		v.RevokedAt = nil
	} else {
		v.RevokedAt = optionalTimestamp(k.RevokedAt)
	}
	if t, ok := s.current().tiers[k.Tier]; ok {
		v.RateLimitPerMinute, v.RateLimitPerDay = t.limits.PerMinute, t.limits.PerDay
	}
	return v
}

// timestamp formats t as RFC 3339 in UTC, to the second.
func timestamp(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

func optionalTimestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timestamp(t)
	return &s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// appendKeyView appends v encoded exactly as json.Marshal encodes a
// keyView (TestAppendKeyView_AsEncodingJSON), without its reflection: the
// key list is read on every dashboard load.
func appendKeyView(dst []byte, v *keyView) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, v.ID)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, v.Name)
	dst = append(dst, `,"prefix":`...)
	dst = appendJSONString(dst, v.Prefix)
	dst = append(dst, `,"tier":`...)
	dst = appendJSONString(dst, v.Tier)
	dst = append(dst, `,"rate_limit_per_minute":`...)
	dst = strconv.AppendInt(dst, int64(v.RateLimitPerMinute), 10)
	dst = append(dst, `,"rate_limit_per_day":`...)
	dst = strconv.AppendInt(dst, v.RateLimitPerDay, 10)
	dst = append(dst, `,"is_active":`...)
	dst = strconv.AppendBool(dst, v.IsActive)
	dst = append(dst, `,"created_at":`...)
	dst = appendJSONString(dst, v.CreatedAt)
	dst = append(dst, `,"last_used_at":`...)
	dst = appendOptionalString(dst, v.LastUsedAt)
	dst = append(dst, `,"expires_at":`...)
	dst = appendOptionalString(dst, v.ExpiresAt)
	dst = append(dst, `,"revoked_at":`...)
	dst = appendOptionalString(dst, v.RevokedAt)
	for _, f := range [...]struct{ name, value string }{
		{`,"replaces":`, v.Replaces}, {`,"replaced_by":`, v.ReplacedBy}, {`,"key":`, v.Key},
	} {
		if f.value != "" { // omitempty
			dst = append(dst, f.name...)
			dst = appendJSONString(dst, f.value)
		}
	}
	return append(dst, '}')
}

// appendOptionalString appends *s as a JSON string, or null for nil.
func appendOptionalString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, *s)
}
