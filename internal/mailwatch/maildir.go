package mailwatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultSeenLimit bounds a Maildir checkpoint's set of file names.
const DefaultSeenLimit = 20000

// MaildirConfig says which Maildir to read (`lei q -o DIR`, fetchmail,
// mbsync, procmail, dovecot-lda) and how.
type MaildirConfig struct {
	// Path is the Maildir: the directory holding new/ and cur/.
	Path string
	// Filter chooses the mail worth classifying.
	Filter SourceFilter
	// SeenLimit bounds the checkpoint: the names of at most this many
	// files are kept; older files are covered by a time mark instead
	// (maildirPosition). 0 means DefaultSeenLimit.
	SeenLimit int
	// ReadBytes bounds what is read of one message; 0 means
	// DefaultFetchHeaderBytes + DefaultFetchTextBytes.
	ReadBytes int64
}

// maildirPosition is a Maildir checkpoint: the unique names (the part of
// a file name before ":2,", which flags and the move from new/ to cur/ do
// not change) of the files read that are still there, and, once more than
// SeenLimit of them had to be kept, the modification time (Unix
// nanoseconds) at or before which every file counts as read.
type maildirPosition struct {
	Seen   []string `json:"seen"`
	Before int64    `json:"before_unix_nano,omitempty"`
}

// maildirFile is one message file of the Maildir.
type maildirFile struct {
	path, unique string
	mtime, size  int64
}

// ScanMaildir reads the messages of the Maildir that position (nil: none
// read yet, so all are read) does not cover, oldest first. It never
// moves, renames or deletes a file.
func ScanMaildir(ctx context.Context, cfg MaildirConfig, position []byte) (SourceScan, error) {
	var pos maildirPosition
	if len(position) > 0 {
		if err := json.Unmarshal(position, &pos); err != nil {
			return SourceScan{}, fmt.Errorf("maildir %s: checkpoint: %w", cfg.Path, err)
		}
	}
	seen := make(map[string]bool, len(pos.Seen))
	for _, s := range pos.Seen {
		seen[s] = true
	}
	files, err := listMaildir(cfg.Path, func(unique string) bool { return seen[unique] })
	if err != nil {
		return SourceScan{}, err
	}
	limit := cmp.Or(cfg.ReadBytes, DefaultFetchHeaderBytes+DefaultFetchTextBytes)
	var scan SourceScan
	keep := make([]maildirFile, 0, len(files))
	for _, f := range files {
		if seen[f.unique] || f.mtime <= pos.Before {
			if seen[f.unique] {
				keep = append(keep, f)
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return SourceScan{}, err
		}
		c, err := readMaildirFile(f, limit)
		if errors.Is(err, fs.ErrNotExist) {
			continue // moved or deleted by its owner since the listing
		}
		if err != nil {
			return SourceScan{}, fmt.Errorf("maildir %s: %w", cfg.Path, err)
		}
		scan.Read++
		scan.Bytes += int64(len(c.Raw))
		if cfg.Filter.match(c.Raw) {
			scan.Candidates = append(scan.Candidates, c)
		}
		keep = append(keep, f)
	}
	scan.Next, err = json.Marshal(boundSeen(keep, pos.Before, cmp.Or(cfg.SeenLimit, DefaultSeenLimit)))
	return scan, err
}

// boundSeen is the position after reading: the files kept, at most limit
// of them, the oldest others covered by the time mark.
func boundSeen(files []maildirFile, before int64, limit int) maildirPosition {
	pos := maildirPosition{Seen: []string{}, Before: before}
	if len(files) > limit {
		files = byAge(files)
		drop := files[:len(files)-limit]
		pos.Before = max(before, drop[len(drop)-1].mtime)
		files = files[len(files)-limit:]
	}
	for _, f := range files {
		if f.mtime > pos.Before || f.mtime == unknownTime {
			pos.Seen = append(pos.Seen, f.unique)
		}
	}
	slices.Sort(pos.Seen)
	return pos
}

// unknownTime is the mtime of a file listMaildir did not stat.
const unknownTime = -1

// listMaildir lists the message files of new/ and cur/: the files whose
// unique name known accepts (read before) first, in directory order and
// not stat'ed, which keeps an idle read of a large Maildir to one
// directory listing; then the others, oldest first.
func listMaildir(dir string, known func(unique string) bool) ([]maildirFile, error) {
	var old, fresh []maildirFile
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, fmt.Errorf("maildir %s: %w (want a directory holding new/ and cur/)", dir, err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
				continue
			}
			unique, _, _ := strings.Cut(e.Name(), ":")
			f := maildirFile{path: filepath.Join(dir, sub, e.Name()), unique: unique, mtime: unknownTime}
			if known(unique) {
				old = append(old, f)
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // gone since the listing
			}
			f.mtime, f.size = info.ModTime().UnixNano(), info.Size()
			fresh = append(fresh, f)
		}
	}
	return append(old, byAge(fresh)...), nil
}

// byAge sorts files oldest first, stat'ing those not stat'ed yet (a file
// gone since the listing counts as oldest: it is dropped first).
func byAge(files []maildirFile) []maildirFile {
	for i := range files {
		if files[i].mtime != unknownTime {
			continue
		}
		if info, err := os.Stat(files[i].path); err == nil {
			files[i].mtime = info.ModTime().UnixNano()
		} else {
			files[i].mtime = 0
		}
	}
	slices.SortFunc(files, func(a, b maildirFile) int {
		return cmp.Or(cmp.Compare(a.mtime, b.mtime), strings.Compare(a.unique, b.unique))
	})
	return files
}

// readMaildirFile reads the start of one message file.
func readMaildirFile(f maildirFile, limit int64) (Candidate, error) {
	r, err := os.Open(f.path)
	if err != nil {
		return Candidate{}, err
	}
	defer r.Close()
	return readCandidate(r, f.size, limit, "maildir:"+f.unique)
}

// ProbeMaildir checks that the Maildir can be read, reading no message;
// it returns how many message files it holds.
func ProbeMaildir(dir string) (int, error) {
	files, err := listMaildir(dir, func(string) bool { return true })
	return len(files), err
}
