//go:build race

package server

// raceEnabled is whether the race detector is on: sync.Pool then drops
// some of what it is given, on purpose, so pooled code allocates.
const raceEnabled = true
