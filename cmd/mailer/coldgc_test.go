package main

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the garbage collector's target without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// A cold start runs with the raised target until the first event is
// handled, then with the one the process started with; an operator's GOGC
// is left alone.
func TestColdGC(t *testing.T) {
	start := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(start) })

	restore := coldGC(func(string) string { return "" })
	if got := gcPercent(); got != coldGCPercent {
		t.Fatalf("during the cold start GOGC is %d, want %d", got, coldGCPercent)
	}
	restore()
	if got := gcPercent(); got != 100 {
		t.Fatalf("after the first event GOGC is %d, want the starting 100", got)
	}
	// A later call (the second event) changes nothing, even if the target
	// was changed since.
	debug.SetGCPercent(150)
	restore()
	if got := gcPercent(); got != 150 {
		t.Fatalf("a second restore set GOGC to %d, want it left at 150", got)
	}

	debug.SetGCPercent(80) // as the runtime sets it from GOGC=80
	env := map[string]string{"GOGC": "80"}
	restore = coldGC(func(k string) string { return env[k] })
	if got := gcPercent(); got != 80 {
		t.Fatalf("with GOGC=80 in the environment the cold start set %d", got)
	}
	restore()
	if got := gcPercent(); got != 80 {
		t.Fatalf("with GOGC=80 in the environment restore set %d", got)
	}
}
