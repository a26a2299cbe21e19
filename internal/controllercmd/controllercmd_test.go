package controllercmd

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := newLogger(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Error(nil, "shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Errorf("warn/json logged %q", s)
	}
	for _, bad := range [][2]string{{"loud", "text"}, {"info", "xml"}} {
		if _, err := newLogger(&buf, bad[0], bad[1]); err == nil {
			t.Errorf("level %q format %q: no error", bad[0], bad[1])
		}
	}
}

// The command carries every flag of the controller, with the manifests' defaults.
func TestNewCommandFlags(t *testing.T) {
	cmd := NewCommand()
	for name, def := range map[string]string{
		"kubeconfig": "", "namespace": "", "instance-id": "", "aws-verify-target-group": "false",
		"verify-timeout": "", "aws-region": "", "aws-endpoint-url": "", "leader-elect": "false",
		"leader-election-namespace": "", "metrics-bind-address": ":8080", "health-probe-bind-address": ":8081",
		"workers": "", "qps": "", "burst": "", "log-level": "info", "log-format": "text",
		"aws-api-qps": "8", "aws-api-burst": "30", "notifications": "true", "notifications-namespace": "",
	} {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			t.Errorf("no --%s", name)
			continue
		}
		if def != "" && f.DefValue != def {
			t.Errorf("--%s defaults to %q, want %q", name, f.DefValue, def)
		}
	}
}
