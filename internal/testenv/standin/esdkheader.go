package standin

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ESDKHeader is the part of an Encryption SDK message header that fixtures
// are checked against. It is a test aid, not a decrypter: nothing here is
// authenticated.
type ESDKHeader struct {
	// Version is the message format version, 1 or 2.
	Version byte
	// Suite is the algorithm suite id, for example 0x0378.
	Suite uint16
	// EncryptionContext as serialized in the header (for signing suites it
	// includes aws-crypto-public-key).
	EncryptionContext map[string]string
	// DataKeys are the encrypted data keys.
	DataKeys []ESDKDataKey
	// ContentType is 2 for a framed body.
	ContentType byte
	// FrameLength is the frame size of a framed body.
	FrameLength uint32
}

// ESDKDataKey is one encrypted data key.
type ESDKDataKey struct {
	// ProviderID is "aws-kms" for KMS keyrings.
	ProviderID string
	// ProviderInfo is the key ARN for KMS keyrings.
	ProviderInfo string
	// Ciphertext is, for KMS keyrings, a KMS ciphertext blob that KMS
	// Decrypt opens under the message's encryption context.
	Ciphertext []byte
}

// SuiteString is Suite as "0x0378".
func (h ESDKHeader) SuiteString() string { return fmt.Sprintf("0x%04x", h.Suite) }

var errShort = errors.New("standin: ESDK header truncated")

type hreader struct {
	b   []byte
	off int
}

func (r *hreader) n(k int) ([]byte, error) {
	if k < 0 || r.off+k > len(r.b) {
		return nil, errShort
	}
	v := r.b[r.off : r.off+k]
	r.off += k
	return v, nil
}

func (r *hreader) u8() (byte, error) {
	v, err := r.n(1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

func (r *hreader) u16() (uint16, error) {
	v, err := r.n(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(v), nil
}

func (r *hreader) u32() (uint32, error) {
	v, err := r.n(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(v), nil
}

func (r *hreader) bytes16() ([]byte, error) {
	l, err := r.u16()
	if err != nil {
		return nil, err
	}
	return r.n(int(l))
}

// ParseESDKHeader parses the header of an Encryption SDK message (format v1
// or v2) up to the frame length.
func ParseESDKHeader(msg []byte) (ESDKHeader, error) {
	var h ESDKHeader
	r := &hreader{b: msg}
	v, err := r.u8()
	if err != nil {
		return h, err
	}
	h.Version = v
	switch v {
	case 1:
		t, err := r.u8()
		if err != nil {
			return h, err
		}
		if t != 0x80 {
			return h, fmt.Errorf("standin: ESDK v1 message type 0x%02x, want 0x80", t)
		}
	case 2:
	default:
		return h, fmt.Errorf("standin: ESDK message version 0x%02x, want 1 or 2", v)
	}
	if h.Suite, err = r.u16(); err != nil {
		return h, err
	}
	idLen := 16
	if v == 2 {
		idLen = 32
	}
	if _, err := r.n(idLen); err != nil {
		return h, err
	}
	aad, err := r.bytes16()
	if err != nil {
		return h, err
	}
	if h.EncryptionContext, err = parseContext(aad); err != nil {
		return h, err
	}
	count, err := r.u16()
	if err != nil {
		return h, err
	}
	for i := 0; i < int(count); i++ {
		id, err := r.bytes16()
		if err != nil {
			return h, err
		}
		info, err := r.bytes16()
		if err != nil {
			return h, err
		}
		ct, err := r.bytes16()
		if err != nil {
			return h, err
		}
		h.DataKeys = append(h.DataKeys, ESDKDataKey{
			ProviderID:   string(id),
			ProviderInfo: string(info),
			Ciphertext:   append([]byte(nil), ct...),
		})
	}
	if h.ContentType, err = r.u8(); err != nil {
		return h, err
	}
	if v == 1 {
		if _, err := r.n(4); err != nil { // reserved
			return h, err
		}
		if _, err := r.u8(); err != nil { // IV length
			return h, err
		}
	}
	if h.FrameLength, err = r.u32(); err != nil {
		return h, err
	}
	return h, nil
}

func parseContext(aad []byte) (map[string]string, error) {
	ctx := map[string]string{}
	if len(aad) == 0 {
		return ctx, nil
	}
	r := &hreader{b: aad}
	n, err := r.u16()
	if err != nil {
		return nil, err
	}
	for i := 0; i < int(n); i++ {
		k, err := r.bytes16()
		if err != nil {
			return nil, err
		}
		v, err := r.bytes16()
		if err != nil {
			return nil, err
		}
		ctx[string(k)] = string(v)
	}
	if r.off != len(aad) {
		return nil, errors.New("standin: ESDK encryption context has trailing bytes")
	}
	return ctx, nil
}
