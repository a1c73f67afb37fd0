package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// What a client does on each step, as shares of all steps. Chats dominate,
// as on a real gateway; the writes are frequent enough that most kills
// land while some create, rotate or revoke is being committed.
const (
	shareCreate = 0.010
	shareRotate = 0.008
	shareRevoke = 0.004
	shareLogin  = 0.002

	maxLivePerWorker     = 6  // lineages a client keeps usable at once
	maxSessionsPerWorker = 20 // extra logins a client makes in a whole run
	maxFailures          = 20 // contract violations kept per client per round
)

// op is a kind of operation the clients perform.
type op int

const (
	opCreate op = iota
	opRotate
	opRevoke
	opLogin
	opChat
	numOps
)

func (o op) String() string {
	switch o {
	case opCreate:
		return "create"
	case opRotate:
		return "rotate"
	case opRevoke:
		return "revoke"
	case opLogin:
		return "login"
	case opChat:
		return "chat"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// opCounts counts operations by kind: acknowledged (the success status
// arrived) and unanswered (no status: in flight at a kill).
type opCounts struct {
	acked, unanswered [numOps]int64
}

func (c *opCounts) add(o opCounts) {
	for i := range numOps {
		c.acked[i] += o.acked[i]
		c.unanswered[i] += o.unanswered[i]
	}
}

// key is one API key as the clients know it.
type key struct {
	id         string
	raw        string // empty for a key whose creating answer was lost
	replaces   string // the key this one replaced, as acknowledged
	replacedBy string // the key that replaced this one, once known
	revoked    bool   // an acknowledged (or since observed) DELETE
	round      int    // round in which its creation was acknowledged
}

// lineageState says what may be done with a lineage's current key.
type lineageState int

const (
	live   lineageState = iota // the current key must work
	dead                       // revoked, or rotated to a key whose raw value was lost
	unsure                     // a rotate or revoke got no answer; settled after the restart
)

// lineage is a chain of keys linked by rotation, sharing one daily count.
// Only its owning worker touches it during traffic, and only the verifier
// between rounds, so it needs no lock.
type lineage struct {
	keys    []*key // oldest first; the last is the current one
	state   lineageState
	pending op // for unsure: the operation that got no answer

	admitted, unanswered int64 // chats, every round before the current one
	baseline             int64 // daily count read after the last restart

	// The current round: chats admitted (with the time each 200 arrived)
	// and chats that got no answer.
	roundAdmits     []time.Time
	roundUnanswered int64
}

func (l *lineage) current() *key { return l.keys[len(l.keys)-1] }

// endRound folds the round's chats into the totals and starts a new round
// from baseline.
func (l *lineage) endRound(baseline int64) {
	l.admitted += int64(len(l.roundAdmits))
	l.unanswered += l.roundUnanswered
	l.roundAdmits, l.roundUnanswered = l.roundAdmits[:0], 0
	l.baseline = baseline
}

// worker is one concurrent client. It owns its lineages, so the acknowledged
// order of operations on each is known exactly.
type worker struct {
	id       int
	rng      *rand.Rand
	token    string     // access token for key management
	all      []*lineage // every lineage it made, in order
	live     []*lineage // the subset whose current key must work
	sessions []string   // access tokens of acknowledged logins
	email    string
	password string

	ops      opCounts // this round
	total    opCounts // every round before this one
	failures []string // contract violations seen during this round

	// The first request of this round that got no answer, and when. The
	// client stops there: the server is gone, and a request to a dead
	// server tells nothing.
	noAnswer   error
	noAnswerAt time.Time
}

// run performs operations until ctx is done or a request gets no answer.
func (w *worker) run(ctx context.Context, c *client, round int) {
	for ctx.Err() == nil && w.noAnswer == nil {
		w.step(ctx, c, round)
	}
}

func (w *worker) step(ctx context.Context, c *client, round int) {
	r := w.rng.Float64()
	switch {
	case len(w.live) == 0 || (r < shareCreate && len(w.live) < maxLivePerWorker):
		w.create(ctx, c, round)
	case r < shareCreate: // a create, but the client holds enough usable keys
		w.chat(ctx, c, w.pick())
	case r < shareCreate+shareRotate:
		w.rotate(ctx, c, w.pick(), round)
	case r < shareCreate+shareRotate+shareRevoke:
		w.revoke(ctx, c, w.pick())
	case r < shareCreate+shareRotate+shareRevoke+shareLogin && len(w.sessions) < maxSessionsPerWorker:
		w.login(ctx, c)
	default:
		w.chat(ctx, c, w.pick())
	}
}

func (w *worker) pick() *lineage { return w.live[w.rng.IntN(len(w.live))] }

// answered reports whether a call got a status; if not, it counts o as
// unanswered.
func (w *worker) answered(o op, err error) bool {
	if err != nil {
		w.ops.unanswered[o]++
		w.noAnswer, w.noAnswerAt = err, time.Now()
		return false
	}
	return true
}

func (w *worker) create(ctx context.Context, c *client, round int) {
	status, k, err := c.createKey(ctx, w.token, fmt.Sprintf("chaos-w%d-%d", w.id, len(w.all)))
	if !w.answered(opCreate, err) {
		return
	}
	if status != http.StatusCreated || k.ID == "" || k.Key == "" {
		w.fail("POST /v1/keys: %d %+v", status, k)
		return
	}
	w.ops.acked[opCreate]++
	l := &lineage{keys: []*key{{id: k.ID, raw: k.Key, round: round}}}
	w.all = append(w.all, l)
	w.live = append(w.live, l)
}

func (w *worker) rotate(ctx context.Context, c *client, l *lineage, round int) {
	cur := l.current()
	status, k, err := c.rotateKey(ctx, w.token, cur.id)
	if !w.answered(opRotate, err) {
		w.setUnsure(l, opRotate)
		return
	}
	if status != http.StatusCreated || k.ID == "" || k.Key == "" || k.Replaces != cur.id {
		w.fail("POST /v1/keys/%s/rotate: %d %+v", cur.id, status, k)
		return
	}
	w.ops.acked[opRotate]++
	cur.replacedBy = k.ID
	l.keys = append(l.keys, &key{id: k.ID, raw: k.Key, replaces: cur.id, round: round})
}

func (w *worker) revoke(ctx context.Context, c *client, l *lineage) {
	cur := l.current()
	status, err := c.revokeKey(ctx, w.token, cur.id)
	if !w.answered(opRevoke, err) {
		w.setUnsure(l, opRevoke)
		return
	}
	if status != http.StatusNoContent {
		w.fail("DELETE /v1/keys/%s: %d", cur.id, status)
		return
	}
	w.ops.acked[opRevoke]++
	cur.revoked = true
	l.state = dead
	w.dropLive(l)
}

func (w *worker) login(ctx context.Context, c *client) {
	status, token, err := c.login(ctx, w.email, w.password)
	if !w.answered(opLogin, err) {
		return
	}
	if status != http.StatusOK || token == "" {
		w.fail("POST /v1/auth/login: %d", status)
		return
	}
	w.ops.acked[opLogin]++
	w.sessions = append(w.sessions, token)
}

func (w *worker) chat(ctx context.Context, c *client, l *lineage) {
	status, err := c.chat(ctx, l.current().raw)
	if !w.answered(opChat, err) {
		l.roundUnanswered++
		return
	}
	if status != http.StatusOK {
		w.fail("POST /v1/chat with live key %s: %d", l.current().id, status)
		return
	}
	w.ops.acked[opChat]++
	l.roundAdmits = append(l.roundAdmits, time.Now())
}

// setUnsure takes l out of use until the restart shows whether the
// unanswered operation o happened.
func (w *worker) setUnsure(l *lineage, o op) {
	l.state, l.pending = unsure, o
	w.dropLive(l)
}

func (w *worker) dropLive(l *lineage) {
	for i, x := range w.live {
		if x == l {
			w.live[i] = w.live[len(w.live)-1]
			w.live = w.live[:len(w.live)-1]
			return
		}
	}
}

// endRound returns the violations of the round that ended at signal time
// end, folds its counts into the totals and resets it.
func (w *worker) endRound(end time.Time) []string {
	failures := w.failures
	if w.noAnswer != nil && w.noAnswerAt.Before(end) {
		failures = append(failures, fmt.Sprintf("client %d: no answer %s before the signal, from a server that should be up: %v",
			w.id, end.Sub(w.noAnswerAt), w.noAnswer))
	}
	w.total.add(w.ops)
	w.ops, w.failures, w.noAnswer, w.noAnswerAt = opCounts{}, nil, nil, time.Time{}
	return failures
}

func (w *worker) fail(format string, args ...any) {
	if len(w.failures) < maxFailures {
		w.failures = append(w.failures, fmt.Sprintf("client %d: ", w.id)+fmt.Sprintf(format, args...))
	}
}
