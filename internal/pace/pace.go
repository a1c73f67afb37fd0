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
// then whether requests have started arriving. Past a deadline it pauses
// less, so a job never lags far behind, but it still never holds the
// processor for more than a slice.
package pace

import "time"

// Settings of a Pacer. While the server is busy the job gets about
// Slice/(Slice+Pause) of the processor, a sixth: requests meanwhile run a
// fifth slower at most, and no request waits for more than one slice.
const (
	Slice = 100 * time.Microsecond // work between two pauses
	Pause = 500 * time.Microsecond // one pause, while the server is busy
	// LatePause is a pause past the deadline: the job catches up with
	// half the processor, in slices no longer than before. Running flat
	// out instead held every request in flight for the scheduler's 10 ms
	// preemption slice, several times a flush.
	LatePause = Slice
	// Probe is the most work an idle server's job does between two pauses
	// that look for requests. An idle server sleeps the shortest time the
	// runtime can (about a millisecond), so each probe costs that much;
	// the first probes come sooner (from firstProbe, doubling), so a busy
	// server taken for idle is not held up for long.
	Probe      = 10 * time.Millisecond
	firstProbe = time.Millisecond
	// checkEvery is how many ticks pass between two readings of the clock.
	checkEvery = 32
	// IdleAfter is how long no request must finish before the server
	// counts as idle. A busy server can finish none for several
	// milliseconds: its clients may all be between two requests, and the
	// runtime's background sweeper, which yields only to goroutines that
	// are already runnable, keeps the processor from the network poller
	// until sysmon polls, up to 10 ms later (go.dev/issue/56060). A job
	// that took such a gap for idleness ran in probes of 1 to 10 ms,
	// holding up every request in flight.
	IdleAfter = 20 * time.Millisecond
)

// A Pacer paces one run of a job. Make one per run with New; it is not
// safe for concurrent use.
type Pacer struct {
	served func() uint64 // moves whenever the server finishes a request
	until  time.Time     // after this it pauses only LatePause
	now    func() time.Time
	sleep  func(time.Duration)

	ticks int
	since time.Time     // the end of the last pause
	last  uint64        // served, as last read
	moved time.Time     // when served was last seen to move, or the start
	every time.Duration // the work between two probes, while idle
}

// New returns a Pacer for a job that starts now and should not be held
// back much past within. served counts the requests the server has
// finished; nil gives a Pacer that never pauses.
func New(served func() uint64, within time.Duration) *Pacer {
	now := time.Now()
	p := &Pacer{served: served, until: now.Add(within), now: time.Now, sleep: time.Sleep,
		since: now, moved: now, every: firstProbe}
	if served != nil {
		p.last = served()
	}
	return p
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
	p.check()
}

// Step marks a large unit of work done, one that may take a good part of
// a slice by itself (a shard of a table walked under its lock). It is
// Tick, but it reads the clock at once: after checkEvery such units a
// job would have held the processor for milliseconds.
func (p *Pacer) Step() {
	if p == nil || p.served == nil {
		return
	}
	p.check()
}

// check reads the clock and pauses if a slice of work is over and the
// server is busy.
func (p *Pacer) check() {
	p.ticks = 0
	now := p.now()
	p.observe(now)
	worked := now.Sub(p.since)
	idle := now.Sub(p.moved) >= IdleAfter
	if worked < Slice || (idle && worked < p.every) {
		return
	}
	pause := Pause
	if now.After(p.until) {
		pause = LatePause
	}
	p.sleep(pause)
	p.since = p.now()
	if !p.observe(p.since) && idle {
		p.every = min(2*p.every, Probe)
	}
}

// observe reads served at now and reports whether it moved since the
// last reading; a move makes the server busy.
func (p *Pacer) observe(now time.Time) bool {
	n := p.served()
	if n == p.last {
		return false
	}
	p.last, p.moved, p.every = n, now, firstProbe
	return true
}
