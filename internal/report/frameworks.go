package report

import (
	"cmp"
	"strings"
)

// frameworkRank orders the frameworks the packs map to: the ones German
// authorities are audited against first, then the hardened baseline, then
// any other, by name.
var frameworkRank = map[string]int{"bsi-c5": 0, "gdpr": 1, "baseline": 2}

// frameworkTitles are the names an auditor knows the frameworks by.
var frameworkTitles = map[string]string{
	"bsi-c5":   "BSI C5",
	"gdpr":     "GDPR (DSGVO)",
	"baseline": "hoheit baseline",
}

func frameworkTitle(name string) string {
	if t, ok := frameworkTitles[name]; ok {
		return t
	}
	return name
}

func compareFrameworks(a, b string) int {
	ra, oka := frameworkRank[a]
	rb, okb := frameworkRank[b]
	switch {
	case oka && okb:
		return cmp.Compare(ra, rb)
	case oka:
		return -1
	case okb:
		return 1
	}
	return cmp.Compare(a, b)
}

// compareNatural compares control ids so that numbers inside them sort by
// value: CRY-02 before CRY-10, "Art. 5" before "Art. 32".
func compareNatural(a, b string) int {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := leadingDigits(a)
			nb, rb := leadingDigits(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if c := cmp.Or(cmp.Compare(len(ta), len(tb)), cmp.Compare(ta, tb)); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func leadingDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
