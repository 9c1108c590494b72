package tpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"

	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpmutil"
)

// TCG event types used by the test logs (TCG PC Client Platform Firmware
// Profile, section 10.4.1).
const (
	evPostCode       = 0x00000001
	evNoAction       = 0x00000003
	evSeparator      = 0x00000004
	evSCRTMVersion   = 0x00000008
	evEFIAction      = 0x80000007
	tpmAlgSHA256     = 0x000b
	specIDSignature  = "Spec ID Event03\x00"
	platformClassPC  = 0
	uintnSize64Bit   = 2
	specVersionMajor = 2
)

// logEvent is one measurement: the PCR it extends, its type and its data.
// The digest extended is SHA-256 of the data, as firmware does for these
// event types.
type logEvent struct {
	pcr  uint32
	typ  uint32
	data []byte
}

func (e logEvent) digest() []byte {
	d := sha256.Sum256(e.data)
	return d[:]
}

// bootEvents stand in for a firmware boot: a CRTM version and POST code in
// PCR 0, an EFI action in PCR 4, and the separators that close PCRs 0 to 7.
func bootEvents() []logEvent {
	ev := []logEvent{
		{0, evSCRTMVersion, []byte("h\x00o\x00h\x00e\x00i\x00t\x00 \x001\x00.\x000\x00\x00\x00")},
		{0, evPostCode, []byte("POST CODE")},
		{4, evEFIAction, []byte("Calling EFI Application from Boot Option")},
	}
	for pcr := uint32(0); pcr < 8; pcr++ {
		ev = append(ev, logEvent{pcr, evSeparator, []byte{0, 0, 0, 0}})
	}
	return ev
}

// buildEventLog encodes events as a TCG2 crypto-agile event log with one
// digest algorithm, SHA-256: a TCG_PCClientPCREvent carrying the
// TCG_EfiSpecIDEvent, then one TCG_PCR_EVENT2 per event, all little-endian.
func buildEventLog(events []logEvent) []byte {
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
		binary.Write(&log, le, e.pcr)
		binary.Write(&log, le, e.typ)
		binary.Write(&log, le, uint32(1)) // digest count
		binary.Write(&log, le, uint16(tpmAlgSHA256))
		log.Write(e.digest())
		binary.Write(&log, le, uint32(len(e.data)))
		log.Write(e.data)
	}
	return log.Bytes()
}

// extendEvents extends each event's digest into the TPM's SHA-256 bank, as
// firmware would have while writing the log.
func extendEvents(t testing.TB, rw io.ReadWriter, events []logEvent) {
	t.Helper()
	for _, e := range events {
		if err := tpm2.PCRExtend(rw, tpmutil.Handle(e.pcr), tpm2.AlgSHA256, e.digest(), ""); err != nil {
			t.Fatalf("extending PCR %d: %v", e.pcr, err)
		}
	}
}

func TestBuildEventLogReplays(t *testing.T) {
	events := bootEvents()
	// Expected PCR values computed independently of go-eventlog.
	pcrs := map[uint32][]byte{}
	for i := uint32(0); i < 24; i++ {
		pcrs[i] = make([]byte, 32)
	}
	for _, e := range events {
		h := sha256.New()
		h.Write(pcrs[e.pcr])
		h.Write(e.digest())
		pcrs[e.pcr] = h.Sum(nil)
	}
	log := buildEventLog(events)
	if err := replayEventLog(log, pcrsProto(pcrs)); err != nil {
		t.Fatalf("replay of a consistent log: %v", err)
	}
	pcrs[4] = make([]byte, 32)
	if err := replayEventLog(log, pcrsProto(pcrs)); err == nil {
		t.Fatal("replay accepted a PCR 4 that the log does not produce")
	}
}
