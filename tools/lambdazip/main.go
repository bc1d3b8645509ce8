// Command lambdazip writes a Lambda deployment zip whose bytes depend only on
// the files' contents: fixed order, fixed modes, fixed timestamps, no extra
// fields. Two clean builds of the same source give the same zip.
//
//	go run ./tools/lambdazip -o dist/lambda.zip dist/bootstrap
//
// It reports the zip's size, its SHA-256 and the base64 SHA-256 that
// Terraform's filebase64sha256 computes for source_code_hash, so that a
// drifting plan can be compared with a local build at a glance.
package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lambdazip:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lambdazip", flag.ContinueOnError)
	out := fs.String("o", "", "zip to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return errors.New("usage: lambdazip -o OUT.zip FILE...")
	}
	files := append([]string(nil), fs.Args()...)
	sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for i := 1; i < len(files); i++ {
		if filepath.Base(files[i]) == filepath.Base(files[i-1]) {
			return fmt.Errorf("%s and %s would both be %s in the zip", files[i-1], files[i], filepath.Base(files[i]))
		}
	}
	epoch := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: filepath.Base(f), Method: zip.Deflate, Modified: epoch}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	fmt.Fprintf(stdout, "%s: %d bytes, sha256 %s, source_code_hash %s\n",
		*out, buf.Len(), hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:]))
	return nil
}
