// Package job is the analysis provider that runs a Kubernetes Job for each
// measurement (Argo's job metric): Successful when the Job completes, Failed
// when it fails, Inconclusive when its pod cannot pull its image or the run
// is terminated while it runs.
package job

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Keys Argo gives a metric's Job and measurement; Argo's kubectl plugin
// shows a measurement's Job from its job-name and job-namespace.
const (
	JobNameKey                = "job-name"
	JobNamespaceKey           = "job-namespace"
	RunUIDLabel               = "analysisrun.argoproj.io/uid"
	RunNameAnnotation         = "analysisrun.argoproj.io/name"
	RunNamespaceAnnotation    = "analysisrun.argoproj.io/namespace"
	RunMetricAnnotation       = "analysisrun.argoproj.io/metric-name"
	maxNameLength             = 63
	terminatedMeasurementNote = "Metric Terminated"
)

// Provider creates and watches measurement Jobs.
type Provider struct {
	// Client creates and deletes Jobs and lists their pods (a cached client).
	Client client.Client
	// Reader reads Jobs live (the cache may not have a Job just created).
	Reader client.Reader
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Name is the Job of a run's metric's n-th measurement,
// <run uid>.<metric>.<n>, the metric name shortened to fit 63 characters.
func Name(run *v1alpha1.AnalysisRun, metric string, n int) string {
	suffix := "." + strconv.Itoa(n)
	prefix := string(run.UID) + "."
	if over := len(prefix) + len(metric) + len(suffix) - maxNameLength; over > 0 {
		metric = metric[:max(0, len(metric)-over)]
	}
	return prefix + metric + suffix
}

// Start creates the Job of measurement m (the n-th of the metric) and
// returns m Running with the Job's name in its metadata and resumeAt now. A
// Job of that name already owned by the run (a restart after creating it)
// is taken as the measurement's.
func (p *Provider) Start(ctx context.Context, run *v1alpha1.AnalysisRun, m v1alpha1.Metric, meas v1alpha1.Measurement, n int) v1alpha1.Measurement {
	job, err := newJob(run, m, n)
	if err != nil {
		return failed(meas, err, p.now())
	}
	if err := p.Client.Create(ctx, job); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return failed(meas, fmt.Errorf("creating job %s/%s: %w", job.Namespace, job.Name, err), p.now())
		}
		existing := &batchv1.Job{}
		if err := p.Reader.Get(ctx, client.ObjectKeyFromObject(job), existing); err != nil {
			return failed(meas, fmt.Errorf("job %s/%s exists and cannot be read: %w", job.Namespace, job.Name, err), p.now())
		}
		if owner := metav1.GetControllerOf(existing); owner == nil || owner.UID != run.UID {
			return failed(meas, fmt.Errorf("job %s/%s exists and belongs to another owner", job.Namespace, job.Name), p.now())
		}
	}
	meas.Phase = v1alpha1.AnalysisPhaseRunning
	meas.Metadata = map[string]string{JobNameKey: job.Name, JobNamespaceKey: job.Namespace}
	now := metav1.NewTime(p.now())
	meas.ResumeAt = &now
	return meas
}

// newJob is the Job of a measurement: the metric's Job spec, labelled with
// the run's UID (the Job and its pods), annotated with the run and metric,
// owned by the run.
func newJob(run *v1alpha1.AnalysisRun, m v1alpha1.Metric, n int) (*batchv1.Job, error) {
	if m.Provider.Job == nil {
		return nil, errors.New("metric has no job provider")
	}
	spec := m.Provider.Job.Spec.DeepCopy()
	labels := map[string]string{}
	for k, v := range m.Provider.Job.Metadata.Labels {
		labels[k] = v
	}
	labels[RunUIDLabel] = string(run.UID)
	annotations := map[string]string{}
	for k, v := range m.Provider.Job.Metadata.Annotations {
		annotations[k] = v
	}
	annotations[RunNameAnnotation] = run.Name
	annotations[RunNamespaceAnnotation] = run.Namespace
	annotations[RunMetricAnnotation] = m.Name
	if spec.Template.Labels == nil {
		spec.Template.Labels = map[string]string{}
	}
	spec.Template.Labels[RunUIDLabel] = string(run.UID)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(run, m.Name, n),
			Namespace:       run.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(run, v1alpha1.GroupVersion.WithKind("AnalysisRun"))},
		},
		Spec: *spec,
	}, nil
}

// Resume looks at the measurement's Job: Complete is Successful, Failed is
// Failed, a pod that cannot pull its image is Inconclusive; otherwise it is
// looked at again after sqrt(2 × seconds since it started) seconds.
func (p *Provider) Resume(ctx context.Context, run *v1alpha1.AnalysisRun, meas v1alpha1.Measurement) v1alpha1.Measurement {
	key, err := jobKey(meas, run.Namespace)
	if err != nil {
		return failed(meas, err, p.now())
	}
	job := &batchv1.Job{}
	if err := p.Reader.Get(ctx, key, job); err != nil {
		return failed(meas, fmt.Errorf("job %s: %w", key, err), p.now())
	}
	now := p.now()
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return finished(meas, v1alpha1.AnalysisPhaseSuccessful, "", now)
		case batchv1.JobFailed:
			return finished(meas, v1alpha1.AnalysisPhaseFailed, c.Message, now)
		}
	}
	pods := &corev1.PodList{}
	if err := p.Client.List(ctx, pods, client.InNamespace(key.Namespace), client.MatchingLabels{RunUIDLabel: string(run.UID), "job-name": key.Name}); err != nil {
		return failed(meas, fmt.Errorf("pods of job %s: %w", key, err), now)
	}
	if msg := stuckPod(pods.Items); msg != "" {
		return finished(meas, v1alpha1.AnalysisPhaseInconclusive, msg, now)
	}
	started := now
	if meas.StartedAt != nil {
		started = meas.StartedAt.Time
	}
	delay := time.Duration(math.Sqrt(2*now.Sub(started).Seconds()) * float64(time.Second))
	resume := metav1.NewTime(now.Add(max(delay, time.Second)))
	meas.ResumeAt = &resume
	return meas
}

// stuckPod describes a pod container that cannot start (its image cannot be
// pulled), or is empty.
func stuckPod(pods []corev1.Pod) string {
	stuck := map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true}
	for _, pod := range pods {
		for _, cs := range slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses) {
			if w := cs.State.Waiting; w != nil && stuck[w.Reason] {
				return fmt.Sprintf("Pod %s, container %s has terminal error (%s): %s", pod.Name, cs.Name, w.Reason, w.Message)
			}
		}
	}
	return ""
}

// Terminate deletes the measurement's Job and records it Inconclusive.
func (p *Provider) Terminate(ctx context.Context, run *v1alpha1.AnalysisRun, meas v1alpha1.Measurement) v1alpha1.Measurement {
	key, err := jobKey(meas, run.Namespace)
	if err != nil {
		return failed(meas, err, p.now())
	}
	if err := p.delete(ctx, key); err != nil {
		return failed(meas, err, p.now())
	}
	return finished(meas, v1alpha1.AnalysisPhaseInconclusive, terminatedMeasurementNote, p.now())
}

// GarbageCollect deletes the oldest Jobs of the run's metric beyond limit.
func (p *Provider) GarbageCollect(ctx context.Context, run *v1alpha1.AnalysisRun, metric string, limit int) error {
	jobs := &batchv1.JobList{}
	if err := p.Client.List(ctx, jobs, client.InNamespace(run.Namespace), client.MatchingLabels{RunUIDLabel: string(run.UID)}); err != nil {
		return fmt.Errorf("listing the jobs of analysis run %s/%s: %w", run.Namespace, run.Name, err)
	}
	var mine []batchv1.Job
	for _, j := range jobs.Items {
		if j.Annotations[RunMetricAnnotation] == metric {
			mine = append(mine, j)
		}
	}
	slices.SortFunc(mine, func(a, b batchv1.Job) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	for i := 0; i < len(mine)-limit; i++ {
		if err := p.delete(ctx, client.ObjectKeyFromObject(&mine[i])); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) delete(ctx context.Context, key types.NamespacedName) error {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := p.Client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s: %w", key, err)
	}
	return nil
}

// jobKey is the measurement's Job, from its metadata.
func jobKey(meas v1alpha1.Measurement, namespace string) (types.NamespacedName, error) {
	name := meas.Metadata[JobNameKey]
	if name == "" {
		return types.NamespacedName{}, errors.New("job metadata reference missing")
	}
	if ns := meas.Metadata[JobNamespaceKey]; ns != "" {
		namespace = ns
	}
	return types.NamespacedName{Namespace: namespace, Name: name}, nil
}

// failed ends the measurement as an Error.
func failed(meas v1alpha1.Measurement, err error, now time.Time) v1alpha1.Measurement {
	return finished(meas, v1alpha1.AnalysisPhaseError, err.Error(), now)
}

// finished ends the measurement in phase.
func finished(meas v1alpha1.Measurement, phase v1alpha1.AnalysisPhase, msg string, now time.Time) v1alpha1.Measurement {
	t := metav1.NewTime(now)
	meas.Phase, meas.Message, meas.FinishedAt, meas.ResumeAt = phase, msg, &t, nil
	return meas
}
