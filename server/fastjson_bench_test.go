package server

import "testing"

// BenchmarkAppendJSONString escapes the strings of the hot path's bodies:
// a 429's detail, a chat message, a key id and a tier.
func BenchmarkAppendJSONString(b *testing.B) {
	strs := []string{"Daily limit exceeded: 1000/day", "hello, how are you today?", "key_01JDXR7Q4B8N6Z3V5W2Y9K0M1P", "basic"}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, s := range strs {
			buf = appendJSONString(buf, s)
		}
	}
}
