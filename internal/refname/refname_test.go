package refname

import (
	"strings"
	"testing"
)

func TestBranch(t *testing.T) {
	for name, ok := range map[string]bool{
		"rtbot/6.1.177-rc1": true, "v6.1-rt-next": true, "a": true, "linux-6.1.y": true,
		"rtbot/6.1-rt/6.1.177-rc1": true, "v6.1-rt+next": true,
		"": false, "../x": false, "a..b": false, "-x": false, "a/.hidden": false, "x.lock": false,
		"a/x.lock/b": false, "a b": false, "a;rm": false, "refs//x": false, "a/": false, "/a": false,
		"$(id)": false, "a~1": false, "a^": false, "a:b": false, "a@{0}": false, "+x": false,
		strings.Repeat("a", MaxLen+1): false,
	} {
		if err := Branch(name); (err == nil) != ok {
			t.Errorf("Branch(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestRevision(t *testing.T) {
	for rev, ok := range map[string]bool{
		"v6.1.176": true, "v6.1.176-rt64": true, "HEAD~3": true, "main^": true, "a~1^2": true,
		"1a2b3c4d5e6f": true, "rtbot/6.1.177-rc1": true,
		"": false, "a..b": false, "-x": false, "v1;id": false, "~1": false, "a b": false,
		"refs//x": false, "x.lock": false, "$(id)": false,
	} {
		if got := Revision(rev); got != ok {
			t.Errorf("Revision(%q) = %v, want %v", rev, got, ok)
		}
	}
}

func TestErrorClipsHostileInput(t *testing.T) {
	err := Branch(strings.Repeat("x;", 500))
	if err == nil || len(err.Error()) > 150 {
		t.Errorf("error %v should be short", err)
	}
}
