package source

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/hoheit/hoheit/internal/source/terraform"
)

// The kinds of input Read recognises, as reported in inventory.Input.Kind.
const (
	KindTerraformPlan  = terraform.KindPlan
	KindTerraformState = terraform.KindState
	KindSnapshot       = "snapshot"
	KindKubernetes     = "kubernetes"
)

// Detect tells what an input is from its content alone: a Terraform plan or
// state from `terraform show -json`, a hoheit snapshot, or Kubernetes
// manifests (YAML or JSON with apiVersion and kind). It reports false for
// anything else, including JSON nested deeper than DefaultMaxDepth.
func Detect(data []byte) (kind string, ok bool) {
	kind, err := detect("input", data, DefaultMaxDepth)
	return kind, err == nil
}

// detect is Detect with an explanation, naming file, when the kind is
// unknown. For JSON it passes over the whole input once, so nesting beyond
// maxDepth is refused before any parser sees it.
//
// The parsers would survive deep input on their own: encoding/json and
// go.yaml.in/yaml/v3 both stop at 10,000 levels within milliseconds on a
// million nested brackets (measured), and the terraform reader stops at 512.
// The pass makes the limit configurable and the message the same for every
// kind; the Kubernetes reader applies it to YAML itself, after parsing.
func detect(file string, data []byte, maxDepth int) (string, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return "", fmt.Errorf("%s: the input is empty", file)
	}
	if trimmed[0] == '[' {
		return "", notInput("%s: the input is a JSON list; hoheit reads Terraform plans and state (terraform show -json), Kubernetes manifests and hoheit snapshots, which are JSON objects", file)
	}
	if trimmed[0] != '{' {
		if yamlHasKind(data) {
			return KindKubernetes, nil
		}
		return "", notInput("%s: no document has top-level apiVersion and kind, so this is not a Kubernetes manifest (nor a Terraform plan, state or hoheit snapshot, which are JSON); remove it from the paths to scan", file)
	}
	// A Terraform plan or state is recognised from its first keys, and the
	// Terraform decoder refuses nesting beyond terraform.MaxDepth itself,
	// so the pass over the whole input (a third of a second for a 300 MB
	// plan) is needed only when a stricter limit was asked for.
	if maxDepth >= terraform.MaxDepth {
		if kind, ok := terraform.Detect(data); ok {
			return kind, nil
		}
	}
	keys, err := topLevelKeys(data, maxDepth)
	if err != nil {
		return "", fmt.Errorf("%s:%w", file, err)
	}
	switch {
	case keys["hoheit_snapshot"]:
		return KindSnapshot, nil
	case keys["serial"] && keys["lineage"]:
		return "", fmt.Errorf("%s: this is a raw Terraform state file; hoheit reads the JSON that 'terraform show -json' prints: run 'terraform show -json > state.json' and scan state.json", file)
	case keys["apiVersion"] && keys["kind"]:
		return KindKubernetes, nil
	}
	if kind, ok := terraform.Detect(data); ok {
		return kind, nil
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return "", notInput("%s: a JSON object with keys %s is not a Terraform plan or state (terraform show -json), a Kubernetes object (apiVersion, kind) or a hoheit snapshot (hoheit_snapshot); remove it from the paths to scan", file, strings.Join(names, ", "))
}

// notInputError is a well-formed file that is no kind of input hoheit reads
// (a values.yaml, a package.json, ...). Found in a directory, it is
// skipped; named explicitly, it fails.
type notInputError struct{ msg string }

func (e *notInputError) Error() string { return e.msg }

func notInput(format string, a ...any) error { return &notInputError{msg: fmt.Sprintf(format, a...)} }

// depthError reports input nested deeper than the limit. Its message starts
// with the line, to follow "file:".
type depthError struct {
	line, limit int
}

func (e *depthError) Error() string {
	return fmt.Sprintf("%d: JSON nested deeper than %d levels; no plan, manifest or snapshot nests this deep, so the file is refused (raise the limit with --max-depth if it is genuine)", e.line, e.limit)
}

// topLevelKeys passes once over a JSON text, checking that arrays and
// objects nest no deeper than maxDepth and collecting the keys of the
// top-level objects. It does not validate the JSON; the parser that reads
// the input does.
func topLevelKeys(data []byte, maxDepth int) (map[string]bool, error) {
	keys := map[string]bool{}
	depth := 0
	topObject := false
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			start := i + 1
			j := start
			for {
				k := bytes.IndexAny(data[j:], "\"\\")
				if k < 0 {
					return keys, nil // unterminated string: the parser will say where
				}
				j += k
				if data[j] == '\\' {
					j += 2
					if j >= len(data) {
						return keys, nil
					}
					continue
				}
				break
			}
			if depth == 1 && topObject {
				n := j + 1
				for n < len(data) && (data[n] == ' ' || data[n] == '\t' || data[n] == '\r' || data[n] == '\n') {
					n++
				}
				if n < len(data) && data[n] == ':' && len(keys) < 1000 {
					keys[string(data[start:j])] = true
				}
			}
			i = j
		case '{', '[':
			if depth == 0 {
				topObject = data[i] == '{'
			}
			depth++
			if depth > maxDepth {
				return nil, &depthError{line: 1 + bytes.Count(data[:i], []byte("\n")), limit: maxDepth}
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return keys, nil
}

// yamlHasKind reports whether some document of a YAML text has top-level
// apiVersion and kind keys. It looks at lines that start in column 0, which
// is where a block mapping at the top of a document puts its keys.
func yamlHasKind(data []byte) bool {
	apiVersion, kind := false, false
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		switch {
		case bytes.HasPrefix(line, []byte("---")):
			apiVersion, kind = false, false
		case hasKey(line, "apiVersion"):
			apiVersion = true
		case hasKey(line, "kind"):
			kind = true
		}
		if apiVersion && kind {
			return true
		}
	}
	return false
}

// hasKey reports whether line starts with key, plain or quoted, then a colon.
func hasKey(line []byte, key string) bool {
	for _, q := range []string{"", `"`, `'`} {
		k := q + key + q
		if bytes.HasPrefix(line, []byte(k)) {
			rest := bytes.TrimLeft(line[len(k):], " \t")
			return len(rest) > 0 && rest[0] == ':'
		}
	}
	return false
}
