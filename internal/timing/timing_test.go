package timing

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWaitAddsUpConcurrently(t *testing.T) {
	ctx, w := WithWait(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); AddWait(ctx, time.Millisecond) }()
	}
	wg.Wait()
	if w.Total() != 10*time.Millisecond {
		t.Fatalf("total %v, want 10ms", w.Total())
	}
	AddWait(context.Background(), time.Hour) // no Wait: ignored, no panic
	if w.Total() != 10*time.Millisecond {
		t.Fatal("a wait without the collector's context was counted")
	}
}

func TestMSKeepsMicroseconds(t *testing.T) {
	if got := MS(1234567 * time.Nanosecond); got != 1.234 {
		t.Errorf("MS(1.234567ms) = %v, want 1.234", got)
	}
}
