package quantity

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// ParseBytes parses a memory quantity such as "64Mi", "1G", "1.5Gi", "1e6"
// or "4096" and returns it in bytes.
//
// Binary suffixes (Ki Mi Gi Ti Pi Ei) are powers of 1024, and decimal
// suffixes (k M G T P E) and exponents are powers of 10. The value must be a whole,
// non-negative number of bytes that fits in an int64, so "0.5" and "1.1Ki"
// are rejected, as is the CPU suffix "m".
func ParseBytes(s string) (int64, error) {
	n, err := parseNumber(s)
	if errors.Is(err, errExponent) {
		return 0, fmt.Errorf("invalid quantity %q: exponent out of range (use an exponent from e-%d to e%d)", s, maxExponent, maxExponent)
	}
	if err != nil {
		return 0, fmt.Errorf("invalid quantity %q (use Ki, Mi, Gi, e.g. %s)", s, byteHint(s))
	}
	if n.suffix == "m" {
		return 0, fmt.Errorf("invalid quantity %q: \"m\" means milli, not a byte unit (use Mi for mebibytes, e.g. %s)", s, byteHint(s))
	}
	if n.value.Sign() < 0 {
		return 0, fmt.Errorf("invalid quantity %q: must not be negative", s)
	}
	if !n.value.IsInt() {
		return 0, fmt.Errorf("invalid quantity %q: %s is not a whole number of bytes (use a whole number, e.g. %s)",
			s, n.value.FloatString(3), floorString(n.value))
	}
	if !n.value.Num().IsInt64() {
		return 0, fmt.Errorf("invalid quantity %q: larger than the maximum %d bytes", s, int64(math.MaxInt64))
	}
	return n.value.Num().Int64(), nil
}

// byteHint suggests a corrected spelling of a bad memory quantity: the
// number the user wrote with the binary suffix that their unit most likely
// meant, so "12 MB" gives "12Mi". When the input is not a number followed by
// letters it returns "64Mi".
func byteHint(s string) string {
	digits, rest := splitDecimal(strings.TrimSpace(s))
	digits = strings.TrimPrefix(digits, "+")
	rest = strings.TrimSpace(rest)
	if strings.Trim(digits, ".") == "" || strings.ContainsAny(digits, "+-") ||
		strings.Count(digits, ".") > 1 || strings.Trim(rest, lettersASCII) != "" {
		return "64Mi"
	}
	unit := "Mi"
	if rest != "" {
		switch rest[0] {
		case 'k', 'K':
			unit = "Ki"
		case 'g', 'G':
			unit = "Gi"
		case 't', 'T':
			unit = "Ti"
		case 'p', 'P':
			unit = "Pi"
		case 'E':
			unit = "Ei"
		}
	}
	return digits + unit
}

const lettersASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// floorString returns the integer part of a non-negative r in decimal.
func floorString(r *big.Rat) string {
	return new(big.Int).Quo(r.Num(), r.Denom()).String()
}
