package main

import (
	"bytes"
	"strings"
	"testing"
)

// Bad values are usage errors (exit 2) found before anything starts; missing
// control-plane binaries without a build script are a failure (exit 1)
// that says how to get them.
func TestDemoCommandErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo", "--scenario", "blue"}, exitUsage, `unknown scenario "blue"`},
		{[]string{"demo", "--scenario", "canary,canary"}, exitUsage, "given twice"},
		{[]string{"demo", "--speed", "-1"}, exitUsage, "speed -1"},
		{[]string{"demo", "--time-scale", "3"}, exitUsage, "time scale 3"},
		{[]string{"demo", "--verify-timeout", "10ms"}, exitUsage, "verification timeout"},
		{[]string{"demo", "extra"}, exitUsage, "unknown command"},
		{[]string{"demo", "--k8s-bins", empty}, exitFailure, "make k8s-bins"},
		{[]string{"demo", "--k8s-bins", empty, "--k8s-bins-script", empty + "/nope.sh"}, exitFailure, "nope.sh is not there"},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
}
