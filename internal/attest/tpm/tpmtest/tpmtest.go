// Package tpmtest gives tests a TPM to attest with: boot measurements and
// the TCG event log that records them, go-tpm-tools' simulated TPM, and
// swtpm processes with EK certificates from a local CA. It is test code
// only; only _test.go files may import it.
//
// The tpm package's own tests use it, and so do end-to-end tests of the
// server and agent that need a node to join with a TPM:
//
//	is := tpmtest.Simulator(t, tpmtest.BootEvents(), nil)
//	ak, _ := is.AKPublic() // register it with the validator
//
// The simulator is one instance per process (a second Simulator call blocks
// until the first Issuer is closed); for several TPMs at once, or a TPM the
// validator trusts through its EK certificate chain, use StartSwtpm, which
// needs the swtpm and swtpm_setup programs (tests that call it go behind the
// integration build tag).
package tpmtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"
)

// TCG event types used by the test logs (TCG PC Client Platform Firmware
// Profile, section 10.4.1).
const (
	EventPostCode     uint32 = 0x00000001
	EventSeparator    uint32 = 0x00000004
	EventSCRTMVersion uint32 = 0x00000008
	EventEFIAction    uint32 = 0x80000007
)

const (
	evNoAction       = 0x00000003
	tpmAlgSHA256     = 0x000b
	specIDSignature  = "Spec ID Event03\x00"
	platformClassPC  = 0
	uintnSize64Bit   = 2
	specVersionMajor = 2
)

// Event is one measurement: the PCR it extends, its TCG event type and its
// data. The digest extended is SHA-256 of the data, as firmware does for
// these event types.
type Event struct {
	PCR  uint32
	Type uint32
	Data []byte
}

func (e Event) digest() []byte {
	d := sha256.Sum256(e.Data)
	return d[:]
}

// BootEvents stand in for a firmware boot: a CRTM version and POST code in
// PCR 0, an EFI action in PCR 4, and the separators that close PCRs 0 to 7.
func BootEvents() []Event {
	ev := []Event{
		{0, EventSCRTMVersion, []byte("h\x00o\x00h\x00e\x00i\x00t\x00 \x001\x00.\x000\x00\x00\x00")},
		{0, EventPostCode, []byte("POST CODE")},
		{4, EventEFIAction, []byte("Calling EFI Application from Boot Option")},
	}
	for pcr := uint32(0); pcr < 8; pcr++ {
		ev = append(ev, Event{pcr, EventSeparator, []byte{0, 0, 0, 0}})
	}
	return ev
}

// BuildEventLog encodes events as a TCG2 crypto-agile event log with one
// digest algorithm, SHA-256: a TCG_PCClientPCREvent carrying the
// TCG_EfiSpecIDEvent, then one TCG_PCR_EVENT2 per event, all little-endian.
func BuildEventLog(events []Event) []byte {
	le := binary.LittleEndian
	var spec bytes.Buffer
	spec.WriteString(specIDSignature)
	binary.Write(&spec, le, uint32(platformClassPC))
	spec.Write([]byte{0, specVersionMajor, 0, uintnSize64Bit}) // minor, major, errata, uintnSize
	binary.Write(&spec, le, uint32(1))                         // numberOfAlgorithms
	binary.Write(&spec, le, uint16(tpmAlgSHA256))
	binary.Write(&spec, le, uint16(sha256.Size))
	spec.WriteByte(0) // vendorInfoSize

	var log bytes.Buffer
	binary.Write(&log, le, uint32(0))          // PCRIndex
	binary.Write(&log, le, uint32(evNoAction)) // EventType
	log.Write(make([]byte, 20))                // SHA-1 digest, zero
	binary.Write(&log, le, uint32(spec.Len()))
	log.Write(spec.Bytes())

	for _, e := range events {
		binary.Write(&log, le, e.PCR)
		binary.Write(&log, le, e.Type)
		binary.Write(&log, le, uint32(1)) // digest count
		binary.Write(&log, le, uint16(tpmAlgSHA256))
		log.Write(e.digest())
		binary.Write(&log, le, uint32(len(e.Data)))
		log.Write(e.Data)
	}
	return log.Bytes()
}

// WriteEventLog writes BuildEventLog(events) to a file in a new temporary
// directory and returns its path, for tpm.IssuerConfig.EventLogPath.
func WriteEventLog(tb testing.TB, events []Event) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "binary_bios_measurements")
	if err := os.WriteFile(p, BuildEventLog(events), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// PCRs returns the SHA-256 PCRs 0 to 23 that events produce on a TPM fresh
// from reset: zeros, except the dynamic-launch PCRs 17 to 22, which reset
// to ones. These are the values attest.TPMClaims.PCRs reports, so reference
// values for a test TPM can be computed from its events.
func PCRs(events []Event) map[uint32][]byte {
	pcrs := map[uint32][]byte{}
	for i := uint32(0); i < 24; i++ {
		pcrs[i] = make([]byte, sha256.Size)
		if i >= 17 && i <= 22 {
			pcrs[i] = bytes.Repeat([]byte{0xff}, sha256.Size)
		}
	}
	for _, e := range events {
		h := sha256.New()
		h.Write(pcrs[e.PCR])
		h.Write(e.digest())
		pcrs[e.PCR] = h.Sum(nil)
	}
	return pcrs
}

// Extend extends each event's digest into the TPM's SHA-256 bank, as
// firmware does while it writes the event log.
func Extend(rw io.ReadWriter, events []Event) error {
	for _, e := range events {
		if err := tpm2.PCRExtend(rw, tpmutil.Handle(e.PCR), tpm2.AlgSHA256, e.digest(), ""); err != nil {
			return fmt.Errorf("extending PCR %d: %w", e.PCR, err)
		}
	}
	return nil
}
