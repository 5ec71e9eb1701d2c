// Package quantity parses and formats resource quantities in Kubernetes
// notation: "64Mi" and "1G" for bytes, "500m" and "1.5" for CPU.
//
// The grammar is the one of resource.Quantity in k8s.io/apimachinery: an
// optional sign, a decimal number ("1", "1.5", ".5", "5."), then at most one
// suffix. A suffix is binary (Ki Mi Gi Ti Pi Ei), decimal (m k M G T P E) or
// an exponent ("1e3", "5E-1"). The decimal suffixes "n" and "u" of
// resource.Quantity are not accepted. Unlike resource.Quantity, which rounds
// up, these parsers reject values that are negative, not whole in the target
// unit, or beyond int64.
package quantity

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// maxExponent bounds the exponent form so that "1e999999" cannot make the
// parser build a huge number. 10^30 is far beyond int64.
const maxExponent = 30

// suffixKind is the family of a quantity's suffix.
type suffixKind int

const (
	suffixNone suffixKind = iota
	suffixBinary
	suffixDecimal
	suffixExponent
)

// Reasons for which parseNumber rejects a string. The exported parsers turn
// them into messages with a hint that fits bytes or CPU.
var (
	errSyntax   = errors.New("syntax")
	errExponent = errors.New("exponent out of range")
)

// number is a parsed quantity: its exact value and the suffix it used.
type number struct {
	value  *big.Rat
	suffix string
	kind   suffixKind
}

// parseNumber splits s into a decimal number and a suffix and returns the
// exact value.
func parseNumber(s string) (number, error) {
	digits, suffix := splitDecimal(s)
	if strings.Trim(digits, "+-.") == "" || strings.Count(digits, ".") > 1 {
		return number{}, errSyntax
	}
	mantissa, ok := new(big.Rat).SetString(strings.TrimPrefix(digits, "+"))
	if !ok {
		return number{}, errSyntax
	}
	if suffix == "" {
		return number{value: mantissa, kind: suffixNone}, nil
	}
	if factor := binaryFactor(suffix); factor != 0 {
		value := new(big.Rat).Mul(mantissa, new(big.Rat).SetInt64(factor))
		return number{value: value, suffix: suffix, kind: suffixBinary}, nil
	}
	if exp, ok := decimalExponent(suffix); ok {
		return number{value: scaleTen(mantissa, exp), suffix: suffix, kind: suffixDecimal}, nil
	}
	exp, err := parseExponent(suffix)
	if err != nil {
		return number{}, err
	}
	return number{value: scaleTen(mantissa, exp), suffix: suffix, kind: suffixExponent}, nil
}

// splitDecimal returns the leading "[+-]digits[.digits]" part of s and the
// rest of s.
func splitDecimal(s string) (digits, rest string) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	return s[:i], s[i:]
}

// binaryFactor returns the multiplier of a binary suffix, or 0 for any other
// string.
func binaryFactor(suffix string) int64 {
	switch suffix {
	case "Ki":
		return 1 << 10
	case "Mi":
		return 1 << 20
	case "Gi":
		return 1 << 30
	case "Ti":
		return 1 << 40
	case "Pi":
		return 1 << 50
	case "Ei":
		return 1 << 60
	}
	return 0
}

// decimalExponent returns the power of ten of a decimal suffix.
func decimalExponent(suffix string) (int, bool) {
	switch suffix {
	case "m":
		return -3, true
	case "k":
		return 3, true
	case "M":
		return 6, true
	case "G":
		return 9, true
	case "T":
		return 12, true
	case "P":
		return 15, true
	case "E":
		return 18, true
	}
	return 0, false
}

// parseExponent parses an exponent suffix such as "e3", "E+3" or "e-3".
func parseExponent(suffix string) (int, error) {
	if len(suffix) < 2 || (suffix[0] != 'e' && suffix[0] != 'E') {
		return 0, errSyntax
	}
	signed := suffix[1:]
	digits := signed
	if digits[0] == '+' || digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, errSyntax
	}
	exp, err := strconv.Atoi(signed)
	if err != nil || exp > maxExponent || exp < -maxExponent {
		return 0, errExponent
	}
	return exp, nil
}

// scaleTen returns r * 10^exp.
func scaleTen(r *big.Rat, exp int) *big.Rat {
	magnitude := exp
	if magnitude < 0 {
		magnitude = -magnitude
	}
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(magnitude)), nil)
	factor := new(big.Rat).SetInt(pow)
	if exp < 0 {
		return factor.Quo(r, factor)
	}
	return factor.Mul(r, factor)
}
