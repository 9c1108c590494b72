package terraform

import (
	"runtime"
	"strings"
	"sync"
)

// configResource is one resource block of the configuration.
type configResource struct {
	// expressions is where the block's expressions are in the file; a
	// worker decodes them when it maps the block's resources, so the
	// configuration of a large plan is never held decoded all at once.
	// They are checked as strictly as decoding them would when the
	// configuration is read, once for every instance of the block.
	expressions span
	providerKey string
}

// configIndex is the configuration, indexed for the mappers.
type configIndex struct {
	// resources maps a block's address without instance keys
	// (module.net.aws_vpc.main) to its expressions.
	resources map[string]configResource
	// outputs maps a module path without instance keys to its outputs'
	// references.
	outputs map[string]map[string][]any
	// inputs maps a called module's path without instance keys to the
	// references of the arguments its caller passes.
	inputs    map[string]map[string][]any
	providers map[string]any
}

// configBlock is where one resource block is, with its module prefix.
type configBlock struct {
	prefix string
	at     span
}

// readConfig reads the configuration object at d's position. Its module
// tree is walked in order; the resource blocks, which a generated
// configuration may hold by the ten thousand, are decoded on every core.
func readConfig(d *decoder) (*configIndex, error) {
	c := &configIndex{resources: map[string]configResource{}, outputs: map[string]map[string][]any{}, inputs: map[string]map[string][]any{}}
	var blocks []configBlock
	var module func(prefix string) error
	module = func(prefix string) error {
		return d.fields(func(k []byte) error {
			switch string(k) {
			case "resources":
				return d.elements(func(int) error {
					start, depth := d.pos, d.depth
					if err := d.skipFast(); err != nil {
						return err
					}
					if d.data[start] == '{' {
						blocks = append(blocks, configBlock{prefix, span{start, d.pos, depth}})
					}
					return nil
				})
			case "module_calls":
				return d.fields(func(name []byte) error {
					child := prefix + "module." + string(name) + "."
					return d.fields(func(k []byte) error {
						switch string(k) {
						case "module":
							return module(child)
						case "expressions":
							v, err := d.value()
							if err != nil {
								return err
							}
							args, _ := v.(map[string]any)
							refs := make(map[string][]any, len(args))
							for name, a := range args {
								expr, _ := a.(map[string]any)
								if l, ok := expr["references"].([]any); ok {
									refs[name] = l
								}
							}
							c.inputs[strings.TrimSuffix(child, ".")] = refs
							return nil
						}
						return d.skipFast()
					})
				})
			case "outputs":
				v, err := d.value()
				if err != nil {
					return err
				}
				os, _ := v.(map[string]any)
				refs := make(map[string][]any, len(os))
				for name, o := range os {
					om, _ := o.(map[string]any)
					expr, _ := om["expression"].(map[string]any)
					if l, ok := expr["references"].([]any); ok {
						refs[name] = l
					}
				}
				c.outputs[strings.TrimSuffix(prefix, ".")] = refs
				return nil
			}
			return d.skipFast()
		})
	}
	err := d.fields(func(k []byte) error {
		switch string(k) {
		case "root_module":
			return module("")
		case "provider_config":
			v, err := d.value()
			c.providers, _ = v.(map[string]any)
			return err
		}
		return d.skipFast()
	})
	if err != nil {
		return nil, err
	}

	type decoded struct {
		addr string
		cr   configResource
		err  error
	}
	out := make([]decoded, len(blocks))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(blocks)/64))
	chunk := (len(blocks) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(blocks); lo += chunk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bd := newDecoder(nil)
			for i := lo; i < min(lo+chunk, len(blocks)); i++ {
				b := blocks[i]
				bd.reset(d.data[b.at.start:b.at.end], b.at.start)
				bd.depth = b.at.depth
				var addr string
				var cr configResource
				err := bd.fields(func(k []byte) error {
					var err error
					switch string(k) {
					case "address":
						addr, err = bd.readString()
					case "provider_config_key":
						cr.providerKey, err = bd.readString()
					case "expressions":
						// capture reads offsets in the block; the worker
						// decodes from the whole file. Checked here, once,
						// rather than by each instance's worker.
						cr.expressions, err = captureValid(bd)
						cr.expressions.start += b.at.start
						cr.expressions.end += b.at.start
					default:
						err = bd.skipFast()
					}
					return err
				})
				if err != nil {
					out[i].err = err
					return
				}
				if addr != "" {
					out[i] = decoded{addr: b.prefix + addr, cr: cr}
				}
			}
		}()
	}
	wg.Wait()
	for _, o := range out {
		if o.err != nil {
			return nil, o.err
		}
		if o.addr != "" {
			c.resources[o.addr] = o.cr
		}
	}
	return c, nil
}
