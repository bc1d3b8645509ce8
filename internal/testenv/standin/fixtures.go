package standin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

const modulePath = "github.com/Phenom-earth/phenom-mailer"

// Paths inside the repository.
const (
	// SeedPath is the KMS seed file, relative to the repository root.
	SeedPath = "testdata/kms/seed.yaml"
	// FixturesPath is the committed ciphertext fixtures file.
	FixturesPath = "testdata/ciphertexts/fixtures.json"
	// EventsDir holds one event fixture per trigger, <Trigger>.json.
	EventsDir = "testdata/events"
	// NodeScript is the Node program that mints ciphertexts.
	NodeScript = "scripts/gen-ciphertexts.mjs"
)

// Suites of the fixtures.
const (
	// SuiteCognito is 0x0378 (AES-256-GCM, HKDF-SHA384, ECDSA P-384,
	// message format v1, not committing): what Cognito sends.
	SuiteCognito = "0x0378"
	// SuiteCommitting is 0x0578 (committing, message format v2): what
	// cognito-local sends, with no encryption context.
	SuiteCommitting = "0x0578"
)

// Fixture is one entry of testdata/ciphertexts/fixtures.json.
type Fixture struct {
	Name string `json:"name"`
	// Suite is "0x0378" or "0x0578".
	Suite string `json:"suite"`
	// Pool is the userpool-id in the encryption context, "" if there is no
	// encryption context (beyond the SDK's aws-crypto-public-key).
	Pool string `json:"pool"`
	// KeyID is the KMS key id (not the ARN) the data key is wrapped under.
	KeyID string `json:"key_id"`
	// Plaintext is what the message decrypts to. For admin-temp-password it
	// is HTML-escaped as Cognito does ("Tmp&lt;Pass&gt;9!x").
	Plaintext string `json:"plaintext"`
	// Ciphertext is the base64 Encryption SDK message (the event's code).
	Ciphertext string `json:"ciphertext"`
}

// KeyARN is the ARN of the fixture's key on the stand-ins.
func (f Fixture) KeyARN() string { return KeyARN(f.KeyID) }

// CiphertextBytes decodes Ciphertext.
func (f Fixture) CiphertextBytes() ([]byte, error) {
	return base64.StdEncoding.DecodeString(f.Ciphertext)
}

// NodeCase asks EncryptWithNode for one ciphertext.
type NodeCase struct {
	Name string `json:"name"`
	// Suite is SuiteCognito or SuiteCommitting.
	Suite string `json:"suite"`
	// Pool, when not empty, becomes the encryption context
	// {"userpool-id": Pool}.
	Pool string `json:"pool"`
	// KeyID is a key id or a full key ARN.
	KeyID     string `json:"key_id"`
	Plaintext string `json:"plaintext"`
}

// LoadFixtures reads a fixtures file (FixturesPath). A relative path is
// taken as is (relative to the working directory).
func LoadFixtures(path string) ([]Fixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var fs []Fixture
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, fmt.Errorf("standin: parse %s: %w", path, err)
	}
	return fs, nil
}

// FixtureByName returns the fixture called name.
func FixtureByName(fs []Fixture, name string) (Fixture, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return Fixture{}, false
}

// RepoRoot finds the repository root: the nearest directory at or above the
// working directory (then above this source file) whose go.mod declares
// this module.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isModuleRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("standin: repository root (go.mod of " + modulePath + ") not found")
}

func isModuleRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "module ") {
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module")), `"`) == modulePath
		}
	}
	return false
}

// RepoFile is RepoRoot joined with a slash-separated relative path.
func RepoFile(rel string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}

// LoadSeed reads the repository's KMS seed file (SeedPath), for StartKMS.
func LoadSeed() ([]byte, error) {
	p, err := RepoFile(SeedPath)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// ErrNodeESDKMissing means node or node_modules/@aws-crypto/client-node is
// not installed (run npm ci at the repository root). Callers decide between
// skipping and failing.
var ErrNodeESDKMissing = errors.New("standin: node or node_modules/@aws-crypto/client-node missing (run `npm ci` in the repository root)")

// EncryptWithNode mints one ciphertext per case with the JavaScript
// Encryption SDK (@aws-crypto/client-node) through the KMS stand-in at
// kmsURL (which must be http://127.0.0.1:PORT), by running
// scripts/gen-ciphertexts.mjs --stdin. An error wrapping ErrNodeESDKMissing
// means the Node side is not installed.
func EncryptWithNode(ctx context.Context, kmsURL string, cases []NodeCase) ([]Fixture, error) {
	if !strings.HasPrefix(kmsURL, "http://127.0.0.1:") {
		return nil, fmt.Errorf("standin: EncryptWithNode wants a 127.0.0.1 KMS stand-in, got %q", kmsURL)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@aws-crypto", "client-node", "package.json")); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNodeESDKMissing, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNodeESDKMissing, err)
	}
	in, err := json.Marshal(cases)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, filepath.FromSlash(NodeScript)), "--stdin", "--kms-endpoint", kmsURL)
	cmd.Dir = root
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("standin: %s --stdin: %v: %s", NodeScript, err, strings.TrimSpace(stderr.String()))
	}
	var out []Fixture
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("standin: %s --stdin output: %w", NodeScript, err)
	}
	if len(out) != len(cases) {
		return nil, fmt.Errorf("standin: %s returned %d fixtures for %d cases", NodeScript, len(out), len(cases))
	}
	return out, nil
}
