package keys

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/crypto/argon2"
)

// The sealed master key file (version 1), all integers big-endian:
//
//	offset  size  field
//	0       8     magic "HOHEITMK"
//	8       1     format version, 1
//	9       1     KDF, 1 = Argon2id
//	10      4     Argon2id time (passes)
//	14      4     Argon2id memory in KiB
//	18      1     Argon2id threads
//	19      1     salt length S (16-64)
//	20      S     salt
//	20+S    1     AEAD, 1 = AES-256-GCM
//	21+S    12    nonce
//	33+S    48    ciphertext: AES-256-GCM(key = Argon2id(passphrase, salt),
//	              plaintext = 32-byte master key, aad = bytes 0 .. 33+S)
//
// The header (everything before the ciphertext) is the AEAD's associated
// data, so any change to the parameters, salt or nonce fails authentication.
const (
	fileMagic      = "HOHEITMK"
	fileVersion    = 1
	kdfArgon2id    = 1
	aeadAES256GCM  = 1
	masterKeySize  = 32
	gcmNonceSize   = 12
	gcmTagSize     = 16
	minSaltSize    = 16
	maxSaltSize    = 64
	defaultSaltLen = 16
)

// argonParams are the Argon2id cost parameters stored in a key file.
type argonParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// defaultArgon is RFC 9106's second recommended option (64 MiB, 3 passes,
// 4 lanes): about a quarter second on a server, once per start.
var defaultArgon = argonParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// kdfLimits bound the cost a key file may demand on open, so an altered
// file cannot exhaust the server's memory or time before authentication.
type kdfLimits struct {
	MaxTime      uint32
	MaxMemoryKiB uint32
}

var openLimits = kdfLimits{MaxTime: 64, MaxMemoryKiB: 2 * 1024 * 1024}

// sealedFile is a parsed key file.
type sealedFile struct {
	Argon      argonParams
	Salt       []byte
	Nonce      []byte
	Ciphertext []byte
	header     []byte // the raw header, the AEAD's associated data
}

// ErrWrongPassphrase is returned by OpenFile when the key file does not
// open: the passphrase is wrong or the file was altered (AES-GCM cannot
// tell the two apart).
var ErrWrongPassphrase = errors.New("keys: the master key file does not open: wrong passphrase, or the file was altered")

// errFormat is wrapped by every parse failure of a key file.
var errFormat = errors.New("not a hoheit master key file, or a damaged one")

// CreateFile writes a new random 32-byte master key to path, sealed with
// passphrase (Argon2id, 64 MiB, 3 passes, 4 threads; AES-256-GCM), mode
// 0600. It refuses to overwrite an existing file.
func CreateFile(path string, passphrase []byte) error {
	return createFile(path, passphrase, defaultArgon)
}

func createFile(path string, passphrase []byte, params argonParams) error {
	if len(passphrase) == 0 {
		return errors.New("keys: empty passphrase: choose a long passphrase for the master key file")
	}
	master := make([]byte, masterKeySize)
	defer wipe(master)
	if _, err := io.ReadFull(rand.Reader, master); err != nil {
		return fmt.Errorf("keys: generating master key: %w", err)
	}
	data, err := seal(master, passphrase, params)
	if err != nil {
		return err
	}
	return writeExclusive(path, data)
}

// writeExclusive creates path with mode 0600, refusing to overwrite, and
// syncs it; on failure it removes what it created.
func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("keys: %s already exists; refusing to overwrite a master key", path)
		}
		return fmt.Errorf("keys: creating master key file: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("keys: writing master key file %s: %w", path, err)
	}
	return nil
}

// seal encodes and encrypts master under passphrase.
func seal(master, passphrase []byte, p argonParams) ([]byte, error) {
	salt := make([]byte, defaultSaltLen)
	nonce := make([]byte, gcmNonceSize)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return nil, fmt.Errorf("keys: salt: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	header := encodeHeader(p, salt, nonce)
	aead, err := fileAEAD(passphrase, salt, p)
	if err != nil {
		return nil, err
	}
	return aead.Seal(header, nonce, master, header), nil
}

func encodeHeader(p argonParams, salt, nonce []byte) []byte {
	h := make([]byte, 0, 33+len(salt))
	h = append(h, fileMagic...)
	h = append(h, fileVersion, kdfArgon2id)
	h = binary.BigEndian.AppendUint32(h, p.Time)
	h = binary.BigEndian.AppendUint32(h, p.MemoryKiB)
	h = append(h, p.Threads, byte(len(salt)))
	h = append(h, salt...)
	h = append(h, aeadAES256GCM)
	return append(h, nonce...)
}

// parseSealed parses a key file without any cryptography. It accepts only
// the exact layout of version 1.
func parseSealed(data []byte, lim kdfLimits) (*sealedFile, error) {
	if len(data) < 20 || string(data[:8]) != fileMagic {
		return nil, fmt.Errorf("keys: %w (bad magic)", errFormat)
	}
	if data[8] != fileVersion {
		return nil, fmt.Errorf("keys: %w (unsupported version %d)", errFormat, data[8])
	}
	if data[9] != kdfArgon2id {
		return nil, fmt.Errorf("keys: %w (unsupported KDF %d)", errFormat, data[9])
	}
	p := argonParams{
		Time:      binary.BigEndian.Uint32(data[10:14]),
		MemoryKiB: binary.BigEndian.Uint32(data[14:18]),
		Threads:   data[18],
	}
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB < 8*uint32(p.Threads) {
		return nil, fmt.Errorf("keys: %w (invalid Argon2id parameters)", errFormat)
	}
	if p.Time > lim.MaxTime || p.MemoryKiB > lim.MaxMemoryKiB {
		return nil, fmt.Errorf("keys: %w (Argon2id cost above the limit of %d passes, %d KiB)", errFormat, lim.MaxTime, lim.MaxMemoryKiB)
	}
	saltLen := int(data[19])
	if saltLen < minSaltSize || saltLen > maxSaltSize {
		return nil, fmt.Errorf("keys: %w (salt length %d)", errFormat, saltLen)
	}
	headerLen := 20 + saltLen + 1 + gcmNonceSize
	if len(data) != headerLen+masterKeySize+gcmTagSize {
		return nil, fmt.Errorf("keys: %w (length %d)", errFormat, len(data))
	}
	if data[20+saltLen] != aeadAES256GCM {
		return nil, fmt.Errorf("keys: %w (unsupported AEAD %d)", errFormat, data[20+saltLen])
	}
	return &sealedFile{
		Argon:      p,
		Salt:       data[20 : 20+saltLen],
		Nonce:      data[21+saltLen : headerLen],
		Ciphertext: data[headerLen:],
		header:     data[:headerLen],
	}, nil
}

func fileAEAD(passphrase, salt []byte, p argonParams) (cipher.AEAD, error) {
	kek := argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, 32)
	defer wipe(kek)
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return cipher.NewGCM(block)
}

// openSealed parses and decrypts a key file, returning the master key.
func openSealed(data, passphrase []byte, lim kdfLimits) ([]byte, error) {
	sf, err := parseSealed(data, lim)
	if err != nil {
		return nil, err
	}
	aead, err := fileAEAD(passphrase, sf.Salt, sf.Argon)
	if err != nil {
		return nil, err
	}
	master, err := aead.Open(nil, sf.Nonce, sf.Ciphertext, sf.header)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return master, nil
}

// OpenFile opens the master key file at path with passphrase. A wrong
// passphrase or an altered file gives ErrWrongPassphrase.
func OpenFile(path string, passphrase []byte) (Backend, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: reading master key file: %w", err)
	}
	master, err := openSealed(data, passphrase, openLimits)
	if err != nil {
		return nil, err
	}
	return newFileBackend(master), nil
}

// fileBackend holds the master key in memory.
type fileBackend struct {
	mu      sync.RWMutex
	master  []byte // nil once closed
	signers map[string]*ecdsa.PrivateKey
}

var _ Backend = (*fileBackend)(nil)

// newFileBackend takes ownership of master.
func newFileBackend(master []byte) *fileBackend {
	return &fileBackend{master: master, signers: map[string]*ecdsa.PrivateKey{}}
}

func (b *fileBackend) Derive(ctx context.Context, label string, info []byte, n int) ([]byte, error) {
	if err := checkDeriveArgs(label, info, n, false); err != nil {
		return nil, err
	}
	return b.derive(ctx, label, info, n)
}

func (b *fileBackend) derive(ctx context.Context, label string, info []byte, n int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.master == nil {
		return nil, ErrClosed
	}
	return hkdfExpand(softwarePRF(b.master), expandInfo(label, info), n)
}

// Signer derives the signing key deterministically from the master key:
// the scalar is the first Derive("hoheit/v1/signer/<name>", {counter}, 32)
// output, counter 0, 1, ..., that is a valid P-256 private key (non-zero,
// below the group order; a retry has probability about 2^-32).
func (b *fileBackend) Signer(ctx context.Context, name string) (crypto.Signer, error) {
	if err := checkSignerName(name); err != nil {
		return nil, err
	}
	b.mu.RLock()
	k, ok := b.signers[name]
	b.mu.RUnlock()
	if ok {
		return k, nil
	}
	for counter := 0; counter < 256; counter++ {
		d, err := b.derive(ctx, signerLabelPrefix+name, []byte{byte(counter)}, 32)
		if err != nil {
			return nil, err
		}
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		wipe(d)
		if err != nil {
			continue
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.master == nil {
			return nil, ErrClosed
		}
		if prev, ok := b.signers[name]; ok {
			return prev, nil
		}
		b.signers[name] = k
		return k, nil
	}
	return nil, errors.New("keys: no valid signing key after 256 attempts")
}

func (b *fileBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wipe(b.master)
	b.master = nil
	clear(b.signers)
	return nil
}
