package manifest

import (
	"fmt"
	"strings"
)

// String returns the position as "FILE:LINE:COLUMN", or only FILE when the
// line is unknown.
func (p Position) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Error is one problem in a manifest: where it is, which field it concerns
// and what is wrong, with how to fix it.
type Error struct {
	Pos Position
	// Field is the path of the field, such as "spec.resources.memory" or
	// "spec.trigger.mqtt.topics[1]". It is empty for errors about the file as
	// a whole, such as YAML syntax errors.
	Field string
	Msg   string
}

// Error returns "FILE:LINE:COL: FIELD: MESSAGE".
func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Field, e.Msg)
}

// ErrorList is every problem found in the manifests of one call, in file
// order. Parse, ParseFile and ParseFiles return it as their error; use
// errors.As to get at the entries.
type ErrorList struct {
	Errors []*Error
}

// Error returns one line per entry.
func (l *ErrorList) Error() string {
	lines := make([]string, len(l.Errors))
	for i, e := range l.Errors {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the entries, so that errors.As finds an *Error.
func (l *ErrorList) Unwrap() []error {
	errs := make([]error, len(l.Errors))
	for i, e := range l.Errors {
		errs[i] = e
	}
	return errs
}
