// Command execstamp is the bootstrap that make bench hands aws-lambda-rie,
// so that the real bootstrap can be timed from its process start: it
// writes the time (Unix nanoseconds) to $EXECSTAMP_FILE, points
// AWS_LAMBDA_RUNTIME_API at $EXECSTAMP_RUNTIME_API (the harness's recording
// proxy in front of RIE's Runtime API), and execs its arguments in its own
// place: same process, same environment otherwise.
//
//	aws-lambda-rie ... execstamp /path/to/bootstrap
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	now := time.Now().UnixNano()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: execstamp PROGRAM [ARG...]")
		os.Exit(2)
	}
	if f := os.Getenv("EXECSTAMP_FILE"); f != "" {
		if err := os.WriteFile(f, []byte(strconv.FormatInt(now, 10)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "execstamp:", err)
			os.Exit(1)
		}
	}
	api := os.Getenv("EXECSTAMP_RUNTIME_API")
	var env []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "EXECSTAMP_"):
		case api != "" && strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API="):
		default:
			env = append(env, kv)
		}
	}
	if api != "" {
		env = append(env, "AWS_LAMBDA_RUNTIME_API="+api)
	}
	err := syscall.Exec(os.Args[1], os.Args[1:], env)
	fmt.Fprintln(os.Stderr, "execstamp:", err)
	os.Exit(1)
}
