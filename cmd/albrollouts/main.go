// Command albrollouts is the single binary of the project. Each subcommand lives
// in its own file of this package and registers itself with register().
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the binary; docs/cli.md documents them and
// scripts rely on them.
const (
	exitOK       = 0
	exitFailure  = 1 // the command failed: API error, rollout not found, nothing to promote, ...
	exitUsage    = 2 // bad command line: unknown command or flag, missing or extra arguments, bad value
	exitDegraded = 3 // status: the rollout is Degraded
	exitNotDone  = 4 // status --watch: stopped by --timeout or an interrupt while Progressing or Paused
)

// exitError is an error with its own exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a bad-command-line error (exit code 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

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

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes the command line args and returns the exit code. Errors that
// happen before a command starts running (unknown command or flag, wrong
// arguments) are usage errors.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	started := false
	markStart(root, &started)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var e *exitError
	switch {
	case errors.As(err, &e):
		code = e.code
	case !started:
		code = exitUsage
	}
	_, _ = fmt.Fprintln(stderr, "albrollouts:", err)
	if code == exitUsage && !strings.Contains(err.Error(), "--help") {
		_, _ = fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// markStart wraps the run functions of cmd and its subcommands so that
// *started is true once one of them begins.
func markStart(cmd *cobra.Command, started *bool) {
	if f := cmd.RunE; f != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error { *started = true; return f(c, args) }
	}
	if f := cmd.Run; f != nil {
		cmd.Run = func(c *cobra.Command, args []string) { *started = true; f(c, args) }
	}
	for _, sub := range cmd.Commands() {
		markStart(sub, started)
	}
}
