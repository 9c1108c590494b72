package tpm

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/google/go-tpm-tools/client"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"

	"github.com/hoheit/hoheit/internal/attest"
)

var (
	_ attest.Issuer            = (*Issuer)(nil)
	_ attest.ResponseUnwrapper = (*Issuer)(nil)
)

// DefaultDevice is the TPM an Issuer opens when none is configured: the
// kernel's resource-managed TPM device.
const DefaultDevice = "/dev/tpmrm0"

// DefaultEventLogPath is where Linux exposes the firmware's TCG event log.
const DefaultEventLogPath = "/sys/kernel/security/tpm0/binary_bios_measurements"

// maxEventLogSize bounds the event log the Issuer reads, leaving room in
// MaxEvidenceSize for the quotes and keys.
const maxEventLogSize = MaxEvidenceSize - 256<<10

// IssuerConfig says which TPM the Issuer uses.
type IssuerConfig struct {
	// Device is a TPM device path ("/dev/tpmrm0", the default) or
	// "tcp://HOST:PORT" for swtpm's raw TCP server
	// (swtpm socket --tpm2 --server type=tcp,port=PORT ...). Ignored when
	// RW is set.
	Device string
	// RW is an already open TPM, for example go-tpm-tools' simulator. The
	// Issuer closes it on Close, and Open closes it when it fails.
	RW io.ReadWriteCloser
	// EventLogPath is the TCG event log file; DefaultEventLogPath when empty.
	EventLogPath string
}

// Issuer quotes the PCRs of one TPM. Its methods may be called from several
// goroutines; TPM commands are serialized.
type Issuer struct {
	mu      sync.Mutex
	rw      io.ReadWriteCloser
	ak      *client.Key
	ek      *client.Key // nil when the TPM has no EK certificate
	logPath string
}

// Open opens the TPM, loads (or creates and persists) the attestation key,
// an ECC P-256 restricted signing key in the owner hierarchy, and loads the
// endorsement key whose certificate the TPM stores in NV (RSA 2048 first,
// then ECC P-256), if any.
func Open(ctx context.Context, cfg IssuerConfig) (*Issuer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rw := cfg.RW
	if rw == nil {
		dev := cfg.Device
		if dev == "" {
			dev = DefaultDevice
		}
		var err error
		if rw, err = openDevice(ctx, dev); err != nil {
			return nil, err
		}
	}
	is := &Issuer{rw: rw, logPath: cfg.EventLogPath}
	if is.logPath == "" {
		is.logPath = DefaultEventLogPath
	}
	// Fail at start, not at the first join, when the log is not readable.
	if _, err := readEventLog(is.logPath); err != nil {
		rw.Close()
		return nil, err
	}
	var err error
	if is.ak, err = loadKey(rw, client.AttestationKeyECC, tpm2.HandleOwner, client.AKTemplateECC()); err != nil {
		rw.Close()
		return nil, fmt.Errorf("tpm: loading the attestation key: %w", err)
	}
	if is.ek, err = loadEK(rw); err != nil {
		is.ak.Close()
		rw.Close()
		return nil, err
	}
	return is, nil
}

// openDevice opens a TPM device path or a tcp:// address.
func openDevice(ctx context.Context, dev string) (io.ReadWriteCloser, error) {
	if addr, ok := strings.CutPrefix(dev, "tcp://"); ok {
		rw, err := dialTCP(ctx, addr)
		if err != nil {
			return nil, fmt.Errorf("tpm: connecting to %s: %w", dev, err)
		}
		if _, err := tpm2.GetManufacturer(rw); err != nil {
			rw.Close()
			return nil, fmt.Errorf("tpm: %s does not answer as a TPM 2.0 (is swtpm started with --tpm2 and --flags startup-clear?): %w", dev, err)
		}
		return rw, nil
	}
	rw, err := tpm2.OpenTPM(dev)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tpm: %s does not exist; is there a TPM (or vTPM) and its kernel driver? %w", dev, err)
		}
		return nil, fmt.Errorf("tpm: opening %s: %w", dev, err)
	}
	return rw, nil
}

// loadKey loads a key cached at its persistent handle (creating and
// persisting it when needed), and falls back to a transient primary key from
// the same template when persisting is not allowed (for example when the
// owner hierarchy has a password). Primary keys are derived from the
// hierarchy's seed and the template, so both ways give the same key.
func loadKey(rw io.ReadWriter, cached func(io.ReadWriter) (*client.Key, error), hierarchy tpmutil.Handle, template tpm2.Public) (*client.Key, error) {
	k, err := cached(rw)
	if err == nil {
		return k, nil
	}
	k, err2 := client.NewKey(rw, hierarchy, template)
	if err2 != nil {
		return nil, fmt.Errorf("%w (and as a transient key: %v)", err, err2)
	}
	return k, nil
}

// loadEK returns the EK whose certificate is in NV, or nil when the TPM
// stores none.
func loadEK(rw io.ReadWriter) (*client.Key, error) {
	for _, c := range []struct {
		nv       uint32
		cached   func(io.ReadWriter) (*client.Key, error)
		template tpm2.Public
	}{
		{client.EKCertNVIndexRSA, client.EndorsementKeyRSA, client.DefaultEKTemplateRSA()},
		{client.EKCertNVIndexECC, client.EndorsementKeyECC, client.DefaultEKTemplateECC()},
	} {
		if _, err := tpm2.NVReadPublic(rw, tpmutil.Handle(c.nv)); err != nil {
			continue // no certificate at this index
		}
		ek, err := loadKey(rw, c.cached, tpm2.HandleEndorsement, c.template)
		if err != nil {
			return nil, fmt.Errorf("tpm: loading the endorsement key: %w", err)
		}
		if ek.Cert() == nil {
			// Either the persistent path did not read it, or we are on the
			// transient fallback: read it ourselves.
			der, err := tpm2.NVReadEx(rw, tpmutil.Handle(c.nv), tpm2.HandleOwner, "", 0)
			if err == nil {
				if cert, perr := x509.ParseCertificate(der); perr == nil {
					err = ek.SetCert(cert)
				} else {
					err = perr
				}
			}
			if err != nil {
				ek.Close()
				return nil, fmt.Errorf("tpm: the EK certificate in NV index %#x is unusable: %w", c.nv, err)
			}
		}
		return ek, nil
	}
	return nil, nil
}

var errClosed = errors.New("tpm: the issuer is closed")

// Variant returns attest.VariantTPM.
func (*Issuer) Variant() string { return attest.VariantTPM }

// AKPublic returns the PKIX DER encoding of the attestation key's public key,
// which an admin registers on the server to trust this TPM without an EK
// certificate.
func (is *Issuer) AKPublic() ([]byte, error) {
	return x509.MarshalPKIXPublicKey(is.ak.PublicKey())
}

// EKCertificate returns the TPM's EK certificate, or nil when it has none.
func (is *Issuer) EKCertificate() *x509.Certificate {
	if is.ek == nil {
		return nil
	}
	return is.ek.Cert()
}

// Issue quotes all PCR banks with reportData[:32] as the quote's extraData,
// adds the TCG event log and the EK certificate, and returns the encoded
// evidence.
func (is *Issuer) Issue(ctx context.Context, reportData [64]byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log, err := readEventLog(is.logPath)
	if err != nil {
		return nil, err
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.rw == nil {
		return nil, errClosed
	}
	release := deadlineFromContext(ctx, is.rw)
	defer release()
	att, err := is.ak.Attest(client.AttestOpts{
		Nonce:              reportData[:32],
		TCGEventLog:        log,
		SkipTeeAttestation: true,
	})
	if err != nil {
		return nil, fmt.Errorf("tpm: quoting PCRs: %w", err)
	}
	var ekCert []byte
	if is.ek != nil {
		ekCert = is.ek.CertDERBytes()
	}
	return marshalEvidence(att, ekCert)
}

func readEventLog(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tpm: reading the TCG event log: %w (mount securityfs, or set the event log path)", err)
	}
	defer f.Close()
	log, err := io.ReadAll(io.LimitReader(f, maxEventLogSize+1))
	if err != nil {
		return nil, fmt.Errorf("tpm: reading the TCG event log %s: %w", path, err)
	}
	if len(log) > maxEventLogSize {
		return nil, fmt.Errorf("tpm: the TCG event log %s is larger than %d bytes", path, maxEventLogSize)
	}
	if len(log) == 0 {
		return nil, fmt.Errorf("tpm: the TCG event log %s is empty", path)
	}
	return log, nil
}

// UnwrapResponse opens a response the server wrapped with WrapResponse: the
// TPM activates the credential for the AK with its EK, and the released
// secret decrypts the payload. A response that is not wrapped (the server
// trusted a registered AK) is returned unchanged.
func (is *Issuer) UnwrapResponse(ctx context.Context, b []byte) ([]byte, error) {
	if !isWrapped(b) {
		return b, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, err := parseWrapped(b)
	if err != nil {
		return nil, fmt.Errorf("tpm: %w", err)
	}
	if is.ek == nil {
		return nil, fmt.Errorf("tpm: %w", errNoEK)
	}
	cred, err := tpm2bBody(w.credBlob)
	if err != nil {
		return nil, fmt.Errorf("tpm: credential blob: %w", err)
	}
	encSecret, err := tpm2bBody(w.encSecret)
	if err != nil {
		return nil, fmt.Errorf("tpm: encrypted secret: %w", err)
	}

	is.mu.Lock()
	defer is.mu.Unlock()
	if is.rw == nil {
		return nil, errClosed
	}
	release := deadlineFromContext(ctx, is.rw)
	defer release()
	sess, err := client.NewEKSession(is.rw)
	if err != nil {
		return nil, fmt.Errorf("tpm: starting the EK policy session: %w", err)
	}
	defer sess.Close()
	ekAuth, err := sess.Auth()
	if err != nil {
		return nil, fmt.Errorf("tpm: satisfying the EK policy: %w", err)
	}
	akAuth := tpm2.AuthCommand{Session: tpm2.HandlePasswordSession, Attributes: tpm2.AttrContinueSession}
	secret, err := tpm2.ActivateCredentialUsingAuth(is.rw, []tpm2.AuthCommand{akAuth, ekAuth}, is.ak.Handle(), is.ek.Handle(), cred, encSecret)
	if err != nil {
		return nil, fmt.Errorf("tpm: the TPM refused to activate the credential (the response was wrapped for another TPM or attestation key): %w", err)
	}
	defer clear(secret)
	p, err := w.open(secret)
	if err != nil {
		return nil, fmt.Errorf("tpm: %w", err)
	}
	return p, nil
}

// Close releases the keys' handles and closes the TPM. Persistent keys stay
// in the TPM.
func (is *Issuer) Close() error {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.rw == nil {
		return nil
	}
	if is.ek != nil {
		is.ek.Close()
	}
	is.ak.Close()
	err := is.rw.Close()
	is.rw = nil
	return err
}
