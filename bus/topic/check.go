package topic

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLength is the maximum length in bytes of a topic name or topic filter,
// because MQTT encodes them as strings with a 16-bit length [MQTT-4.7.3-3].
const MaxLength = 65535

// Level separator and wildcards of MQTT topics.
const (
	separator   = "/"
	singleLevel = "+"
	multiLevel  = "#"
	wildcards   = singleLevel + multiLevel
)

// checkString applies the rules shared by topic names, topic filters and
// templates, and returns the reason s breaks one, or "".
func checkString(s string) string {
	if s == "" {
		return "must not be empty" // [MQTT-4.7.3-1]
	}
	if len(s) > MaxLength {
		return fmt.Sprintf("%d bytes is longer than the maximum %d", len(s), MaxLength) // [MQTT-4.7.3-3]
	}
	if strings.ContainsRune(s, 0) {
		return "contains the null character U+0000" // [MQTT-4.7.3-2]
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8" // [MQTT-1.5.4-1]
	}
	return ""
}

// quote returns s in Go quotes, cut to its first 64 bytes so that an error
// about a 64 KiB filter stays readable.
func quote(s string) string {
	const limit = 64
	if len(s) <= limit {
		return fmt.Sprintf("%q", s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}

// ValidTopicName checks a concrete topic that a message is published to.
// It returns an error when s is empty, longer than MaxLength bytes, not
// valid UTF-8, or contains U+0000 or a wildcard.
func ValidTopicName(s string) error {
	if reason := checkString(s); reason != "" {
		return fmt.Errorf("invalid topic %s: %s", quote(s), reason)
	}
	if strings.ContainsAny(s, wildcards) {
		return fmt.Errorf("invalid topic %s: topic names cannot contain wildcards \"+\" or \"#\" (publish to a concrete topic)", quote(s)) // [MQTT-3.3.2-2]
	}
	return nil
}
