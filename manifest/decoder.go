package manifest

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// decoder reads the documents of one manifest file and collects every
// error it finds.
type decoder struct {
	// file is the file name as the caller passed it, used in positions.
	file string
	// dir is the absolute directory that relative paths are resolved in.
	dir string
	// anchors maps the anchor names of the current document to their nodes.
	anchors map[string]ast.Node
	errs    []*Error
}

// errorf records an error at the position of node n.
func (d *decoder) errorf(n ast.Node, field, format string, args ...any) {
	d.errorAt(d.pos(n), field, fmt.Sprintf(format, args...))
}

// errorAt records an error at pos.
func (d *decoder) errorAt(pos Position, field, msg string) {
	d.errs = append(d.errs, &Error{Pos: pos, Field: field, Msg: msg})
}

// pos returns where node n starts. goccy/go-yaml gives a block mapping and
// a key/value pair the position of their first ":", so for those pos uses
// the first key instead.
func (d *decoder) pos(n ast.Node) Position {
	switch t := n.(type) {
	case nil:
		return Position{File: d.file}
	case *ast.MappingNode:
		if !t.IsFlowStyle && len(t.Values) > 0 {
			return d.pos(t.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return d.pos(t.Key)
	case *ast.DocumentNode:
		if t.Start != nil {
			return Position{File: d.file, Line: t.Start.Position.Line, Column: t.Start.Position.Column}
		}
		return d.pos(t.Body)
	}
	tk := n.GetToken()
	if tk == nil {
		return Position{File: d.file}
	}
	return Position{File: d.file, Line: tk.Position.Line, Column: tk.Position.Column}
}
