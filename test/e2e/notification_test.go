package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/notify"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// notification is what the test's webhook template sends.
type notification struct {
	Trigger   string `json:"trigger"`
	Namespace string `json:"namespace"`
	Rollout   string `json:"rollout"`
	Revision  string `json:"revision"`
	Recipient string `json:"recipient"`
	Path      string `json:"-"`
}

// webhookReceiver is a loopback HTTP endpoint that keeps the notifications
// it receives.
type webhookReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notification
	bad []string
}

func startWebhookReceiver(t *testing.T) *webhookReceiver {
	r := &webhookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var n notification
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := json.Unmarshal(body, &n); err != nil || req.Method != http.MethodPost {
			r.bad = append(r.bad, req.Method+" "+req.URL.Path+" "+string(body))
			http.Error(w, "bad notification", http.StatusBadRequest)
			return
		}
		n.Path = req.URL.Path
		r.got = append(r.got, n)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *webhookReceiver) received() ([]notification, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notification(nil), r.got...), append([]string(nil), r.bad...)
}

// waitFor waits for a notification of trigger about revision of the rollout.
func (r *webhookReceiver) waitFor(t *testing.T, ns, rollout, trigger, revision string) notification {
	t.Helper()
	var found notification
	poll.Eventually(t, pollTimeout, fmt.Sprintf("a %s notification for %s revision %s", trigger, rollout, revision), func() (bool, string) {
		got, bad := r.received()
		for _, n := range got {
			if n.Trigger == trigger && n.Namespace == ns && n.Rollout == rollout && n.Revision == revision {
				found = n
				return true, ""
			}
		}
		return false, fmt.Sprintf("received %+v, refused %q", got, bad)
	})
	return found
}

// notificationConfigMap is Argo Rollouts' notification ConfigMap with a
// webhook service "receiver" at url, and a template per trigger that posts
// the trigger, the rollout and its revision.
func notificationConfigMap(ns, url string, triggers ...string) *corev1.ConfigMap {
	data := map[string]string{
		"service.webhook.receiver": "url: " + url + "\n",
	}
	for _, tr := range triggers {
		data["template."+tr] = `message: Rollout {{.rollout.metadata.name}} ` + tr + `
webhook:
  receiver:
    method: POST
    path: /{{.rollout.metadata.namespace}}/{{.rollout.metadata.name}}/` + tr + `
    body: |
      {"trigger": "` + tr + `", "namespace": "{{.rollout.metadata.namespace}}", "rollout": "{{.rollout.metadata.name}}",
       "revision": "{{index .rollout.metadata.annotations "rollout.argoproj.io/revision"}}", "recipient": "{{.recipient}}"}
`
		data["trigger."+tr] = "- send: [" + tr + "]\n"
	}
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: notify.ConfigMapName}, Data: data}
}

// Argo Rollouts' notifications, end to end: the notification ConfigMap in
// the controller's namespace has a webhook service pointing at a loopback
// receiver, the rollout subscribes with Argo's annotations, and the receiver
// gets on-rollout-completed for a verified update, then on-rollout-aborted
// and on-verification-timed-out for a version that fails the ALB health
// check, each rendered with the rollout as .rollout.
func TestNotifications(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "notify")
	rcv := startWebhookReceiver(t)
	triggers := []string{"on-rollout-completed", "on-rollout-aborted", notify.TriggerVerificationTimedOut, "on-rollout-step-completed"}
	createAll(t, notificationConfigMap(ns, rcv.srv.URL, triggers...))
	ctl := startController(t, ns, func(o *controller.ManagerOptions) {
		// The controller's namespace is the test's.
		o.Notifications = notify.Hook(notify.Options{Namespace: ns})
	})
	app := canaryApp{name: "web", replicas: 2, version: "v1", timeoutSeconds: 10,
		steps: []v1alpha1.CanaryStep{setWeight(50), pauseFor("1s")}}
	app.create(t, ns)
	// Subscribe as Argo users do (recipients are ignored by webhooks; one is
	// given to check it reaches the template).
	ann := map[string]string{}
	for _, tr := range triggers {
		ann["notifications.argoproj.io/subscribe."+tr+".receiver"] = "team-" + tr
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	patchRollout(t, ns, "web", string(patch))
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS

	// A verified update: completed, notified with the new revision.
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	n := rcv.waitFor(t, ns, "web", "on-rollout-completed", "2")
	if n.Path != "/"+ns+"/web/on-rollout-completed" || n.Recipient != "team-on-rollout-completed" {
		t.Errorf("on-rollout-completed: path %q, recipient %q", n.Path, n.Recipient)
	}
	rcv.waitFor(t, ns, "web", "on-rollout-step-completed", "2")

	// A version that fails the ALB health check: verification times out,
	// the rollout aborts; both notified.
	setBrokenVersion(t, ns, "web", "v3")
	ro := waitRollout(t, ns, "web", "aborted", rolloutTimeout, aborted)
	assertHealthCheckTimeout(t, ro)
	rcv.waitFor(t, ns, "web", notify.TriggerVerificationTimedOut, "3")
	n = rcv.waitFor(t, ns, "web", "on-rollout-aborted", "3")
	if n.Path != "/"+ns+"/web/on-rollout-aborted" {
		t.Errorf("on-rollout-aborted: path %q", n.Path)
	}
	if got, bad := rcv.received(); len(bad) > 0 {
		t.Errorf("malformed notifications %q (of %d)", bad, len(got))
	}
	// Argo's metric counts them.
	if sent := ctl.counterSum("notification_send_success"); sent < 4 {
		t.Errorf("notification_send_success = %v, want at least 4", sent)
	}
	if failed := ctl.counterSum("notification_send_error"); failed != 0 {
		t.Errorf("notification_send_error = %v", failed)
	}
}

// counterSum is the sum of a counter's series in this controller's metrics.
func (c *testController) counterSum(name string) float64 {
	mfs, err := c.reg.Gather()
	if err != nil {
		c.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
