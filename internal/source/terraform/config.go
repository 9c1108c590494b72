package terraform

import (
	"strings"
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

// readConfig reads the configuration object at d's position, its module
// tree in order, each resource block as it comes: a generated
// configuration may hold them by the hundred thousand, and finding them
// first to read them on every core walked them twice (the reader runs
// beside the scan of planned_values, on a core of its own).
func readConfig(d *decoder) (*configIndex, error) {
	c := &configIndex{resources: map[string]configResource{}, outputs: map[string]map[string][]any{}, inputs: map[string]map[string][]any{}}
	var module func(prefix string) error
	module = func(prefix string) error {
		return d.fields(func(k []byte) error {
			switch string(k) {
			case "resources":
				return d.elements(func(int) error {
					if d.peek() != '{' {
						return d.skipFast()
					}
					return readConfigResource(d, prefix, c.resources)
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

	return c, nil
}

// readConfigResource reads one resource block of the module at prefix
// into resources.
func readConfigResource(d *decoder, prefix string, resources map[string]configResource) error {
	var addr string
	var cr configResource
	err := d.fields(func(k []byte) error {
		var err error
		switch string(k) {
		case "address":
			addr, err = d.readUnique()
		case "provider_config_key":
			cr.providerKey, err = d.readString()
		case "expressions":
			// Checked here, once, rather than by each instance's worker.
			cr.expressions, err = captureValid(d)
		default:
			err = d.skipFast()
		}
		return err
	})
	if err != nil {
		return err
	}
	if addr != "" {
		resources[prefix+addr] = cr
	}
	return nil
}
