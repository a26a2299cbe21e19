package notify

import (
	"os"
	"strings"
)

// DefaultNamespace is the namespace of the configuration when the
// controller's own is not known: the install's (config/, the chart's
// default release namespace).
const DefaultNamespace = "albrollouts-system"

// serviceAccountNamespace is where a pod reads its namespace.
var serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ControllerNamespace is the controller's namespace, where its notification
// configuration is: flag if set, else $POD_NAMESPACE, else the pod's service
// account namespace, else DefaultNamespace.
func ControllerNamespace(flag string) string {
	if flag != "" {
		return flag
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if data, err := os.ReadFile(serviceAccountNamespace); err == nil {
		if ns := strings.TrimSpace(string(data)); ns != "" {
			return ns
		}
	}
	return DefaultNamespace
}
