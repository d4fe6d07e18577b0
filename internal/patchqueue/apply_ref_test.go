package patchqueue

import "strings"

// applyHunksRef is ApplyHunks as it was before the image split the file
// lazily and joined it by runs (commit 3f3adb3): the reference the fuzz
// target compares the faster one with.
func applyHunksRef(content string, hunks []*Hunk, fuzz int) (out string, res []HunkResult, ok bool) {
	orig := SplitLines(content)
	img := &refImage{done: make([]string, 0, len(orig)+8), rest: orig}
	ok = true
	for i, h := range hunks {
		pre, post := h.Old(), h.New()
		leading, trailing := h.Leading(), h.Trailing()
		matchBegin := h.OldStart <= 1
		matchEnd := trailing == 0
		hint := h.NewStart - 1
		if h.NewStart == 0 {
			hint = 0
		}
		r := HunkResult{Index: i + 1, Base: h.OldStart}
		pos := -1
		for f := 0; f <= fuzz; f++ {
			cut := func(n int) int { return min(n, f) }
			lo, hi := cut(leading), cut(trailing)
			if f > 0 && lo == 0 && hi == 0 {
				break
			}
			p := pre[lo : len(pre)-hi]
			q := post[lo : len(post)-hi]
			mb := matchBegin && lo == 0
			me := matchEnd && hi == 0
			pos = refFindPos(img, p, hint+lo, mb, me)
			if pos >= 0 {
				r.Fuzz = f
				r.Offset = pos - (hint + lo)
				r.At = pos + 1
				img.splice(pos, len(p), q)
				break
			}
			if fuzz == 0 {
				break
			}
		}
		if pos < 0 {
			r.Failed, r.At, ok = true, hint+1, false
		}
		res = append(res, r)
	}
	if !ok {
		return "", res, false
	}
	return img.String(), res, true
}

type refImage struct {
	done, rest []string
}

func (m *refImage) len() int { return len(m.done) + len(m.rest) }

func (m *refImage) at(i int) string {
	if i < len(m.done) {
		return m.done[i]
	}
	return m.rest[i-len(m.done)]
}

func (m *refImage) splice(at, n int, repl []string) {
	if at >= len(m.done) {
		k := at - len(m.done)
		m.done = append(m.done, m.rest[:k]...)
		m.done = append(m.done, repl...)
		m.rest = m.rest[k+n:]
		return
	}
	all := make([]string, 0, m.len()-n+len(repl))
	all = append(all, m.done...)
	all = append(all, m.rest...)
	all = refSplice(all, at, n, repl)
	m.done, m.rest = all[:at+len(repl)], all[at+len(repl):]
}

func (m *refImage) String() string {
	size := 0
	for _, l := range m.done {
		size += len(l)
	}
	for _, l := range m.rest {
		size += len(l)
	}
	var b strings.Builder
	b.Grow(size)
	for _, l := range m.done {
		b.WriteString(l)
	}
	for _, l := range m.rest {
		b.WriteString(l)
	}
	return b.String()
}

func refSplice(img []string, at, n int, repl []string) []string {
	out := make([]string, 0, len(img)-n+len(repl))
	out = append(out, img[:at]...)
	out = append(out, repl...)
	return append(out, img[at+n:]...)
}

func refFindPos(img *refImage, pre []string, line int, matchBegin, matchEnd bool) int {
	n := img.len()
	if len(pre) > n {
		return -1
	}
	switch {
	case matchBegin:
		line = 0
	case matchEnd:
		line = n - len(pre)
	}
	if line > n {
		line = n
	}
	if line < 0 {
		line = 0
	}
	back, fwd := line, line
	try := line
	for i := 0; ; i++ {
		if refMatchAt(img, pre, try, matchBegin, matchEnd) {
			return try
		}
		for {
			if back == 0 && fwd == n {
				return -1
			}
			if i&1 == 1 {
				if back == 0 {
					i++
					continue
				}
				back--
				try = back
			} else {
				if fwd == n {
					i++
					continue
				}
				fwd++
				try = fwd
			}
			break
		}
	}
}

func refMatchAt(img *refImage, pre []string, at int, matchBegin, matchEnd bool) bool {
	if matchBegin && at != 0 {
		return false
	}
	n := img.len()
	if at+len(pre) > n {
		return false
	}
	if matchEnd && at+len(pre) != n {
		return false
	}
	for i, l := range pre {
		if img.at(at+i) != l {
			return false
		}
	}
	return true
}
