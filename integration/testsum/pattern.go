package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// setDirective marks a test as one of a named set the scripts select
// (the kernels' hostile and smoke steps): "//np:kernel-set NAME...", a
// line of the test's doc comment. The mark moves with the test when it is
// renamed or moved to another file, which a list of names would not.
const setDirective = "//np:kernel-set"

// runPattern returns the -test.run pattern matching exactly the top-level
// tests declared in files: functions named Test… whose next letter is not
// lower case, with one parameter, as go test finds them. With set, only
// those marked as its members (setDirective); then a file may hold none,
// but the set may not be empty. Any other //np: directive is an error, so
// a misspelt mark cannot drop its test unseen.
func runPattern(files []string, set string) (string, error) {
	if len(files) == 0 {
		return "", errors.New("-pattern needs the test files to select")
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution|parser.ParseComments)
		if err != nil {
			return "", fmt.Errorf("reading the tests of %s: %w", f, err)
		}
		n := 0
		for _, d := range file.Decls {
			name, ok := testName(d)
			if !ok {
				continue
			}
			sets, err := testSets(d.(*ast.FuncDecl))
			if err != nil {
				return "", fmt.Errorf("%s: %s: %w", f, name, err)
			}
			if set == "" || sets[set] {
				names = append(names, name)
				n++
			}
		}
		if n == 0 && set == "" {
			return "", fmt.Errorf("%s declares no test", f)
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no test in the %d files given (%s ...) is marked %s %s", len(files), files[0], setDirective, set)
	}
	sort.Strings(names)
	return "^(" + strings.Join(names, "|") + ")$", nil
}

// testSets returns the sets fn's doc comment marks it a member of.
func testSets(fn *ast.FuncDecl) (map[string]bool, error) {
	sets := map[string]bool{}
	if fn.Doc == nil {
		return sets, nil
	}
	for _, c := range fn.Doc.List {
		if !strings.HasPrefix(c.Text, "//np:") {
			continue
		}
		f := strings.Fields(c.Text)
		if f[0] != setDirective || len(f) < 2 {
			return nil, fmt.Errorf("%q: want %s NAME...", c.Text, setDirective)
		}
		for _, s := range f[1:] {
			sets[s] = true
		}
	}
	return sets, nil
}

func isTestName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}

// testName reports the name of d if it declares a test function.
func testName(d ast.Decl) (string, bool) {
	fn, ok := d.(*ast.FuncDecl)
	if !ok || fn.Recv != nil || !isTestName(fn.Name.Name) {
		return "", false
	}
	if fn.Type.Params == nil || len(fn.Type.Params.List) != 1 || fn.Name.Name == "TestMain" {
		return "", false
	}
	return fn.Name.Name, true
}
