// Command albrollouts is the single binary of the project. Each subcommand lives
// in its own file of this package and registers itself with register().
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
)

// subcommands collects the constructors registered by this package's files.
var subcommands []func() *cobra.Command

// register adds a subcommand constructor; call it from an init function.
func register(f func() *cobra.Command) { subcommands = append(subcommands, f) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "albrollouts",
		Short:         "Progressive delivery for Kubernetes on AWS Application Load Balancers, with every traffic shift verified",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmds := make([]*cobra.Command, 0, len(subcommands))
	for _, f := range subcommands {
		cmds = append(cmds, f())
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	return root
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "albrollouts:", err)
		os.Exit(1)
	}
}
