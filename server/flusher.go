package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/keygate/keygate/storage"
)

// runFlusher writes counters and last-used times every FlushInterval
// until ctx is done. Serve does the last flush itself.
func (s *Server) runFlusher(ctx context.Context) {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("flush failed; will retry", slog.Any("err", err))
			}
		}
	}
}

// Flush writes every daily count and last-used time held only in memory,
// in one transaction, then lets idle keys and limiters leave memory. A
// batch that fails to commit is kept and retried with the next one, and
// nothing is evicted meanwhile, so a failure loses no counts.
func (s *Server) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	for _, u := range s.limits.Drain() {
		s.pendingUsage = append(s.pendingUsage, storage.Usage{Lineage: u.Key, Day: u.Day, Count: u.Count})
	}
	s.pendingUsed = append(s.pendingUsed, s.keys.drainLastUsed()...)
	// Counts are absolute and the store keeps the larger of two, so a
	// retried batch may hold the same day twice.
	if err := s.db.Flush(ctx, s.pendingUsage, s.pendingUsed); err != nil {
		return err
	}
	s.pendingUsage, s.pendingUsed = s.pendingUsage[:0], s.pendingUsed[:0]
	now := s.now()
	s.limits.Evict(now)
	s.keys.evict(now.Add(-s.cfg.IdleTTL).UnixNano())
	return nil
}
