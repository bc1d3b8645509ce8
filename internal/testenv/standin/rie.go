package standin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// RIE is aws-lambda-rie running one Lambda program (a bootstrap) on
// 127.0.0.1, taking invocations at InvokeURL.
type RIE struct {
	// InvokeURL is the emulator's Invoke endpoint,
	// http://127.0.0.1:PORT/2015-03-31/functions/function/invocations.
	InvokeURL string
	// Logs are the emulator's and the program's output.
	Logs *LockedBuffer
	cmd  *exec.Cmd
}

// StartRIE runs program under aws-lambda-rie with env added to this
// process's environment. An error wrapping ErrRIEMissing means the
// emulator is not installed.
func StartRIE(ctx context.Context, program string, env ...string) (*RIE, error) {
	rie, err := FindRIE()
	if err != nil {
		return nil, err
	}
	invokePort, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	invokeAddr := fmt.Sprintf("127.0.0.1:%d", invokePort)
	r := &RIE{
		InvokeURL: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		Logs:      &LockedBuffer{},
	}
	r.cmd = exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort), program)
	r.cmd.Env = append(append(os.Environ(),
		"AWS_REGION="+Region, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true"), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.Logs, r.Logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("standin: start aws-lambda-rie: %w", err)
	}
	for !ready(invokeAddr) {
		select {
		case <-ctx.Done():
			r.Close()
			return nil, fmt.Errorf("standin: aws-lambda-rie did not listen: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return r, nil
}

// Close stops the emulator and the program.
func (r *RIE) Close() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// RIEForTest runs program under aws-lambda-rie for one test. A missing
// emulator skips the test (fails it with CI=true).
func RIEForTest(t testing.TB, program string, env ...string) *RIE {
	t.Helper()
	if _, err := FindRIE(); err != nil {
		SkipOrFail(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := StartRIE(ctx, program, env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// FuncURLForTest starts the function URL stand-in for one test, in front of
// the Lambda whose invoke URL is given (RIE.InvokeURL), with the default
// test caller and credentials (CallerCredentials).
func FuncURLForTest(t testing.TB, invokeURL string) *FuncURL {
	t.Helper()
	f, err := StartFuncURL(FuncURLOptions{InvokeURL: invokeURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// EchoFuncURLForTest builds the test-only echo Lambda
// (testdata/echolambda: it answers with the event it got), runs it under
// aws-lambda-rie and puts the function URL stand-in in front of it: what a
// caller's test signs its requests against.
func EchoFuncURLForTest(t testing.TB) *FuncURL {
	t.Helper()
	if _, err := FindRIE(); err != nil {
		SkipOrFail(t, err)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./internal/testenv/standin/testdata/echolambda")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the echo Lambda: %v\n%s", err, out)
	}
	rie := RIEForTest(t, bin)
	return FuncURLForTest(t, rie.InvokeURL)
}
