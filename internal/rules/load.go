package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadFS reads every rule file (*.yaml, *.yml) below dir in fsys, skipping
// testdata folders. pack names the rules' pack.
func LoadFS(fsys fs.FS, dir, pack string) ([]*Rule, error) {
	var out []*Rule
	var errs []error
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return fs.SkipDir
			}
			return nil
		}
		if !isRuleFile(p) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rs, err := Parse(p, data)
		if errors.Is(err, ErrNoRule) {
			// A data file beside the rules (criteria lists and the like).
			return nil
		}
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		for _, r := range rs {
			r.Pack = pack
		}
		out = append(out, rs...)
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("reading rules in %s: %w", dir, err))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, errors.Join(errs...)
}

// LoadPath reads rule files from a file or a directory on disk. Their pack is
// "custom" unless a rule file is inside a folder named like a pack.
func LoadPath(path string) ([]*Rule, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	if !st.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading rules: %w", err)
		}
		rs, err := Parse(path, data)
		for _, r := range rs {
			r.Pack = "custom"
		}
		return rs, err
	}
	rs, err := LoadFS(os.DirFS(path), ".", "custom")
	for _, r := range rs {
		r.File = filepath.Join(path, r.File)
	}
	return rs, err
}

func isRuleFile(p string) bool {
	return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")
}

// ErrNoRule is returned for a YAML file none of whose documents is a rule
// (has an id, a title or a check). Directory loads skip such data files.
var ErrNoRule = errors.New("no rule in file (a rule has id, title, severity, types and check)")

// Parse reads one rule file, which may hold several YAML documents.
func Parse(file string, data []byte) ([]*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Rule
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("%s: %s", file, yamlMessage(err))
		}
		if len(n.Content) == 0 || !looksLikeRule(n.Content[0]) {
			continue
		}
		r := &Rule{File: file, Line: n.Content[0].Line}
		if err := decodeStrict(n.Content[0], r); err != nil {
			return out, fmt.Errorf("%s:%d: %s", file, r.Line, yamlMessage(err))
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", file, ErrNoRule)
	}
	return out, nil
}

func looksLikeRule(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return true // let decodeStrict say what is wrong
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "id", "title", "check":
			return true
		}
	}
	return false
}

// decodeStrict decodes a mapping node into v, refusing unknown keys so a
// misspelt field ("severty") is an error, not a silent default.
func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return shiftLines(err, n.Line-1)
	}
	return nil
}

// shiftLines corrects the line numbers of a re-decoded node's errors.
func shiftLines(err error, by int) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || by == 0 {
		return err
	}
	fixed := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		var line int
		var rest string
		if _, scanErr := fmt.Sscanf(e, "line %d:", &line); scanErr == nil {
			rest = e[strings.Index(e, ":")+1:]
			fixed[i] = fmt.Sprintf("line %d:%s", line+by, rest)
		} else {
			fixed[i] = e
		}
	}
	return &yaml.TypeError{Errors: fixed}
}

// yamlMessage strips yaml's package prefix from an error.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}

// encodeYAML renders a value as YAML with two-space indents.
func encodeYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MarshalRule renders a rule as a rule file.
func MarshalRule(r *Rule) ([]byte, error) { return encodeYAML(r) }
