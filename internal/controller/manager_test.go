package controller

import (
	"testing"

	"k8s.io/client-go/rest"
)

// The controller's Kubernetes client is not left at client-go's 5 requests
// per second: without options it gets Argo Rollouts' defaults, options
// override, and a config that sets its own limits keeps them.
func TestManagerKubeClientRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   rest.Config
		o     ManagerOptions
		qps   float32
		burst int
	}{
		{"defaults", rest.Config{}, ManagerOptions{}, DefaultKubeQPS, DefaultKubeBurst},
		{"flags", rest.Config{QPS: 100, Burst: 200}, ManagerOptions{KubeQPS: 7, KubeBurst: 9}, 7, 9},
		{"config's own", rest.Config{QPS: 100, Burst: 200}, ManagerOptions{}, 100, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			got := kubeClientConfig(&cfg, tc.o)
			if got.QPS != tc.qps || got.Burst != tc.burst {
				t.Fatalf("QPS/Burst = %v/%d, want %v/%d", got.QPS, got.Burst, tc.qps, tc.burst)
			}
			if cfg.QPS != tc.cfg.QPS {
				t.Fatalf("the caller's config was changed")
			}
		})
	}
}
