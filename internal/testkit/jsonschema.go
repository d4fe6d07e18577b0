package testkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ValidateJSON validates the JSON document doc against the JSON Schema in
// the file schemaPath, with format assertions on (uri, email, date-time:
// a value of the wrong form fails, as with a strict validator on the
// receiving side). A schema without "$schema" is read as draft 7, the
// draft kcidb-io validates with. It returns nil when doc is valid, else an
// error listing every violation with its JSON pointer; it fails the test
// only when the schema itself does not load, so a test can check that a
// document it broke on purpose is refused.
func ValidateJSON(tb testing.TB, schemaPath string, doc []byte) error {
	tb.Helper()
	schema := compileSchema(tb, schemaPath)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return schema.Validate(inst)
}

// compileSchema compiles the JSON Schema file at path, or fails the test.
func compileSchema(tb testing.TB, path string) *jsonschema.Schema {
	tb.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		tb.Fatalf("JSON schema: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("JSON schema %s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	if err := c.AddResource(abs, doc); err != nil {
		tb.Fatalf("JSON schema %s: %v", path, err)
	}
	s, err := c.Compile(abs)
	if err != nil {
		tb.Fatalf("JSON schema %s: %v", path, err)
	}
	return s
}
