// Command kmsstandin serves the local-kms stand-in (internal/testenv/standin) on
// 127.0.0.1 for scripts: it prints the URL on stdout, then serves until its
// stdin closes or it gets SIGINT/SIGTERM. Test tooling only.
//
//	go run ./tools/kmsstandin -seed testdata/kms/seed.yaml
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

func main() {
	seed := flag.String("seed", "testdata/kms/seed.yaml", "local-kms seed YAML")
	dataDir := flag.String("data", "", "database directory (default: a temporary directory removed on exit)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("kmsstandin: ")

	b, err := os.ReadFile(*seed)
	if err != nil {
		log.Fatal(err)
	}
	k, err := standin.StartKMS(b, *dataDir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(k.URL)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-stop:
	case <-eof:
	}
	if err := k.Close(); err != nil {
		log.Fatal(err)
	}
}
