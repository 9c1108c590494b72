package terraform

import "testing"

func TestGoogleMappers(t *testing.T) { runMapperGolden(t, "google") }
