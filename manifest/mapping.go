package manifest

import (
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// fields is a YAML mapping read with its keys checked: each key is known
// and appears once.
type fields struct {
	node   ast.Node
	field  string
	values map[string]*ast.MappingValueNode
	order  []string
}

// mappingPairs returns the key/value pairs of a mapping node. goccy/go-yaml
// may hand back a one-pair mapping as a bare MappingValueNode.
func mappingPairs(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch t := n.(type) {
	case *ast.MappingNode:
		return t.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{t}, true
	}
	return nil, false
}

// mapping reads a mapping whose keys must be among known. Unknown keys,
// duplicate keys and merge keys are errors. It returns nil, after recording
// an error, when v is not a mapping, and nil without an error when v is
// null: an empty section counts as absent, as in Kubernetes.
func (d *decoder) mapping(v value, field string, known ...string) *fields {
	pairs, ok := d.pairs(v, field)
	if !ok {
		return nil
	}
	f := &fields{node: v.node, field: field, values: make(map[string]*ast.MappingValueNode)}
	for _, pair := range pairs {
		key, ok := d.key(pair, field)
		if !ok {
			continue
		}
		if known != nil && !slices.Contains(known, key) {
			d.errorf(pair.Key, child(field, key), "unknown field %q (%s)", key, suggest(key, known))
			continue
		}
		if !d.unique(f, key, pair) {
			continue
		}
		f.values[key] = pair
		f.order = append(f.order, key)
	}
	return f
}

// pairs returns the pairs of a mapping, or reports that v is another type.
func (d *decoder) pairs(v value, field string) ([]*ast.MappingValueNode, bool) {
	if isNull(v) {
		return nil, false
	}
	pairs, ok := mappingPairs(v.node)
	if !ok {
		d.errorf(v.at, field, "expected a mapping, got %s", describe(v))
		return nil, false
	}
	return pairs, true
}

// key returns the text of a mapping key. Merge keys ("<<") and keys that
// are mappings or lists are errors.
func (d *decoder) key(pair *ast.MappingValueNode, field string) (string, bool) {
	var n ast.Node = pair.Key
	if explicit, ok := n.(*ast.MappingKeyNode); ok {
		n = explicit.Value
	}
	if _, merge := n.(*ast.MergeKeyNode); merge {
		d.errorf(pair.Key, field, "merge keys (<<) are not supported (write the fields out)")
		return "", false
	}
	kv, ok := d.resolve(n, field)
	if !ok {
		return "", false
	}
	text, ok := scalarText(kv)
	if !ok {
		d.errorf(pair.Key, field, "a key must be a string, got %s", describe(kv))
		return "", false
	}
	return text, true
}

// unique records an error when key was already seen in f.
func (d *decoder) unique(f *fields, key string, pair *ast.MappingValueNode) bool {
	first, seen := f.values[key]
	if !seen {
		return true
	}
	d.errorf(pair.Key, child(f.field, key), "duplicate key (first at %s; remove one)", d.pos(first.Key))
	return false
}

// get returns the value of key with anchors, aliases and tags taken off,
// and whether the key is present with a usable value.
func (d *decoder) get(f *fields, key string) (value, bool) {
	if f == nil {
		return value{}, false
	}
	pair, ok := f.values[key]
	if !ok {
		return value{}, false
	}
	v, ok := d.resolve(pair.Value, child(f.field, key))
	v.at = pair.Key
	return v, ok
}

// has reports whether key is present in f, whatever its value.
func (f *fields) has(key string) bool {
	if f == nil {
		return false
	}
	_, ok := f.values[key]
	return ok
}

// missing records that key is absent from the mapping node at parentField.
// The error points at the mapping and ends with the given fix.
func (d *decoder) missing(node ast.Node, parentField, key, fix string) {
	d.errorf(node, child(parentField, key), "required field is missing (%s)", fix)
}

// suggest names the closest known key when one is a likely typo, or lists
// the known keys.
func suggest(key string, known []string) string {
	best, bestDistance := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestDistance {
			best, bestDistance = k, dist
		}
	}
	if best != "" {
		return "did you mean " + best + "?"
	}
	return "known fields: " + strings.Join(known, ", ")
}

// editDistance returns the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
