package auth_test

import (
	"io"
	"time"
)

// seqReader yields the bytes 0, 1, 2, ..., 255, 0, 1, ... forever, so the
// output of the random helpers is predictable.
type seqReader struct{ next byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// constReader yields the same byte forever.
type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// failReader always fails.
type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// t0 is the fixed clock of the tests.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const testSecret = "0123456789abcdef0123456789abcdef" // 32 bytes
