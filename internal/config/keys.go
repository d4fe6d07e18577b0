package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Locating keys.
//
// BurntSushi/toml v1.6.0 knows where every key is but does not export it:
// MetaData has no Position method, and a ParseError carries the position of
// the last occurrence of a key string, which for a key in an array of tables
// ("tree.series") may be another table's. So rtbot locates keys itself:
// keyLines scans the file's lines for table headers and "key =" lines and
// records each key under its indexed path, "tree[1].series", the same path
// indexedKeys builds from MetaData.Keys. The scan only locates keys for
// messages; the document's meaning always comes from the TOML decoder.

// keyLines maps the indexed path of every table header and key written in data
// to its 1-based line. Keys inside inline tables are not located.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	counts := map[string]int{} // array-of-tables path → tables seen so far
	table := ""                // indexed path of the current table
	ml, depth := "", 0         // open multi-line string delimiter, open brackets
	for n, line := range strings.Split(string(data), "\n") {
		lineNo := n + 1
		if ml != "" || depth > 0 {
			ml, depth = skipValue(line, ml, depth)
			continue
		}
		s := strings.TrimLeft(line, " \t")
		switch {
		case s == "" || s[0] == '#':
		case strings.HasPrefix(s, "[["):
			parts, _, ok := parseKey(s[2:])
			if !ok {
				continue
			}
			p := joinKey(resolveTable(parts[:len(parts)-1], counts), parts[len(parts)-1])
			counts[p]++
			table = fmt.Sprintf("%s[%d]", p, counts[p]-1)
			lines[table] = lineNo
			if _, ok := lines[p]; !ok {
				lines[p] = lineNo
			}
		case s[0] == '[':
			parts, _, ok := parseKey(s[1:])
			if !ok {
				continue
			}
			table = resolveTable(parts, counts)
			lines[table] = lineNo
		default:
			parts, rest, ok := parseKey(s)
			if !ok || !strings.HasPrefix(rest, "=") {
				continue
			}
			k := table
			for _, part := range parts {
				k = joinKey(k, part)
				if _, ok := lines[k]; !ok {
					lines[k] = lineNo
				}
			}
			ml, depth = skipValue(rest[1:], "", 0)
		}
	}
	return lines
}

// resolveTable turns the parts of a table header into an indexed path: a
// part naming an array of tables refers to its last table so far.
func resolveTable(parts []string, counts map[string]int) string {
	p := ""
	for _, part := range parts {
		p = joinKey(p, part)
		if n := counts[p]; n > 0 {
			p = fmt.Sprintf("%s[%d]", p, n-1)
		}
	}
	return p
}

// joinKey appends one key part to an indexed path, quoted as TOML would if
// it is not a bare key.
func joinKey(prefix, part string) string {
	q := toml.Key{part}.String()
	if prefix == "" {
		return q
	}
	return prefix + "." + q
}

// parseKey reads a dotted key (bare, "basic" or 'literal' parts) at the start
// of s and returns its parts and what follows it, with leading blanks removed.
func parseKey(s string) (parts []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return nil, "", false
		}
		var part string
		switch s[0] {
		case '"':
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return nil, "", false
			}
			part = s[1:end]
			if u, err := strconv.Unquote(s[:end+1]); err == nil {
				part = u
			}
			s = s[end+1:]
		case '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := 0
			for end < len(s) && isBare(s[end]) {
				end++
			}
			if end == 0 {
				return nil, "", false
			}
			part, s = s[:end], s[end:]
		}
		parts = append(parts, part)
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, ".") {
			return parts, s, true
		}
		s = s[1:]
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// skipValue scans (part of) a value for strings, comments and brackets, and
// returns the multi-line string still open at its end ("" if none) and the
// number of brackets and braces still open.
func skipValue(s, ml string, depth int) (string, int) {
	for i := 0; ; {
		if ml != "" {
			end := strings.Index(s[i:], ml)
			if end < 0 {
				return ml, depth
			}
			i += end + len(ml)
			ml = ""
			continue
		}
		if i >= len(s) {
			return "", depth
		}
		switch c := s[i]; c {
		case '#':
			return "", depth
		case '"', '\'':
			if strings.HasPrefix(s[i:], strings.Repeat(string(c), 3)) {
				ml = strings.Repeat(string(c), 3)
				i += 3
				continue
			}
			i++
			for i < len(s) && s[i] != c {
				if c == '"' && s[i] == '\\' {
					i++
				}
				i++
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
		i++
	}
}

// indexedKeys returns the indexed path of each key in md.Keys(), in the same
// order: the i-th [[tree]] table's keys are "tree[i].KEY".
func indexedKeys(md toml.MetaData) []string {
	keys := md.Keys()
	out := make([]string, len(keys))
	counts := map[string]int{}
	for n, k := range keys {
		p := ""
		for i := range k {
			p = joinKey(p, k[i])
			if md.Type(k[:i+1]...) == "ArrayHash" {
				if i == len(k)-1 {
					counts[p]++
				}
				p = fmt.Sprintf("%s[%d]", p, max(counts[p]-1, 0))
			}
		}
		out[n] = p
	}
	return out
}

// checkKeys reports every key in the file that rtbot does not know: those
// the decoder left undecoded, and those it matched to a field only by
// ignoring case. A password is refused with its own message.
func checkKeys(p *problems, md toml.MetaData) {
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	folded := map[string]bool{}
	indexed := indexedKeys(md)
	for n, k := range md.Keys() {
		key := indexed[n]
		if undecoded[k.String()] {
			if len(k) > 1 && undecoded[k[:len(k)-1].String()] {
				continue // inside an unknown table, which is reported
			}
			switch t := md.Type(k...); {
			case strings.EqualFold(k[len(k)-1], "password"):
				p.add(key, "a password must not be written in the configuration file; "+
					"put it in a file (mode 0600) named by password_file, or in an environment variable named by password_env")
			case t == "Hash" || t == "ArrayHash":
				p.add(key, "unknown table")
			default:
				p.add(key, "unknown key")
			}
			continue
		}
		if i, want := caseMismatch(reflect.TypeFor[Config](), k); i >= 0 {
			if prefix := k[:i+1].String(); !folded[prefix] {
				folded[prefix] = true
				p.add(key, "unknown key %q: keys are case-sensitive; did you mean %q?", k[i], want)
			}
		}
	}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// caseMismatch walks k through the Go types the file decodes into and
// returns the index of the first part that names a field only when case is
// ignored, with the field's key; -1 when every part matches exactly (or leads
// into a map, where any key goes).
func caseMismatch(t reflect.Type, k toml.Key) (int, string) {
	for i, part := range k {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(textUnmarshaler) {
			return -1, ""
		}
		exact, fold, foldName := fieldType(t, part)
		switch {
		case exact != nil:
			t = exact
		case fold != nil:
			return i, foldName
		default:
			return -1, ""
		}
	}
	return -1, ""
}

// fieldType finds the field of struct type t whose TOML key is name, exactly
// or ignoring case, looking into embedded structs.
func fieldType(t reflect.Type, name string) (exact, fold reflect.Type, foldName string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			e, fo, fn := fieldType(f.Type, name)
			if e != nil {
				return e, nil, ""
			}
			if fo != nil && fold == nil {
				fold, foldName = fo, fn
			}
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f.Type, nil, ""
		}
		if fold == nil && strings.EqualFold(tag, name) {
			fold, foldName = f.Type, tag
		}
	}
	return nil, fold, foldName
}

// typeErrorRE matches the errors BurntSushi/toml returns for a value of the
// wrong type, which are not ParseErrors.
var typeErrorRE = regexp.MustCompile(`^toml: line (\d+) \(last key "(.*?)"\): (.*)$`)

// decodeError turns an error from toml.Decode into an *Error naming the file,
// the line and, when known, the key.
func decodeError(name string, data []byte, err error) error {
	e := &Error{File: name, Err: err}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		// A syntax error. Its LastKey is the last key read before the error,
		// not necessarily the one at fault, so it is not reported as the key.
		e.Line, e.Err = pe.Position.Line, errors.New(pe.Message)
	} else if m := typeErrorRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Key, e.Err = m[2], errors.New(m[3])
	}
	if e.Key != "" && e.Line > 0 {
		// The decoder names "tree.series"; find which tree on that line.
		for k, l := range keyLines(data) {
			if l == e.Line && stripIndexes(k) == e.Key {
				e.Key = k
				break
			}
		}
	}
	return e
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// stripIndexes turns "tree[1].series" into "tree.series".
func stripIndexes(k string) string { return indexRE.ReplaceAllString(k, "") }
