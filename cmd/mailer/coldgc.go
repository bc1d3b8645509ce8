package main

import (
	"runtime/debug"
	"sync"
)

// coldGCPercent is the garbage collector's target (GOGC) from process
// start until the first event has been handled.
const coldGCPercent = 400

// coldGC raises the garbage collector's target for a cold start and returns
// the function that puts it back, which the caller runs once the first event
// has been handled (later calls do nothing).
//
// The Go runtime's first heap goal is 4 MB, and a cold start allocates more
// than that before its first mail is sent: the package inits, the AWS
// clients, the parsed template, the Encryption SDK's materials. The cycles
// that run then find almost nothing to free, as all of it is still in use,
// and they take CPU from the cold path: a cold `mailer invoke` used about a
// fifth less CPU with GOGC=400 on the bench machine (docs/benchmarks.md,
// "Cold start"), and a Lambda of 256 MB has a fraction of a vCPU. From the
// second event on, the process runs with the target it started with.
//
// An operator's GOGC in the environment stands: coldGC then changes nothing.
func coldGC(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(coldGCPercent)
	var once sync.Once
	return func() { once.Do(func() { debug.SetGCPercent(prev) }) }
}
