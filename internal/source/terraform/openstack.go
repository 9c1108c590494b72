package terraform

var openstackMappers = map[string]mapper{}

var openstackJoiners = map[string]joiner{}
