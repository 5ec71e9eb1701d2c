package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// argsBetween checks the number of positional arguments, naming what is
// missing or extra with the command's usage line instead of cobra's
// generic count message.
func argsBetween(min, max int, missing string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return fmt.Errorf("missing %s (usage: %s)", missing, cmd.UseLine())
		case max >= 0 && len(args) > max:
			return fmt.Errorf("too many arguments: %q (usage: %s)", args[max:], cmd.UseLine())
		}
		return nil
	}
}
