package pace

import (
	"testing"
	"time"
)

// fakeServer is a clock, a sleep that moves it, and a served counter
// that moves during a sleep only while the server is busy.
type fakeServer struct {
	clock  time.Time
	served uint64
	busy   bool
	sleeps int
}

// pacer returns a Pacer on s's clock for a job that may be held back for
// within.
func (s *fakeServer) pacer(within time.Duration) *Pacer {
	p := New(func() uint64 { return s.served }, within)
	p.now = func() time.Time { return s.clock }
	p.sleep = func(d time.Duration) {
		s.sleeps++
		s.clock = s.clock.Add(d)
		if s.busy {
			s.served += 3
		}
	}
	p.since, p.until = s.clock, s.clock.Add(within)
	return p
}

// work runs a job of d (not counting its pauses) that ticks every step
// on p.
func (s *fakeServer) work(p *Pacer, d, step time.Duration) {
	for range d / step {
		s.clock = s.clock.Add(step)
		p.Tick()
	}
}

func TestPacer_BusyServerGetsMostOfTheProcessor(t *testing.T) {
	s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
	p := s.pacer(time.Minute)
	s.work(p, 60*time.Millisecond, time.Microsecond)
	// One pause a slice; the clock is read every checkEvery ticks, so a
	// slice may run that much longer.
	slices := int(60 * time.Millisecond / Slice)
	if s.sleeps < slices*2/3 || s.sleeps > slices {
		t.Errorf("%d pauses in 60ms of work, want about %d", s.sleeps, slices)
	}
}

func TestPacer_IdleServerOnlyProbes(t *testing.T) {
	s := &fakeServer{clock: time.Unix(1000, 0)}
	p := s.pacer(time.Minute)
	s.work(p, 100*time.Millisecond, time.Microsecond)
	// The first idleAfter pauses find the server idle; then probes after
	// 1, 2, 4, 8 ms of work, then one every Probe.
	if want := idleAfter + 4 + int((100*time.Millisecond-15*time.Millisecond)/Probe); s.sleeps < want-2 || s.sleeps > want+1 {
		t.Errorf("%d pauses in 100ms of work on an idle server, want about %d", s.sleeps, want)
	}
}

func TestPacer_BecomesBusy(t *testing.T) {
	s := &fakeServer{clock: time.Unix(1000, 0)}
	p := s.pacer(time.Minute)
	s.work(p, 30*time.Millisecond, time.Microsecond)
	idle := s.sleeps
	s.busy = true
	s.work(p, 30*time.Millisecond, time.Microsecond)
	// Within one probe it notices, then pauses every slice.
	if got, least := s.sleeps-idle, int((30*time.Millisecond-Probe)/Slice)*2/3; got < least {
		t.Errorf("%d pauses in 30ms of work once the server is busy, want at least %d", got, least)
	}
}

// A busy server that finishes nothing in one pause is still busy.
func TestPacer_OneQuietPauseIsNotIdle(t *testing.T) {
	s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
	p := s.pacer(time.Minute)
	s.work(p, 10*time.Millisecond, time.Microsecond)
	s.busy = false
	before := s.sleeps
	s.work(p, 2*Slice, time.Microsecond) // one pause, in which nothing finishes
	s.busy = true
	s.work(p, 10*time.Millisecond, time.Microsecond)
	if got, least := s.sleeps-before, int(10*time.Millisecond/Slice)*2/3; got < least {
		t.Errorf("%d pauses in 10ms of work after one quiet pause, want at least %d", got, least)
	}
}

func TestPacer_StopsPausingAtTheDeadline(t *testing.T) {
	s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
	p := s.pacer(10 * time.Millisecond)
	s.work(p, 200*time.Millisecond, time.Microsecond)
	// Pauses move the clock too, so the deadline comes after fewer than
	// 10ms/(Slice+Pause) of them.
	if limit := int(10 * time.Millisecond / (Slice + Pause)); s.sleeps == 0 || s.sleeps > limit {
		t.Errorf("%d pauses with a 10ms deadline, want between 1 and %d", s.sleeps, limit)
	}
}

func TestPacer_NilNeverPauses(t *testing.T) {
	var p *Pacer
	p.Tick() // no panic
	// Without a counter of requests it never sleeps, however long the job.
	s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
	q := s.pacer(time.Minute)
	q.served = nil
	s.work(q, 100*time.Millisecond, time.Microsecond)
	if s.sleeps != 0 {
		t.Errorf("a Pacer without a counter paused %d times", s.sleeps)
	}
}
