// Package pace lets a long background job, such as keygate's write-behind
// flush, share a processor with the requests a server is answering.
//
// On one core (GOMAXPROCS=1) a goroutine that computes runs until the
// scheduler preempts it, 10 ms later: every request in flight waits that
// long, and a flush of 100,000 counters is several such stretches a
// second. runtime.Gosched does not help: the yielding goroutine is
// queued where the scheduler looks before it polls the network, so it
// runs again before any request that arrived meanwhile. A sleep parks it
// instead, so the scheduler polls and serves what is ready first.
//
// A Pacer therefore sleeps after each slice of work, but only while the
// server is busy: an idle server's job runs flat out, checking now and
// then whether requests have started arriving. It stops pausing at a
// deadline, so a job never lags more than that behind.
package pace

import "time"

// Settings of a Pacer. While the server is busy the job gets about
// Slice/(Slice+Pause) of the processor, a sixth: requests meanwhile run a
// fifth slower at most, and no request waits for more than one slice.
const (
	Slice = 100 * time.Microsecond // work between two pauses
	Pause = 500 * time.Microsecond // one pause, while the server is busy
	// Probe is the most work an idle server's job does between two pauses
	// that look for requests. An idle server sleeps the shortest time the
	// runtime can (about a millisecond), so each probe costs that much;
	// the first probes come sooner (from firstProbe, doubling), so a busy
	// server taken for idle is not held up for long.
	Probe      = 10 * time.Millisecond
	firstProbe = time.Millisecond
	// checkEvery is how many ticks pass between two readings of the clock.
	checkEvery = 32
	// idleAfter is how many pauses in a row must see no request finish
	// before the server counts as idle. One is not enough: a busy server
	// sometimes finishes nothing in one pause (its clients are all
	// between two requests), and a job that then ran flat out held up
	// every request for a whole probe.
	idleAfter = 3
)

// A Pacer paces one run of a job. Make one per run with New; it is not
// safe for concurrent use.
type Pacer struct {
	served func() uint64 // moves whenever the server finishes a request
	until  time.Time     // after this it no longer pauses
	now    func() time.Time
	sleep  func(time.Duration)

	ticks int
	since time.Time     // the end of the last pause
	quiet int           // pauses in a row in which no request finished
	every time.Duration // the work between two probes, while idle
}

// New returns a Pacer for a job that starts now and must not be held back
// past within. served counts the requests the server has finished; nil
// gives a Pacer that never pauses.
func New(served func() uint64, within time.Duration) *Pacer {
	now := time.Now()
	return &Pacer{served: served, until: now.Add(within), now: time.Now, sleep: time.Sleep,
		since: now, every: firstProbe}
}

// Tick marks one small unit of work (a record, a blob) done. It pauses
// when a slice of work is over and the server is busy. A nil Pacer never
// pauses.
func (p *Pacer) Tick() {
	if p == nil || p.served == nil {
		return
	}
	if p.ticks++; p.ticks < checkEvery {
		return
	}
	p.ticks = 0
	now := p.now()
	worked := now.Sub(p.since)
	if worked < Slice || now.After(p.until) || (p.quiet >= idleAfter && worked < p.every) {
		return
	}
	before := p.served()
	p.sleep(Pause)
	switch {
	case p.served() != before:
		p.quiet, p.every = 0, firstProbe
	case p.quiet < idleAfter:
		p.quiet++
	default:
		p.every = min(2*p.every, Probe)
	}
	p.since = p.now()
}
