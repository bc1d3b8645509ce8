package idempotency

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Phenom-earth/phenom-mailer/internal/failure"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// These tests run against moto's DynamoDB on 127.0.0.1: the conditional
// writes are evaluated by a real server, not by this package.

func store(t *testing.T) (*Store, *time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := standin.MotoForTest(t)
	if err := m.CreateIdempotencyTable(ctx, "mailer-idempotency"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	return &Store{Client: m.DynamoClient(), Table: "mailer-idempotency", Now: func() time.Time { return now }}, &now
}

func TestClaimSentRelease(t *testing.T) {
	s, now := store(t)
	ctx := context.Background()
	if err := s.Claim(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	// A second delivery while the first is in progress.
	err := s.Claim(ctx, "k1")
	var d *DuplicateError
	if !errors.As(err, &d) || d.Status != StatusInProgress || !errors.Is(err, failure.ErrDuplicate) {
		t.Fatalf("second claim: %v, want in-progress duplicate", err)
	}
	if err := s.Sent(ctx, "k1", "0100-abc"); err != nil {
		t.Fatal(err)
	}
	err = s.Claim(ctx, "k1")
	if !errors.As(err, &d) || d.Status != StatusSent || d.MessageID != "0100-abc" {
		t.Fatalf("claim after sent: %v, want sent duplicate with the message id", err)
	}
	// Release never frees a sent key.
	if err := s.Release(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, "k1"); !errors.Is(err, failure.ErrDuplicate) {
		t.Fatalf("a sent key was freed by Release: %v", err)
	}
	// A failed send releases its claim; the retry can claim again.
	if err := s.Claim(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim(ctx, "k2"); err != nil {
		t.Fatalf("retry after release: %v", err)
	}
	// A claim whose delivery died is taken over after its lease.
	if err := s.Claim(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(DefaultLease + time.Second)
	if err := s.Claim(ctx, "k3"); err != nil {
		t.Fatalf("claim after the lease ran out: %v", err)
	}
}

func TestConcurrentClaimsOneWinner(t *testing.T) {
	s, _ := store(t)
	var wins, dups atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Claim(context.Background(), "same-event")
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, failure.ErrDuplicate):
				dups.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || dups.Load() != 19 {
		t.Fatalf("%d winners and %d duplicates, want 1 and 19", wins.Load(), dups.Load())
	}
}

func TestUnavailableTableIsAnError(t *testing.T) {
	s, _ := store(t)
	s.Table = "no-such-table"
	err := s.Claim(context.Background(), "k")
	if err == nil || errors.Is(err, failure.ErrDuplicate) {
		t.Fatalf("claim on a missing table: %v", err)
	}
}
