package manifest

import (
	"fmt"
	"strconv"

	"github.com/goccy/go-yaml/ast"
)

// tagString is the YAML tag that makes a scalar a string, as in "!!str 1000".
const tagString = "!!str"

// value is a YAML node with anchors, aliases and tags taken off.
type value struct {
	node ast.Node
	// at is the node that errors about the value point to: the key of its
	// mapping entry, so that the column is the field's, or the list item.
	at ast.Node
	// str is true when the node was tagged !!str, so that a scalar such as
	// "!!str 1000" counts as the string "1000".
	str bool
}

// resolve takes anchors, aliases and tags off n. It returns ok=false, after
// recording an error, for an unknown alias or an unsupported tag.
func (d *decoder) resolve(n ast.Node, field string) (value, bool) {
	v := value{at: n}
	for {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.AliasNode:
			name := t.Value.GetToken().Value
			target, ok := d.anchors[name]
			if !ok {
				d.errorf(n, field, "unknown alias *%s (define the anchor &%s before using it)", name, name)
				return value{}, false
			}
			n = target
		case *ast.TagNode:
			tag := t.Start.Value
			if !knownTag(tag) {
				d.errorf(n, field, "unsupported tag %s (remove it)", tag)
				return value{}, false
			}
			v.str = v.str || tag == tagString
			n = t.Value
		default:
			v.node = n
			return v, true
		}
	}
}

// knownTag reports whether tag is one of the YAML core schema tags, which
// do not change how a field is read (except !!str).
func knownTag(tag string) bool {
	switch tag {
	case tagString, "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
		return true
	}
	return false
}

// collectAnchors records every anchor under n so that aliases can be
// resolved.
//
// NOTE: an anchor name defined twice resolves to its last definition here,
// while YAML resolves an alias to the closest definition before it.
func collectAnchors(n ast.Node, anchors map[string]ast.Node) {
	switch t := n.(type) {
	case *ast.AnchorNode:
		anchors[t.Name.GetToken().Value] = t.Value
		collectAnchors(t.Value, anchors)
	case *ast.TagNode:
		collectAnchors(t.Value, anchors)
	case *ast.MappingNode:
		for _, pair := range t.Values {
			collectAnchors(pair, anchors)
		}
	case *ast.MappingValueNode:
		collectAnchors(t.Key, anchors)
		collectAnchors(t.Value, anchors)
	case *ast.SequenceNode:
		for _, item := range t.Values {
			collectAnchors(item, anchors)
		}
	}
}

// describe returns what a node is, for wrong-type messages: "the number
// 1000", "a list", "null".
func describe(v value) string {
	switch n := v.node.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.StringNode:
		return "the string " + strconv.Quote(n.Value)
	case *ast.LiteralNode:
		return "a block string"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + n.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + n.GetToken().Value
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	default:
		return "a " + n.Type().String()
	}
}

// isNull reports whether v is absent or an explicit null.
func isNull(v value) bool {
	_, null := v.node.(*ast.NullNode)
	return v.node == nil || null
}

// scalarText returns the text of a string, number or boolean scalar as
// written, and whether v is such a scalar.
func scalarText(v value) (string, bool) {
	switch n := v.node.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		return n.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// str reads a string field. A number or boolean is a wrong-type error with
// a hint to quote it, as in Kubernetes, unless the node is tagged !!str.
func (d *decoder) str(v value, field string) (string, bool) {
	switch n := v.node.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		return n.Value.Value, true
	}
	text, scalar := scalarText(v)
	switch {
	case scalar && v.str:
		return text, true
	case scalar:
		d.errorf(v.at, field, "expected a string, got %s (quote it: %q)", describe(v), text)
	case isNull(v):
		d.errorf(v.at, field, "missing value (write a string, or \"\" for an empty one)")
	default:
		d.errorf(v.at, field, "expected a string, got %s", describe(v))
	}
	return "", false
}

// integer reads an integer field and checks that it is within [low, high].
func (d *decoder) integer(v value, field string, low, high int64) (int64, bool) {
	n, ok := v.node.(*ast.IntegerNode)
	if !ok || v.str {
		hint := ""
		if s, isString := v.node.(*ast.StringNode); isString {
			if _, err := strconv.ParseInt(s.Value, 10, 64); err == nil {
				hint = " (remove the quotes)"
			}
		}
		d.errorf(v.at, field, "expected an integer from %d to %d, got %s%s", low, high, describe(v), hint)
		return 0, false
	}
	i, err := strconv.ParseInt(fmt.Sprint(n.Value), 10, 64)
	if err != nil || i < low || i > high {
		d.errorf(v.at, field, "%s is out of range (use %d to %d)", n.GetToken().Value, low, high)
		return 0, false
	}
	return i, true
}

// list reads a sequence. Null is an empty list.
func (d *decoder) list(v value, field string) ([]ast.Node, bool) {
	if isNull(v) {
		return nil, true
	}
	seq, ok := v.node.(*ast.SequenceNode)
	if !ok {
		d.errorf(v.at, field, "expected a list, got %s", describe(v))
		return nil, false
	}
	return seq.Values, true
}

// eachItem calls fn with each item of the list at field that resolves,
// recording errors for the others. It returns false when v is not a list.
func (d *decoder) eachItem(v value, field string, fn func(iv value, itemField string)) bool {
	items, ok := d.list(v, field)
	if !ok {
		return false
	}
	for i, item := range items {
		itemField := index(field, i)
		if iv, ok := d.resolve(item, itemField); ok {
			fn(iv, itemField)
		}
	}
	return true
}

// eachString calls fn with each item of the list at field that is a string.
// It returns the number of items and false when v is not a list.
func (d *decoder) eachString(v value, field string, fn func(iv value, itemField, s string)) (int, bool) {
	count := 0
	ok := d.eachItem(v, field, func(iv value, itemField string) {
		count++
		if s, ok := d.str(iv, itemField); ok {
			fn(iv, itemField, s)
		}
	})
	return count, ok
}

// stringList reads a list of strings. It returns ok=false when any item was
// wrong, after recording an error for each.
func (d *decoder) stringList(v value, field string) ([]string, bool) {
	var out []string
	count, ok := d.eachString(v, field, func(_ value, _ string, s string) {
		out = append(out, s)
	})
	if !ok {
		return nil, false
	}
	return out, len(out) == count
}

// child returns the path of key below field.
func child(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// index returns the path of item i of the list at field.
func index(field string, i int) string {
	return fmt.Sprintf("%s[%d]", field, i)
}
