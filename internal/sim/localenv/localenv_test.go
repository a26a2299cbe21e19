package localenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/internal/sim/localalb"
)

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "")
	if got := DefaultDir(); got != ".albrollouts-local" {
		t.Errorf("DefaultDir() = %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "/state")
	if got := DefaultDir(); got != filepath.Join("/state", "albrollouts", "local") {
		t.Errorf("DefaultDir() with XDG_STATE_HOME = %q", got)
	}
}

func TestPIDFile(t *testing.T) {
	dir := t.TempDir()
	if err := StopRunning(dir, time.Second); err == nil || !strings.Contains(err.Error(), "no local environment") {
		t.Fatalf("StopRunning without a pid file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, pidFileName), []byte("12x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, alive := runningPID(dir); alive {
		t.Error("a corrupt pid file reported a live environment")
	}
	if err := os.WriteFile(filepath.Join(dir, pidFileName), []byte(strings.Repeat("9", 7)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, alive := runningPID(dir); alive {
		t.Error("pid 9999999 reported alive")
	}
}

func TestDemoManifestParses(t *testing.T) {
	var kinds []string
	for _, doc := range strings.Split(DemoManifest, "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("demo manifest document does not parse: %v\n%s", err, doc)
		}
		kinds = append(kinds, obj.Kind)
		if obj.Kind == "Ingress" {
			if _, err := localalb.ParseAction("a", obj.Metadata.Annotations[localalb.AnnotationActionsPrefix+"demo"]); err != nil {
				t.Errorf("demo ingress action: %v", err)
			}
		}
	}
	if got := strings.Join(kinds, ","); got != "Deployment,Deployment,Service,Service,Ingress" {
		t.Errorf("demo manifest kinds %s", got)
	}
}
