package notify

import (
	"os"
	"path/filepath"
	"testing"
)

func TestControllerNamespace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "namespace")
	old := serviceAccountNamespace
	serviceAccountNamespace = file
	t.Cleanup(func() { serviceAccountNamespace = old })
	t.Setenv("POD_NAMESPACE", "")
	if got := ControllerNamespace(""); got != DefaultNamespace {
		t.Errorf("nothing known: %q", got)
	}
	if err := os.WriteFile(file, []byte("from-pod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ControllerNamespace(""); got != "from-pod" {
		t.Errorf("in a pod: %q", got)
	}
	t.Setenv("POD_NAMESPACE", "from-env")
	if got := ControllerNamespace(""); got != "from-env" {
		t.Errorf("POD_NAMESPACE: %q", got)
	}
	if got := ControllerNamespace("from-flag"); got != "from-flag" {
		t.Errorf("flag: %q", got)
	}
}
