package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/keygate/keygate/limiter"
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
			if err := s.flush(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Error("flush failed; will retry", slog.Any("err", err))
			}
		}
	}
}

// Flush writes every daily count and last-used time held only in memory,
// then, at most once every evictEvery, lets idle keys and limiters leave
// memory. A batch that fails to commit is kept and retried with the next
// one, and nothing is evicted meanwhile, so a failure loses no counts.
// About once a minute it also prunes expired sessions and old audit
// events. Run calls it last, at shutdown; the periodic flusher writes a
// last-used time only once it is due (see lastUseGranularity).
func (s *Server) Flush(ctx context.Context) error { return s.flush(ctx, true) }

// flush is Flush; unless all, it leaves out last-used times not yet due.
func (s *Server) flush(ctx context.Context, all bool) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	now := s.now()
	b := &s.pending
	// Every step walks what every key used since the last flush left, a
	// hundred thousand on a busy server: each paces itself, so that on one
	// core requests run in between (see internal/pace).
	p := s.pace()
	tick := p.Tick
	// Straight into the batch: an array of the limiter's own beside it
	// would be as large again, for every key used since the last flush.
	s.limits.DrainEach(func(u limiter.Usage) {
		b.Usage = append(b.Usage, storage.Usage{Lineage: u.Key, Day: u.Day, Count: u.Count})
	}, tick)
	b.Keys = s.keys.dirty.drainDue(b.Keys, now.UnixNano(), all, tick)
	b.Sessions = s.sessions.dirty.drainDue(b.Sessions, now.UnixNano(), all, tick)
	// Counts are absolute and the store keeps the larger of two, so a
	// retried batch may hold the same day twice.
	paced := *b
	paced.Pace = tick
	if err := s.writeBatch(ctx, paced); err != nil {
		return err
	}
	// The arrays are kept for the next batch, but not the ids they point
	// to: a busy second's batch would hold a string for every key used.
	// A large array of last-used times is let go: they fall due about once
	// a minute a key, so it would sit idle between, on a heap the GC
	// keeps about twice the size of what is live.
	clear(b.Usage)
	b.Usage = b.Usage[:0]
	b.Keys = keepSmall(b.Keys)
	b.Sessions = keepSmall(b.Sessions)
	if now.Sub(s.lastEvict) >= s.evictEvery() {
		s.lastEvict = now
		// A shard of either takes tens of microseconds at 100,000 keys: a
		// step each, or 32 of them would pass between two looks at the clock.
		s.limits.EvictPaced(now, p.Step)
		s.keys.evict(now.Add(-s.cfg.IdleTTL).UnixNano(), p.Step)
	}
	if now.Sub(s.lastPrune) >= time.Minute {
		s.lastPrune = now
		return s.prune(ctx, now)
	}
	return nil
}

// evictEvery is how often a flush lets idle keys and limiters go. It
// walks every one held, under each shard's lock in turn: at a million
// keys two walks cost tens of milliseconds, which every second would be
// spent to find, nearly always, nothing idle for IdleTTL. An idle key
// leaves at most this long after IdleTTL.
func (s *Server) evictEvery() time.Duration { return min(time.Minute, s.cfg.IdleTTL/4) }

// keptLastUsed is the largest array of last-used times a flush keeps for
// the next batch.
const keptLastUsed = 1024

// keepSmall returns a written array of last-used times emptied for the
// next batch, or nil if it is larger than keptLastUsed.
func keepSmall(lu []storage.LastUsed) []storage.LastUsed {
	if cap(lu) > keptLastUsed {
		return nil
	}
	clear(lu)
	return lu[:0]
}

// writeBatch writes b and, unless it is empty, counts and times it: an
// idle flusher writes nothing, and is not counted as writing batches.
func (s *Server) writeBatch(ctx context.Context, b storage.Batch) error {
	if len(b.Usage)+len(b.Keys)+len(b.Sessions) == 0 {
		return s.db.Flush(ctx, b)
	}
	start := time.Now() // the monotonic clock: the Server's Now may be fixed
	err := s.db.Flush(ctx, b)
	s.metrics.flushed(err, time.Since(start))
	return err
}

// prune drops what has outlived its use: expired and revoked sessions
// (kept a day, so a late refresh still finds its session revoked rather
// than missing) and audit events past the configured count or age.
func (s *Server) prune(ctx context.Context, now time.Time) error {
	s.sessions.prune(now)
	if _, err := s.db.PruneSessions(ctx, now.Add(-24*time.Hour)); err != nil {
		return err
	}
	var olderThan time.Time
	if s.cfg.AuditMaxAge > 0 {
		olderThan = now.Add(-s.cfg.AuditMaxAge)
	}
	_, err := s.db.PruneEvents(ctx, s.cfg.AuditMaxEvents, olderThan)
	return err
}
