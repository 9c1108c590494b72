package terraform

import "testing"

func TestOpenStackMappers(t *testing.T) { runMapperGolden(t, "openstack") }
