package resolutions

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/merger"
)

func entry(path string) Entry {
	return Entry{
		Resolution: merger.Resolution{
			Key: strings.Repeat("a", 64), PatchID: strings.Repeat("b", 64), Path: path,
			Preimage:  "x\n<<<<<<<\nstable\n=======\nrt\n>>>>>>>\ny\n",
			Postimage: "x\nstable and rt \"quoted\" <b>\ny\n",
			Source:    "rtbot resolve: commit 1234567890ab, run 3",
		},
		RecordedAt: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC),
	}
}

func TestRoundTrip(t *testing.T) {
	in := []Entry{entry("kernel/core.c"), entry("drivers/tty/serial/8250/8250_port.c")}
	in[1].Key = strings.Repeat("c", 64)
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b.Bytes(), []byte("\n")); n != 2 {
		t.Errorf("%d lines, want 2:\n%s", n, b.String())
	}
	out, err := Read("team.jsonl", bytes.NewReader(append([]byte("\n"), b.Bytes()...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Errorf("read back %+v\nwant %+v", out, in)
	}
	mem := Memory{in[0].Resolution, in[1].Resolution}
	got, _ := mem.Resolutions(strings.Repeat("b", 64), "kernel/core.c")
	if len(got) != 1 || got[0].Key != in[0].Key {
		t.Errorf("memory lookup %+v", got)
	}
}

func TestReadRejects(t *testing.T) {
	good := func() Entry { return entry("kernel/core.c") }
	line := func(e Entry) string {
		var b bytes.Buffer
		// Write checks; encode by hand to write bad entries.
		if err := jsonLine(&b, e); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	mod := func(f func(*Entry)) string { e := good(); f(&e); return line(e) }
	for _, tc := range []struct{ name, input, want string }{
		{"not json", "{nope\n", "team.jsonl:1:"},
		{"unknown field", `{"key":"x","shell":"rm -rf /"}` + "\n", `team.jsonl:1: json: unknown field "shell"`},
		{"short key", mod(func(e *Entry) { e.Key = "abc" }), `team.jsonl:1: key "abc"`},
		{"path escapes", mod(func(e *Entry) { e.Path = "../../etc/passwd" }), `path "../../etc/passwd"`},
		{"path into .git", mod(func(e *Entry) { e.Path = ".git/hooks/post-merge" }), "inside .git"},
		{"no markers", mod(func(e *Entry) { e.Preimage = "plain\n" }), "preimage has no conflict markers"},
		{"markers left", mod(func(e *Entry) { e.Postimage = "a\n<<<<<<< x\n" }), "postimage still has conflict markers"},
		{"source spans lines", mod(func(e *Entry) { e.Source = "a\nb" }), "source"},
		{"second line bad", line(good()) + mod(func(e *Entry) { e.PatchID = "" }), "team.jsonl:2: patch_id"},
		{"two objects", `{"key":"a"} {"key":"b"}` + "\n", "more than one object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read("team.jsonl", strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if err := Write(&bytes.Buffer{}, []Entry{mod2(good())}); err == nil {
		t.Error("Write wrote an entry with an escaping path")
	}
}

func mod2(e Entry) Entry { e.Path = "/etc/passwd"; return e }

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	Write(&b, []Entry{entry("kernel/core.c")})
	f.Add(b.Bytes())
	f.Add([]byte("{}\n\n{\"key\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Read("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Check() != nil {
				t.Fatalf("Read returned an entry that fails Check: %+v", e)
			}
		}
		var out bytes.Buffer
		if err := Write(&out, entries); err != nil {
			t.Fatalf("Write of what Read accepted: %v", err)
		}
		again, err := Read("again", &out)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("round trip: %d entries, %v", len(again), err)
		}
	})
}

// jsonLine encodes e without checking it.
func jsonLine(b *bytes.Buffer, e Entry) error {
	return json.NewEncoder(b).Encode(e)
}
