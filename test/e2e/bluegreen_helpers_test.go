package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
)

// bgApp is a blue-green rollout whose switch is made in the ALB: Services
// <name>-active and <name>-preview, an Ingress <name> whose path backend is
// the active Service's use-annotation port (rootService defaults to the
// active Service), and blueGreen.alb naming the Ingress.
type bgApp struct {
	name     string
	replicas int32
	version  string
	// manual: autoPromotionEnabled false (pause until promoted).
	manual         bool
	timeoutSeconds int32
	// previewHCPath, when set, is the ALB health-check path of the preview
	// target group (a Service annotation); the active group checks
	// /healthz.
	previewHCPath string
	// prePromotion and postPromotion are the blue-green analyses.
	prePromotion, postPromotion *runtime.RawExtension
}

func (a bgApp) active() string  { return a.name + "-active" }
func (a bgApp) preview() string { return a.name + "-preview" }

func (a bgApp) create(t *testing.T, ns string) *v1alpha1.Rollout {
	t.Helper()
	for _, s := range []string{a.active(), a.preview()} {
		svc := service(ns, s, a.name)
		svc.Spec.Ports[0].TargetPort = intstr.FromString("http")
		if s == a.preview() && a.previewHCPath != "" {
			svc.Annotations = map[string]string{localalb.AnnotationHCPath: a.previewHCPath}
		}
		createAll(t, svc)
	}
	createAll(t, ingress(ns, a.name, a.active(), albannotation.UseAnnotation, map[string]string{localalb.AnnotationHealthyCount: "2"}))
	bg := &v1alpha1.BlueGreenStrategy{
		ActiveService: a.active(), PreviewService: a.preview(),
		ScaleDownDelaySeconds: ptr.To(int32(3)), AbortScaleDownDelaySeconds: ptr.To(int32(3)),
		ALB:                  &v1alpha1.BlueGreenALB{Ingress: a.name, ServicePort: 80},
		PrePromotionAnalysis: a.prePromotion, PostPromotionAnalysis: a.postPromotion,
	}
	if a.manual {
		bg.AutoPromotionEnabled = ptr.To(false)
	}
	if a.timeoutSeconds > 0 {
		bg.ALB.TimeoutSeconds = ptr.To(a.timeoutSeconds)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.name, Labels: map[string]string{replicaset.InstanceIDLabel: ns}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(a.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": a.name}},
			Template: podTemplate(a.name, a.version, nil, ""),
			Strategy: v1alpha1.RolloutStrategy{BlueGreen: bg},
		},
	}
	createAll(t, ro)
	return ro
}

// pausedBlueGreen: paused before the switch (BlueGreenPause).
func pausedBlueGreen(ro *v1alpha1.Rollout) (bool, string) {
	if ro.Status.Phase != v1alpha1.RolloutPhasePaused || len(ro.Status.PauseConditions) == 0 ||
		ro.Status.PauseConditions[0].Reason != v1alpha1.PauseReasonBlueGreenPause {
		return false, "not paused with BlueGreenPause"
	}
	return true, ""
}

// flipped: the verification in status is of traffic on the preview group.
func flipped(s *v1alpha1.RolloutStatus) bool {
	v := s.Verification
	return v != nil && v.Kind == v1alpha1.VerificationBlueGreenSwitch && v.DesiredWeights != nil && v.DesiredWeights.Canary == 100
}

func serviceSelector(t *testing.T, ns, name string) string {
	t.Helper()
	var svc corev1.Service
	if err := kc().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		t.Fatal(err)
	}
	return svc.Spec.Selector[replicaset.HashLabel]
}

// versionProbe sends requests through a URL at a steady rate and records,
// per request, when it was sent and which version answered; it shows whether
// clients ever saw both versions after the switch began.
type versionProbe struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	seen   []probeAnswer
}

type probeAnswer struct {
	sent    time.Time
	version string // "" when the request failed
}

func startVersionProbe(t *testing.T, url string) *versionProbe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &versionProbe{cancel: cancel}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p.wg.Add(1)
			go func(sent time.Time) {
				defer p.wg.Done()
				a := probeAnswer{sent: sent}
				if resp, err := client.Get(url + "/"); err == nil {
					if resp.StatusCode == http.StatusOK {
						a.version = resp.Header.Get(demoapp.VersionHeader)
					}
					_ = resp.Body.Close()
				}
				p.mu.Lock()
				p.seen = append(p.seen, a)
				p.mu.Unlock()
			}(time.Now())
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *versionProbe) stop() {
	p.cancel()
	p.wg.Wait()
}

// mixed reports, for a switch from old to new, how long clients saw both:
// from the first request new answered to the last request (sent later) old
// answered; 0 when no old answer followed the first new one.
func (p *versionProbe) mixed(old, new string) (time.Duration, int) {
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, a := range p.seen {
		if a.version == new && (first.IsZero() || a.sent.Before(first)) {
			first = a.sent
		}
	}
	if first.IsZero() {
		return 0, 0
	}
	var last time.Time
	n := 0
	for _, a := range p.seen {
		if a.version == old && a.sent.After(first) {
			n++
			if a.sent.After(last) {
				last = a.sent
			}
		}
	}
	if n == 0 {
		return 0, 0
	}
	return last.Sub(first), n
}

func (p *versionProbe) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d probe requests", len(p.seen))
}
