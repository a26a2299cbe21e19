package localenv

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	albconfig "github.com/albrollouts/albrollouts/config"
)

// installAnalysisTemplates creates the ClusterAnalysisTemplates albrollouts
// ships (config/analysis, what `albrollouts install` applies), so a Rollout
// of the local environment can name alb-canary-health as on a cluster. A
// control plane without their CRD (custom CRDDirs) gets none.
func installAnalysisTemplates(ctx context.Context, cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	for _, f := range albconfig.AnalysisTemplates() {
		u := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(f.Data, &u.Object); err != nil {
			return fmt.Errorf("embedded config/%s: %w", f.Path, err)
		}
		err := c.Create(ctx, u)
		switch {
		case err == nil, apierrors.IsAlreadyExists(err):
		case meta.IsNoMatchError(err):
			return nil
		default:
			return fmt.Errorf("create %s %s (config/%s): %w", u.GetKind(), u.GetName(), f.Path, err)
		}
	}
	return nil
}
