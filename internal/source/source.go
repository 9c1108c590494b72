// Package source reads scan inputs — files, directories and stdin — into one
// inventory.Estate. It tells Terraform plans and state, Kubernetes manifests
// and hoheit snapshots apart by their content, hands each to its reader in
// terraform/, kubernetes/ or snapshot/, and records per input what was read
// and what failed, so one bad file never hides the others.
//
// The CLI and the server import it; the readers below it do not.
package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hoheit/hoheit/internal/inventory"
	"github.com/hoheit/hoheit/internal/source/kubernetes"
	"github.com/hoheit/hoheit/internal/source/snapshot"
	"github.com/hoheit/hoheit/internal/source/terraform"
)

// DefaultMaxInputSize is the largest input Read accepts unless told otherwise.
const DefaultMaxInputSize = 512 << 20

// DefaultMaxDepth is how deeply an input may nest unless told otherwise.
// Plans, manifests and snapshots stay well below 100 levels.
const DefaultMaxDepth = 512

// Options tune Read. The zero value is ready to use.
type Options struct {
	// MaxInputSize is the largest input in bytes; larger ones fail without
	// being read. Zero means DefaultMaxInputSize.
	MaxInputSize int64
	// MaxDepth is the deepest nesting of objects and lists an input may
	// have. Zero means DefaultMaxDepth.
	MaxDepth int
	// Cluster names the Kubernetes cluster manifests belong to, if known.
	Cluster string
	// Namespace is where Kubernetes objects without a namespace land; empty
	// means "default", as for kubectl.
	Namespace string
	// Stdin is read for the path "-". Nil means os.Stdin.
	Stdin io.Reader
	// Logger receives a debug line per input. Nil means slog.Default().
	Logger *slog.Logger
	// Mapped, if set, is told how many bytes of mapped input files become
	// resident (positive) and leave the resident set again (negative) as
	// the readers pass over them and unmap them: memory outside the Go heap
	// that a caller pacing the collector counts (gctune.Tuner.AddExternal).
	Mapped func(delta int64)
	// KeepNative, if set, says whether resources of a normalized type read
	// from Terraform keep their native attributes (terraform.Options);
	// nil keeps them for all.
	KeepNative func(typ string) bool
}

func (o Options) withDefaults() Options {
	if o.MaxInputSize <= 0 {
		o.MaxInputSize = DefaultMaxInputSize
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Read reads every path — a file, a directory searched recursively for
// .json, .yaml, .yml and .tfstate files (hidden files and directories and
// .terraform skipped), or "-" for stdin — and returns one finalized estate.
//
// Inputs are read concurrently. An input that cannot be read, parsed or
// recognised is recorded with its error in Estate.Inputs and the others are
// still read; Read fails only when no input could be read at all (it then
// returns the estate too, so the caller can show why) or ctx is cancelled.
func Read(ctx context.Context, paths []string, opts Options) (*inventory.Estate, error) {
	opts = opts.withDefaults()
	if len(paths) == 0 {
		return nil, errors.New("no inputs: name files, directories or - for stdin")
	}
	inputs := expand(paths)
	results := make([]result, len(inputs))
	work := make(chan int)
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(inputs))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = readOne(ctx, inputs[i], opts)
			}
		}()
	}
feed:
	for i := range inputs {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading inputs: %w", err)
	}

	e := &inventory.Estate{Inputs: make([]inventory.Input, 0, len(inputs))}
	var manifests []*kubernetes.Manifests
	read := 0
	for i, r := range results {
		in := inventory.Input{Path: inputs[i].display(), Kind: r.kind, Error: r.err, Skipped: r.skipped}
		switch {
		case r.err != "":
		case r.manifests != nil:
			manifests = append(manifests, r.manifests)
			in.Resources = r.manifests.Resources()
		case r.estate != nil:
			in.Resources = len(r.estate.Resources)
			r.estate.Inputs = nil
			e.Merge(r.estate)
		}
		if r.err == "" {
			read++
		}
		e.Inputs = append(e.Inputs, in)
	}
	if len(manifests) > 0 {
		e.Merge(kubernetes.Join(manifests...))
	}
	e.Finalize()
	if read == 0 {
		if len(e.Inputs) == 1 {
			return e, errors.New(e.Inputs[0].Error)
		}
		return e, fmt.Errorf("none of the %d inputs could be read; the first failed with: %s", len(e.Inputs), e.Inputs[0].Error)
	}
	return e, nil
}

// result is what reading one input produced.
type result struct {
	kind      string
	err       string
	skipped   string
	estate    *inventory.Estate
	manifests *kubernetes.Manifests
}

func readOne(ctx context.Context, in input, opts Options) result {
	if in.err != nil {
		return result{err: in.err.Error()}
	}
	if err := ctx.Err(); err != nil {
		return result{err: err.Error()}
	}
	start := time.Now()
	name := in.display()
	data, unmap, err := readInput(in, opts)
	if err != nil {
		return result{err: err.Error()}
	}
	var released atomic.Int64
	if unmap != nil {
		// The Terraform reader keeps nothing of the bytes it parses, so a
		// mapped file is unmapped when it returns; the other readers get a
		// copy on the heap, which they may keep.
		if opts.Mapped != nil {
			// Mapped with MAP_POPULATE, the whole file is resident.
			opts.Mapped(int64(len(data)))
			defer func() { opts.Mapped(-(int64(len(data)) - released.Load())) }()
		}
		defer unmap()
	}
	kind, err := detect(name, data, opts.MaxDepth)
	var ni *notInputError
	if in.walked && errors.As(err, &ni) {
		return result{skipped: ni.msg}
	}
	if err != nil {
		return result{err: err.Error()}
	}
	r := result{kind: kind}
	if unmap != nil && kind != KindTerraformPlan && kind != KindTerraformState {
		data = bytes.Clone(data)
	}
	switch kind {
	case KindKubernetes:
		r.manifests, err = kubernetes.Load(name, data, kubernetes.Options{Cluster: opts.Cluster, Namespace: opts.Namespace, MaxDepth: opts.MaxDepth})
	case KindSnapshot:
		r.estate, err = snapshot.Parse(name, data)
	case KindTerraformPlan, KindTerraformState:
		to := terraform.Options{KeepNative: opts.KeepNative}
		if unmap != nil {
			to.Release = func(start, end int) {
				if n := int64(dropPages(data, start, end)); n > 0 {
					released.Add(n)
					if opts.Mapped != nil {
						opts.Mapped(-n)
					}
				}
			}
		}
		r.estate, err = terraform.ParseWith(name, data, to)
	}
	if err != nil {
		r.err = err.Error()
	}
	opts.Logger.Debug("read input", "path", name, "kind", kind, "bytes", len(data), "duration", time.Since(start), "error", r.err)
	return r
}
