package receivers

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
)

//go:embed dkimpy.py
var dkimpyPy string

// DKIMResult is an independent verifier's verdict on a mail's first DKIM
// signature.
type DKIMResult struct {
	Pass     bool   `json:"pass"`
	Domain   string `json:"domain"`   // d=
	Selector string `json:"selector"` // s=
	Reason   string `json:"reason"`   // why it did not pass
}

// DKIMPy verifies DKIM with dkimpy (Debian's python3-dkim), a verifier
// independent of the go-msgauth the mailer signs with.
type DKIMPy struct {
	// Python is Debian's python3, which sees Debian's python3-dkim
	// (/usr/bin/python3 when empty; a pyenv python3 first on PATH does not).
	Python string
}

// Verify checks the first DKIM signature of each mail, in one dkimpy
// process; the results are in the order of mails. keys maps
// "<selector>._domainkey.<domain>" to its TXT record (see TXTRecord); they
// stand in for DNS, so nothing is looked up on the network. A missing
// python3 or dkimpy is a *MissingError.
func (v DKIMPy) Verify(ctx context.Context, mails [][]byte, keys map[string]string) ([]DKIMResult, error) {
	py := v.Python
	if py == "" {
		py = "/usr/bin/python3"
	}
	missing := &MissingError{Tool: "python3-dkim", Fix: "apt-get install python3-dkim, or make deps"}
	if _, err := exec.LookPath(py); err != nil {
		return nil, missing
	}
	dir, err := os.MkdirTemp("", "mailer-dkimpy-")
	if err != nil {
		return nil, fmt.Errorf("dkimpy: %w", err)
	}
	defer os.RemoveAll(dir)
	names, err := writeMails(dir, mails, nil)
	if err != nil {
		return nil, fmt.Errorf("dkimpy: %w", err)
	}
	in, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("dkimpy: %w", err)
	}
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", dkimpyPy}, names...)...)
	cmd.Stdin = bytes.NewReader(in)
	stdout, err := runJudge(cmd, "dkimpy", missing)
	if err != nil {
		return nil, err
	}
	var out []DKIMResult
	dec := json.NewDecoder(bytes.NewReader(stdout))
	for dec.More() {
		var res DKIMResult
		if err := dec.Decode(&res); err != nil {
			return nil, fmt.Errorf("dkimpy: unexpected output: %w", err)
		}
		out = append(out, res)
	}
	if len(out) != len(mails) {
		return nil, fmt.Errorf("dkimpy: %d verdicts for %d mails", len(out), len(mails))
	}
	return out, nil
}

// TXTRecord is the DKIM key record (RFC 6376 3.6.1) publishing pub, as
// the DNS TXT record at <selector>._domainkey.<domain> would hold it.
func TXTRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", fmt.Errorf("dkim key record: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("dkim key record: unsupported key type %T", pub)
}
