package chaos_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

const (
	// flushInterval is keygate's counter flush period (server.Config's
	// default; config.toml has no setting for it).
	flushInterval = time.Second
	// lossWindow is how far before a kill an admitted request may lie and
	// still be lost: one flush interval plus the time a flush may take to
	// commit (a kill during the commit loses the whole batch).
	lossWindow = 1200 * time.Millisecond
	// lossSlack is the few requests more than lossWindow holds that a kill
	// may lose, for clock skew between a 200 arriving here and the count
	// being taken there.
	lossSlack = 2
	// verifyConns is how many checks run at once after a restart.
	verifyConns = 8
)

// roundEnd is how a round of traffic ended.
type roundEnd struct {
	round  int       // 1, 2, ...; 0 before the first round
	signal string    // "SIGKILL" or "SIGTERM"
	at     time.Time // just before the signal was sent
	delay  time.Duration
}

// restartResult is what the checks after one restart found out about the
// round before it.
type restartResult struct {
	lost          int64         // admitted requests not in the counts, all lineages
	lostWindow    time.Duration // the lost requests span the last lostWindow of traffic before the kill
	perInterval   int64         // requests admitted in the last flushInterval before the kill
	worstLineage  int64         // most requests one lineage lost
	worstWindow   time.Duration // lostWindow of that worst lineage, by the same measure
	excess        int64         // counted but never answered (in flight at the kill)
	keysChecked   int           // keys compared with GET /v1/keys (and by id if new)
	rawChecked    int           // raw keys tried on /v1/chat
	lineages      int           // daily counts checked
	sessions      int           // sessions checked with GET /v1/me
	settled       int           // unanswered rotates and revokes settled either way
	happened      int           // of those, the ones that had taken effect
	unknownKeys   int           // keys listed that no acknowledged call returned
	allowedUnsure int64         // unanswered creates so far: the bound on unknownKeys
}

// verifier checks a restarted keygate against everything acknowledged
// before the kill. Its lineage jobs run concurrently, each touching one
// lineage only; mu guards the rest.
type verifier struct {
	c       *client
	token   string
	workers []*worker
	end     roundEnd

	mu        sync.Mutex
	failures  []string
	res       restartResult
	allAdmits []time.Time // every 200 of the round that ended
}

func (v *verifier) failf(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.failures) < 50 {
		v.failures = append(v.failures, fmt.Sprintf("after %s #%d: ", v.end.signal, v.end.round)+fmt.Sprintf(format, args...))
	}
}

// run performs every check and returns the failures.
func (v *verifier) run(ctx context.Context) []string {
	v.checkSessions(ctx)
	list, err := v.c.listKeys(ctx, v.token)
	if err != nil {
		v.failf("%v", err)
		return v.failures
	}
	for _, w := range v.workers {
		for _, l := range w.all {
			if l.state == unsure {
				v.settle(w, l, list)
			}
		}
	}
	v.checkListed(list)
	v.forEachLineage(ctx, v.checkLineage)
	v.measureLoss()
	return v.failures
}

// checkSessions: every acknowledged login is still a valid session.
func (v *verifier) checkSessions(ctx context.Context) {
	tokens := []string{v.token}
	for _, w := range v.workers {
		tokens = append(tokens, w.sessions...)
	}
	for i, tok := range tokens {
		if status, err := v.c.call(ctx, "GET", "/v1/me", tok, nil, nil); err != nil || status != http.StatusOK {
			v.failf("session %d of %d (acknowledged login) refused: GET /v1/me: %d %v", i, len(tokens), status, err)
		}
	}
	v.res.sessions = len(tokens)
}

// settle decides, from the listing, whether an unanswered rotate or revoke
// happened. Either is fine; half of one is not.
func (v *verifier) settle(w *worker, l *lineage, list map[string]keyView) {
	v.res.settled++
	cur := l.current()
	got, ok := list[cur.id]
	switch {
	case !ok:
		v.failf("key %s (acknowledged) missing from GET /v1/keys", cur.id)
		l.state = dead
	case got.IsActive && got.ReplacedBy == "": // it did not happen
		l.state = live
		w.live = append(w.live, l)
	case l.pending == opRevoke && !got.IsActive && got.ReplacedBy == "":
		v.res.happened++
		cur.revoked = true
		l.state = dead
	case l.pending == opRotate && got.ReplacedBy != "":
		v.res.happened++
		next, ok := list[got.ReplacedBy]
		if !ok || next.Replaces != cur.id {
			v.failf("half a rotation: %s replaced_by %s, which is %+v (listed %v)", cur.id, got.ReplacedBy, next, ok)
		}
		cur.replacedBy = got.ReplacedBy
		l.keys = append(l.keys, &key{id: got.ReplacedBy, replaces: cur.id, round: -1})
		l.state = dead // the new key's raw value was lost with the answer
	default:
		v.failf("unanswered %s left key %s as %+v", l.pending, cur.id, got)
		l.state = dead
	}
}

// checkListed compares GET /v1/keys with every key the clients know of.
func (v *verifier) checkListed(list map[string]keyView) {
	known := 0
	for _, w := range v.workers {
		v.res.allowedUnsure += w.total.unanswered[opCreate]
		for _, l := range w.all {
			for _, k := range l.keys {
				known++
				got, ok := list[k.id]
				if !ok {
					v.failf("key %s (acknowledged in round %d) missing from GET /v1/keys", k.id, k.round)
					continue
				}
				if msg := keyMismatch(k, got); msg != "" {
					v.failf("key %s: %s; listed as %+v", k.id, msg, got)
				}
			}
		}
	}
	v.res.keysChecked = known
	v.res.unknownKeys = len(list) - known
	if int64(v.res.unknownKeys) > v.res.allowedUnsure {
		v.failf("%d keys listed that no acknowledged call made, but only %d creates went unanswered", v.res.unknownKeys, v.res.allowedUnsure)
	}
}

// keyMismatch says how got differs from what was acknowledged for k, or "".
func keyMismatch(k *key, got keyView) string {
	switch {
	case k.revoked && got.IsActive:
		return "revoked (acknowledged) but is_active"
	case k.replacedBy != "" && (got.IsActive || got.ReplacedBy != k.replacedBy):
		return fmt.Sprintf("rotated to %s (acknowledged, no grace) but not shown so", k.replacedBy)
	case k.replaces != got.Replaces:
		return fmt.Sprintf("replaces %q (acknowledged) but shows %q", k.replaces, got.Replaces)
	case !k.revoked && k.replacedBy == "" && !got.IsActive:
		return "neither revoked nor rotated, yet not active"
	}
	return ""
}

// forEachLineage runs check on every lineage, verifyConns at a time.
func (v *verifier) forEachLineage(ctx context.Context, check func(context.Context, *lineage)) {
	jobs := make(chan *lineage)
	var wg sync.WaitGroup
	for range verifyConns {
		wg.Go(func() {
			for l := range jobs {
				check(ctx, l)
			}
		})
	}
	for _, w := range v.workers {
		for _, l := range w.all {
			jobs <- l
		}
	}
	close(jobs)
	wg.Wait()
}

// checkLineage reads the lineage's daily count before anything can add
// to it, checks it against what was admitted, then tries every raw key.
func (v *verifier) checkLineage(ctx context.Context, l *lineage) {
	for _, k := range l.keys {
		if k.round == v.end.round {
			if status, err := v.c.call(ctx, "GET", "/v1/keys/"+k.id, v.token, nil, nil); err != nil || status != http.StatusOK {
				v.failf("GET /v1/keys/%s (acknowledged in round %d): %d %v", k.id, k.round, status, err)
			}
		}
	}
	n, err := v.c.usage(ctx, v.token, l.current().id)
	if err != nil {
		v.failf("%v", err)
		return
	}
	v.checkCount(l, n)
	l.endRound(n)
	v.tryKeys(ctx, l)
}

// checkCount holds the daily count n to the bounds: no more than admitted
// plus unanswered, no less than admitted minus the last lossWindow of
// traffic (nothing at all after SIGTERM).
func (v *verifier) checkCount(l *lineage, n int64) {
	admitted := int64(len(l.roundAdmits))
	delta := n - l.baseline
	if delta > admitted+l.roundUnanswered {
		v.failf("lineage of %s counts %d this round, above the %d admitted plus %d unanswered",
			l.keys[0].id, delta, admitted, l.roundUnanswered)
	}
	if total := l.admitted + admitted + l.unanswered + l.roundUnanswered; n > total {
		v.failf("lineage of %s counts %d in all, above the %d admitted or unanswered", l.keys[0].id, n, total)
	}
	lost := admitted - delta
	recent := countSince(l.roundAdmits, v.end.at.Add(-lossWindow))
	allowed := recent + lossSlack
	if v.end.signal != "SIGKILL" {
		allowed = 0
	}
	if lost > allowed {
		v.failf("lineage of %s lost %d admitted requests; at most %d allowed (%d admitted in the last %s)",
			l.keys[0].id, lost, allowed, recent, lossWindow)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.res.lineages++
	v.allAdmits = append(v.allAdmits, l.roundAdmits...)
	if lost < 0 {
		v.res.excess += -lost
		return
	}
	v.res.lost += lost
	if lost > v.res.worstLineage {
		v.res.worstLineage, v.res.worstWindow = lost, spanOfLast(l.roundAdmits, lost, v.end.at)
	}
}

// tryKeys presents every raw key: the current key of a live lineage must
// be admitted, every other one refused.
func (v *verifier) tryKeys(ctx context.Context, l *lineage) {
	for _, k := range l.keys {
		if k.raw == "" {
			continue
		}
		want := http.StatusUnauthorized
		if l.state == live && k == l.current() {
			want = http.StatusOK
		}
		status, err := v.c.chat(ctx, k.raw)
		if status == http.StatusOK {
			l.roundAdmits = append(l.roundAdmits, time.Now())
		} else if err != nil {
			l.roundUnanswered++
		}
		if status != want {
			v.failf("key %s (revoked %v, replaced by %q): POST /v1/chat %d, want %d %v", k.id, k.revoked, k.replacedBy, status, want, err)
		}
		v.mu.Lock()
		v.res.rawChecked++
		v.mu.Unlock()
	}
}

// measureLoss expresses the round's total loss as the length of traffic
// before the kill that holds that many requests.
func (v *verifier) measureLoss() {
	v.res.perInterval = countSince(v.allAdmits, v.end.at.Add(-flushInterval))
	if v.res.lost > 0 {
		slices.SortFunc(v.allAdmits, func(a, b time.Time) int { return a.Compare(b) })
		v.res.lostWindow = spanOfLast(v.allAdmits, v.res.lost, v.end.at)
	}
}

// countSince counts the times at or after from.
func countSince(times []time.Time, from time.Time) int64 {
	var n int64
	for _, t := range times {
		if !t.Before(from) {
			n++
		}
	}
	return n
}

// spanOfLast is how long before end the n-th latest of the sorted times
// lies: the stretch of traffic that holds n requests.
func spanOfLast(sorted []time.Time, n int64, end time.Time) time.Duration {
	if n <= 0 || len(sorted) == 0 {
		return 0
	}
	i := max(0, len(sorted)-int(n))
	return end.Sub(sorted[i])
}
