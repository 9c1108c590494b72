package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// input is one file to read, or stdin, or a path that failed before reading.
type input struct {
	path  string
	stdin bool
	err   error
	// walked is set for a file found in a directory rather than named: it
	// is skipped, not failed, when it is no kind of input hoheit reads.
	walked bool
}

func (in input) display() string {
	if in.stdin {
		return "stdin"
	}
	return in.path
}

// extensions are the file name endings a directory walk picks up.
var extensions = []string{".json", ".yaml", ".yml", ".tfstate"}

// expand turns the paths given into the inputs to read, in order: files as
// given, directories walked in lexical order. Paths named explicitly are
// read whatever their name; in directories, hidden files and directories and
// .terraform (provider caches and modules) are skipped.
func expand(paths []string) []input {
	var out []input
	stdinSeen := false
	// A file named twice, or named and inside a named directory, is read
	// once, so its resources are not counted twice.
	seen := map[string]bool{}
	add := func(in input) {
		key := filepath.Clean(in.path)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, in)
	}
	for _, p := range paths {
		if p == "-" {
			if stdinSeen {
				continue // stdin is read once, however often it is named
			}
			stdinSeen = true
			out = append(out, input{stdin: true})
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			add(input{path: p, err: statError(p, err)})
			continue
		}
		if !fi.IsDir() {
			add(input{path: p})
			continue
		}
		found := 0
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				found++ // reported, so not "holds no files"
				out = append(out, input{path: path, err: statError(path, err)})
				if d != nil && d.IsDir() && path != p {
					return fs.SkipDir
				}
				return nil
			}
			name := d.Name()
			if d.IsDir() {
				if path != p && (strings.HasPrefix(name, ".") || name == ".terraform") {
					return fs.SkipDir
				}
				return nil
			}
			if strings.HasPrefix(name, ".") || !hasExtension(name) {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// Follow links to files, never to directories, so a walk
				// cannot loop.
				if fi, err := os.Stat(path); err != nil || fi.IsDir() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			found++
			add(input{path: path, walked: true})
			return nil
		})
		if err != nil {
			out = append(out, input{path: p, err: fmt.Errorf("walking %s: %w", p, err)})
		} else if found == 0 {
			out = append(out, input{path: p, err: fmt.Errorf("%s: the directory holds no %s files to scan", p, strings.Join(extensions, ", "))})
		}
	}
	return out
}

func hasExtension(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range extensions {
		if ext == e {
			return true
		}
	}
	return false
}

func statError(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or directory; check the path", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied; run hoheit as a user who may read it", p)
	}
	return fmt.Errorf("reading %s: %w", p, err)
}

// mapMinSize is the size from which a regular file is mapped (mapFile)
// rather than read.
const mapMinSize = 1 << 20

// readInput reads a whole input, refusing one larger than opts.MaxInputSize
// without reading it all: a regular file by its size, anything else (stdin,
// a pipe, a file still growing) by reading at most one byte more than the
// limit. A regular file of mapMinSize or more is mapped instead of read;
// unmap, non-nil then, releases it, after which the bytes must not be used.
func readInput(in input, opts Options) (data []byte, unmap func(), err error) {
	data, err = readOrMap(in, opts, &unmap)
	return data, unmap, err
}

func readOrMap(in input, opts Options, unmap *func()) ([]byte, error) {
	limit := opts.MaxInputSize
	var r io.Reader
	size := int64(0)
	if in.stdin {
		r = opts.Stdin
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, statError(in.path, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, statError(in.path, err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s: is a directory", in.path)
		}
		if fi.Mode().IsRegular() {
			size = fi.Size()
			if size > limit {
				return nil, fmt.Errorf("%s is %s, over the %s input limit; raise it with --max-input-size", in.path, formatSize(size, 1), formatSize(limit, 0))
			}
			if size >= mapMinSize {
				if data, release, ok := mapFile(f, size); ok {
					*unmap = release
					return data, nil
				}
			}
		}
		r = f
	}
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(size) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", in.display(), err)
	}
	if n > limit {
		return nil, fmt.Errorf("%s is over the %s input limit; raise it with --max-input-size", in.display(), formatSize(limit, 0))
	}
	return buf.Bytes(), nil
}

// formatSize renders a byte count in binary units: 1.0 GiB, 512 MiB.
// decimals is the number of decimals when the value is not whole.
func formatSize(n int64, decimals int) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	if decimals == 0 && v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.*f %s", max(decimals, 1), v, units[u])
}
