// Command albrollouts-controller is the rollout controller alone, the binary of
// the container image. It runs what `albrollouts controller` runs, with the
// same flags (both are internal/controllercmd), and links only the product: no
// emulator, local environment or demo (a depguard rule in .golangci.yml keeps
// internal/sim out).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/controllercmd"
	"github.com/albrollouts/albrollouts/internal/version"
)

// Exit codes, as `albrollouts controller` has them.
const (
	exitOK      = 0
	exitFailure = 1 // the controller could not start or stopped with an error
	exitUsage   = 2 // bad command line: unknown flag, extra arguments, bad value
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run runs the controller with the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	// The manifests (config/manager, `albrollouts install`) pass the subcommand
	// name first, as the all-in-one binary wants it; take it here too, so that
	// the same manifests run either binary.
	if len(args) > 0 && args[0] == "controller" {
		args = args[1:]
	}
	cmd := controllercmd.NewCommand()
	cmd.Use = "albrollouts-controller"
	// --version (and -v): the build's version, as `albrollouts version` prints it;
	// hack/image's test runs it from the image's layer.
	cmd.Version = version.String()
	cmd.SetVersionTemplate("{{.Version}}\n")
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	started := false
	runE := cmd.RunE
	cmd.RunE = func(c *cobra.Command, a []string) error { started = true; return runE(c, a) }
	err := cmd.Execute()
	if err == nil {
		return exitOK
	}
	_, _ = fmt.Fprintln(stderr, "albrollouts-controller:", err)
	if !started {
		_, _ = fmt.Fprintln(stderr, "Run 'albrollouts-controller --help' for usage.")
		return exitUsage
	}
	return exitFailure
}
