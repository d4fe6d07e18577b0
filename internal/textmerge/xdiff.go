package textmerge

import "math"

// This file is a faithful port of the parts of git's xdiff library
// (xdiff/xprepare.c and xdiff/xdiffi.c, as of git 2.39) that the default
// "myers" line diff uses: record classification, trimming of the common
// prefix/suffix, discarding of lines without (or with too many) matches in
// the other file, the divide-and-conquer Myers search with xdiff's cost
// heuristics, the change-group compaction pass and building of the edit
// script. Reproducing xdiff's exact choices (rather than just computing
// some shortest edit script) is what makes the 3-way merge byte-identical
// to git's in ambiguous cases.

// xdfile mirrors xdiff's xdfile_t for one side of a diff.
type xdfile struct {
	recs [][]byte // the lines, each including its "\n" terminator if any
	ha   []int    // equivalence class of each line
	// changed is indexed by line+1 so that changed[0] and changed[n+1]
	// are always-false sentinels, like xdiff's rchg.
	changed []bool
	rindex  []int // indices of the lines that take part in the Myers search
	rha     []int // classes of those lines
	dstart  int
	dend    int
}

func (f *xdfile) nrec() int { return len(f.recs) }

// chg reports whether line i is changed; out-of-range lines are unchanged.
func (f *xdfile) chg(i int) bool {
	if i < -1 || i+1 >= len(f.changed) {
		return false
	}
	return f.changed[i+1]
}

func (f *xdfile) setChg(i int, v bool) { f.changed[i+1] = v }

// xdenv mirrors xdfenv_t: the two sides of one diff.
type xdenv struct {
	f1, f2 xdfile
}

// change mirrors xdchange_t: lines [i1, i1+chg1) of the first file are
// replaced by lines [i2, i2+chg2) of the second.
type change struct {
	i1, i2     int
	chg1, chg2 int
}

const (
	xdlKpdisRun      = 4
	xdlMaxEqlimit    = 1024
	xdlSimscanWindow = 100
	xdlMaxCostMin    = 256
	xdlHeurMinCost   = 256
	xdlSnakeCnt      = 20
	xdlKHeur         = 4
	xdlLineMax       = math.MaxInt
)

func bogosqrt(n int) int {
	i := 1
	for ; n > 0; n >>= 2 {
		i <<= 1
	}
	return i
}

// prepareEnv mirrors xdl_prepare_env (without whitespace-ignoring flags,
// so lines are equal exactly when their bytes are equal).
func prepareEnv(a, b [][]byte) *xdenv {
	classes := make(map[string]int, len(a)+len(b))
	classify := func(lines [][]byte) []int {
		ha := make([]int, len(lines))
		for i, l := range lines {
			c, ok := classes[string(l)]
			if !ok {
				c = len(classes)
				classes[string(l)] = c
			}
			ha[i] = c
		}
		return ha
	}
	e := &xdenv{}
	e.f1 = xdfile{recs: a, ha: classify(a), changed: make([]bool, len(a)+2)}
	e.f2 = xdfile{recs: b, ha: classify(b), changed: make([]bool, len(b)+2)}
	e.trimEnds()
	e.cleanupRecords(len(classes))
	return e
}

// trimEnds mirrors xdl_trim_ends.
func (e *xdenv) trimEnds() {
	f1, f2 := &e.f1, &e.f2
	lim := min(f1.nrec(), f2.nrec())
	i := 0
	for ; i < lim; i++ {
		if f1.ha[i] != f2.ha[i] {
			break
		}
	}
	f1.dstart, f2.dstart = i, i
	lim -= i
	n1, n2 := f1.nrec(), f2.nrec()
	for i = 0; i < lim; i++ {
		if f1.ha[n1-1-i] != f2.ha[n2-1-i] {
			break
		}
	}
	f1.dend = n1 - i - 1
	f2.dend = n2 - i - 1
}

// cleanMmatch mirrors xdl_clean_mmatch.
func cleanMmatch(dis []byte, i, s, e int) bool {
	if i-s > xdlSimscanWindow {
		s = i - xdlSimscanWindow
	}
	if e-i > xdlSimscanWindow {
		e = i + xdlSimscanWindow
	}
	rdis0, rpdis0 := 0, 1
	for r := 1; i-r >= s; r++ {
		if dis[i-r] == 0 {
			rdis0++
		} else if dis[i-r] == 2 {
			rpdis0++
		} else {
			break
		}
	}
	if rdis0 == 0 {
		return false
	}
	rdis1, rpdis1 := 0, 1
	for r := 1; i+r <= e; r++ {
		if dis[i+r] == 0 {
			rdis1++
		} else if dis[i+r] == 2 {
			rpdis1++
		} else {
			break
		}
	}
	if rdis1 == 0 {
		return false
	}
	rdis1 += rdis0
	rpdis1 += rpdis0
	return rpdis1*xdlKpdisRun < rpdis1+rdis1
}

// cleanupRecords mirrors xdl_cleanup_records: lines that do not occur in
// the other file are marked changed up front; lines that occur very often
// are discarded when they sit in a run of such lines.
func (e *xdenv) cleanupRecords(nclasses int) {
	count := func(f *xdfile) []int {
		c := make([]int, nclasses)
		for _, h := range f.ha {
			c[h]++
		}
		return c
	}
	mark := func(f *xdfile, other []int) []byte {
		dis := make([]byte, f.nrec()+1)
		mlim := min(bogosqrt(f.nrec()), xdlMaxEqlimit)
		for i := f.dstart; i <= f.dend; i++ {
			nm := min(other[f.ha[i]], mlim)
			switch {
			case nm == 0:
				dis[i] = 0
			case nm >= mlim:
				dis[i] = 2
			default:
				dis[i] = 1
			}
		}
		return dis
	}
	c1, c2 := count(&e.f1), count(&e.f2)
	dis1 := mark(&e.f1, c2)
	dis2 := mark(&e.f2, c1)
	keep := func(f *xdfile, dis []byte) {
		n := max(f.dend-f.dstart+1, 0)
		f.rindex = make([]int, 0, n)
		f.rha = make([]int, 0, n)
		for i := f.dstart; i <= f.dend; i++ {
			if dis[i] == 1 || (dis[i] == 2 && !cleanMmatch(dis, i, f.dstart, f.dend)) {
				f.rindex = append(f.rindex, i)
				f.rha = append(f.rha, f.ha[i])
			} else {
				f.setChg(i, true)
			}
		}
	}
	keep(&e.f1, dis1)
	keep(&e.f2, dis2)
}

// myers holds the state of one xdl_recs_cmp run.
type myers struct {
	f1, f2   *xdfile
	h1, h2   []int
	kvd      []int
	fo, bo   int // offsets of diagonal 0 in kvd for the forward/backward vectors
	mxcost   int
	snakeCnt int
	heurMin  int
}

type split struct {
	i1, i2       int
	minLo, minHi bool
}

// split mirrors xdl_split.
func (m *myers) split(off1, lim1, off2, lim2 int, needMin bool) split {
	h1, h2, kv := m.h1, m.h2, m.kvd
	fo, bo := m.fo, m.bo
	dmin, dmax := off1-lim2, lim1-off2
	fmid, bmid := off1-off2, lim1-lim2
	odd := (fmid-bmid)&1 != 0
	fmin, fmax := fmid, fmid
	bmin, bmax := bmid, bmid
	var spl split

	kv[fo+fmid] = off1
	kv[bo+bmid] = lim1

	for ec := 1; ; ec++ {
		gotSnake := false

		if fmin > dmin {
			fmin--
			kv[fo+fmin-1] = -1
		} else {
			fmin++
		}
		if fmax < dmax {
			fmax++
			kv[fo+fmax+1] = -1
		} else {
			fmax--
		}

		for d := fmax; d >= fmin; d -= 2 {
			var i1 int
			if kv[fo+d-1] >= kv[fo+d+1] {
				i1 = kv[fo+d-1] + 1
			} else {
				i1 = kv[fo+d+1]
			}
			prev1 := i1
			i2 := i1 - d
			for i1 < lim1 && i2 < lim2 && h1[i1] == h2[i2] {
				i1++
				i2++
			}
			if i1-prev1 > m.snakeCnt {
				gotSnake = true
			}
			kv[fo+d] = i1
			if odd && bmin <= d && d <= bmax && kv[bo+d] <= i1 {
				return split{i1: i1, i2: i2, minLo: true, minHi: true}
			}
		}

		if bmin > dmin {
			bmin--
			kv[bo+bmin-1] = xdlLineMax
		} else {
			bmin++
		}
		if bmax < dmax {
			bmax++
			kv[bo+bmax+1] = xdlLineMax
		} else {
			bmax--
		}

		for d := bmax; d >= bmin; d -= 2 {
			var i1 int
			if kv[bo+d-1] < kv[bo+d+1] {
				i1 = kv[bo+d-1]
			} else {
				i1 = kv[bo+d+1] - 1
			}
			prev1 := i1
			i2 := i1 - d
			for i1 > off1 && i2 > off2 && h1[i1-1] == h2[i2-1] {
				i1--
				i2--
			}
			if prev1-i1 > m.snakeCnt {
				gotSnake = true
			}
			kv[bo+d] = i1
			if !odd && fmin <= d && d <= fmax && i1 <= kv[fo+d] {
				return split{i1: i1, i2: i2, minLo: true, minHi: true}
			}
		}

		if needMin {
			continue
		}

		if gotSnake && ec > m.heurMin {
			best := 0
			for d := fmax; d >= fmin; d -= 2 {
				dd := d - fmid
				if dd < 0 {
					dd = -dd
				}
				i1 := kv[fo+d]
				i2 := i1 - d
				v := (i1 - off1) + (i2 - off2) - dd
				if v > xdlKHeur*ec && v > best &&
					off1+m.snakeCnt <= i1 && i1 < lim1 &&
					off2+m.snakeCnt <= i2 && i2 < lim2 {
					for k := 1; h1[i1-k] == h2[i2-k]; k++ {
						if k == m.snakeCnt {
							best = v
							spl.i1, spl.i2 = i1, i2
							break
						}
					}
				}
			}
			if best > 0 {
				spl.minLo, spl.minHi = true, false
				return spl
			}

			best = 0
			for d := bmax; d >= bmin; d -= 2 {
				dd := d - bmid
				if dd < 0 {
					dd = -dd
				}
				i1 := kv[bo+d]
				i2 := i1 - d
				v := (lim1 - i1) + (lim2 - i2) - dd
				if v > xdlKHeur*ec && v > best &&
					off1 < i1 && i1 <= lim1-m.snakeCnt &&
					off2 < i2 && i2 <= lim2-m.snakeCnt {
					for k := 0; h1[i1+k] == h2[i2+k]; k++ {
						if k == m.snakeCnt-1 {
							best = v
							spl.i1, spl.i2 = i1, i2
							break
						}
					}
				}
			}
			if best > 0 {
				spl.minLo, spl.minHi = false, true
				return spl
			}
		}

		if ec >= m.mxcost {
			fbest, fbest1 := -1, -1
			for d := fmax; d >= fmin; d -= 2 {
				i1 := min(kv[fo+d], lim1)
				i2 := i1 - d
				if lim2 < i2 {
					i1 = lim2 + d
					i2 = lim2
				}
				if fbest < i1+i2 {
					fbest = i1 + i2
					fbest1 = i1
				}
			}
			bbest, bbest1 := xdlLineMax, xdlLineMax
			for d := bmax; d >= bmin; d -= 2 {
				i1 := max(off1, kv[bo+d])
				i2 := i1 - d
				if i2 < off2 {
					i1 = off2 + d
					i2 = off2
				}
				if i1+i2 < bbest {
					bbest = i1 + i2
					bbest1 = i1
				}
			}
			if (lim1+lim2)-bbest < fbest-(off1+off2) {
				return split{i1: fbest1, i2: fbest - fbest1, minLo: true, minHi: false}
			}
			return split{i1: bbest1, i2: bbest - bbest1, minLo: false, minHi: true}
		}
	}
}

// recsCmp mirrors xdl_recs_cmp.
func (m *myers) recsCmp(off1, lim1, off2, lim2 int, needMin bool) {
	h1, h2 := m.h1, m.h2
	for off1 < lim1 && off2 < lim2 && h1[off1] == h2[off2] {
		off1++
		off2++
	}
	for off1 < lim1 && off2 < lim2 && h1[lim1-1] == h2[lim2-1] {
		lim1--
		lim2--
	}
	switch {
	case off1 == lim1:
		for ; off2 < lim2; off2++ {
			m.f2.setChg(m.f2.rindex[off2], true)
		}
	case off2 == lim2:
		for ; off1 < lim1; off1++ {
			m.f1.setChg(m.f1.rindex[off1], true)
		}
	default:
		spl := m.split(off1, lim1, off2, lim2, needMin)
		m.recsCmp(off1, spl.i1, off2, spl.i2, spl.minLo)
		m.recsCmp(spl.i1, lim1, spl.i2, lim2, spl.minHi)
	}
}

// doDiff mirrors xdl_do_diff for the myers algorithm (XDF_NEED_MINIMAL
// off), marking changed lines in the returned environment.
func doDiff(a, b [][]byte) *xdenv {
	e := prepareEnv(a, b)
	n1, n2 := len(e.f1.rindex), len(e.f2.rindex)
	ndiags := n1 + n2 + 3
	m := &myers{
		f1: &e.f1, f2: &e.f2,
		h1: e.f1.rha, h2: e.f2.rha,
		kvd:      make([]int, 2*ndiags+2),
		fo:       n2 + 1,
		bo:       ndiags + n2 + 1,
		mxcost:   max(bogosqrt(ndiags), xdlMaxCostMin),
		snakeCnt: xdlSnakeCnt,
		heurMin:  xdlHeurMinCost,
	}
	m.recsCmp(0, n1, 0, n2, false)
	return e
}

// group mirrors struct xdlgroup.
type group struct{ start, end int }

func (f *xdfile) groupInit() group {
	g := group{}
	for f.chg(g.end) {
		g.end++
	}
	return g
}

func (f *xdfile) groupNext(g *group) bool {
	if g.end == f.nrec() {
		return false
	}
	g.start = g.end + 1
	for g.end = g.start; f.chg(g.end); g.end++ {
	}
	return true
}

func (f *xdfile) groupPrevious(g *group) bool {
	if g.start == 0 {
		return false
	}
	g.end = g.start - 1
	for g.start = g.end; f.chg(g.start - 1); g.start-- {
	}
	return true
}

func (f *xdfile) groupSlideDown(g *group) bool {
	if g.end < f.nrec() && f.ha[g.start] == f.ha[g.end] {
		f.setChg(g.start, false)
		g.start++
		f.setChg(g.end, true)
		g.end++
		for f.chg(g.end) {
			g.end++
		}
		return true
	}
	return false
}

func (f *xdfile) groupSlideUp(g *group) bool {
	if g.start > 0 && f.ha[g.start-1] == f.ha[g.end-1] {
		g.start--
		f.setChg(g.start, true)
		g.end--
		f.setChg(g.end, false)
		for f.chg(g.start - 1) {
			g.start--
		}
		return true
	}
	return false
}

// changeCompact mirrors xdl_change_compact without XDF_INDENT_HEURISTIC
// (git's merge machinery does not set it): every group of changed lines
// is slid as far down as possible and then, if it can line up with a
// group of changes in the other file, back up to the last such position.
func changeCompact(f, fo *xdfile) {
	g := f.groupInit()
	gother := fo.groupInit()
	for {
		if g.end != g.start {
			var groupsize, earliestEnd, endMatchingOther int
			for {
				groupsize = g.end - g.start
				endMatchingOther = -1
				for f.groupSlideUp(&g) {
					if !fo.groupPrevious(&gother) {
						panic("textmerge: group sync broken sliding up")
					}
				}
				earliestEnd = g.end
				if gother.end > gother.start {
					endMatchingOther = g.end
				}
				for f.groupSlideDown(&g) {
					if !fo.groupNext(&gother) {
						panic("textmerge: group sync broken sliding down")
					}
					if gother.end > gother.start {
						endMatchingOther = g.end
					}
				}
				if groupsize == g.end-g.start {
					break
				}
			}
			if g.end != earliestEnd && endMatchingOther != -1 {
				for gother.end == gother.start {
					if !f.groupSlideUp(&g) {
						panic("textmerge: match disappeared")
					}
					if !fo.groupPrevious(&gother) {
						panic("textmerge: group sync broken sliding to match")
					}
				}
			}
		}
		if !f.groupNext(&g) {
			break
		}
		if !fo.groupNext(&gother) {
			panic("textmerge: group sync broken moving to next group")
		}
	}
	if fo.groupNext(&gother) {
		panic("textmerge: group sync broken at end of file")
	}
}

// buildScript mirrors xdl_build_script, returning the changes in file
// order.
func (e *xdenv) buildScript() []change {
	var rev []change
	f1, f2 := &e.f1, &e.f2
	for i1, i2 := f1.nrec(), f2.nrec(); i1 >= 0 || i2 >= 0; i1, i2 = i1-1, i2-1 {
		if f1.chg(i1-1) || f2.chg(i2-1) {
			l1, l2 := i1, i2
			for f1.chg(i1 - 1) {
				i1--
			}
			for f2.chg(i2 - 1) {
				i2--
			}
			rev = append(rev, change{i1: i1, i2: i2, chg1: l1 - i1, chg2: l2 - i2})
		}
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// xdiff runs the full pipeline git uses before merging: diff, compaction
// of both sides, and script building.
func xdiff(a, b [][]byte) []change {
	e := doDiff(a, b)
	changeCompact(&e.f1, &e.f2)
	changeCompact(&e.f2, &e.f1)
	return e.buildScript()
}
