package send

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"
)

// NewDKIM returns signing options for domain and selector with a PEM private
// key (RSA in PKCS#1 or PKCS#8, or Ed25519 in PKCS#8). Errors never quote the
// key.
func NewDKIM(domain, selector string, keyPEM []byte) (*dkim.SignOptions, error) {
	if domain == "" || selector == "" {
		return nil, errors.New("dkim: domain and selector are both required")
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("dkim: private key is not PEM")
	}
	var signer crypto.Signer
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("dkim: private key is not a valid PKCS#1 RSA key")
		}
		signer = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("dkim: private key is not a valid PKCS#8 key")
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("dkim: private key type cannot sign")
		}
		signer = s
	default:
		return nil, fmt.Errorf("dkim: unsupported PEM block %q", block.Type)
	}
	switch k := signer.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 1024 {
			return nil, errors.New("dkim: RSA key shorter than 1024 bits")
		}
	case ed25519.PublicKey:
	default:
		return nil, errors.New("dkim: only RSA and Ed25519 keys are supported")
	}
	return &dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 signer,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             DKIMHeaderKeys,
	}, nil
}
