package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

const ns = "albrollouts-system"

// eventually polls cond every 20 ms until it holds, failing the test with
// its last message after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receiver is a webhook endpoint that keeps what it receives.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []string // "<method> <path> <body>"
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.Path+" "+string(body))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

// waitFor waits until a request containing want has arrived.
func (r *receiver) waitFor(t *testing.T, want string) {
	t.Helper()
	eventually(t, 10*time.Second, "a notification containing "+want, func() (bool, string) {
		got := r.received()
		for _, s := range got {
			if strings.Contains(s, want) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("received %q", got)
	})
}

// eventLog keeps the events recorded through it.
type eventLog struct {
	mu  sync.Mutex
	evs []string // "<kind>/<name> <type> <reason>: <note>"
}

func (e *eventLog) Eventf(regarding, _ runtime.Object, eventType, reason, _, note string, args ...any) {
	name := ""
	if o, ok := regarding.(client.Object); ok {
		name = fmt.Sprintf("%T/%s", o, o.GetName())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, fmt.Sprintf("%s %s %s: %s", name, eventType, reason, fmt.Sprintf(note, args...)))
}

func (e *eventLog) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.evs...)
}

func (e *eventLog) find(sub string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.evs {
		if strings.Contains(s, sub) {
			return s
		}
	}
	return ""
}

func configMap(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ConfigMapName}, Data: data}
}

// webhookConfig is a ConfigMap with a webhook service "hook" at url, and
// on-rollout-completed and on-analysis-run-failed triggers.
func webhookConfig(url string) map[string]string {
	return map[string]string{
		"service.webhook.hook": "url: " + url + "\nretryWaitMin: 1000000\nretryWaitMax: 2000000\nretryMax: 1\n",
		"template.done": `message: Rollout {{.rollout.metadata.name}} completed
webhook:
  hook:
    method: POST
    path: /done/{{.rollout.metadata.name}}
    body: '{"rollout":"{{.rollout.metadata.name}}","kind":"{{.rollout.kind}}","revision":"{{index .rollout.metadata.annotations "rollout.argoproj.io/revision"}}","recipient":"{{.recipient}}"}'
`,
		"template.analysis-failed": `webhook:
  hook:
    method: POST
    path: /analysis/{{.rollout.metadata.name}}
    body: failed
`,
		"trigger.on-rollout-completed":   "- send: [done]\n",
		"trigger.on-analysis-run-failed": "- send: [analysis-failed]\n",
	}
}

func rollout(name string, subscribe ...string) *v1alpha1.Rollout {
	ann := map[string]string{"rollout.argoproj.io/revision": "3"}
	for _, s := range subscribe {
		ann["notifications.argoproj.io/subscribe."+s] = ""
	}
	return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, UID: "u-" + "name", Annotations: ann}}
}

// start runs a notifier until the test ends; its own events go to evs.
func start(t *testing.T, kube kubernetes.Interface, reader client.Reader, o Options) (*Notifier, *eventLog, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Namespace, o.Registerer = ns, reg
	n, err := New(kube, reader, o)
	if err != nil {
		t.Fatal(err)
	}
	evs := &eventLog{}
	n.Wrap(evs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return n, evs, reg
}

// A webhook service of the ConfigMap receives a rollout's completion,
// rendered with the rollout as .rollout; the send is counted.
func TestWebhookNotification(t *testing.T) {
	rcv := newReceiver(t)
	kube := kubefake.NewClientset(configMap(webhookConfig(rcv.srv.URL)))
	n, _, _ := start(t, kube, nil, Options{})
	inner := &eventLog{}
	rec := n.Wrap(inner)
	ro := rollout("web", "on-rollout-completed.hook")
	rec.Eventf(ro, nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Complete", "Rollout completed update to revision %d", 3)
	rcv.waitFor(t, `POST /done/web {"rollout":"web","kind":"Rollout","revision":"3","recipient":""}`)
	if e := inner.find("RolloutCompleted"); e == "" {
		t.Errorf("the event was not recorded by the wrapped recorder: %q", inner.all())
	}
	eventually(t, 5*time.Second, "notification_send_success counted", func() (bool, string) {
		v := testutil.ToFloat64(n.metrics.success.WithLabelValues("apps", "web", corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted))
		return v == 1, fmt.Sprint(v)
	})
	// A rollout that does not subscribe, and an event whose trigger has no
	// subscriber, send nothing.
	rec.Eventf(rollout("quiet"), nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Complete", "done")
	rec.Eventf(ro, nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutPaused, "Pause", "paused")
	rec.Eventf(ro, nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Complete", "again")
	rcv.waitFor(t, "POST /done/web")
	eventually(t, 5*time.Second, "the second completion", func() (bool, string) {
		return len(rcv.received()) == 2, fmt.Sprintf("%q", rcv.received())
	})
	for _, r := range rcv.received() {
		if strings.Contains(r, "quiet") {
			t.Errorf("a rollout without subscription was notified: %s", r)
		}
	}
}

// A template that does not parse: logged, recorded on the ConfigMap, counted,
// and reconciling goes on; once the ConfigMap is fixed, notifications flow.
func TestInvalidConfigThenFixed(t *testing.T) {
	rcv := newReceiver(t)
	bad := webhookConfig(rcv.srv.URL)
	bad["template.done"] = "message: '{{.rollout.metadata.name'\n"
	kube := kubefake.NewClientset(configMap(bad))
	n, evs, _ := start(t, kube, nil, Options{})
	rec := n.Wrap(&eventLog{})
	ro := rollout("web", "on-rollout-completed.hook")
	rec.Eventf(ro, nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Complete", "done")
	eventually(t, 5*time.Second, "a Warning event on the ConfigMap", func() (bool, string) {
		e := evs.find(ReasonInvalidConfig)
		return e != "", fmt.Sprintf("events %q", evs.all())
	})
	if e := evs.find(ReasonInvalidConfig); !strings.Contains(e, "ConfigMap/"+ConfigMapName) || !strings.Contains(e, "Invalid notification configuration") {
		t.Errorf("event %q", e)
	}
	if v := testutil.ToFloat64(n.metrics.errors.WithLabelValues("apps", "web", corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted)); v != 1 {
		t.Errorf("notification_send_error = %v", v)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Update(context.Background(), configMap(webhookConfig(rcv.srv.URL)), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a notification once the ConfigMap is fixed", func() (bool, string) {
		rec.Eventf(ro, nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Complete", "done")
		return len(rcv.received()) > 0, "none yet"
	})
}

// A send that fails (nothing listens) is logged, recorded on the rollout and
// counted.
func TestFailedSend(t *testing.T) {
	rcv := newReceiver(t)
	url := rcv.srv.URL
	rcv.srv.Close()
	kube := kubefake.NewClientset(configMap(webhookConfig(url)))
	n, evs, _ := start(t, kube, nil, Options{})
	rec := n.Wrap(&eventLog{})
	rec.Eventf(rollout("web", "on-rollout-completed.hook"), nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Complete", "done")
	eventually(t, 10*time.Second, "notification_send_error counted", func() (bool, string) {
		v := testutil.ToFloat64(n.metrics.errors.WithLabelValues("apps", "web", corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted))
		return v == 1, fmt.Sprint(v)
	})
	if e := evs.find(ReasonNotificationFailed); !strings.Contains(e, "Rollout/web") || !strings.Contains(e, "on-rollout-completed") {
		t.Errorf("event %q", e)
	}
}

// An AnalysisRun's failure is sent to the subscribers of the Rollout that
// owns it, with that Rollout as .rollout.
func TestAnalysisRunEventNotifiesItsRollout(t *testing.T) {
	rcv := newReceiver(t)
	kube := kubefake.NewClientset(configMap(webhookConfig(rcv.srv.URL)))
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ro := rollout("web", "on-analysis-run-failed.hook")
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ro).Build()
	n, _, _ := start(t, kube, reader, Options{})
	rec := n.Wrap(&eventLog{})
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web-3-1",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "web", UID: ro.UID, Controller: ptr.To(true)}}}}
	rec.Eventf(run, nil, corev1.EventTypeWarning, v1alpha1.ReasonAnalysisRunInconclusive, "Assess", "inconclusive")
	rec.Eventf(run, nil, corev1.EventTypeWarning, v1alpha1.ReasonAnalysisRunFailed, "Assess", "failed")
	rcv.waitFor(t, "POST /analysis/web failed")
}

// Recording never waits: with nobody sending, the events beyond the queue
// are dropped and counted.
func TestFullQueueDrops(t *testing.T) {
	reg := prometheus.NewRegistry()
	n, err := New(kubefake.NewClientset(), nil, Options{Namespace: ns, QueueSize: 1, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	rec := n.Wrap(nil)
	done := make(chan struct{})
	go func() {
		for range 3 {
			rec.Eventf(rollout("web"), nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutCompleted, "Complete", "done")
		}
		// Events on other objects are not queued.
		rec.Eventf(&corev1.Pod{}, nil, corev1.EventTypeNormal, "Started", "Start", "started")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("recording blocked on a full queue")
	}
	if v := testutil.ToFloat64(n.metrics.dropped); v != 2 {
		t.Errorf("dropped %v, want 2", v)
	}
	// A second notifier on the same registry shares the metrics.
	if _, err := New(kubefake.NewClientset(), nil, Options{Namespace: ns, Registerer: reg}); err != nil {
		t.Errorf("second notifier: %v", err)
	}
	if _, err := New(kubefake.NewClientset(), nil, Options{}); err == nil {
		t.Error("no namespace: no error")
	}
}
