package server

import (
	"context"
	"net/http"
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
	days, err := queryInt(r, "days", 30, 1, maxUsageDays)
	if err != nil {
		return err
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
