package terraform

var azureMappers = map[string]mapper{}

var azureJoiners = map[string]joiner{}
