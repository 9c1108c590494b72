package terraform

import "testing"

// TestValidateMatchesDecode checks that validate, which the reader runs on
// configuration expressions it decodes only later, fails exactly where and
// how decoding fails.
func TestValidateMatchesDecode(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `{"a": {"constant_value": [1, -2.5e3, true, false, null, "x\n\u00e9"]}}`,
		`{"a": {"references": ["aws_kms_key.k.arn", "aws_kms_key.k"]}, "b": [{"c": {"constant_value": {"d": 1}}}]}`,
		`{"a" 1}`, `{"a": }`, `{"a": 1,}`, `{"a": 1 "b": 2}`, `[1 2]`, `[1,]`, `{"a": tru}`, `{"a": nul}`,
		`{"a": 01}`, `{"a": 1.}`, `{"a": 1e}`, `{"a": -}`, `{"a": 1e999}`, `{"a": 123456789012345678901234567890}`,
		"{\"a\": \"tab\there\"}", `{"a": "\x"}`, `{"a": "\u12"}`, `{"a": "unterminated}`, `{1: 2}`, `{"a": [}`,
		`{"a": {"b": [1, {"c": "\ud83d\ude00"}]}}`, `{"a": 1}}`, `x`, ``,
	}
	deep := ""
	for range MaxDepth + 1 {
		deep += "["
	}
	cases = append(cases, deep)
	for _, c := range cases {
		d1 := newDecoder([]byte(c))
		_, err1 := d1.value()
		d2 := newDecoder([]byte(c))
		err2 := d2.validate()
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Errorf("%q: decode says %v, validate %v", c, err1, err2)
		}
		if err1 == nil && d1.pos != d2.pos {
			t.Errorf("%q: decode ends at %d, validate at %d", c, d1.pos, d2.pos)
		}
		if err1 != nil {
			var s1, s2 *syntaxError
			s1, _ = err1.(*syntaxError)
			s2, _ = err2.(*syntaxError)
			if s1 != nil && s2 != nil && s1.Offset != s2.Offset {
				t.Errorf("%q: decode fails at %d, validate at %d", c, s1.Offset, s2.Offset)
			}
		}
	}
}
