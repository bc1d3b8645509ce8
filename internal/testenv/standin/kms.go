// Package standin holds real servers that stand in for AWS on 127.0.0.1, for
// tests and the local demo; it is never used in production.
//
// StartKMS serves local-kms (github.com/nsmithuk/local-kms) with fixed key
// material from a seed file, StartMoto runs moto_server behind a small
// correcting proxy, and EncryptWithNode mints Cognito-shaped ciphertexts
// with the independent JavaScript Encryption SDK. Every listener binds
// 127.0.0.1 only.
//
// Test support: no shipped package may import it (internal/arch_test.go). It
// may read the environment (CI=true, what its child servers inherit): it is
// the tests' boundary, as cmd/ is the shipped code's.
package standin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/nsmithuk/local-kms/src/cmk"
	kmsconfig "github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
	"github.com/nsmithuk/local-kms/src/handler"
	"github.com/sirupsen/logrus"
	"gopkg.in/yaml.v2"
)

// Account and Region of every stand-in.
const (
	Account = "111122223333"
	Region  = "us-east-1"
)

// Keys of testdata/kms/seed.yaml.
const (
	// StagingKeyID is the key of the phenom-staging pool (StagingPool).
	StagingKeyID = "0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e01"
	// DevLocalKeyID is the key of the phenom-dev-local pool (DevLocalPool).
	DevLocalKeyID = "0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e02"
	// OtherKeyID is a seeded key the mailer is never configured with.
	OtherKeyID = "0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e09"
)

// Test user pools.
const (
	StagingPool  = "us-east-1_n8gO6SbP6"
	DevLocalPool = "us-east-1_AkG9mnbjA"
)

// KeyARN is the ARN of a stand-in key id (account Account, region Region).
func KeyARN(keyID string) string {
	return "arn:aws:kms:" + Region + ":" + Account + ":key/" + keyID
}

// KMS is a local-kms server on 127.0.0.1.
type KMS struct {
	// URL is "http://127.0.0.1:PORT": the AWS_ENDPOINT_URL_KMS of a client.
	URL string

	srv     *http.Server
	db      *data.Database
	tmpDir  string
	closeMu sync.Once
	done    chan struct{}
}

// KeyARN is the ARN of keyID on this server.
func (k *KMS) KeyARN(keyID string) string { return KeyARN(keyID) }

var configOnce sync.Once

// local-kms keeps its account, region and database path in package
// globals that its handlers read on every request. They are set once per
// process (to the same account and region for every server) so that
// concurrent servers never race on them. config.DatabasePath is only read
// by local-kms's own Run, which is never called; it keeps the first value.
func setKMSConfig(dataDir string) {
	configOnce.Do(func() {
		kmsconfig.AWSAccountId = Account
		kmsconfig.AWSRegion = Region
		kmsconfig.DatabasePath = dataDir
	})
}

// StartKMS starts local-kms on a fresh 127.0.0.1 port with the keys and
// aliases of seedYAML (local-kms's seed format; testdata/kms/seed.yaml).
// dataDir holds its LevelDB database; "" uses a temporary directory that
// Close removes. Keys already in an existing database are kept.
func StartKMS(seedYAML []byte, dataDir string) (*KMS, error) {
	tmp := ""
	if dataDir == "" {
		d, err := os.MkdirTemp("", "standin-kms-")
		if err != nil {
			return nil, err
		}
		dataDir, tmp = d, d
	}
	cleanup := func() {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}
	setKMSConfig(dataDir)

	db, err := openDatabase(dataDir)
	if err != nil {
		cleanup()
		return nil, err
	}
	if err := seedKMS(db, seedYAML); err != nil {
		db.Close()
		cleanup()
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		cleanup()
		return nil, err
	}
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	logger.SetLevel(logrus.PanicLevel)

	k := &KMS{
		URL:    "http://" + ln.Addr().String(),
		db:     db,
		tmpDir: tmp,
		done:   make(chan struct{}),
	}
	k.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			serveKMS(w, r, db, logger)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(k.done)
		_ = k.srv.Serve(ln)
	}()
	return k, nil
}

// Close stops the server and closes its database.
func (k *KMS) Close() error {
	var err error
	k.closeMu.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = k.srv.Shutdown(ctx)
		<-k.done
		k.db.Close()
		if k.tmpDir != "" {
			os.RemoveAll(k.tmpDir)
		}
	})
	return err
}

func openDatabase(dir string) (db *data.Database, err error) {
	// data.NewDatabase panics when LevelDB cannot open (for example when
	// another process holds the directory's lock).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("standin: open KMS database %s: %v", dir, r)
		}
	}()
	return data.NewDatabase(dir), nil
}

// seedKMS mirrors local-kms's unexported seed (src/seed.go), current YAML
// format only: AES, HMAC, RSA and ECC keys plus aliases. The keys' ARNs are
// set by their UnmarshalYAML from the config globals (hence setKMSConfig
// first); alias ARNs are set here as seed does.
func seedKMS(db *data.Database, seedYAML []byte) error {
	var in struct {
		Keys struct {
			Symmetric struct {
				Aes  []cmk.AesKey  `yaml:"Aes"`
				Hmac []cmk.HmacKey `yaml:"Hmac"`
			} `yaml:"Symmetric"`
			Asymmetric struct {
				Rsa []cmk.RsaKey `yaml:"Rsa"`
				Ecc []cmk.EccKey `yaml:"Ecc"`
			} `yaml:"Asymmetric"`
		} `yaml:"Keys"`
		Aliases []data.Alias `yaml:"Aliases"`
	}
	if err := yaml.Unmarshal(seedYAML, &in); err != nil {
		return fmt.Errorf("standin: parse KMS seed: %w", err)
	}
	var keys []cmk.Key
	for i := range in.Keys.Symmetric.Aes {
		keys = append(keys, &in.Keys.Symmetric.Aes[i])
	}
	for i := range in.Keys.Symmetric.Hmac {
		keys = append(keys, &in.Keys.Symmetric.Hmac[i])
	}
	for i := range in.Keys.Asymmetric.Rsa {
		keys = append(keys, &in.Keys.Asymmetric.Rsa[i])
	}
	for i := range in.Keys.Asymmetric.Ecc {
		keys = append(keys, &in.Keys.Asymmetric.Ecc[i])
	}
	if len(keys) == 0 {
		return errors.New("standin: KMS seed holds no keys")
	}
	for _, key := range keys {
		arn := key.GetArn()
		if arn == "" || !strings.HasPrefix(arn, kmsconfig.ArnPrefix()+"key/") {
			return fmt.Errorf("standin: seeded key has ARN %q", arn)
		}
		if _, err := db.LoadKey(arn); err == nil {
			continue // already in this database
		}
		if err := db.SaveKey(key); err != nil {
			return fmt.Errorf("standin: save key %s: %w", arn, err)
		}
	}
	for i := range in.Aliases {
		a := in.Aliases[i]
		a.AliasArn = kmsconfig.ArnPrefix() + a.AliasName
		if _, err := db.LoadAlias(a.AliasArn); err == nil {
			continue
		}
		if err := db.SaveAlias(&a); err != nil {
			return fmt.Errorf("standin: save alias %s: %w", a.AliasName, err)
		}
	}
	return nil
}

// serveKMS mirrors local-kms's src.HandleRequest. That function logs every
// request through a package-level logrus logger that cannot be silenced
// from outside, so the dispatch is repeated here with a discarding logger:
// POST / with a JSON content type, "X-Amz-Target: TrentService.<Op>" calls
// the RequestHandler method <Op>.
func serveKMS(w http.ResponseWriter, r *http.Request, db *data.Database, logger *logrus.Logger) {
	switch {
	case r.URL.Path != "/":
		http.Error(w, "Page not found", http.StatusNotFound)
		return
	case r.Method != http.MethodPost:
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	case !strings.Contains(r.Header.Get("Content-Type"), "json"):
		http.Error(w, "Only JSON based content types accepted", http.StatusUnsupportedMediaType)
		return
	}
	target := strings.Split(r.Header.Get("X-Amz-Target"), ".")
	if len(target) >= 2 && target[1] != "" {
		h := handler.NewRequestHandler(r, logger, db)
		if m := reflect.ValueOf(h).MethodByName(target[1]); m.IsValid() && m.Type().NumIn() == 0 && m.Type().NumOut() == 1 {
			if resp, ok := m.Call(nil)[0].Interface().(handler.Response); ok {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(resp.Code)
				io.WriteString(w, resp.Body)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusNotImplemented)
	fmt.Fprintf(w, "Passed X-Amz-Target (%s) is not implemented", r.Header.Get("X-Amz-Target"))
}
