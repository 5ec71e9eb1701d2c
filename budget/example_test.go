package budget_test

import (
	"errors"
	"fmt"

	"github.com/hybridd/hybridd/budget"
)

func ExampleAccountant_Reserve() {
	const mib = 1 << 20
	accountant, err := budget.New(256 * mib)
	if err != nil {
		panic(err)
	}

	// One deploy admits both workloads together.
	err = accountant.Reserve(
		budget.Request{Name: "sensor-logger", Runtime: "container", Bytes: 128 * mib},
		budget.Request{Name: "comfort", Runtime: "wasm", Bytes: 116 * mib},
	)
	fmt.Println(err, accountant.Free()/mib)

	err = accountant.Reserve(budget.Request{Name: "co2-alert", Runtime: "wasm", Bytes: 64 * mib})
	var insufficient *budget.InsufficientError
	if errors.As(err, &insufficient) {
		fmt.Println(insufficient.Shortfall()/mib, "MiB short")
	}
	fmt.Println(err)
	// Output:
	// <nil> 12
	// 52 MiB short
	// co2-alert needs 64 MiB; 12 MiB of 256 MiB free (sensor-logger 128 MiB, comfort 116 MiB)
}
