package cli

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitErrorCarriesCodeThroughWrapping(t *testing.T) {
	inner := errors.New("--to ADDRESS is required")
	err := fmt.Errorf("read: %w", &ExitError{Code: 2, Err: inner})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 {
		t.Fatalf("errors.As lost the exit code: %v", err)
	}
	if !errors.Is(err, inner) || ee.Error() != inner.Error() {
		t.Errorf("the exit error must read as and unwrap to its cause")
	}
}
