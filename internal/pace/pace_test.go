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
	pauses []time.Duration // each sleep's length
	woke   time.Time       // the end of the last sleep
	most   time.Duration   // the longest work between two sleeps
}

// pacer returns a Pacer on s's clock for a job that may be held back for
// within.
func (s *fakeServer) pacer(within time.Duration) *Pacer {
	p := New(func() uint64 { return s.served }, within)
	p.now = func() time.Time { return s.clock }
	p.sleep = func(d time.Duration) {
		s.sleeps++
		s.pauses = append(s.pauses, d)
		s.most = max(s.most, s.clock.Sub(s.woke))
		s.clock = s.clock.Add(d)
		s.woke = s.clock
		if s.busy {
			s.served += 3
		}
	}
	p.since, p.moved, p.until, s.woke = s.clock, s.clock, s.clock.Add(within), s.clock
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
	// For IdleAfter it paces as if busy, a slice of work a pause; then
	// it probes after 1, 2, 4, 8 ms of work, then one every Probe.
	busy := int(IdleAfter / (Slice + checkEvery*time.Microsecond + Pause))
	worked := time.Duration(busy) * Slice
	want := busy + 4 + int((100*time.Millisecond-worked-15*time.Millisecond)/Probe)
	if s.sleeps < want-3 || s.sleeps > want+3 {
		t.Errorf("%d pauses in 100ms of work on an idle server, want about %d", s.sleeps, want)
	}
	if s.most < Probe {
		t.Errorf("the longest work between pauses on an idle server was %v, want %v", s.most, Probe)
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

// A busy server that finishes nothing for a while shorter than IdleAfter
// is still busy: the job keeps to its slices. Such gaps happen when the
// runtime's sweeper keeps the network poller from running.
func TestPacer_ShortGapIsNotIdle(t *testing.T) {
	for _, gap := range []time.Duration{Slice, 2 * Pause, 10 * time.Millisecond, IdleAfter - 2*(Slice+Pause)} {
		s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
		p := s.pacer(time.Minute)
		s.work(p, 10*time.Millisecond, time.Microsecond)
		s.busy = false
		gapEnd := s.clock.Add(gap)
		for s.clock.Before(gapEnd) {
			s.work(p, time.Microsecond, time.Microsecond)
		}
		s.busy = true
		s.work(p, 10*time.Millisecond, time.Microsecond)
		if limit := Slice + checkEvery*time.Microsecond; s.most > limit {
			t.Errorf("gap %v: %v of work between two pauses, want at most %v", gap, s.most, limit)
		}
	}
}

// Past the deadline the job still pauses after every slice, only for
// less time: it catches up without holding the processor.
func TestPacer_PausesLessPastTheDeadline(t *testing.T) {
	s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
	p := s.pacer(10 * time.Millisecond)
	s.work(p, 60*time.Millisecond, time.Microsecond)
	var long, short int
	for _, d := range s.pauses {
		switch d {
		case Pause:
			long++
		case LatePause:
			short++
		default:
			t.Fatalf("a pause of %v", d)
		}
	}
	// Pauses move the clock too, so the deadline comes after fewer than
	// 10ms/(Slice+Pause) of them.
	if limit := int(10 * time.Millisecond / (Slice + Pause)); long == 0 || long > limit+1 {
		t.Errorf("%d full pauses before a 10ms deadline, want between 1 and %d", long, limit+1)
	}
	if slices := int(60 * time.Millisecond / Slice); long+short < slices*2/3 {
		t.Errorf("%d pauses in 60ms of work, want about %d", long+short, slices)
	}
	if limit := Slice + checkEvery*time.Microsecond; s.most > limit {
		t.Errorf("%v of work between two pauses, want at most %v", s.most, limit)
	}
}

// A job of large units, each a good part of a slice, still pauses after
// every slice when it marks them with Step; with Tick, checkEvery units
// would pass between two looks at the clock.
func TestPacer_StepLooksAtTheClockEveryUnit(t *testing.T) {
	const unit = 40 * time.Microsecond
	s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
	p := s.pacer(time.Minute)
	for range 250 {
		s.clock = s.clock.Add(unit)
		p.Step()
	}
	if limit := Slice + unit; s.most > limit {
		t.Errorf("%v of work between two pauses, want at most %v", s.most, limit)
	}
	if want := int(250 * unit / (Slice + unit)); s.sleeps < want {
		t.Errorf("%d pauses in %v of work, want at least %d", s.sleeps, 250*unit, want)
	}
}

func TestPacer_NilNeverPauses(t *testing.T) {
	var p *Pacer
	p.Tick() // no panic
	p.Step()
	// Without a counter of requests it never sleeps, however long the job.
	s := &fakeServer{clock: time.Unix(1000, 0), busy: true}
	q := s.pacer(time.Minute)
	q.served = nil
	s.work(q, 100*time.Millisecond, time.Microsecond)
	if s.sleeps != 0 {
		t.Errorf("a Pacer without a counter paused %d times", s.sleeps)
	}
}
