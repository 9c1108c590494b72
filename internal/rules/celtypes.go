package rules

import (
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/hoheit/hoheit/internal/inventory"
)

// typePrefix names hoheit's object types in CEL: the schema of
// object_storage.bucket is hoheit.object_storage.bucket, its encryption
// block hoheit.object_storage.bucket.encryption, and so on.
const typePrefix = "hoheit."

// modelProvider declares the normalized model to the CEL type checker, so a
// rule that reads an attribute the type does not have fails at load time.
// At run time resources are plain maps; the interpreter selects their keys.
type modelProvider struct {
	*types.Registry
	objects map[string][]*inventory.Field
}

var _ types.Provider = (*modelProvider)(nil)

func newModelProvider() (*modelProvider, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	p := &modelProvider{Registry: reg, objects: map[string][]*inventory.Field{}}
	for name, s := range inventory.Schemas {
		p.register(typePrefix+name, append(append([]*inventory.Field{}, inventory.Common...), s.Fields...))
	}
	return p, nil
}

func (p *modelProvider) register(name string, fields []*inventory.Field) {
	p.objects[name] = fields
	for _, f := range fields {
		if f.Kind == inventory.Object || f.Kind == inventory.ObjectList {
			p.register(name+"."+f.Name, f.Fields)
		}
	}
}

// FindStructType returns hoheit's object types, then the base provider's.
func (p *modelProvider) FindStructType(name string) (*types.Type, bool) {
	if _, ok := p.objects[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Registry.FindStructType(name)
}

// FindStructFieldNames lists the attributes of an object type.
func (p *modelProvider) FindStructFieldNames(name string) ([]string, bool) {
	fs, ok := p.objects[name]
	if !ok {
		return p.Registry.FindStructFieldNames(name)
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out, true
}

// FindStructFieldType gives the CEL type of one attribute.
func (p *modelProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	fs, ok := p.objects[name]
	if !ok {
		return p.Registry.FindStructFieldType(name, field)
	}
	for _, f := range fs {
		if f.Name == field {
			return &types.FieldType{Type: celType(name, f)}, true
		}
	}
	return nil, false
}

// NewValue refuses to build hoheit objects: rules read resources, they do
// not make them.
func (p *modelProvider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.objects[name]; ok {
		return types.NewErr("cannot construct %s in a rule", name)
	}
	return p.Registry.NewValue(name, fields)
}

func celType(parent string, f *inventory.Field) *types.Type {
	switch f.Kind {
	case inventory.Bool:
		return types.BoolType
	case inventory.String:
		return types.StringType
	case inventory.Int:
		return types.IntType
	case inventory.StringList:
		return types.NewListType(types.StringType)
	case inventory.StringMap:
		return types.NewMapType(types.StringType, types.StringType)
	case inventory.Object:
		return types.NewObjectType(parent + "." + f.Name)
	case inventory.ObjectList:
		return types.NewListType(types.NewObjectType(parent + "." + f.Name))
	}
	return types.DynType
}
