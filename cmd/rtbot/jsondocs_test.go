package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestJSONTypesFollowTheRules walks the document types: every key is
// snake_case and documented in docs/json.md, no time.Time or
// time.Duration (whose JSON is not the documented one) is in them, and a
// key ending _seconds is a float.
func TestJSONTypesFollowTheRules(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	for name, newDoc := range jsonDocTypes {
		for _, problem := range checkJSONType(reflect.TypeOf(newDoc()).Elem(), string(doc), seen) {
			t.Errorf("%s: %s", name, problem)
		}
	}
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

// checkJSONType returns what in type ty breaks the rules; seen holds the
// struct types already checked.
func checkJSONType(ty reflect.Type, doc string, seen map[reflect.Type]bool) []string {
	switch ty {
	case timeType, durationType:
		return []string{ty.String() + " in a document"}
	}
	switch ty.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return checkJSONType(ty.Elem(), doc, seen)
	case reflect.Struct:
	default:
		return nil
	}
	if seen[ty] {
		return nil
	}
	seen[ty] = true
	var problems []string
	for f := range ty.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && tag == "":
			problems = append(problems, checkJSONType(f.Type, doc, seen)...)
			continue
		case !snakeCase.MatchString(tag):
			problems = append(problems, fmt.Sprintf("%s.%s: key %q not snake_case", ty, f.Name, tag))
		case !strings.Contains(doc, "`"+tag+"`"):
			problems = append(problems, fmt.Sprintf("%s.%s: key %q not in docs/json.md", ty, f.Name, tag))
		case strings.HasSuffix(tag, "_seconds") && f.Type.Kind() != reflect.Float64:
			problems = append(problems, fmt.Sprintf("%s.%s: %s is not a float", ty, f.Name, tag))
		}
		problems = append(problems, checkJSONType(f.Type, doc, seen)...)
	}
	return problems
}

// jsonDocsExample matches an example of docs/json.md: a ```json block
// whose info string names the output ("json merge").
var jsonDocsExample = regexp.MustCompile("(?ms)^```json ([a-z-]+)\n(.*?)^```\n")

// TestJSONDocsExamples: every example in docs/json.md follows the same
// rules as the outputs, and is the golden file of its output, so the
// examples cannot drift from what rtbot prints; every output has one.
// With -update (after TestJSONOutputs rewrote the golden files, which it
// does first) it copies the golden files into the examples.
func TestJSONDocsExamples(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "json.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		doc = jsonDocsFromGolden(t, doc)
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found := map[string]bool{}
	for _, m := range jsonDocsExample.FindAllSubmatch(doc, -1) {
		name, text := string(m[1]), m[2]
		found[name] = true
		if err := checkJSON(text, jsonDocTypes[name]); err != nil {
			t.Errorf("docs/json.md, example %s: %v", name, err)
		}
		golden, err := os.ReadFile(filepath.Join("testdata", "json", name+".json"))
		if err != nil {
			t.Errorf("docs/json.md, example %s: %v", name, err)
		} else if !bytes.Equal(golden, text) {
			t.Errorf("docs/json.md, example %s differs from testdata/json/%s.json (go test -run TestJSON -update copies it)", name, name)
		}
	}
	for name := range jsonDocTypes {
		if !found[name] {
			t.Errorf("docs/json.md has no example of %s", name)
		}
	}
}

// jsonDocsFromGolden is doc with each example replaced by its golden
// file.
func jsonDocsFromGolden(t *testing.T, doc []byte) []byte {
	return jsonDocsExample.ReplaceAllFunc(doc, func(block []byte) []byte {
		name := jsonDocsExample.FindSubmatch(block)[1]
		golden, err := os.ReadFile(filepath.Join("testdata", "json", string(name)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Appendf(nil, "```json %s\n%s```\n", name, golden)
	})
}
