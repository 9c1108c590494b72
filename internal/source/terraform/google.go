package terraform

var googleMappers = map[string]mapper{}

var googleJoiners = map[string]joiner{}
