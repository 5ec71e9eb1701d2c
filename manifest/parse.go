package manifest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Parse parses the workloads of one manifest file. filename appears in
// error positions as given, and relative paths in the manifest are
// resolved against its directory. Documents that are empty or hold only
// comments are skipped, and a file without any workload is an error.
//
// On failure the error is an *ErrorList with every problem found in the
// file, in file order.
func Parse(filename string, data []byte) ([]Workload, error) {
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, fmt.Errorf("resolve directory of manifest %q: %w", filename, err)
	}
	d := &decoder{file: filename, dir: dir}
	found := d.parse(data)
	checkDuplicates(d, found)
	if len(d.errs) > 0 {
		return nil, &ErrorList{Errors: sortErrors(d.errs, []string{filename})}
	}
	return workloads(found), nil
}

// workloads returns the workloads of found.
func workloads(found []parsed) []Workload {
	out := make([]Workload, len(found))
	for i, p := range found {
		out[i] = p.workload
	}
	return out
}

// ParseFile reads and parses one manifest file.
func ParseFile(path string) ([]Workload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return Parse(path, data)
}

// ParseFiles reads and parses several manifest files as one set: besides
// the errors of each file, a workload name used in two files is an error.
func ParseFiles(paths ...string) ([]Workload, error) {
	sources := make([]Source, 0, len(paths))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		sources = append(sources, Source{Name: path, Data: data})
	}
	return ParseSources(sources...)
}

// Source is the content of one manifest file. Name is its path, used in
// error positions and to resolve the relative paths inside it.
type Source struct {
	Name string
	Data []byte
}

// ParseSources parses manifest files already read, as ParseFiles does.
func ParseSources(sources ...Source) ([]Workload, error) {
	if len(sources) == 0 {
		return nil, errors.New("no manifest files given (name at least one file)")
	}
	var all []parsed
	var errs []*Error
	names := make([]string, 0, len(sources))
	for _, src := range sources {
		dir, err := filepath.Abs(filepath.Dir(src.Name))
		if err != nil {
			return nil, fmt.Errorf("resolve directory of manifest %q: %w", src.Name, err)
		}
		d := &decoder{file: src.Name, dir: dir}
		all = append(all, d.parse(src.Data)...)
		errs = append(errs, d.errs...)
		names = append(names, src.Name)
	}
	d := &decoder{}
	checkDuplicates(d, all)
	errs = append(errs, d.errs...)
	if len(errs) > 0 {
		return nil, &ErrorList{Errors: sortErrors(errs, names)}
	}
	return workloads(all), nil
}

// parse decodes every document of data, records the errors in d and
// returns the workloads, including those with errors.
func (d *decoder) parse(data []byte) []parsed {
	var found []parsed
	documents := 0
	for _, chunk := range splitDocuments(data) {
		file, err := parser.ParseBytes(chunk, 0, parser.AllowDuplicateMapKey())
		if err != nil {
			d.syntaxError(err)
			documents++ // a broken document is not an empty one
			continue
		}
		for _, doc := range file.Docs {
			if doc.Body == nil {
				continue
			}
			if _, null := doc.Body.(*ast.NullNode); null {
				continue
			}
			documents++
			found = append(found, d.document(doc))
		}
	}
	if documents == 0 {
		d.errorAt(Position{File: d.file, Line: 1, Column: 1}, "",
			fmt.Sprintf("no workload found (add a document with apiVersion: %s and kind: %s)", APIVersion, KindWorkload))
	}
	return found
}

// syntaxError records a YAML syntax error at the position goccy/go-yaml
// reports.
func (d *decoder) syntaxError(err error) {
	var yerr yaml.Error
	if errors.As(err, &yerr) && yerr.GetToken() != nil {
		tk := yerr.GetToken()
		pos := Position{File: d.file, Line: tk.Position.Line, Column: tk.Position.Column}
		d.errorAt(pos, "", "invalid YAML: "+yerr.GetMessage())
		return
	}
	d.errorAt(Position{File: d.file}, "", "invalid YAML: "+err.Error())
}

// splitDocuments cuts a YAML stream at its "---" lines and returns each
// document's source. Each part is prefixed with newlines so that line
// numbers stay those of the whole file.
//
// The stream is split here because goccy/go-yaml v1.19.2 drops every
// document after an empty or comment-only one.
// A line that starts with "---" followed by a space, a tab or the line end
// ends a document even inside a block scalar, so cutting there matches the
// YAML grammar.
// NOTE: a directive such as "%YAML 1.2" before a "---" stays with the
// previous part, so a file with directives after its first document fails
// to parse.
func splitDocuments(data []byte) [][]byte {
	lines := bytes.SplitAfter(data, []byte("\n"))
	var parts [][]byte
	start := 0
	for i, line := range lines {
		if i > start && isDocumentStart(line) {
			parts = append(parts, padded(lines[start:i], start))
			start = i
		}
	}
	return append(parts, padded(lines[start:], start))
}

// isDocumentStart reports whether line is a "---" document marker.
func isDocumentStart(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	return ok && (len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r')
}

// padded joins lines after skip newlines.
func padded(lines [][]byte, skip int) []byte {
	out := bytes.Repeat([]byte("\n"), skip)
	for _, line := range lines {
		out = append(out, line...)
	}
	return out
}

// checkDuplicates records an error for each workload whose name an earlier
// one already uses, naming both positions.
func checkDuplicates(d *decoder, found []parsed) {
	first := make(map[string]Position, len(found))
	for _, p := range found {
		if p.workload.Name == "" {
			continue
		}
		if earlier, ok := first[p.workload.Name]; ok {
			d.errorAt(p.namePos, "metadata.name", fmt.Sprintf("duplicate workload name %q (first at %s; names must be unique on the host)", p.workload.Name, earlier))
			continue
		}
		first[p.workload.Name] = p.namePos
	}
}

// sortErrors orders errors by file, in the order the files were given, then
// by line and column. Errors at one position keep the order they were
// found in.
func sortErrors(errs []*Error, files []string) []*Error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(slices.Index(files, a.Pos.File), slices.Index(files, b.Pos.File)),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
		)
	})
	return errs
}
