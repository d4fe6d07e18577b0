package patchqueue

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteFormatPatch writes p as a `git format-patch` mail: mbox "From " line,
// From/Date/Subject headers, the message, and a git diff of its files. The
// output parses back with Parse (strip 1) into the same files and hunks.
func WriteFormatPatch(w io.Writer, p *Patch) error {
	var b strings.Builder
	b.WriteString("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n")
	author := p.AuthorName
	if p.AuthorEmail != "" {
		author = fmt.Sprintf("%s <%s>", p.AuthorName, p.AuthorEmail)
	}
	fmt.Fprintf(&b, "From: %s\n", author)
	if !p.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", p.Date.Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, "Subject: [PATCH] %s\n\n", p.Subject)
	if body := strings.TrimSpace(p.Body); body != "" {
		b.WriteString(body + "\n")
	}
	b.WriteString("---\n\n")
	for _, f := range p.Files {
		writeFileDiff(&b, f)
	}
	b.WriteString("-- \nrtbot\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFileDiff(b *strings.Builder, f *File) {
	oldName, newName := f.OldPath, f.NewPath
	if oldName == "" {
		oldName = newName
	}
	if newName == "" {
		newName = oldName
	}
	fmt.Fprintf(b, "diff --git a/%s b/%s\n", oldName, newName)
	switch f.Op {
	case OpAdd:
		fmt.Fprintf(b, "new file mode %06o\n", orRegular(f.NewMode))
	case OpDelete:
		fmt.Fprintf(b, "deleted file mode %06o\n", orRegular(f.OldMode))
	case OpRename, OpCopy:
		word := "rename"
		if f.Op == OpCopy {
			word = "copy"
		}
		if f.Similarity > 0 {
			fmt.Fprintf(b, "similarity index %d%%\n", f.Similarity)
		}
		fmt.Fprintf(b, "%s from %s\n%s to %s\n", word, f.OldPath, word, f.NewPath)
	}
	if f.Op != OpAdd && f.Op != OpDelete && f.OldMode != 0 && f.NewMode != 0 && f.OldMode != f.NewMode {
		fmt.Fprintf(b, "old mode %06o\nnew mode %06o\n", f.OldMode, f.NewMode)
	}
	if len(f.Hunks) == 0 {
		return
	}
	from, to := "a/"+f.OldPath, "b/"+f.NewPath
	if f.Op == OpAdd {
		from = "/dev/null"
	}
	if f.Op == OpDelete {
		to = "/dev/null"
	}
	fmt.Fprintf(b, "--- %s\n+++ %s\n", from, to)
	for _, h := range f.Hunks {
		WriteHunk(b, h, h.Section)
	}
}

// HunkWriter is what WriteHunk writes to: a strings.Builder, a
// bytes.Buffer, a bufio.Writer.
type HunkWriter interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

// WriteHunk writes h in unified diff form: the "@@ -a,b +c,d @@" header
// with section after it when not empty, the lines, and "\ No newline at
// end of file" after a last line without one.
func WriteHunk(w HunkWriter, h *Hunk, section string) {
	fmt.Fprintf(w, "@@ -%s +%s @@", span(h.OldStart, h.OldLines), span(h.NewStart, h.NewLines))
	if section != "" {
		w.WriteString(" " + section)
	}
	w.WriteByte('\n')
	for _, l := range h.Lines {
		w.WriteByte(l.Op)
		w.WriteString(l.Text)
		if !strings.HasSuffix(l.Text, "\n") {
			w.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func orRegular(m uint32) uint32 {
	if m == 0 {
		return 0o100644
	}
	return m
}

func span(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// FileChange describes one file of a patch by its two versions, for
// NewPatch. Old "" with IsNew set creates the file; New "" with IsDeleted
// deletes it.
type FileChange struct {
	Path             string
	Old, New         string
	IsNew, IsDeleted bool
}

// NewPatch builds a patch from whole-file versions, with git's diff and
// three lines of context.
func NewPatch(subject, body, authorName, authorEmail string, date time.Time, changes []FileChange) *Patch {
	p := &Patch{Subject: subject, Body: body, AuthorName: authorName, AuthorEmail: authorEmail, Date: date, Strip: 1}
	for _, c := range changes {
		f := &File{Op: OpModify, OldPath: c.Path, NewPath: c.Path, Hunks: MakeHunks(c.Old, c.New, 3)}
		switch {
		case c.IsNew:
			f.Op, f.OldPath, f.NewMode = OpAdd, "", 0o100644
		case c.IsDeleted:
			f.Op, f.NewPath, f.OldMode = OpDelete, "", 0o100644
		}
		p.Files = append(p.Files, f)
	}
	return p
}
