package mailwatch

import "testing"

func TestDescribePosition(t *testing.T) {
	for _, tt := range []struct {
		kind, pos, want string
	}{
		{SourcePublicInbox, `{"epoch":3,"commit":"1a2b3c4d5e6f7a8b9c0d"}`, "epoch 3, after commit 1a2b3c4d5e6f"},
		{SourcePublicInbox, `{"epoch":1,"commit":""}`, "epoch 1, from its start"},
		{SourceMaildir, `{"seen":["a","b"]}`, "2 file names read"},
		{SourceMaildir, `{"seen":["a"],"before_unix_nano":1700000000000000000}`, "1 file name read, and every file older than 2023-11-14T22:13:20Z"},
		{SourceMaildir, `not json`, "unreadable checkpoint"},
		{"pop3", `{}`, "unreadable checkpoint"},
	} {
		if got := DescribePosition(tt.kind, []byte(tt.pos)); got != tt.want {
			t.Errorf("DescribePosition(%s, %s) = %q, want %q", tt.kind, tt.pos, got, tt.want)
		}
	}
}

func TestSourceFilter(t *testing.T) {
	for _, tt := range []struct {
		subject string
		replies bool
		want    bool
	}{
		{"[PATCH 6.1 000/114] 6.1.12-rc1 review", false, true},
		{"=?UTF-8?q?=5BPATCH_6=2E1_000/114=5D_6=2E1=2E12-rc1_review?=", false, true},
		{"Re: [PATCH 6.1 000/114] 6.1.12-rc1 review", false, false},
		{"Re: [PATCH 6.1 000/114] 6.1.12-rc1 review", true, true},
		{"[announce] 6.1.79-rt25", false, true},
		{"[PATCH 5.15 068/214] ALSA: hda/realtek", false, false},
	} {
		raw := []byte("From: a@b\r\nSubject: " + tt.subject + "\r\n\r\nbody\r\n")
		if got := (SourceFilter{IncludeReplies: tt.replies}).match(raw); got != tt.want {
			t.Errorf("match(%q, replies %v) = %v, want %v", tt.subject, tt.replies, got, tt.want)
		}
	}
}

// FuzzSourceInput: what a source reads from disk or the network (a
// mail's start, a checkpoint from the state) never panics the filter or
// the checkpoint's description.
func FuzzSourceInput(f *testing.F) {
	f.Add([]byte("Subject: [PATCH 6.1 000/114] 6.1.12-rc1 review\r\n\r\nbody"), []byte(`{"epoch":1,"commit":"ab"}`))
	f.Add([]byte("Subject: =?UTF-8?q?=5BANNOUNCE=5D?=\n"), []byte(`{"seen":["a"],"before_unix_nano":-5}`))
	f.Add([]byte("\x00\xff:"), []byte(`[`))
	f.Fuzz(func(t *testing.T, raw, pos []byte) {
		_ = SourceFilter{}.match(raw)
		for _, kind := range []string{SourcePublicInbox, SourceMaildir} {
			if DescribePosition(kind, pos) == "" {
				t.Fatalf("empty description of %q", pos)
			}
		}
	})
}
