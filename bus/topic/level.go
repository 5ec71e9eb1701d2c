package topic

import (
	"fmt"
	"strings"
)

// levelKind is the kind of one level of a filter or template.
type levelKind int

const (
	literalLevel levelKind = iota
	singleLevelWildcard
	multiLevelWildcard
	nameLevel
)

// level is one "/"-separated part of a filter or template. For a nameLevel,
// text is the name without braces; otherwise it is the level as written.
type level struct {
	kind levelKind
	text string
}

// parseName returns the name inside a "{name}" level. It reports ok=false
// when the level holds no braces at all, and an error when braces are used
// in any way other than around a whole level.
func parseName(part string) (name string, ok bool, err error) {
	if !strings.ContainsAny(part, "{}") {
		return "", false, nil
	}
	if !strings.HasPrefix(part, "{") || !strings.HasSuffix(part, "}") || strings.Count(part, "{")+strings.Count(part, "}") != 2 {
		return "", false, fmt.Errorf("level %q mixes text and braces (a {name} must fill a whole level, as in sensors/{device}/telemetry)", part)
	}
	name = part[1 : len(part)-1]
	if !validName(name) {
		return "", false, fmt.Errorf("invalid name %q in %s (use lower-case letters, digits and \"_\", starting with a letter or \"_\")", name, part)
	}
	return name, true, nil
}

// validName reports whether name matches [a-z_][a-z0-9_]*.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		lower := c >= 'a' && c <= 'z'
		digit := c >= '0' && c <= '9'
		if !lower && c != '_' && (i == 0 || !digit) {
			return false
		}
	}
	return true
}

// joinLevels writes levels back as a topic, with each name level replaced
// by replace(name).
func joinLevels(levels []level, replace func(name string) string) string {
	parts := make([]string, len(levels))
	for i, l := range levels {
		if l.kind == nameLevel {
			parts[i] = replace(l.text)
		} else {
			parts[i] = l.text
		}
	}
	return strings.Join(parts, separator)
}
