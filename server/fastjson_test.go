package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// stdChatReply is the reply as encoding/json wrote it before the
// hand-written encoder.
type stdChatReply struct {
	Reply string `json:"reply"`
	KeyID string `json:"key_id"`
	Tier  string `json:"tier"`
}

// stdEcho is handleEcho as it was, all encoding/json: the reference the
// hand-written path must match.
func (s *Server) stdEcho(w http.ResponseWriter, r *http.Request, e *keyEntry, t *tier) error {
	var req chatRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, stdChatReply{Reply: req.Message, KeyID: e.id, Tier: t.name})
	return nil
}

// bodyReader gives body to a handler in one of the ways a client can:
// whole, a byte at a time, or cut off with an error after it.
func bodyReader(body []byte, mode uint8) io.Reader {
	switch mode % 3 {
	case 1:
		return iotest.OneByteReader(bytes.NewReader(body))
	case 2:
		return io.MultiReader(bytes.NewReader(body), errReader{io.ErrUnexpectedEOF})
	}
	return bytes.NewReader(body)
}

// echoBoth answers body with handleEcho and with stdEcho, writing errors
// as the server does.
func echoBoth(t *testing.T, limit int64, body []byte, mode uint8) (got, want *httptest.ResponseRecorder) {
	s := &Server{cfg: Config{MaxBodyBytes: limit}}
	e, tr := &keyEntry{id: "key_<1>"}, &tier{name: "basic"}
	serve := func(h keyHandler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/v1/chat", bodyReader(body, mode))
		if err := h(rec, r, e, tr); err != nil {
			ae := apiErrorFor(err)
			rec.Code = ae.status
			writeJSON(rec, ae.status, stdErrorBody{Error: ae.code, Detail: ae.detail})
		}
		return rec
	}
	return serve(s.handleEcho), serve(s.stdEcho)
}

type stdErrorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

func checkSameAnswer(t *testing.T, body []byte, mode uint8, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code || got.Body.String() != want.Body.String() {
		t.Fatalf("body %q (mode %d):\n got %d %s\nwant %d %s", body, mode, got.Code, got.Body, want.Code, want.Body)
	}
	for _, h := range []string{"Content-Type", "X-Content-Type-Options"} {
		if got.Header().Get(h) != want.Header().Get(h) {
			t.Fatalf("body %q: %s %q, want %q", body, h, got.Header().Get(h), want.Header().Get(h))
		}
	}
}

// FuzzParseMessage checks that the echo's hand-written reading and
// writing answer every body exactly as encoding/json did: the same status,
// the same reply or error detail byte for byte, whether the body comes
// whole, a byte at a time or cut off by an error, under or over the cap.
func FuzzParseMessage(f *testing.F) {
	for _, seed := range []string{``, ` `, `{}`, `null`, `[]`, `"x"`, `{"message":"hello"}`,
		` {"message" : "a\nb\u00e9\ud83d\ude00\"\\\/\b\f\r\t" } `, `{"message":"a","message":"b"}`,
		`{"message":"a","message":null}`, `{"message":null}`, `{"Message":"x"}`, `{"mess\u0061ge":"x"}`,
		`{"message":1}`, `{"message":"x","other":1}`, `{"message":"x"}{}`, `{"message":"x"} x`,
		`{"message":"x",}`, `{"message":"\ud800"}`, `{"message":"\x01"}`, "{\"message\":\"\xff\"}",
		`{"message":"<&>` + "\u2028\u2029" + `"}`, `{"message":"` + strings.Repeat("é", 40) + `"}`,
		`{"message":"x"`, `{"message":"x"} 1`, `{"message":"\u0000"}`, `{"message":"\uD834\uDD1E"}`} {
		f.Add([]byte(seed), uint8(0), false)
		f.Add([]byte(seed), uint8(1), true)
		f.Add([]byte(seed), uint8(2), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, mode uint8, small bool) {
		limit := int64(1 << 16)
		if small {
			limit = 24
		}
		got, want := echoBoth(t, limit, body, mode)
		checkSameAnswer(t, body, mode, got, want)
	})
}

// FuzzAppendJSONString checks the hand-written string encoder against
// json.Marshal, for strings and byte slices alike.
func FuzzAppendJSONString(f *testing.F) {
	for _, seed := range []string{"", "plain", `"\`, "<a href='x'>&amp;</a>", "\u2028\u2029\u2027",
		"\x00\x01\b\f\n\r\t\x1f\x7f", "\xff\xfe", "é\xc3", "\xed\xa0\x80", "😀\xf0\x9f\x98"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		if got := appendJSONString(nil, []byte(s)); string(got) != string(want) {
			t.Fatalf("%q as bytes: got %s, want %s", s, got, want)
		}
		var reply, errBody bytes.Buffer
		if err := json.NewEncoder(&reply).Encode(stdChatReply{Reply: s, KeyID: s, Tier: s}); err != nil {
			t.Fatal(err)
		}
		if got := appendChatReply(nil, []byte(s), s, s); string(got) != reply.String() {
			t.Fatalf("%q: reply %s, want %s", s, got, reply.Bytes())
		}
		if err := json.NewEncoder(&errBody).Encode(stdErrorBody{Error: s, Detail: s}); err != nil {
			t.Fatal(err)
		}
		if got := appendErrorBody(nil, s, s); string(got) != errBody.String() {
			t.Fatalf("%q: error body %s, want %s", s, got, errBody.Bytes())
		}
	})
}

// TestHandleEcho_MatchesEncodingJSON runs the fuzz seeds and a few bodies
// at the edge of the cap through both echoes.
func TestHandleEcho_MatchesEncodingJSON(t *testing.T) {
	const limit = 24
	bodies := []string{
		`{"message":"0123456789"}`,  // exactly the cap
		`{"message":"01234567890"}`, // one byte over
		`{"message":"x"}          `, // over, by trailing space only
		`{"message":"x"}]         `, // trailing data under the cap, over it in all
		`{"message":"x`,             // cut short
		`{"message":1,  "x":"   "}`,
	}
	for _, b := range bodies {
		for mode := range uint8(3) {
			got, want := echoBoth(t, limit, []byte(b), mode)
			checkSameAnswer(t, []byte(b), mode, got, want)
		}
	}
}

// TestParseMessage_Recognised pins which bodies take the fast path, so
// that a change making it give up on the common case is noticed.
func TestParseMessage_Recognised(t *testing.T) {
	for _, tc := range []struct {
		body, msg string
		ok        bool
	}{
		{``, ``, true},
		{` {} `, ``, true},
		{`{"message":"hello"}`, `hello`, true},
		{`{"message":"a\n\"b\"\u00e9"}`, "a\n\"b\"\u00e9", true},
		{`{"message":"a","message":null}`, `a`, true},
		{`{"message":"\ud83d\ude00"}`, ``, false}, // surrogates: encoding/json's
		{`{"Message":"x"}`, ``, false},
		{`{"message":"x"}{}`, ``, false},
		{"{\"message\":\"\xff\"}", ``, false},
	} {
		msg, ok := parseMessage([]byte(tc.body))
		if ok != tc.ok || ok && string(msg) != tc.msg {
			t.Errorf("parseMessage(%q) = %q, %v; want %q, %v", tc.body, msg, ok, tc.msg, tc.ok)
		}
	}
}

// TestHandleEcho_NoAllocs is the point of the hand-written path: echoing
// a message costs no allocation once the buffers are pooled.
func TestHandleEcho_NoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops buffers under the race detector")
	}
	s := &Server{cfg: Config{MaxBodyBytes: 1 << 16}}
	e, tr := &keyEntry{id: "key_1"}, &tier{name: "basic"}
	w := &headerOnlyWriter{h: make(http.Header)}
	r := httptest.NewRequest("POST", "/v1/chat", nil)
	var body strings.Reader
	rc := io.NopCloser(&body)
	allocs := testing.AllocsPerRun(100, func() {
		body.Reset(`{"message":"hello \"there\""}`)
		r.Body = rc
		if err := s.handleEcho(w, r, e, tr); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per echo, want 0", allocs)
	}
}

type headerOnlyWriter struct{ h http.Header }

func (w *headerOnlyWriter) Header() http.Header         { return w.h }
func (w *headerOnlyWriter) WriteHeader(int)             {}
func (w *headerOnlyWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestReadBody reads bodies around the cap, whatever the buffer it starts
// with, including a cap too large to add one to.
func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		limit   int64
		wantLen int
	}{
		{1, 2}, {2999, 3000}, {3000, 3000}, {3001, 3000}, {1<<63 - 1, 3000},
	} {
		for _, start := range [][]byte{nil, make([]byte, 0, 1), make([]byte, 0, 4096)} {
			got, err := readBody(iotest.HalfReader(strings.NewReader(body)), tc.limit, start)
			if err != nil || len(got) != tc.wantLen || string(got) != body[:tc.wantLen] {
				t.Errorf("limit %d, cap %d: %d bytes, %v; want %d", tc.limit, cap(start), len(got), err, tc.wantLen)
			}
		}
	}
	got, err := readBody(iotest.DataErrReader(iotest.TimeoutReader(strings.NewReader(body))), 1<<20, nil)
	if !errors.Is(err, iotest.ErrTimeout) || len(got) == 0 {
		t.Errorf("failing body: %d bytes, %v", len(got), err)
	}
}
