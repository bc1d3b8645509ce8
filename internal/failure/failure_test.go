package failure

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassify(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		reason    string
		permanent bool
	}{
		{"permanent", Permanent(ReasonPoolMismatch, cause), "pool_mismatch", true},
		{"retryable", Retryable(ReasonKMSUnavailable, cause), "kms_unavailable", false},
		{"wrapped", fmt.Errorf("decrypt: %w", Permanent(ReasonCiphertextInvalid, cause)), "ciphertext_invalid", true},
		{"unclassified", cause, "internal", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, permanent := Classify(tt.err)
			if reason != tt.reason || permanent != tt.permanent {
				t.Fatalf("Classify = %q, %v; want %q, %v", reason, permanent, tt.reason, tt.permanent)
			}
		})
	}
	if !errors.Is(Permanent(ReasonPoolMismatch, cause), cause) {
		t.Fatal("Permanent does not unwrap to its cause")
	}
}
