package server

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

const maxUsageDays = 366

type dayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// handleKeyUsage serves GET /v1/keys/{id}/usage?days=30: one entry per UTC
// day, oldest first, ending today. Usage is counted per lineage, so a key
// shows the history of the keys it replaced.
func (s *Server) handleKeyUsage(w http.ResponseWriter, r *http.Request, u *caller) error {
	days := 30
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxUsageDays {
			return errInvalid("days: must be a whole number from 1 to %d", maxUsageDays)
		}
		days = n
	}
	k, err := s.ownKey(r, u)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	today := now.Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, 1-days)
	stored, err := s.db.UsageRange(r.Context(), k.Lineage, from, today)
	if err != nil {
		return err
	}
	counts := make(map[string]int64, len(stored))
	for _, u := range stored {
		counts[u.Day.UTC().Format(time.DateOnly)] = u.Count
	}
	// Today's count in memory is ahead of the disk by up to one flush.
	if n, ok := s.limits.CountAt(k.Lineage, now); ok {
		key := today.Format(time.DateOnly)
		counts[key] = max(counts[key], n)
	}
	out := make([]dayCount, days)
	for i := range out {
		d := from.AddDate(0, 0, i).Format(time.DateOnly)
		out[i] = dayCount{Date: d, Count: counts[d]}
	}
	writeJSON(w, http.StatusOK, map[string][]dayCount{"days": out})
	return nil
}

// loadUsage tells the limiter what was already counted for a lineage on a
// day, the first time it sees the lineage.
func (s *Server) loadUsage(lineage string, day time.Time) (int64, error) {
	return s.db.UsageCount(context.Background(), lineage, day)
}
