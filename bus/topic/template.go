package topic

import (
	"fmt"
	"slices"
	"strings"
)

// Template is a parsed output topic such as "alerts/{device}/co2". It never
// contains a wildcard. A Template is immutable and safe for concurrent use.
type Template struct {
	text   string
	levels []level
	names  []string
}

// ParseTemplate parses an output topic. Each level is literal text or a
// "{name}" that Expand replaces with a bound value. The same name may be
// used in several levels.
func ParseTemplate(s string) (*Template, error) {
	if reason := checkString(s); reason != "" {
		return nil, fmt.Errorf("invalid output topic %s: %s", quote(s), reason)
	}
	if strings.ContainsAny(s, wildcards) {
		return nil, fmt.Errorf("invalid output topic %s: output topics cannot contain wildcards \"+\" or \"#\" (use a {name} level bound by the trigger filter)", quote(s)) // [MQTT-3.3.2-2]
	}
	t := &Template{text: s}
	for _, part := range strings.Split(s, separator) {
		name, ok, err := parseName(part)
		if err != nil {
			return nil, fmt.Errorf("invalid output topic %s: %w", quote(s), err)
		}
		if !ok {
			t.levels = append(t.levels, level{kind: literalLevel, text: part})
			continue
		}
		t.levels = append(t.levels, level{kind: nameLevel, text: name})
		if !slices.Contains(t.names, name) {
			t.names = append(t.names, name)
		}
	}
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.text }

// Names returns the distinct names the template uses, in order of first use.
func (t *Template) Names() []string { return slices.Clone(t.names) }

// Expand returns the topic with each {name} replaced by b[name]. It returns
// an error when a name is unbound, or bound to a value that is not one
// non-empty topic level, or when the result is longer than MaxLength bytes.
func (t *Template) Expand(b Bindings) (string, error) {
	for _, name := range t.names {
		value, ok := b[name]
		if !ok {
			return "", fmt.Errorf("expand output topic %s: {%s} is not bound (the trigger filter must contain a {%s} level)", quote(t.text), name, name)
		}
		if value == "" || strings.ContainsAny(value, separator+wildcards+"\x00") {
			return "", fmt.Errorf("expand output topic %s: {%s} is bound to %s, which is not one non-empty topic level", quote(t.text), name, quote(value))
		}
	}
	topic := joinLevels(t.levels, func(name string) string { return b[name] })
	if len(topic) > MaxLength {
		return "", fmt.Errorf("expand output topic %s: result is %d bytes, longer than the maximum %d", quote(t.text), len(topic), MaxLength) // [MQTT-4.7.3-3]
	}
	return topic, nil
}

// Allows reports whether topic is one that Expand could produce: it has as
// many levels as the template, each literal level is equal, and each {name}
// level is a non-empty level, the same one wherever the name repeats.
// Topics with wildcards are never allowed.
func (t *Template) Allows(topic string) bool {
	if strings.ContainsAny(topic, wildcards) {
		return false
	}
	parts := strings.Split(topic, separator)
	if len(parts) != len(t.levels) {
		return false
	}
	seen := make(map[string]string, len(t.names))
	for i, l := range t.levels {
		if l.kind == literalLevel {
			if parts[i] != l.text {
				return false
			}
			continue
		}
		if parts[i] == "" {
			return false
		}
		if earlier, ok := seen[l.text]; ok && earlier != parts[i] {
			return false
		}
		seen[l.text] = parts[i]
	}
	return true
}
