package terraform

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/hoheit/hoheit/internal/inventory"
)

// The kinds Detect reports.
const (
	KindPlan  = "terraform-plan"
	KindState = "terraform-state"
)

// Detect tells a plan from a state printed by `terraform show -json` by a
// look at the top-level keys, without decoding the values. It stops at the
// first key that decides, which Terraform writes near the start.
func Detect(data []byte) (kind string, ok bool) {
	d := newDecoder(trimBOM(data))
	versioned := false
	err := d.fields(func(k []byte) error {
		switch string(k) {
		case "format_version", "terraform_version":
			versioned = true
		case "planned_values", "resource_changes", "prior_state", "resource_drift", "output_changes":
			kind = KindPlan
			return errStop
		case "values":
			if versioned {
				kind = KindState
				return errStop
			}
		}
		return d.skipFast()
	})
	switch {
	case kind != "":
		return kind, true
	case err == nil && versioned:
		// An empty state prints only its versions.
		return KindState, true
	}
	return "", false
}

var errStop = errors.New("stop")

func trimBOM(data []byte) []byte { return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) }

// Parse reads a plan or a state as printed by `terraform show -json` and
// returns its managed resources in normalized form. The file name is used in
// locations and errors only. Settings Terraform splits into separate
// resources (aws_s3_bucket_versioning, ...) are joined onto the resource they
// configure; values known only after apply are marked unknown, never taken
// as false; native types hoheit does not model are counted as unsupported.
//
// Malformed input, input nested deeper than MaxDepth and JSON format major
// versions other than 1 are errors naming the file and the position.
func Parse(file string, data []byte) (*inventory.Estate, error) {
	data = trimBOM(data)
	p := &parser{file: file, data: data}
	if err := p.scan(); err != nil {
		return nil, p.wrap(err)
	}
	return p.build()
}

// parser holds one Parse call's state.
type parser struct {
	file string
	data []byte
	kind string

	resources []*planResource
	changes   []*change
	config    map[string]any
	variables map[string]any
	configRaw job

	multiline bool
	line      int
	lineOff   int
}

// planResource is one resource of planned_values or values, as the scanner
// finds it; workers fill values.
type planResource struct {
	address, mode, typ, name, provider string
	path                               string
	line                               int
	values                             map[string]any
}

// change is one entry of resource_changes; workers fill unknown.
type change struct {
	address string
	deposed bool
	unknown map[string]any
}

// job is a slice of the file a worker decodes into dst.
type job struct {
	start, end, depth int
	dst               *map[string]any
}

// jobBatch is how many jobs travel to a worker at once.
const jobBatch = 128

func (p *parser) wrap(err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		line, col := position(p.data, se.Offset)
		return fmt.Errorf("reading %s: line %d, column %d (byte %d): %s; check that it is the unchanged output of `terraform show -json`",
			p.file, line, col, se.Offset, se.Msg)
	}
	return fmt.Errorf("reading %s: %w", p.file, err)
}

// scan walks the document once, reading the small fields itself and handing
// the bulky values to workers that decode them in parallel.
func (p *parser) scan() error {
	if nl := bytes.IndexByte(p.data, '\n'); nl >= 0 && nl < len(bytes.TrimRight(p.data, " \r\n\t"))-1 {
		p.multiline = true
	}
	p.line = 1

	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan []job, workers*4)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDecoder(nil)
			for batch := range jobs {
				for _, j := range batch {
					d.reset(p.data[j.start:j.end], j.start)
					d.depth = j.depth
					v, err := d.value()
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						continue
					}
					m, _ := v.(map[string]any)
					*j.dst = m
				}
			}
		}()
	}
	batch := make([]job, 0, jobBatch)
	send := func(j job) {
		batch = append(batch, j)
		if len(batch) == jobBatch {
			jobs <- batch
			batch = make([]job, 0, jobBatch)
		}
	}

	err := p.walk(send)
	if len(batch) > 0 {
		jobs <- batch
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	if firstErr != nil {
		return firstErr
	}
	if p.kind == "" {
		return errors.New("neither a plan nor a state: no planned_values, resource_changes or values at the top level; pass the output of `terraform show -json`")
	}
	return nil
}

func (p *parser) walk(send func(job)) error {
	d := newDecoder(p.data)
	// capture records the range of the value at the decoder's position and
	// skips it.
	capture := func(dst *map[string]any) error {
		start, depth := d.pos, d.depth
		if err := d.skipFast(); err != nil {
			return err
		}
		if p.data[start] == '{' {
			send(job{start: start, end: d.pos, depth: depth, dst: dst})
		}
		return nil
	}
	err := d.fields(func(k []byte) error {
		switch string(k) {
		case "format_version":
			v, err := d.readString()
			if err != nil {
				return err
			}
			if major, _, _ := strings.Cut(v, "."); major != "1" {
				return fmt.Errorf("unsupported format_version %q: hoheit reads the JSON format 1.x of Terraform 1.x; upgrade hoheit or print the file with Terraform 1.x", v)
			}
			return nil
		case "planned_values":
			p.kind = KindPlan
			return p.walkValues(d, "planned_values", capture)
		case "values":
			if p.kind == "" {
				p.kind = KindState
			}
			return p.walkValues(d, "values", capture)
		case "resource_changes":
			p.kind = KindPlan
			return p.walkChanges(d, capture)
		case "configuration":
			return capture(&p.config)
		case "variables":
			return capture(&p.variables)
		case "prior_state", "resource_drift", "output_changes":
			p.kind = KindPlan
		}
		return d.skipFast()
	})
	if err != nil {
		return err
	}
	return d.end()
}

// walkValues reads a values representation: {"root_module": {...}}.
func (p *parser) walkValues(d *decoder, path string, capture func(*map[string]any) error) error {
	return d.fields(func(k []byte) error {
		if string(k) == "root_module" {
			return p.walkModule(d, path+".root_module", capture)
		}
		return d.skipFast()
	})
}

func (p *parser) walkModule(d *decoder, path string, capture func(*map[string]any) error) error {
	return d.fields(func(k []byte) error {
		switch string(k) {
		case "resources":
			return d.elements(func(i int) error {
				return p.walkResource(d, path+".resources["+strconv.Itoa(i)+"]", capture)
			})
		case "child_modules":
			return d.elements(func(i int) error {
				return p.walkModule(d, path+".child_modules["+strconv.Itoa(i)+"]", capture)
			})
		}
		return d.skipFast()
	})
}

func (p *parser) walkResource(d *decoder, path string, capture func(*map[string]any) error) error {
	r := &planResource{path: path}
	if p.multiline {
		p.line += bytes.Count(p.data[p.lineOff:d.pos], []byte{'\n'})
		p.lineOff = d.pos
		r.line = p.line
	}
	err := d.fields(func(k []byte) error {
		var err error
		switch string(k) {
		case "address":
			r.address, err = d.readString()
		case "mode":
			r.mode, err = d.readString()
		case "type":
			r.typ, err = d.readString()
		case "name":
			r.name, err = d.readString()
		case "provider_name":
			r.provider, err = d.readString()
		case "values":
			err = capture(&r.values)
		default:
			err = d.skipFast()
		}
		return err
	})
	if err != nil {
		return err
	}
	if r.mode == "managed" && r.typ != "" && r.address != "" {
		p.resources = append(p.resources, r)
	}
	return nil
}

func (p *parser) walkChanges(d *decoder, capture func(*map[string]any) error) error {
	return d.elements(func(int) error {
		c := &change{}
		var mode string
		err := d.fields(func(k []byte) error {
			var err error
			switch string(k) {
			case "address":
				c.address, err = d.readString()
			case "mode":
				mode, err = d.readString()
			case "deposed":
				c.deposed = true
				err = d.skipFast()
			case "change":
				err = d.fields(func(k []byte) error {
					if string(k) == "after_unknown" {
						return capture(&c.unknown)
					}
					return d.skipFast()
				})
			default:
				err = d.skipFast()
			}
			return err
		})
		if err == nil && mode == "managed" && !c.deposed {
			p.changes = append(p.changes, c)
		}
		return err
	})
}

// configResource is one resource block of the configuration.
type configResource struct {
	expressions map[string]any
	providerKey string
}

// build turns what the scan found into the estate.
func (p *parser) build() (*inventory.Estate, error) {
	mappers, joiners := registry()
	configs := map[string]configResource{}
	outputs := map[string]map[string][]any{}
	if rm, ok := p.config["root_module"].(map[string]any); ok {
		collectConfig(rm, "", configs, outputs, 0)
	}
	providers, _ := p.config["provider_config"].(map[string]any)
	unknowns := make(map[string]map[string]any, len(p.changes))
	for _, c := range p.changes {
		if c.unknown != nil {
			unknowns[c.address] = c.unknown
		}
	}

	// Map in parallel; every mapper is a pure function of its native.
	natives := make([]*native, len(p.resources))
	out := make([]*inventory.Resource, len(p.resources))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	chunk := (len(p.resources) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(p.resources))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			regions := map[string]string{}
			for i := lo; i < hi; i++ {
				pr := p.resources[i]
				n := &native{
					Address:  pr.address,
					Type:     pr.typ,
					Name:     pr.name,
					Provider: providerShortName(pr.provider, pr.typ),
					Values:   pr.values,
					Unknown:  unknowns[pr.address],
					Location: inventory.Location{File: p.file, Line: pr.line, Path: pr.path},
					outputs:  outputs,
				}
				if n.Values == nil {
					n.Values = map[string]any{}
				}
				if cr, ok := configs[configAddress(pr.address)]; ok {
					n.Config = cr.expressions
					if n.Config == nil {
						n.Config = map[string]any{}
					}
					key := cr.providerKey
					reg, ok := regions[key]
					if !ok {
						reg = p.providerRegion(providers, key)
						regions[key] = reg
					}
					n.Region = reg
				} else if providers != nil {
					n.Region = p.providerRegion(providers, n.Provider)
				}
				natives[i] = n
				if m, ok := mappers[n.Type]; ok {
					r, err := safeMap(m, n)
					if err != nil {
						errs[w] = err
						return
					}
					if r != nil {
						fillCommon(r, n)
						out[i] = r
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	est := &inventory.Estate{Resources: make([]*inventory.Resource, 0, len(out))}
	var split []int
	for i, r := range out {
		n := natives[i]
		_, mapped := mappers[n.Type]
		_, joined := joiners[n.Type]
		switch {
		case r != nil:
			est.Add(r)
		case !mapped && !joined:
			est.AddUnsupported(providerName(n.Provider), n.Type, n.Address)
		}
		if joined {
			split = append(split, i)
		}
	}
	if len(split) > 0 || hasType(est.Resources, "kms.key") {
		types := map[string]bool{"kms.key": true}
		for _, i := range split {
			types[joiners[natives[i].Type].Target] = true
		}
		t := indexTargets(est.Resources, types)
		if err := join(t, natives, split, joiners); err != nil {
			return nil, err
		}
		resolveKeyManagers(est.Resources, t)
	}
	est.Inputs = []inventory.Input{{Path: p.file, Kind: p.kind, Resources: len(est.Resources)}}
	return est, nil
}

// safeMap runs a mapper, turning a panic (a bug, never the input's fault)
// into an error that names the resource instead of ending the program.
func safeMap(m mapper, n *native) (r *inventory.Resource, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("mapping %s failed: %v; this is a bug in hoheit, please report it with the resource type %s", n.Address, v, n.Type)
		}
	}()
	return m(n), nil
}

// collectConfig indexes the resource blocks of a configuration module and
// its module calls by module path without instance keys
// (module.net.aws_vpc.main).
func collectConfig(mod map[string]any, prefix string, out map[string]configResource, outputs map[string]map[string][]any, depth int) {
	if depth > MaxDepth {
		return
	}
	if os, ok := mod["outputs"].(map[string]any); ok {
		path := strings.TrimSuffix(prefix, ".")
		m := map[string][]any{}
		for name, o := range os {
			om, _ := o.(map[string]any)
			expr, _ := om["expression"].(map[string]any)
			if refs, ok := expr["references"].([]any); ok {
				m[name] = refs
			}
		}
		outputs[path] = m
	}
	rs, _ := mod["resources"].([]any)
	for _, e := range rs {
		r, ok := e.(map[string]any)
		if !ok {
			continue
		}
		addr, _ := r["address"].(string)
		if addr == "" {
			continue
		}
		exprs, _ := r["expressions"].(map[string]any)
		key, _ := r["provider_config_key"].(string)
		out[prefix+addr] = configResource{expressions: exprs, providerKey: key}
	}
	calls, _ := mod["module_calls"].(map[string]any)
	for name, c := range calls {
		call, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if m, ok := call["module"].(map[string]any); ok {
			collectConfig(m, prefix+"module."+name+".", out, outputs, depth+1)
		}
	}
}

// providerRegion returns the region a provider configuration sets, as a
// constant or through a root module variable.
func (p *parser) providerRegion(providers map[string]any, key string) string {
	pc, ok := providers[key].(map[string]any)
	if !ok {
		// Module keys are "module.x:aws"; fall back to the provider's own
		// name, the configuration a module inherits by default.
		if _, local, found := strings.Cut(key, ":"); found {
			pc, ok = providers[local].(map[string]any)
		}
		if !ok {
			name, _, _ := strings.Cut(key, ".")
			pc, ok = providers[name].(map[string]any)
		}
		if !ok {
			return ""
		}
	}
	exprs, _ := pc["expressions"].(map[string]any)
	for _, attr := range []string{"region", "location"} {
		e, ok := exprs[attr].(map[string]any)
		if !ok {
			continue
		}
		if s, ok := e["constant_value"].(string); ok {
			return normalizeRegion(s)
		}
		refs, _ := e["references"].([]any)
		for _, ref := range refs {
			s, _ := ref.(string)
			if name, ok := strings.CutPrefix(s, "var."); ok {
				if v, ok := p.variables[name].(map[string]any); ok {
					if s, ok := v["value"].(string); ok {
						return normalizeRegion(s)
					}
				}
			}
		}
	}
	return ""
}

// providerShortName takes "registry.terraform.io/hashicorp/aws" to "aws";
// without a provider name it guesses from the type's prefix.
func providerShortName(full, typ string) string {
	if full != "" {
		if i := strings.LastIndexByte(full, '/'); i >= 0 {
			return full[i+1:]
		}
		return full
	}
	name, _, _ := strings.Cut(typ, "_")
	return name
}

// providerName is hoheit's name of a Terraform provider, or the
// Terraform name for providers hoheit does not know.
func providerName(short string) string {
	if p, ok := providerNames[short]; ok {
		return p
	}
	return short
}

// fillCommon sets the common fields a mapper left empty.
func fillCommon(r *inventory.Resource, n *native) {
	if r.Provider == "" {
		r.Provider = providerName(n.Provider)
	}
	if r.NativeType == "" {
		r.NativeType = n.Type
	}
	if r.Address == "" {
		r.Address = n.Address
	}
	if r.ID == "" {
		r.ID = nativeID(n)
	}
	if r.Name == "" {
		r.Name = nativeName(n)
	}
	if r.Tags == nil {
		r.Tags = nativeTags(n)
	}
	if r.Native == nil {
		r.Native = n.Values
	}
	if r.Source == (inventory.Location{}) {
		r.Source = n.Location
	}
	if r.Region == "" {
		r.Region = nativeRegion(n)
	}
	if r.Account == "" {
		r.Account = nativeAccount(n)
	}
	if r.Attrs == nil {
		r.Attrs = map[string]any{}
	}
}

func nativeID(n *native) string {
	for _, k := range []string{"id", "arn"} {
		if s := n.str(k); s != "" {
			return s
		}
	}
	return n.Address
}

func nativeName(n *native) string {
	if s := n.str("name"); s != "" {
		return s
	}
	for _, k := range []string{"tags_all", "tags"} {
		if s := n.str(k + ".Name"); s != "" {
			return s
		}
	}
	return n.Name
}

func nativeTags(n *native) map[string]string {
	for _, k := range []string{"tags_all", "tags", "labels"} {
		m, ok := n.Values[k].(map[string]any)
		if !ok || len(m) == 0 {
			continue
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	return nil
}

// nativeRegion is the resource's own region, location or zone, else the
// provider's region, else the region in an ARN.
func nativeRegion(n *native) string {
	for _, k := range []string{"region", "location"} {
		if s := n.str(k); s != "" {
			return normalizeRegion(s)
		}
	}
	for _, k := range []string{"zone", "availability_zone"} {
		if s := zoneRegion(n.str(k)); s != "" {
			return s
		}
	}
	if n.Region != "" {
		return n.Region
	}
	if parts := strings.SplitN(n.str("arn"), ":", 6); len(parts) == 6 {
		return parts[3]
	}
	return ""
}

// normalizeRegion lower-cases a region and drops spaces ("West Europe" is
// Azure's westeurope, "EUROPE-WEST3" is Google's europe-west3).
func normalizeRegion(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", ""))
}

// zoneRegion derives the region of an availability zone: AWS
// eu-central-1a, Google europe-west3-b, Open Telekom Cloud eu-de-01. It
// returns "" for names without a recognisable region (OpenStack's "nova").
func zoneRegion(z string) string {
	z = strings.ToLower(z)
	n := len(z)
	switch {
	case n >= 4 && z[n-1] >= 'a' && z[n-1] <= 'z' && z[n-2] >= '0' && z[n-2] <= '9' && strings.Count(z, "-") >= 2:
		return z[:n-1] // eu-central-1a
	case n >= 4 && z[n-2] == '-' && z[n-1] >= 'a' && z[n-1] <= 'z' && z[n-3] >= '0' && z[n-3] <= '9':
		return z[:n-2] // europe-west3-b
	case n >= 6 && z[n-3] == '-' && z[n-2] == '0' && z[n-1] >= '0' && z[n-1] <= '9' && strings.Count(z, "-") >= 2:
		return z[:n-3] // eu-de-01
	}
	return ""
}

// nativeAccount derives the account from values most providers carry: an
// ARN or account/owner id (AWS), a subscription in an Azure id, a Google
// project, an OpenStack project.
func nativeAccount(n *native) string {
	if parts := strings.SplitN(n.str("arn"), ":", 6); len(parts) == 6 && parts[4] != "" {
		return parts[4]
	}
	for _, k := range []string{"account_id", "owner_id", "project", "project_id", "tenant_id"} {
		if s := n.str(k); s != "" {
			return s
		}
	}
	if rest, ok := strings.CutPrefix(n.str("id"), "/subscriptions/"); ok {
		sub, _, _ := strings.Cut(rest, "/")
		return sub
	}
	return ""
}

func hasType(rs []*inventory.Resource, typ string) bool {
	for _, r := range rs {
		if r.Type == typ {
			return true
		}
	}
	return false
}
