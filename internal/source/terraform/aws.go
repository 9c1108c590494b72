package terraform

var awsMappers = map[string]mapper{}

var awsJoiners = map[string]joiner{}
