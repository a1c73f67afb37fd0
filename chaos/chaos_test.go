// Package chaos_test is keygate's crash evidence (issue 7, item 5): the
// real binary under concurrent clients that create, rotate and revoke keys,
// log in and call POST /v1/chat, killed with SIGKILL at random moments and
// restarted on the same database, again and again.
//
// After every kill, with the server down, `keygate check` must pass. After
// every restart, everything acknowledged before the kill must be there
// exactly as acknowledged (keys, rotations, revocations, sessions), an
// operation that got no answer must have happened entirely or not at all,
// and each lineage's daily count must lie between what was admitted minus
// the last flush interval of traffic and what was admitted plus what got
// no answer. The last round ends with SIGTERM instead, after which nothing
// at all may be missing. docs/reliability.md has the figures of a long run.
//
// By default (CI) it kills 3 times; for the long run:
//
//	go test ./chaos/ -run TestChaos -v -chaos.kills=50
//	KEYGATE_CHAOS_KILLS=50 go test ./chaos/ -run TestChaos -v
//	go test -tags chaos ./chaos/ -run TestChaos -v
package chaos_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	flagKills   = "chaos.kills"
	flagWorkers = "chaos.workers"
	flagSeed    = "chaos.seed"
	envKills    = "KEYGATE_CHAOS_KILLS"

	email    = "chaos@example.com"
	password = "kill nine, restart, repeat"

	stopTimeout = 15 * time.Second // for a SIGTERM'd server to drain and exit
)

// TestMain registers the chaos flags, which TestChaos reads back with
// flag.Lookup (so the package keeps no variables of its own).
func TestMain(m *testing.M) {
	flag.Int(flagKills, 0, "SIGKILLs in TestChaos (0: $"+envKills+", else the build's default)")
	flag.Int(flagWorkers, 6, "concurrent clients in TestChaos")
	flag.Uint64(flagSeed, 0, "seed for TestChaos's choices (0: from the clock)")
	os.Exit(m.Run())
}

// settings are one run's parameters.
type settings struct {
	kills   int // rounds ended by SIGKILL
	workers int // concurrent clients
	seed    uint64
}

// loadSettings reads the flags, then the environment, then the defaults.
func loadSettings(lookup func(string) *flag.Flag, getenv func(string) string) (settings, error) {
	get := func(name string) any { return lookup(name).Value.(flag.Getter).Get() }
	s := settings{kills: get(flagKills).(int), workers: get(flagWorkers).(int), seed: get(flagSeed).(uint64)}
	if v := getenv(envKills); s.kills == 0 && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, fmt.Errorf("%s=%q: want a positive whole number", envKills, v)
		}
		s.kills = n
	}
	if s.kills <= 0 {
		s.kills = defaultKills
	}
	if s.workers < 1 {
		return s, fmt.Errorf("-%s=%d: want at least 1", flagWorkers, s.workers)
	}
	if s.seed == 0 {
		s.seed = uint64(time.Now().UnixNano())
	}
	return s, nil
}

func TestChaos(t *testing.T) {
	set, err := loadSettings(flag.Lookup, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos: %d kills, %d clients, seed %d (-%s=%d to repeat the choices)", set.kills, set.workers, set.seed, flagSeed, set.seed)
	r := newChaosRun(t, set)
	for round := 1; round <= set.kills+1; round++ {
		signal := "SIGKILL"
		if round > set.kills {
			signal = "SIGTERM"
		}
		r.round(round, signal)
	}
	r.finalCheck()
	r.summary()
}

// chaosRun is one TestChaos run: the binary, the clients and what every
// round did and found.
type chaosRun struct {
	t       *testing.T
	set     settings
	kg      keygate
	rng     *rand.Rand
	workers []*worker
	token   string   // the first login's access token, used by every client
	end     roundEnd // how the last round ended
	rounds  []roundSummary
	checks  int // `keygate check` runs passed
}

// roundSummary is one round: what the clients had acknowledged when it
// ended and what the restart after it found.
type roundSummary struct {
	end roundEnd
	ops opCounts
	res restartResult
}

func newChaosRun(t *testing.T, set settings) *chaosRun {
	kg := buildKeygate(t)
	if out, err := kg.command(password+"\n", "user", "create", "-config", kg.config, "-email", email); err != nil {
		t.Fatalf("keygate user create: %v\n%s", err, out)
	}
	r := &chaosRun{t: t, set: set, kg: kg, rng: rand.New(rand.NewPCG(set.seed, 0))}
	for i := range set.workers {
		r.workers = append(r.workers, &worker{
			id: i, rng: rand.New(rand.NewPCG(set.seed, uint64(i+1))), email: email, password: password,
		})
	}
	return r
}

// round starts keygate, verifies the restart, runs traffic for a random
// time and ends it with signal, then checks the database file.
func (r *chaosRun) round(n int, signal string) {
	t := r.t
	p, c := r.start()
	r.verify(c)
	r.end = r.traffic(p, c, n, signal)
	c.close()
	r.logServerErrors(p)
	if err := r.kg.check(); err != nil {
		t.Fatalf("after %s #%d: %v", signal, n, err)
	}
	r.checks++
}

// start runs keygate and, the first time, logs in.
func (r *chaosRun) start() (*process, *client) {
	t := r.t
	p, err := r.kg.start()
	if err != nil {
		t.Fatalf("after %s #%d: %v", r.end.signal, r.end.round, err)
	}
	t.Cleanup(p.kill)
	c := newClient(p.addr, 2*(r.set.workers+verifyConns))
	if r.token == "" {
		status, token, err := c.login(context.Background(), email, password)
		if err != nil || status != http.StatusOK {
			t.Fatalf("first login: %d %v", status, err)
		}
		r.token = token
		for _, w := range r.workers {
			w.token = token
		}
	}
	return p, c
}

// verify checks the restart against the round that ended; it fails the
// test, with every violation found, if anything is wrong.
func (r *chaosRun) verify(c *client) {
	if r.end.round == 0 {
		return
	}
	v := &verifier{c: c, token: r.token, workers: r.workers, end: r.end}
	failures := v.run(context.Background())
	r.rounds[len(r.rounds)-1].res = v.res
	r.logRound(r.rounds[len(r.rounds)-1])
	if len(failures) > 0 {
		r.t.Fatalf("%d violations:\n%s", len(failures), strings.Join(failures, "\n"))
	}
}

// traffic runs the clients until signal ends the process, 100 to 800 ms
// plus zero, one or two flush intervals after they start (so kills land
// both before the first flush and at every phase of a later one).
func (r *chaosRun) traffic(p *process, c *client, round int, signal string) roundEnd {
	delay := time.Duration(100+r.rng.IntN(701))*time.Millisecond + time.Duration(r.rng.IntN(3))*flushInterval
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Go(func() { w.run(ctx, c, round) })
	}
	<-time.After(delay)
	end := roundEnd{round: round, signal: signal, at: time.Now(), delay: delay}
	var stopErr error
	if signal == "SIGKILL" {
		p.kill()
	} else {
		stopErr = p.stop(stopTimeout)
	}
	cancel() // only now: a request cut short by the signal is in flight, not abandoned
	wg.Wait()
	sum := roundSummary{end: end}
	var failures []string
	for _, w := range r.workers {
		sum.ops.add(w.ops)
		failures = append(failures, w.endRound(end.at)...)
	}
	r.rounds = append(r.rounds, sum)
	if stopErr != nil {
		failures = append(failures, stopErr.Error())
	}
	if len(failures) > 0 {
		r.t.Fatalf("round %d, during traffic:\n%s", round, strings.Join(failures, "\n"))
	}
	return end
}

// finalCheck restarts after the SIGTERM round, verifies it and stops
// cleanly once more.
func (r *chaosRun) finalCheck() {
	p, c := r.start()
	r.verify(c)
	c.close()
	if err := p.stop(stopTimeout); err != nil {
		r.t.Fatal(err)
	}
	r.logServerErrors(p)
	if err := r.kg.check(); err != nil {
		r.t.Fatalf("after the last clean stop: %v", err)
	}
	r.checks++
}

// logServerErrors reports what keygate logged at level ERROR: not a
// failure by itself (a kill can interrupt anything), but worth reading.
func (r *chaosRun) logServerErrors(p *process) {
	for _, line := range p.log.errorLines() {
		r.t.Logf("keygate logged: %s", line)
	}
}

func (r *chaosRun) logRound(s roundSummary) {
	e, res := s.end, s.res
	r.t.Logf("chaos: round %d %s after %s: acked %s; unanswered %s; checked %d keys, %d raw keys, %d counts, %d sessions, %d settled (%d had happened), %d unknown (<= %d); "+
		"lost %d (last %s of traffic = %.2f flush interval; %d admitted in the last interval), worst lineage %d (%s), counted unanswered %d",
		e.round, e.signal, e.delay.Round(time.Millisecond), formatOps(s.ops.acked), formatOps(s.ops.unanswered),
		res.keysChecked, res.rawChecked, res.lineages, res.sessions, res.settled, res.happened, res.unknownKeys, res.allowedUnsure,
		res.lost, res.lostWindow.Round(time.Millisecond), res.lostWindow.Seconds()/flushInterval.Seconds(), res.perInterval,
		res.worstLineage, res.worstWindow.Round(time.Millisecond), res.excess)
}

// summary logs the run's figures, the ones docs/reliability.md quotes.
func (r *chaosRun) summary() {
	var (
		total                    opCounts
		worst                    restartResult // the kill that lost the longest stretch of traffic
		worstLineage             int64
		settled, happened, kills int
		windows                  []time.Duration
	)
	for _, s := range r.rounds {
		total.add(s.ops)
		settled, happened = settled+s.res.settled, happened+s.res.happened
		worstLineage = max(worstLineage, s.res.worstLineage)
		if s.end.signal != "SIGKILL" {
			continue
		}
		kills++
		windows = append(windows, s.res.lostWindow)
		if s.res.lostWindow > worst.lostWindow {
			worst = s.res
		}
	}
	slices.Sort(windows)
	last := r.rounds[len(r.rounds)-1].res
	t := r.t
	t.Logf("chaos: SUMMARY kills=%d clean_stops=%d restarts_verified=%d db_checks_passed=%d", kills, len(r.rounds)-kills+1, len(r.rounds), r.checks)
	t.Logf("chaos: SUMMARY acknowledged %s", formatOps(total.acked))
	t.Logf("chaos: SUMMARY unanswered (in flight at a signal) %s", formatOps(total.unanswered))
	t.Logf("chaos: SUMMARY unanswered rotates and revokes settled %d, of which had happened %d; creates that happened unanswered %d",
		settled, happened, last.unknownKeys)
	t.Logf("chaos: SUMMARY at the end: %d keys, %d lineages, %d sessions checked", last.keysChecked+last.unknownKeys, last.lineages, last.sessions)
	if kills > 0 {
		t.Logf("chaos: SUMMARY counts lost per kill, as the stretch of traffic before it: median %s, worst %s (%.2f of a flush interval)",
			windows[len(windows)/2].Round(time.Millisecond), worst.lostWindow.Round(time.Millisecond), worst.lostWindow.Seconds()/flushInterval.Seconds())
		t.Logf("chaos: SUMMARY worst kill lost %d requests (%d admitted in its last flush interval); worst single lineage lost %d",
			worst.lost, worst.perInterval, worstLineage)
	}
}

func formatOps(n [numOps]int64) string {
	var parts []string
	for o := range numOps {
		parts = append(parts, fmt.Sprintf("%s=%d", o, n[o]))
	}
	return strings.Join(parts, " ")
}
