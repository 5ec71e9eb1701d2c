package quantity

import (
	"math/big"
	"strconv"
	"strings"
)

// binaryUnits lists the binary suffixes from the largest down, with the
// power of two (the shift) of each.
var binaryUnits = [...]struct {
	suffix string
	shift  uint
}{
	{"Ei", 60}, {"Pi", 50}, {"Ti", 40}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10},
}

// FormatQuantity returns n bytes in manifest notation with the largest
// binary suffix that divides n exactly, e.g. "64Mi" or "1536Mi". Other
// values are plain bytes ("1000"). ParseBytes(FormatQuantity(n)) == n for
// every n >= 0.
func FormatQuantity(n int64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range binaryUnits {
		size := int64(1) << u.shift
		if n%size == 0 {
			return strconv.FormatInt(n/size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// FormatBytes returns n bytes for people to read, in the largest binary unit
// not above n: "512 B", "64 MiB", "1.5 GiB".
//
// An exact value has no trailing zeros. Any other value is cut (never
// rounded up) to two decimals and keeps them, so "63.99 MiB" and "1.00 KiB"
// mark values that are slightly above the figure shown. A budget message
// therefore never shows a free amount larger than the real one.
func FormatBytes(n int64) string {
	sign := ""
	magnitude := new(big.Int).SetInt64(n)
	if n < 0 {
		sign = "-"
		magnitude.Neg(magnitude)
	}
	unit, shift := "B", uint(0)
	for _, u := range binaryUnits {
		if magnitude.Cmp(new(big.Int).Lsh(big.NewInt(1), u.shift)) >= 0 {
			unit, shift = u.suffix+"B", u.shift
			break
		}
	}
	value := new(big.Rat).SetFrac(magnitude, new(big.Int).Lsh(big.NewInt(1), shift))
	return sign + decimalString(value) + " " + unit
}

// decimalString writes a non-negative r exactly if it needs at most two
// decimals, and otherwise truncated to two decimals.
func decimalString(r *big.Rat) string {
	hundredths := new(big.Int).Mul(r.Num(), big.NewInt(100))
	remainder := new(big.Int)
	hundredths.QuoRem(hundredths, r.Denom(), remainder)

	whole, frac := new(big.Int).QuoRem(hundredths, big.NewInt(100), new(big.Int))
	text := whole.String() + "." + leftPad(frac.String(), 2)
	if remainder.Sign() != 0 {
		return text
	}
	return strings.TrimSuffix(strings.TrimRight(text, "0"), ".")
}

func leftPad(s string, width int) string {
	return strings.Repeat("0", max(0, width-len(s))) + s
}
