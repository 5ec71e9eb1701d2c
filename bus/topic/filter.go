package topic

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// sharePrefix starts a shared subscription, "$share/<group>/<filter>".
const sharePrefix = "$share/"

// Bindings maps each {name} of a filter to the topic level it matched.
type Bindings map[string]string

// Filter is a parsed MQTT topic filter that may contain {name} levels.
// A Filter is immutable and safe for concurrent use.
type Filter struct {
	text   string
	group  string
	levels []level
	names  []string
}

// ParseFilter parses an MQTT v5 topic filter such as "sensors/+/telemetry",
// "sensors/#" or "$share/loggers/sensors/{device}/telemetry".
//
// A "{name}" level subscribes as "+" and binds the level it matches to
// name, which must match [a-z_][a-z0-9_]* and appear once per filter.
func ParseFilter(s string) (*Filter, error) {
	if reason := checkString(s); reason != "" {
		return nil, fmt.Errorf("invalid topic filter %s: %s", quote(s), reason)
	}
	f := &Filter{text: s}
	body := s
	if strings.HasPrefix(s, sharePrefix) {
		group, rest, err := splitShare(s)
		if err != nil {
			return nil, fmt.Errorf("invalid topic filter %s: %w", quote(s), err)
		}
		f.group, body = group, rest
	}
	if err := f.parseLevels(body); err != nil {
		return nil, fmt.Errorf("invalid topic filter %s: %w", quote(s), err)
	}
	return f, nil
}

// splitShare splits "$share/<group>/<filter>" into the group and filter.
func splitShare(s string) (group, filter string, err error) {
	rest := strings.TrimPrefix(s, sharePrefix)
	group, filter, found := strings.Cut(rest, separator)
	if group == "" {
		return "", "", errors.New("shared subscription needs a group name, as in $share/group/sensors/#") // [MQTT-4.8.2-1]
	}
	if strings.ContainsAny(group, wildcards) {
		return "", "", fmt.Errorf("share group %q must not contain \"+\" or \"#\"", group) // [MQTT-4.8.2-2]
	}
	if !found || filter == "" {
		return "", "", fmt.Errorf("shared subscription needs a topic filter after the group, as in $share/%s/sensors/#", group) // [MQTT-4.8.2-2]
	}
	return group, filter, nil
}

// parseLevels fills f.levels and f.names from the filter without its
// shared subscription prefix.
func (f *Filter) parseLevels(body string) error {
	parts := strings.Split(body, separator)
	for i, part := range parts {
		l, err := parseFilterLevel(part, i == len(parts)-1)
		if err != nil {
			return err
		}
		if l.kind == nameLevel {
			if slices.Contains(f.names, l.text) {
				return fmt.Errorf("{%s} appears twice (give each level its own name)", l.text)
			}
			f.names = append(f.names, l.text)
		}
		f.levels = append(f.levels, l)
	}
	return nil
}

// parseFilterLevel parses one level of a filter. The flag last marks the
// final level, which is the only place "#" may appear.
func parseFilterLevel(part string, last bool) (level, error) {
	switch {
	case part == multiLevel && !last:
		return level{}, errors.New(`"#" must be the last level, as in sensors/#`) // [MQTT-4.7.1-1]
	case part == multiLevel:
		return level{kind: multiLevelWildcard, text: part}, nil
	case part == singleLevel:
		return level{kind: singleLevelWildcard, text: part}, nil
	case strings.Contains(part, multiLevel):
		return level{}, fmt.Errorf(`level %q: "#" must fill a whole level, as in sensors/#`, part) // [MQTT-4.7.1-1]
	case strings.Contains(part, singleLevel):
		return level{}, fmt.Errorf(`level %q: "+" must fill a whole level, as in sensors/+/telemetry`, part) // [MQTT-4.7.1-2]
	}
	name, ok, err := parseName(part)
	if err != nil {
		return level{}, err
	}
	if ok {
		return level{kind: nameLevel, text: name}, nil
	}
	return level{kind: literalLevel, text: part}, nil
}

// String returns the filter as written, with any {name} levels.
func (f *Filter) String() string { return f.text }

// Group returns the share group of a "$share/<group>/..." filter, or "".
func (f *Filter) Group() string { return f.group }

// Names returns the names bound by the filter's {name} levels, in order.
func (f *Filter) Names() []string { return slices.Clone(f.names) }

// Subscription returns the filter to send in an MQTT SUBSCRIBE packet: each
// {name} becomes "+", and a "$share/<group>/" prefix is kept.
func (f *Filter) Subscription() string {
	filter := joinLevels(f.levels, func(string) string { return singleLevel })
	if f.group != "" {
		return sharePrefix + f.group + separator + filter
	}
	return filter
}

// Match reports whether a concrete topic matches the filter, and returns the
// level each {name} bound. The bindings are non-nil on a match, even for a
// filter without names. A shared subscription prefix plays no part in
// matching, and a topic that contains a wildcard never matches. As "+" does,
// a {name} matches an empty level and then binds "".
func (f *Filter) Match(topic string) (Bindings, bool) {
	if topic == "" || strings.ContainsAny(topic, wildcards) {
		return nil, false
	}
	// A filter starting with a wildcard does not match a topic that starts
	// with "$", such as "$SYS/broker/uptime" [MQTT-4.7.2-1].
	if strings.HasPrefix(topic, "$") && f.levels[0].kind != literalLevel {
		return nil, false
	}
	parts := strings.Split(topic, separator)
	bindings := make(Bindings, len(f.names))
	for i, l := range f.levels {
		if l.kind == multiLevelWildcard {
			// "#" also matches the parent level, so "sensors/#" matches
			// "sensors" (MQTT v5 section 4.7.1.2).
			return bindings, true
		}
		if i >= len(parts) {
			return nil, false
		}
		switch l.kind {
		case nameLevel:
			bindings[l.text] = parts[i]
		case literalLevel:
			if parts[i] != l.text {
				return nil, false
			}
		}
	}
	if len(parts) != len(f.levels) {
		return nil, false
	}
	return bindings, true
}
