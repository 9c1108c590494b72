package refvalues

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoheit/hoheit/internal/attest"
)

// Kinds of Change.
const (
	ChangeLoaded   = "loaded"
	ChangeChanged  = "changed"
	ChangeRemoved  = "removed"
	ChangeRejected = "rejected"
)

// Change is one event of a Store, for the server's audit log.
type Change struct {
	// Class is the class the file is for (its name without .yaml).
	Class string
	// File is the path of the YAML file (or the directory, when it could
	// not be read).
	File string
	// Kind is loaded, changed, removed or rejected. A rejected file leaves
	// the class's previous set, if any, in place.
	Kind string
	// Reason says why a file was rejected; empty otherwise.
	Reason string
	// Err is the rejection as an error (an *attest.Refusal where the file
	// was refused, not merely unreadable).
	Err error `json:"-"`
	// Digest is the hex SHA-256 of the YAML file: the new content, or for
	// removed the content that was in force.
	Digest string
	// KeyID names the owner key that signed the set in force.
	KeyID string
	// Revision is the set's revision (0 when the file gives none).
	Revision uint64
}

// Store holds the verified reference values of a directory, one class per
// file CLASS.yaml with its signature CLASS.yaml.sig. It is safe for
// concurrent use; the Sets it returns never change.
type Store struct {
	dir     string
	trusted []crypto.PublicKey

	pollMu sync.Mutex // one poll at a time
	seen   map[string][32]byte
	dirErr string

	mu      sync.RWMutex
	entries map[string]*entry // by class
}

type entry struct {
	set    *Set
	file   string
	digest string
	keyID  string
}

// Load reads every *.yaml file of dir with its .sig, and keeps those that
// are signed by one of the trusted keys, parse, and declare the class their
// name says. The others are refused and not loaded: each returned error
// names its file and wraps an *attest.Refusal (reason
// attest.ReasonRefValues) where the file itself was at fault. The Store is
// never nil, so Watch can pick up files fixed later.
func Load(dir string, trusted []crypto.PublicKey) (*Store, []error) {
	s := &Store{dir: dir, trusted: trusted, seen: map[string][32]byte{}, entries: map[string]*entry{}}
	var errs []error
	for _, c := range s.Reload() {
		if c.Kind == ChangeRejected {
			errs = append(errs, fmt.Errorf("%s: %w", c.File, c.Err))
		}
	}
	return s, errs
}

// Dir returns the directory the store reads.
func (s *Store) Dir() string { return s.dir }

// Class returns the verified set of a class.
func (s *Store) Class(name string) (*Set, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[name]
	if !ok {
		return nil, false
	}
	return e.set, true
}

// Classes lists the classes with a verified set, sorted.
func (s *Store) Classes() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.entries))
	for k := range s.entries {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Loaded describes every set in force as a "loaded" change, sorted by
// class: what the server records when it starts.
func (s *Store) Loaded() []Change {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Change, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.change(ChangeLoaded))
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Class, b.Class) })
	return out
}

// Check checks claims against the set of the class the node claims. A class
// with no verified set refuses with attest.ReasonRefValues.
func (s *Store) Check(class string, c *attest.Claims) ([]string, error) {
	set, ok := s.Class(class)
	if !ok {
		return nil, attest.Refuse(attest.ReasonRefValues, "no signed reference values are loaded for class %q", class)
	}
	return set.Check(c)
}

func (e *entry) change(kind string) Change {
	return Change{Class: e.set.Class, File: e.file, Kind: kind, Digest: e.digest, KeyID: e.keyID, Revision: e.set.Revision}
}

// Watch polls the directory every interval until ctx ends, and calls
// onChange for every change (from the polling goroutine, one at a time),
// once the directory has not changed for one interval.
// A changed file that verifies replaces the class's set; one that does not
// is reported as rejected and the old set stays in force; a removed file
// removes its class's set, so its nodes are refused.
func (s *Store) Watch(ctx context.Context, interval time.Duration, onChange func(Change)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	// A copy in progress (a YAML file truncated and not yet written, its
	// new signature not yet there) is not a change to judge: the
	// directory is read only once it looked the same for one interval.
	var last, settled string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fp := s.fingerprint()
			if fp != last {
				last = fp
				continue
			}
			if fp == settled {
				continue
			}
			settled = fp
			for _, c := range s.Reload() {
				if onChange != nil {
					onChange(c)
				}
			}
		}
	}
}

// Reload reads the directory once and returns what changed since the last
// read. A file whose YAML and signature are unchanged is not read again,
// so a rejected file is reported once per content, not once per poll.
func (s *Store) Reload() []Change {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	names, err := s.list()
	if err != nil {
		msg := err.Error()
		if msg == s.dirErr {
			return nil
		}
		s.dirErr = msg
		// The sets in force stay: an unreadable directory is not a
		// signed removal.
		return []Change{{File: s.dir, Kind: ChangeRejected, Reason: msg, Err: err}}
	}
	s.dirErr = ""
	var out []Change
	present := map[string]bool{}
	for _, name := range names {
		present[name] = true
		if c, ok := s.pollFile(name); ok {
			out = append(out, c)
		}
	}
	for name := range s.seen {
		if present[name] {
			continue
		}
		delete(s.seen, name)
		class := strings.TrimSuffix(name, ".yaml")
		s.mu.Lock()
		e, ok := s.entries[class]
		delete(s.entries, class)
		s.mu.Unlock()
		if ok {
			out = append(out, e.change(ChangeRemoved))
		}
	}
	slices.SortStableFunc(out, func(a, b Change) int { return strings.Compare(a.File, b.File) })
	return out
}

// fingerprint sums up the names, sizes and modification times of the
// directory's files (or why it cannot be read; Reload reports that).
func (s *Store) fingerprint() string {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String()
}

func (s *Store) list() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("reading reference values: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

func (s *Store) pollFile(name string) (Change, bool) {
	path := filepath.Join(s.dir, name)
	class := strings.TrimSuffix(name, ".yaml")
	reject := func(digest string, err error) (Change, bool) {
		return Change{Class: class, File: path, Kind: ChangeRejected, Reason: err.Error(), Err: err, Digest: digest}, true
	}
	data, err := readLimited(path, MaxFileSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Change{}, false // removed between listing and reading; the next poll sees it
		}
		return reject("", fmt.Errorf("reading: %w", err))
	}
	sig, err := readLimited(path+SignatureSuffix, 64<<10)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return reject("", fmt.Errorf("reading the signature: %w", err))
	}
	state := stateHash(data, sig)
	if old, ok := s.seen[name]; ok && old == state {
		return Change{}, false
	}
	s.seen[name] = state
	d := sha256.Sum256(data)
	digest := hex.EncodeToString(d[:])

	keyID, err := VerifySigner(data, sig, s.trusted)
	if err != nil {
		return reject(digest, err)
	}
	set, err := Parse(data)
	if err != nil {
		return reject(digest, attest.Refuse(attest.ReasonRefValues, "%v", err))
	}
	if set.Class != class {
		return reject(digest, attest.Refuse(attest.ReasonRefValues, "the file declares class %q; the values of class %q belong in %s.yaml", set.Class, set.Class, set.Class))
	}
	e := &entry{set: set, file: path, digest: digest, keyID: keyID}

	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.entries[class]
	if had && set.Revision < old.set.Revision {
		return reject(digest, attest.Refuse(attest.ReasonRefValues, "revision %d is older than revision %d in force (rollback refused)", set.Revision, old.set.Revision))
	}
	s.entries[class] = e
	if had {
		return e.change(ChangeChanged), true
	}
	return e.change(ChangeLoaded), true
}

// stateHash identifies a file's YAML and signature together.
func stateHash(data, sig []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	h.Write(data)
	h.Write(sig)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}
