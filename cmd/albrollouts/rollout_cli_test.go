package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cliResult is what one run of the binary's entry point gave.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs the root command with args as main does and returns its output and exit code.
func cli(args ...string) cliResult {
	var out, errb syncBuffer
	code := run(args, &out, &errb)
	return cliResult{out.String(), errb.String(), code}
}

// deadKubeconfig writes a kubeconfig whose server refuses connections, sets
// KUBECONFIG to it and returns its path.
func deadKubeconfig(t *testing.T) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["dead"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
	cfg.Contexts["dead"] = &clientcmdapi.Context{Cluster: "dead", AuthInfo: "u", Namespace: "team"}
	cfg.CurrentContext = "dead"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", path)
	return path
}

func TestRolloutCommandsUsageErrors(t *testing.T) {
	deadKubeconfig(t)
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"status"}, "albrollouts status needs the name of a rollout"},
		{[]string{"status", "a", "b"}, "takes one rollout name, got 2: a b"},
		{[]string{"status", "a", "--timeout", "-1s"}, "--timeout must not be negative"},
		{[]string{"status", "a", "-o", "wide"}, `--output "wide" is not supported`},
		{[]string{"list", "-o", "xml"}, `--output "xml" is not supported`},
		{[]string{"list", "web"}, "takes no arguments"},
		{[]string{"promote"}, "needs the name of a rollout"},
		{[]string{"promote", "web", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"abort", "a", "b"}, "takes one rollout name"},
		{[]string{"undo", "web", "--to-revision", "x"}, "invalid argument"},
		{[]string{"undo", "web", "--to-revision", "-1"}, "--to-revision must be 1 or more"},
		{[]string{"restart", "web", "--in", "-5s"}, "--in must not be negative"},
		{[]string{"set", "image", "web"}, "needs a rollout NAME and at least one CONTAINER=IMAGE"},
		{[]string{"set", "image", "web", "app"}, `"app" is not CONTAINER=IMAGE`},
		{[]string{"set", "image", "web", "app=a:1", "app=a:2"}, "given twice"},
		{[]string{"set", "frob"}, `unknown command "frob"`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, tc := range cases {
		r := cli(tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.says) || !strings.Contains(r.stderr, "--help") {
			t.Errorf("%q: exit %d, stderr %q; want exit %d saying %q and pointing to --help", tc.args, r.code, r.stderr, exitUsage, tc.says)
		}
		if r.stdout != "" {
			t.Errorf("%q printed to stdout: %q", tc.args, r.stdout)
		}
	}
}

func TestRolloutCommandsUnreachableCluster(t *testing.T) {
	path := deadKubeconfig(t)
	for _, args := range [][]string{
		{"list"},
		{"status", "web"},
		{"promote", "web"},
		{"pause", "web", "--kubeconfig", path},
	} {
		r := cli(args...)
		if r.code != exitFailure || !strings.Contains(r.stderr, "127.0.0.1:1") {
			t.Errorf("%q: exit %d, stderr %q; want exit %d naming the server", args, r.code, r.stderr, exitFailure)
		}
	}
	r := cli("list", "--context", "nope")
	if r.code != exitFailure || !strings.Contains(r.stderr, `the kubeconfig has no context "nope" (contexts: dead)`) {
		t.Errorf("unknown context: exit %d, stderr %q", r.code, r.stderr)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	r = cli("list")
	if r.code != exitFailure || !strings.Contains(r.stderr, "no Kubernetes configuration found") {
		t.Errorf("no kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "__start_albrollouts", "zsh": "#compdef albrollouts", "fish": "complete -c albrollouts", "powershell": "Register-ArgumentCompleter"} {
		r := cli("completion", shell)
		if r.code != exitOK || !strings.Contains(r.stdout, marker) {
			t.Errorf("completion %s: exit %d, no %q in %d bytes (stderr %q)", shell, r.code, marker, len(r.stdout), r.stderr)
		}
	}
	// Without a reachable cluster, name completion offers nothing and no files.
	deadKubeconfig(t)
	r := cli("__complete", "promote", "")
	if r.code != exitOK || !strings.Contains(r.stdout, ":1\n") {
		t.Errorf("completion against a dead cluster: exit %d, out %q", r.code, r.stdout)
	}
	r = cli("__complete", "list", "-o", "")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "json\nyaml\n:4\n") {
		t.Errorf("completion of --output: %q", r.stdout)
	}
}
