package config

import "testing"

func TestKeyLines(t *testing.T) {
	data := `# comment = 1
top = 1
[a]
b = """
fake = 2
"""
c = [
  "x = [",
  'y',
]
d.e = 3
[[t]]
n = 1
[[t]]
"quoted key" = 2
[t.sub]
m = 'lit # not a comment'
[[t]]
n = 3
`
	got := keyLines([]byte(data))
	want := map[string]int{
		"top": 2, "a": 3, "a.b": 4, "a.c": 7, "a.d": 11, "a.d.e": 11,
		"t": 12, "t[0]": 12, "t[0].n": 13, "t[1]": 14, `t[1]."quoted key"`: 15,
		"t[1].sub": 16, "t[1].sub.m": 17, "t[2]": 18, "t[2].n": 19,
	}
	for k, l := range want {
		if got[k] != l {
			t.Errorf("line of %s = %d, want %d", k, got[k], l)
		}
	}
	for _, k := range []string{"comment", "fake", "a.fake", `a."x = ["`} {
		if _, ok := got[k]; ok {
			t.Errorf("%s located, but it is not a key", k)
		}
	}
}
