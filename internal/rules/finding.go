package rules

import "github.com/hoheit/hoheit/internal/inventory"

// Finding is one rule's verdict on one resource.
type Finding struct {
	Rule     *Rule               `json:"-"`
	Resource *inventory.Resource `json:"-"`
	Status   Status              `json:"status"`
	// Message explains an error or an unknown verdict.
	Message string `json:"message,omitempty"`
	// Evidence holds the values of the attributes the check reads.
	Evidence Evidence `json:"evidence,omitempty"`
	// Exception is the exception that suppressed the finding, if any.
	Exception *Exception `json:"exception,omitempty"`

	// order is the resource's position in the estate, for a cheap sort.
	order int
}

// Result is everything one evaluation produced.
type Result struct {
	Estate   *inventory.Estate
	Rules    []*Rule
	Findings []Finding
	// Checks is how many (rule, resource) pairs were evaluated; Passed how
	// many of them were compliant.
	Checks int
	Passed int
	// ExpiredExceptions are exceptions past their expiry date; they no
	// longer suppress anything.
	ExpiredExceptions []*Exception
}
