package storage_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/storage"
)

// testEvent returns a valid event whose action names i and whose time is
// t0 plus i minutes.
func testEvent(i int) storage.Event {
	return storage.Event{
		Time: t0.Add(time.Duration(i) * time.Minute), ActorID: "u1",
		Action: fmt.Sprintf("test.%d", i), TargetID: "k1", IP: "192.0.2.1",
	}
}

// appendEvents appends the given events in order and returns them with ids.
func appendEvents(t testing.TB, db *storage.DB, events ...storage.Event) []storage.Event {
	t.Helper()
	out := make([]storage.Event, 0, len(events))
	for _, e := range events {
		got, err := db.AppendEvent(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got)
	}
	return out
}

// actions returns the actions of events, in order.
func actions(events []storage.Event) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

func TestDB_AppendEvent(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	in := testEvent(1)
	in.ID = "evt_ignored"
	in.Time = in.Time.In(time.FixedZone("+02", 2*3600))
	anon := storage.Event{Time: t0, Action: "user.login_failed", IP: "192.0.2.9"}
	got := appendEvents(t, db, in, anon)
	if got[0].ID != "evt_0000000000000001" || got[1].ID != "evt_0000000000000002" {
		t.Errorf("ids = %q, %q", got[0].ID, got[1].ID)
	}
	want := testEvent(1)
	want.ID = got[0].ID
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("returned %+v, want %+v (UTC)", got[0], want)
	}
	stored, err := reopen(t, db).Events(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, []storage.Event{got[1], got[0]}) {
		t.Errorf("after reopen Events = %+v, want %+v newest first", stored, got)
	}
}

func TestDB_AppendEvent_Errors(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	noAction, noTime := testEvent(1), testEvent(1)
	noAction.Action, noTime.Time = "", time.Time{}
	tests := []struct {
		name    string
		ctx     context.Context
		event   storage.Event
		wantErr error
	}{
		{"empty action", ctx, noAction, storage.ErrInvalid},
		{"zero time", ctx, noTime, storage.ErrInvalid},
		{"cancelled", cancelled, testEvent(1), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			if _, err := db.AppendEvent(tc.ctx, tc.event); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if events, _ := db.Events(ctx, "", 0); len(events) != 0 {
				t.Errorf("failed append stored %v", events)
			}
		})
	}
}

// appendConcurrently appends n events from n goroutines and returns their ids.
func appendConcurrently(t *testing.T, db *storage.DB, n int) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var e storage.Event
			e, errs[i] = db.AppendEvent(context.Background(), testEvent(i))
			ids[i] = e.ID
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestDB_AppendEvent_Concurrent(t *testing.T) {
	db := openTestDB(t)
	ids := appendConcurrently(t, db, 50)
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != 50 {
		t.Fatalf("ids not distinct: %v", ids)
	}
	events, err := reopen(t, db).Events(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	stored := []string{}
	for _, e := range events {
		stored = append(stored, e.ID)
	}
	slices.Reverse(stored)
	if !reflect.DeepEqual(stored, ids) {
		t.Errorf("stored ids %v, want the returned ids %v", stored, ids)
	}
}

func TestDB_Events_Paging(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	appended := appendConcurrently(t, db, 120)
	db = reopen(t, db)
	var seen []string
	before := ""
	for page := 0; ; page++ {
		events, err := db.Events(ctx, before, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			break
		}
		if want := []int{50, 50, 20}; page >= len(want) || len(events) != want[page] {
			t.Fatalf("page %d has %d events", page, len(events))
		}
		for _, e := range events {
			seen = append(seen, e.ID)
		}
		before = events[len(events)-1].ID
	}
	// Ids sort by age, so newest first is descending id order.
	want := slices.Clone(appended)
	slices.Sort(want)
	slices.Reverse(want)
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("pages gave %d ids %v, want %d newest first %v", len(seen), seen, len(want), want)
	}
}

func TestDB_Events(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	var in []storage.Event
	for i := range 60 {
		in = append(in, testEvent(i))
	}
	ev := appendEvents(t, db, in...)
	newest := func(from, n int) []string { // actions of ev[from], ev[from-1], ... n of them
		out := []string{}
		for i := from; i > from-n && i >= 0; i-- {
			out = append(out, ev[i].Action)
		}
		return out
	}
	tests := []struct {
		name    string
		before  string
		limit   int
		want    []string
		wantErr error
	}{
		{"malformed", "42", 10, nil, storage.ErrInvalid},
		{"prefix only", "evt_", 10, nil, storage.ErrInvalid},
		{"short", "evt_001", 10, nil, storage.ErrInvalid},
		{"upper-case hex", "evt_000000000000000A", 10, nil, storage.ErrInvalid},
		{"not hex", "evt_00000000000000zz", 10, nil, storage.ErrInvalid},
		{"newest", "", 3, newest(59, 3), nil},
		{"default limit 50", "", 0, newest(59, 50), nil},
		{"negative limit is 50", "", -1, newest(59, 50), nil},
		{"before an existing id", ev[10].ID, 3, newest(9, 3), nil},
		{"before a pruned or future id", "evt_00000000000000ff", 2, newest(59, 2), nil},
		{"before the oldest", ev[0].ID, 10, []string{}, nil},
		{"before id zero", "evt_0000000000000000", 10, []string{}, nil},
		{"short last page", ev[3].ID, 10, newest(2, 3), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Events(ctx, tc.before, tc.limit)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !reflect.DeepEqual(actions(got), tc.want) {
				t.Errorf("actions = %v, want %v", actions(got), tc.want)
			}
		})
	}
}

func TestDB_PruneEvents(t *testing.T) {
	ctx := context.Background()
	// Ten events appended in order 0..9; event 7's clock stepped back an hour,
	// so it is older than all others though its id is newer.
	var in []storage.Event
	for i := range 10 {
		in = append(in, testEvent(i))
	}
	in[7].Time = t0.Add(-time.Hour)
	tests := []struct {
		name      string
		keep      int
		olderThan time.Time
		want      []string // remaining actions, newest first
	}{
		{"no limits", 0, time.Time{}, []string{"test.9", "test.8", "test.7", "test.6", "test.5", "test.4", "test.3", "test.2", "test.1", "test.0"}},
		{"keep more than stored", 20, time.Time{}, []string{"test.9", "test.8", "test.7", "test.6", "test.5", "test.4", "test.3", "test.2", "test.1", "test.0"}},
		{"keep newest 3", 3, time.Time{}, []string{"test.9", "test.8", "test.7"}},
		{"negative keep is no limit", -1, t0.Add(5 * time.Minute), []string{"test.9", "test.8", "test.6", "test.5"}},
		{"by age, not by id", 0, t0.Add(5 * time.Minute), []string{"test.9", "test.8", "test.6", "test.5"}},
		{"time equal to cutoff is kept", 0, t0, []string{"test.9", "test.8", "test.6", "test.5", "test.4", "test.3", "test.2", "test.1", "test.0"}},
		{"both limits", 5, t0.Add(6 * time.Minute), []string{"test.9", "test.8", "test.6"}},
		{"everything by age", 0, t0.Add(time.Hour), []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			appendEvents(t, db, in...)
			n, err := db.PruneEvents(ctx, tc.keep, tc.olderThan)
			if err != nil || n != len(in)-len(tc.want) {
				t.Fatalf("PruneEvents = %d, %v; want %d", n, err, len(in)-len(tc.want))
			}
			got, err := reopen(t, db).Events(ctx, "", 0)
			if err != nil || !reflect.DeepEqual(actions(got), tc.want) {
				t.Errorf("remaining = %v, %v; want %v", actions(got), err, tc.want)
			}
		})
	}
}

func TestDB_PruneEvents_ThenAppend(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	old := appendEvents(t, db, testEvent(1), testEvent(2))
	if n, err := db.PruneEvents(ctx, 0, t0.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("PruneEvents = %d, %v; want 2", n, err)
	}
	// Sequences are never reused, so an old cursor cannot point into new events.
	e := appendEvents(t, reopen(t, db), testEvent(3))[0]
	if !strings.HasPrefix(e.ID, "evt_") || e.ID <= old[1].ID {
		t.Errorf("new id %q not after pruned %q", e.ID, old[1].ID)
	}
}

// BenchmarkAppendEvent appends from many goroutines at once, as a busy
// server would; "solo" runs one per CPU, where each append mostly waits out
// bbolt's batch delay.
func BenchmarkAppendEvent(b *testing.B) {
	for _, p := range []struct {
		name        string
		parallelism int
	}{{"solo", 1}, {"x32", 32}} {
		b.Run(p.name, func(b *testing.B) { benchmarkAppendEvent(b, p.parallelism) })
	}
}

func benchmarkAppendEvent(b *testing.B, parallelism int) {
	db := openTestDB(b)
	e := testEvent(1)
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.AppendEvent(context.Background(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
