package quantity

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// ParseMillis parses a CPU quantity and returns it in millicores: "500m" is
// 500, "1" is 1000 and "1.5" is 1500. Decimal suffixes and exponents are
// accepted as in Kubernetes. Binary suffixes, negative values and values
// finer than one millicore are rejected.
func ParseMillis(s string) (int64, error) {
	n, err := parseNumber(s)
	if errors.Is(err, errExponent) {
		return 0, fmt.Errorf("invalid CPU quantity %q: exponent out of range (use an exponent from e-%d to e%d)", s, maxExponent, maxExponent)
	}
	if err != nil {
		return 0, fmt.Errorf("invalid CPU quantity %q (use millicores or cores, e.g. 500m or 1.5)", s)
	}
	if n.kind == suffixBinary {
		return 0, fmt.Errorf("invalid CPU quantity %q: %s is a byte unit (use millicores or cores, e.g. 500m or 1.5)", s, n.suffix)
	}
	if n.value.Sign() < 0 {
		return 0, fmt.Errorf("invalid CPU quantity %q: must not be negative", s)
	}
	millis := new(big.Rat).Mul(n.value, big.NewRat(1000, 1))
	if !millis.IsInt() {
		return 0, fmt.Errorf("invalid CPU quantity %q: finer than 1m (round to whole millicores, e.g. %sm)", s, floorString(millis))
	}
	if !millis.Num().IsInt64() {
		return 0, fmt.Errorf("invalid CPU quantity %q: larger than the maximum %dm", s, int64(math.MaxInt64))
	}
	return millis.Num().Int64(), nil
}
