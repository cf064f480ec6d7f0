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

// runPattern returns the -test.run pattern matching exactly the top-level
// tests declared in files: functions named Test… whose next letter is not
// lower case, with one parameter, as go test finds them.
func runPattern(files []string) (string, error) {
	if len(files) == 0 {
		return "", errors.New("-pattern needs the test files to select")
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return "", fmt.Errorf("reading the tests of %s: %w", f, err)
		}
		n := 0
		for _, d := range file.Decls {
			if name, ok := testName(d); ok {
				names = append(names, name)
				n++
			}
		}
		if n == 0 {
			return "", fmt.Errorf("%s declares no test", f)
		}
	}
	sort.Strings(names)
	return "^(" + strings.Join(names, "|") + ")$", nil
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
