package main

import (
	"bytes"
	"strings"
	"testing"
)

// The binary takes the flags of `albrollouts controller`, with or without the
// subcommand name first, and fails a bad command line with exit code 2.
func TestRunCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--help"}, exitOK, "--aws-verify-target-group"},
		{[]string{"controller", "--help"}, exitOK, "--leader-elect"},
		{[]string{"--version"}, exitOK, "albrollouts dev (commit unknown, "},
		{[]string{"controller", "-v"}, exitOK, "albrollouts dev (commit unknown, "},
		{[]string{"--no-such-flag"}, exitUsage, "unknown flag"},
		{[]string{"extra"}, exitUsage, "unknown command"},
		{[]string{"controller", "controller"}, exitUsage, "unknown command"},
		{[]string{"--workers", "many"}, exitUsage, "invalid argument"},
		{[]string{"--log-level", "loud"}, exitFailure, "--log-level"},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.contains) {
			t.Errorf("%q: exit %d, want %d; output %q%q, want it to contain %q", tc.args, code, tc.code, out.String(), errOut.String(), tc.contains)
		}
	}
}
