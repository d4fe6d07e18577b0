package state

import (
	"context"
	"path/filepath"
	"testing"
)

func TestSourceCheckpointRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp, err := s.SourceCheckpoint(ctx, "maildir", "/m")
	if err != nil || cp.Position != nil {
		t.Fatalf("fresh checkpoint = %+v, %v; want nil position", cp, err)
	}
	for _, pos := range []string{`{"seen":["a"]}`, `{"seen":["a","b"]}`} {
		if err := s.SaveSourceCheckpoint(ctx, SourceCheckpoint{Kind: "maildir", Source: "/m", Position: []byte(pos)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.SourceCheckpoint(ctx, "maildir", "/m")
		if err != nil || string(got.Position) != pos || got.UpdatedAt.IsZero() {
			t.Fatalf("checkpoint = %+v, %v; want %s", got, err, pos)
		}
	}
	other, err := s.SourceCheckpoint(ctx, "public-inbox", "/m")
	if err != nil || other.Position != nil {
		t.Errorf("another kind's checkpoint = %+v, %v; want none", other, err)
	}
	if err := s.SaveSourceCheckpoint(ctx, SourceCheckpoint{Kind: "maildir", Source: "/m"}); err == nil {
		t.Error("saving an empty position succeeded")
	}
}
