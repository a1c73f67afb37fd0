package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSharedHeaderValues checks that the header values shared by every
// response cannot be changed through one response: adding to one copies it.
func TestSharedHeaderValues(t *testing.T) {
	a, b := http.Header{}, http.Header{}
	setJSONHeaders(a)
	a["Retry-After"] = retryAfterValue(5)
	a.Add("Content-Type", "text/plain")
	a.Add("Retry-After", "7")
	setJSONHeaders(b)
	b["Retry-After"] = retryAfterValue(5)
	if got := b.Values("Content-Type"); len(got) != 1 || got[0] != "application/json" {
		t.Errorf("Content-Type after another response added to its own = %q", got)
	}
	if got := b.Values("Retry-After"); len(got) != 1 || got[0] != "5" {
		t.Errorf("Retry-After after another response added to its own = %q", got)
	}
}

func TestRetryAfterValue(t *testing.T) {
	for _, secs := range []int64{0, 1, 59, 60, 61, 3600, 86400} {
		if got := retryAfterValue(secs); len(got) != 1 || got[0] != strconv.FormatInt(secs, 10) {
			t.Errorf("retryAfterValue(%d) = %q", secs, got)
		}
	}
}

// TestWriteError_MatchesEncodingJSON checks the hand-written error body and
// headers of the refusals the hot path sends.
func TestWriteError_MatchesEncodingJSON(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct {
		err        error
		wantStatus int
		wantHeader map[string]string
	}{
		{errUnknownKey, 401, map[string]string{"WWW-Authenticate": `Bearer realm="keygate"`}},
		{errNoKey, 401, map[string]string{"WWW-Authenticate": `Bearer realm="keygate"`}},
		{errRateLimited("Rate limit exceeded: 5/min", 1500*time.Millisecond), 429, map[string]string{"Retry-After": "2"}},
		{errRateLimited("Daily limit exceeded: 20/day", 7*time.Hour), 429, map[string]string{"Retry-After": "25200"}},
		{errInvalid("message: must be %s <&>", "a string"), 400, nil},
	} {
		rec := httptest.NewRecorder()
		s.writeError(rec, httptest.NewRequest("POST", "/v1/chat", nil), tc.err)
		ae := apiErrorFor(tc.err)
		want := httptest.NewRecorder()
		writeJSON(want, ae.status, stdErrorBody{Error: ae.code, Detail: ae.detail})
		if rec.Code != tc.wantStatus || rec.Body.String() != want.Body.String() {
			t.Errorf("%v: %d %s, want %d %s", tc.err, rec.Code, rec.Body, tc.wantStatus, want.Body)
		}
		for name, v := range tc.wantHeader {
			if got := rec.Header().Get(name); got != v {
				t.Errorf("%v: %s %q, want %q", tc.err, name, got, v)
			}
		}
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("%v: Content-Type %q", tc.err, got)
		}
	}
}

// TestWriteError_UnknownKeyNoAllocs: answering a guessed key costs no
// allocation in writing the refusal.
func TestWriteError_UnknownKeyNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers under the race detector")
	}
	s := &Server{}
	w := &headerOnlyWriter{h: make(http.Header)}
	r := httptest.NewRequest("POST", "/v1/chat", nil)
	err := errUnauthorized("invalid API key")
	if allocs := testing.AllocsPerRun(100, func() { s.writeError(w, r, err) }); allocs != 0 {
		t.Errorf("%v allocations per 401, want 0", allocs)
	}
}

// TestRequestIDs_Unique takes ids from many goroutines: every one is new
// and has the process's prefix.
func TestRequestIDs_Unique(t *testing.T) {
	ids := newRequestIDs()
	const workers, each = 8, 500
	got := make([][]string, workers)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			for range each {
				hv := getHeaderValues()
				v := ids.next(hv)
				putHeaderValues(hv)
				if len(v) != 1 || cap(v) != 1 {
					t.Errorf("next() = %q with capacity %d, want one value of capacity one", v, cap(v))
					return
				}
				got[i] = append(got[i], v[0])
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool)
	for _, g := range got {
		for _, id := range g {
			if seen[id] || !strings.HasPrefix(id, ids.prefix) || !validRequestID(id) {
				t.Fatalf("id %q: repeated or malformed", id)
			}
			seen[id] = true
		}
	}
}

// TestHeaderValues_Immutable fills several blocks: every value given out
// keeps its text, and an Add to one leaves the next alone.
func TestHeaderValues_Immutable(t *testing.T) {
	hv := new(headerValues)
	var vals [][]string
	var want []string
	for i := range 3 * headerValsBlock {
		s := strings.Repeat(strconv.Itoa(i%10), 1+i%97)
		vals = append(vals, hv.value(hv.str([]byte(s))))
		want = append(want, s)
	}
	h := http.Header{"A": vals[0]}
	h.Add("A", "added")
	for i, v := range vals {
		if len(v) != 1 || v[0] != want[i] {
			t.Fatalf("value %d = %q, want %q", i, v, want[i])
		}
	}
}
