package report

import (
	"strings"
	"testing"
)

func TestColumns(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"\tx", 9},
		{"    |\tx", 9},
		{"ab\tc\td", 17},
		{"Grüße ✓", 7},
		{"short\n" + strings.Repeat("x", 80) + "\nend", 80},
	} {
		if got := Columns(tc.s); got != tc.want {
			t.Errorf("Columns(%q) = %d, want %d", tc.s, got, tc.want)
		}
	}
}

func TestCutEnd(t *testing.T) {
	long := "    |\t * On RT enabled kernels the pool refill must happen in preemptible"
	for _, tc := range []struct {
		line, want string
	}{
		{"short", "short"},
		{strings.Repeat("x", 72), strings.Repeat("x", 72)},
		{strings.Repeat("x", 73), strings.Repeat("x", 66) + " [...]"},
		{long, "    |\t * On RT enabled kernels the pool refill must happen in pr [...]"},
		{"    |\t\t\t\t\t\t\t\t\tx", "    |\t\t\t\t\t\t\t\t [...]"},
		{strings.Repeat("ü", 80), strings.Repeat("ü", 66) + " [...]"},
	} {
		got := cutEnd(tc.line, 72)
		if got != tc.want || Columns(got) > 72 {
			t.Errorf("cutEnd(%q) = %q (%d columns), want %q", tc.line, got, Columns(got), tc.want)
		}
	}
}

func TestCutMiddle(t *testing.T) {
	for _, tc := range []struct {
		s     string
		width int
		want  string
	}{
		{"arch/arm/mm/fault.c", 72, "arch/arm/mm/fault.c"},
		{"drivers/gpu/drm/amd/display/dc/core/dc_link_dp.c", 30, "drivers/gpu/d...e/dc_link_dp.c"},
		{"abcdefghij", 5, "a...j"},
		{"abcdefghij", 2, "ij"},
	} {
		got := cutMiddle(tc.s, tc.width)
		if got != tc.want || len([]rune(got)) > tc.width {
			t.Errorf("cutMiddle(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
	}
}

func TestWrap(t *testing.T) {
	path := "drivers/net/ethernet/mellanox/mlx5/core/steering/dr_ste_v1_extremely_long_name.c:"
	for _, tc := range []struct {
		s, first, rest string
		want           string
	}{
		{"a b c", "", "", "a b c\n"},
		{"", "  ", "  ", ""},
		{strings.Repeat("word ", 20), "", "", strings.TrimSpace(strings.Repeat("word ", 14)) + "\n" + strings.TrimSpace(strings.Repeat("word ", 6)) + "\n"},
		{"see " + path + " conflict", "    ", "    ",
			"    see\n    drivers/net/ethernet/mellanox/ml.../dr_ste_v1_extremely_long_name.c:\n    conflict\n"},
		{"1a2b3c4d5e6f " + strings.Repeat("subject ", 10), "    ", "                 ",
			"    1a2b3c4d5e6f subject subject subject subject subject subject subject\n                 subject subject subject\n"},
	} {
		got := wrapHanging(tc.s, 72, tc.first, tc.rest)
		if got != tc.want || Columns(got) > 72 {
			t.Errorf("wrapHanging(%q) =\n%s(%d columns), want\n%s", tc.s, got, Columns(got), tc.want)
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 patches", 1: "1 patch", 2: "2 patches", 12: "12 patches"} {
		if got := Plural(n, "patch", "patches"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFetchCommand(t *testing.T) {
	kernelOrg := "https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git"
	for _, tc := range []struct {
		url, branch, want string
	}{
		{"https://git.example.org/rt.git", "rtbot/6.1-rt/6.1.177-rc1",
			"  git fetch https://git.example.org/rt.git rtbot/6.1-rt/6.1.177-rc1\n"},
		{"https://git.example.org/rt/linux-stable-rt.git", "rtbot/6.1-rt/6.1.177-rc1-partial",
			"  git fetch https://git.example.org/rt/linux-stable-rt.git \\\n    rtbot/6.1-rt/6.1.177-rc1-partial\n"},
		{kernelOrg, "rtbot/6.1-rt/6.1.177-rc1-partial",
			"git fetch \\\n" + kernelOrg + " \\\nrtbot/6.1-rt/6.1.177-rc1-partial\n"},
	} {
		got := FetchCommand(tc.url, tc.branch)
		if got != tc.want || Columns(got) > 72 {
			t.Errorf("FetchCommand(%q, %q) =\n%s(%d columns), want\n%s", tc.url, tc.branch, got, Columns(got), tc.want)
		}
		if words := strings.Fields(strings.ReplaceAll(got, "\\\n", "")); strings.Join(words, " ") != "git fetch "+tc.url+" "+tc.branch {
			t.Errorf("FetchCommand(%q, %q) reads as %q in a shell", tc.url, tc.branch, words)
		}
	}
}
