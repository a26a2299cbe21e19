package v1alpha1

import (
	"encoding/json"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The analysis kinds of Argo Rollouts: AnalysisTemplate, ClusterAnalysisTemplate
// and AnalysisRun, with Argo's field names, so Argo's manifests apply unchanged
// (docs/analysis.md). The providers albrollouts measures with (prometheus,
// web, job, cloudWatch) are typed; Argo's other providers keep whatever they
// hold and fail closed: a measurement with one of them is an Error.

// AnalysisTemplate is a reusable set of metrics, arguments and dry-run and
// retention rules, in one namespace; a Rollout's analysis names it.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=analysistemplates,shortName=at
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp",description="Time since resource was created"
type AnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AnalysisTemplateSpec `json:"spec"`
}

// AnalysisTemplateList is a list of AnalysisTemplates.
//
// +kubebuilder:object:root=true
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisTemplate `json:"items"`
}

// ClusterAnalysisTemplate is an AnalysisTemplate every namespace can use
// (clusterScope: true in a template reference).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=clusteranalysistemplates,shortName=cat,scope=Cluster
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp",description="Time since resource was created"
type ClusterAnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AnalysisTemplateSpec `json:"spec"`
}

// ClusterAnalysisTemplateList is a list of ClusterAnalysisTemplates.
//
// +kubebuilder:object:root=true
type ClusterAnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterAnalysisTemplate `json:"items"`
}

// AnalysisTemplateSpec is what an (Cluster)AnalysisTemplate holds.
type AnalysisTemplateSpec struct {
	// Metrics are measured by the runs made from this template. A list keyed
	// by name (each name once, as Argo requires), which also lets the Job
	// spec's transition rules apply.
	// +patchMergeKey=name
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=name
	// +optional
	Metrics []Metric `json:"metrics,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	// Args are the template's parameters, used as {{args.<name>}}.
	// +patchMergeKey=name
	// +patchStrategy=merge
	// +optional
	Args []Argument `json:"args,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	// DryRun lists the metrics (by regular expression) whose result does not
	// decide the run's phase.
	// +patchMergeKey=metricName
	// +patchStrategy=merge
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty" patchStrategy:"merge" patchMergeKey:"metricName"`
	// MeasurementRetention sets how many measurements a metric's result keeps.
	// +patchMergeKey=metricName
	// +patchStrategy=merge
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty" patchStrategy:"merge" patchMergeKey:"metricName"`
	// Templates names further templates whose metrics and args join this one's
	// when a run is built.
	// +patchMergeKey=templateName
	// +patchStrategy=merge
	// +optional
	Templates []AnalysisTemplateRef `json:"templates,omitempty" patchStrategy:"merge" patchMergeKey:"templateName"`
}

// AnalysisRun is one execution of metrics: the analysis controller measures
// them until the run reaches a terminal phase.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=analysisruns,shortName=ar
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=".status.phase",description="AnalysisRun status"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp",description="Time since resource was created"
type AnalysisRun struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AnalysisRunSpec `json:"spec"`
	// +optional
	Status AnalysisRunStatus `json:"status,omitempty"`
}

// AnalysisRunList is a list of AnalysisRuns.
//
// +kubebuilder:object:root=true
type AnalysisRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisRun `json:"items"`
}

// AnalysisRunSpec is what a run measures.
type AnalysisRunSpec struct {
	// Metrics are the metrics to measure, as written: {{args.x}} placeholders
	// are substituted each time the run is reconciled. Keyed by name.
	// +patchMergeKey=name
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=name
	Metrics []Metric `json:"metrics" patchStrategy:"merge" patchMergeKey:"name"`
	// Args are the values of the placeholders.
	// +patchMergeKey=name
	// +patchStrategy=merge
	// +optional
	Args []Argument `json:"args,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	// Terminate stops the run: no new measurement is taken, and metrics that
	// have not broken a limit end Successful.
	// +optional
	Terminate bool `json:"terminate,omitempty"`
	// DryRun lists the metrics (by regular expression) whose result does not
	// decide the run's phase.
	// +patchMergeKey=metricName
	// +patchStrategy=merge
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty" patchStrategy:"merge" patchMergeKey:"metricName"`
	// MeasurementRetention sets how many measurements a metric's result keeps.
	// +patchMergeKey=metricName
	// +patchStrategy=merge
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty" patchStrategy:"merge" patchMergeKey:"metricName"`
	// TTLStrategy deletes the run some time after it completes.
	// +optional
	TTLStrategy *TTLStrategy `json:"ttlStrategy,omitempty"`
}

// DurationString is a Go duration: 30s, 5m, 1h (no d).
type DurationString string

// Duration parses the duration.
func (d DurationString) Duration() (time.Duration, error) {
	return time.ParseDuration(string(d))
}

// Metric is one thing a run measures, how often, and how its results are judged.
type Metric struct {
	// Name identifies the metric in the run.
	Name string `json:"name"`
	// Interval is the least time between the end of one measurement and the
	// start of the next.
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// InitialDelay delays the first measurement from the run's start.
	// +optional
	InitialDelay DurationString `json:"initialDelay,omitempty"`
	// Count is the number of measurements (Error ones not counted). Unset
	// with no interval: 1; unset with an interval: until the run ends.
	// +optional
	Count *intstr.IntOrString `json:"count,omitempty"`
	// SuccessCondition is an expression over `result` that makes a
	// measurement Successful.
	// +optional
	SuccessCondition string `json:"successCondition,omitempty"`
	// FailureCondition is an expression over `result` that makes a
	// measurement Failed.
	// +optional
	FailureCondition string `json:"failureCondition,omitempty"`
	// FailureLimit is how many Failed measurements the metric tolerates
	// (default 0; -1: no limit).
	// +optional
	FailureLimit *intstr.IntOrString `json:"failureLimit,omitempty"`
	// InconclusiveLimit is how many Inconclusive measurements the metric
	// tolerates (default 0).
	// +optional
	InconclusiveLimit *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit is how many Error measurements in a row the
	// metric tolerates (default 4).
	// +optional
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	// Provider is where a measurement comes from.
	Provider MetricProvider `json:"provider"`
	// ConsecutiveSuccessLimit, when above 0, makes the metric Successful after
	// that many Successful measurements in a row.
	// +optional
	ConsecutiveSuccessLimit *intstr.IntOrString `json:"consecutiveSuccessLimit,omitempty"`
}

// EffectiveCount is the number of measurements the metric takes: Count when
// above 0, else 1 without an interval, else nil (no bound).
func (m *Metric) EffectiveCount() *int32 {
	if m.Count == nil || m.Count.IntValue() == 0 {
		if m.Interval == "" {
			one := int32(1)
			return &one
		}
		return nil
	}
	n := int32(m.Count.IntValue())
	return &n
}

// DryRun marks metrics whose results are recorded but do not decide the run.
type DryRun struct {
	// MetricName is a regular expression matched (unanchored) against metric names.
	MetricName string `json:"metricName"`
}

// MeasurementRetention sets how many measurements to keep for some metrics.
type MeasurementRetention struct {
	// MetricName is a regular expression matched (unanchored) against metric names.
	MetricName string `json:"metricName"`
	// Limit is the number of newest measurements kept (0: the default, 10).
	Limit int32 `json:"limit"`
}

// TTLStrategy deletes a completed run after some seconds.
type TTLStrategy struct {
	// SecondsAfterCompletion applies to every terminal phase.
	// +optional
	SecondsAfterCompletion *int32 `json:"secondsAfterCompletion,omitempty"`
	// SecondsAfterFailure applies to Failed runs.
	// +optional
	SecondsAfterFailure *int32 `json:"secondsAfterFailure,omitempty"`
	// SecondsAfterSuccess applies to Successful runs.
	// +optional
	SecondsAfterSuccess *int32 `json:"secondsAfterSuccess,omitempty"`
}

// MetricProvider is where a metric's measurements come from; set exactly one.
// Prometheus, Web, Job and CloudWatch are measured; the others are kept as
// written and every measurement with them is an Error naming the provider.
type MetricProvider struct {
	// Prometheus queries a Prometheus server (or Amazon Managed Prometheus).
	// +optional
	Prometheus *PrometheusMetric `json:"prometheus,omitempty"`
	// Web calls an HTTP endpoint and reads its (JSON) answer.
	// +optional
	Web *WebMetric `json:"web,omitempty"`
	// Job runs a Kubernetes Job: success when it completes, failure when it fails.
	// +optional
	Job *JobMetric `json:"job,omitempty"`
	// CloudWatch calls GetMetricData.
	// +optional
	CloudWatch *CloudWatchMetric `json:"cloudWatch,omitempty"`

	// Kayenta (Argo provider; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Kayenta *runtime.RawExtension `json:"kayenta,omitempty"`
	// Datadog (Argo provider; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Datadog *runtime.RawExtension `json:"datadog,omitempty"`
	// Wavefront (Argo provider; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Wavefront *runtime.RawExtension `json:"wavefront,omitempty"`
	// NewRelic (Argo provider; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	NewRelic *runtime.RawExtension `json:"newRelic,omitempty"`
	// Graphite (Argo provider; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Graphite *runtime.RawExtension `json:"graphite,omitempty"`
	// Influxdb (Argo provider; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Influxdb *runtime.RawExtension `json:"influxdb,omitempty"`
	// SkyWalking (Argo provider; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	SkyWalking *runtime.RawExtension `json:"skywalking,omitempty"`
	// Plugin (Argo's metric plugins; not supported: measurements are Errors).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Plugin *runtime.RawExtension `json:"plugin,omitempty"`
}

// AnalysisPhase is the phase of a run, a metric's result or a measurement.
type AnalysisPhase string

// The phases. Successful, Failed, Error and Inconclusive are terminal.
const (
	AnalysisPhasePending      AnalysisPhase = "Pending"
	AnalysisPhaseRunning      AnalysisPhase = "Running"
	AnalysisPhaseSuccessful   AnalysisPhase = "Successful"
	AnalysisPhaseFailed       AnalysisPhase = "Failed"
	AnalysisPhaseError        AnalysisPhase = "Error"
	AnalysisPhaseInconclusive AnalysisPhase = "Inconclusive"
)

// Completed reports whether the phase is terminal.
func (p AnalysisPhase) Completed() bool {
	switch p {
	case AnalysisPhaseSuccessful, AnalysisPhaseFailed, AnalysisPhaseError, AnalysisPhaseInconclusive:
		return true
	}
	return false
}

// PrometheusMetric is a PromQL query.
type PrometheusMetric struct {
	// Address is the server's URL (default: $ARGO_ROLLOUTS_PROMETHEUS_ADDRESS).
	// +optional
	Address string `json:"address,omitempty"`
	// Query is the PromQL query.
	// +optional
	Query string `json:"query,omitempty"`
	// Authentication signs requests (SigV4 for Amazon Managed Prometheus).
	// +optional
	Authentication Authentication `json:"authentication,omitempty"`
	// Timeout of the query in seconds (default 30).
	// +optional
	Timeout *int64 `json:"timeout,omitempty"`
	// Insecure skips TLS certificate verification.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// Headers are added to every request.
	// +patchMergeKey=key
	// +patchStrategy=merge
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty" patchStrategy:"merge" patchMergeKey:"key"`
	// RangeQuery makes the query a range query.
	// +optional
	RangeQuery *PrometheusRangeQueryArgs `json:"rangeQuery,omitempty"`
}

// PrometheusRangeQueryArgs bounds a range query.
type PrometheusRangeQueryArgs struct {
	// Start is an expression such as now() - duration("5m").
	// +optional
	Start string `json:"start,omitempty"`
	// End is an expression such as now().
	// +optional
	End string `json:"end,omitempty"`
	// Step is the resolution of the range.
	// +optional
	Step DurationString `json:"step,omitempty"`
}

// Authentication configures how a provider authenticates.
type Authentication struct {
	// Sigv4 signs requests to Amazon Managed Prometheus.
	// +optional
	Sigv4 Sigv4Config `json:"sigv4,omitempty"`
	// OAuth2 takes a token with the client-credentials flow.
	// +optional
	OAuth2 OAuth2Config `json:"oauth2,omitempty"`
	// BasicAuth sends a user name and password.
	// +optional
	BasicAuth BasicAuth `json:"basicAuth,omitempty"`
}

// Sigv4Config is how SigV4 requests are signed.
type Sigv4Config struct {
	// Region to sign for (default: the controller's AWS region).
	// +optional
	Region string `json:"region,omitempty"`
	// Profile is a shared-config profile whose credentials sign.
	// +optional
	Profile string `json:"profile,omitempty"`
	// RoleARN is a role assumed to sign.
	// +optional
	RoleARN string `json:"roleArn,omitempty"`
}

// OAuth2Config is a client-credentials grant.
type OAuth2Config struct {
	// TokenURL is the token endpoint.
	// +optional
	TokenURL string `json:"tokenUrl,omitempty"`
	// ClientID of the client.
	// +optional
	ClientID string `json:"clientId,omitempty"`
	// ClientSecret of the client.
	// +optional
	ClientSecret string `json:"clientSecret,omitempty"`
	// Scopes requested.
	// +optional
	Scopes []string `json:"scopes,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	// Username to send.
	// +optional
	Username string `json:"username,omitempty"`
	// Password to send.
	// +optional
	Password string `json:"password,omitempty"`
}

// WebMetric is an HTTP request whose answer is the measurement's result.
type WebMetric struct {
	// Method is GET (default), POST or PUT.
	// +optional
	Method WebMetricMethod `json:"method,omitempty"`
	// URL to call.
	URL string `json:"url"`
	// Headers of the request.
	// +patchMergeKey=key
	// +patchStrategy=merge
	// +optional
	Headers []WebMetricHeader `json:"headers,omitempty" patchStrategy:"merge" patchMergeKey:"key"`
	// Body of a POST or PUT.
	// +optional
	Body string `json:"body,omitempty"`
	// TimeoutSeconds of the request (default 10).
	// +optional
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// JSONPath selects the result in a JSON answer (default {$}).
	// +optional
	JSONPath string `json:"jsonPath,omitempty"`
	// Insecure skips TLS certificate verification.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
	// JSONBody is a JSON body of a POST or PUT (sent as application/json).
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	JSONBody json.RawMessage `json:"jsonBody,omitempty"`
	// Authentication of the request.
	// +optional
	Authentication Authentication `json:"authentication,omitempty"`
}

// WebMetricMethod is an HTTP method.
type WebMetricMethod string

// The web provider's methods.
const (
	WebMetricMethodGet  WebMetricMethod = "GET"
	WebMetricMethodPost WebMetricMethod = "POST"
	WebMetricMethodPut  WebMetricMethod = "PUT"
)

// WebMetricHeader is one HTTP header.
type WebMetricHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// JobMetric is a Job the provider creates for each measurement.
type JobMetric struct {
	// Metadata holds labels and annotations for the Job.
	// +optional
	Metadata metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec of the Job.
	Spec batchv1.JobSpec `json:"spec"`
}

// CloudWatchMetric is one GetMetricData call.
type CloudWatchMetric struct {
	// Interval is the look-back window: the data of the last Interval (default 5m).
	// +optional
	Interval DurationString `json:"interval,omitempty"`
	// MetricDataQueries are the queries, as GetMetricData takes them.
	MetricDataQueries []CloudWatchMetricDataQuery `json:"metricDataQueries"`
}

// CloudWatchMetricDataQuery is one query of a GetMetricData call.
type CloudWatchMetricDataQuery struct {
	// +optional
	Id string `json:"id,omitempty"` //nolint:revive // Argo's (and CloudWatch's) name
	// +optional
	Expression *string `json:"expression,omitempty"`
	// +optional
	Label *string `json:"label,omitempty"`
	// +optional
	MetricStat *CloudWatchMetricStat `json:"metricStat,omitempty"`
	// +optional
	Period *intstr.IntOrString `json:"period,omitempty"`
	// +optional
	ReturnData *bool `json:"returnData,omitempty"`
}

// CloudWatchMetricStat is a metric, statistic and period.
type CloudWatchMetricStat struct {
	// +optional
	Metric CloudWatchMetricStatMetric `json:"metric,omitempty"`
	// +optional
	Period intstr.IntOrString `json:"period,omitempty"`
	// +optional
	Stat string `json:"stat,omitempty"`
	// +optional
	Unit string `json:"unit,omitempty"`
}

// CloudWatchMetricStatMetric names a CloudWatch metric.
type CloudWatchMetricStatMetric struct {
	// +optional
	Dimensions []CloudWatchMetricStatMetricDimension `json:"dimensions,omitempty"`
	// +optional
	MetricName string `json:"metricName,omitempty"`
	// +optional
	Namespace *string `json:"namespace,omitempty"`
}

// CloudWatchMetricStatMetricDimension is one dimension of a metric.
type CloudWatchMetricStatMetricDimension struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Value string `json:"value,omitempty"`
}

// Argument is a parameter of a template or run.
type Argument struct {
	// Name is used as {{args.<name>}}.
	Name string `json:"name"`
	// Value of the argument.
	// +optional
	Value *string `json:"value,omitempty"`
	// ValueFrom takes the value from elsewhere.
	// +optional
	ValueFrom *ValueFrom `json:"valueFrom,omitempty"`
}

// ValueFrom is where an Argument's value comes from.
type ValueFrom struct {
	// SecretKeyRef is a key of a Secret in the run's namespace; its value
	// never appears in the run's status, events or logs.
	// +optional
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
	// FieldRef is a field of the Rollout (resolved when the run is built).
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// SecretKeyRef names a key of a Secret.
type SecretKeyRef struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key in the Secret.
	Key string `json:"key"`
}

// FieldRef is a path into the Rollout: metadata.name, metadata.labels['k'],
// status.alb.canaryTargetGroup.fullName, ...
type FieldRef struct {
	FieldPath string `json:"fieldPath"`
}

// AnalysisTemplateRef names a template.
type AnalysisTemplateRef struct {
	// TemplateName is the template's name.
	// +optional
	TemplateName string `json:"templateName"`
	// ClusterScope: the name is a ClusterAnalysisTemplate's.
	// +optional
	ClusterScope *bool `json:"clusterScope,omitempty"`
}

// IsClusterScope reports whether the reference names a ClusterAnalysisTemplate.
func (r *AnalysisTemplateRef) IsClusterScope() bool { return r.ClusterScope != nil && *r.ClusterScope }

// AnalysisRunStatus is what the analysis controller observed.
type AnalysisRunStatus struct {
	// Phase of the run.
	Phase AnalysisPhase `json:"phase"`
	// Message says why the run is in its phase.
	// +optional
	Message string `json:"message,omitempty"`
	// MetricResults has one entry per metric that has started.
	// +optional
	MetricResults []MetricResult `json:"metricResults,omitempty"`
	// StartedAt is when the run was first reconciled.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// RunSummary counts the metrics (not dry-run) by outcome.
	// +optional
	RunSummary RunSummary `json:"runSummary,omitempty"`
	// DryRunSummary counts the dry-run metrics by outcome.
	// +optional
	DryRunSummary *RunSummary `json:"dryRunSummary,omitempty"`
	// CompletedAt is when the run reached a terminal phase.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
}

// RunSummary counts metrics by outcome.
type RunSummary struct {
	// +optional
	Count int32 `json:"count,omitempty"`
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// +optional
	Error int32 `json:"error,omitempty"`
}

// MetricResult is a metric's outcome so far: its newest measurements and
// counters over all of them.
type MetricResult struct {
	// Name of the metric.
	Name string `json:"name"`
	// Phase of the metric.
	Phase AnalysisPhase `json:"phase"`
	// Measurements are the newest measurements (10 by default).
	// +optional
	Measurements []Measurement `json:"measurements,omitempty"`
	// Message explains the phase (the last measurement's message).
	// +optional
	Message string `json:"message,omitempty"`
	// Count of measurements that were not Errors.
	// +optional
	Count int32 `json:"count,omitempty"`
	// +optional
	Successful int32 `json:"successful,omitempty"`
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// +optional
	Inconclusive int32 `json:"inconclusive,omitempty"`
	// +optional
	Error int32 `json:"error,omitempty"`
	// ConsecutiveError counts the Errors since the last other outcome.
	// +optional
	ConsecutiveError int32 `json:"consecutiveError,omitempty"`
	// DryRun: the metric does not decide the run's phase.
	// +optional
	DryRun bool `json:"dryRun,omitempty"`
	// Metadata the provider keeps for the metric (e.g. the resolved query).
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
	// ConsecutiveSuccess counts the Successful measurements in a row.
	// +optional
	ConsecutiveSuccess int32 `json:"consecutiveSuccess,omitempty"`
}

// Measurement is one measurement of a metric.
type Measurement struct {
	// Phase of the measurement (Running while in flight).
	Phase AnalysisPhase `json:"phase"`
	// Message explains the phase (an error, say).
	// +optional
	Message string `json:"message,omitempty"`
	// StartedAt is when the measurement started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when it finished (unset while in flight).
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Value is the measured value, as the provider formats it.
	// +optional
	Value string `json:"value,omitempty"`
	// Metadata the provider keeps (the Job's name, say).
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
	// ResumeAt is when an in-flight measurement is next looked at.
	// +optional
	ResumeAt *metav1.Time `json:"resumeAt,omitempty"`
}

// The Rollout's side of analysis: what steps[].analysis, canary.analysis,
// prePromotionAnalysis and postPromotionAnalysis hold. The Rollout keeps those
// fields raw; the rollout controller decodes them into these types and hands
// them to the run builder (internal/analysis).

// RolloutAnalysis is an analysis of a Rollout: the templates and the args
// the run gets.
type RolloutAnalysis struct {
	// Templates whose metrics the run measures.
	// +optional
	Templates []AnalysisTemplateRef `json:"templates,omitempty"`
	// Args override the templates' args.
	// +optional
	Args []AnalysisRunArgument `json:"args,omitempty"`
	// DryRun rules, added before the templates'.
	// +optional
	DryRun []DryRun `json:"dryRun,omitempty"`
	// MeasurementRetention rules, added before the templates'.
	// +optional
	MeasurementRetention []MeasurementRetention `json:"measurementRetention,omitempty"`
	// AnalysisRunMetadata adds labels and annotations to the run.
	// +optional
	AnalysisRunMetadata *AnalysisRunMetadata `json:"analysisRunMetadata,omitempty"`
}

// RolloutAnalysisBackground is canary.analysis: a RolloutAnalysis that runs
// beside the steps, from StartingStep on.
type RolloutAnalysisBackground struct {
	RolloutAnalysis `json:",inline"`
	// StartingStep is the step index from which the run starts (default 0).
	// +optional
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// AnalysisRunMetadata are labels and annotations added to a run.
type AnalysisRunMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AnalysisRunArgument is an arg a Rollout gives its runs.
type AnalysisRunArgument struct {
	// Name of a template arg.
	Name string `json:"name"`
	// Value of the arg.
	// +optional
	Value string `json:"value,omitempty"`
	// ValueFrom takes the value from the Rollout.
	// +optional
	ValueFrom *ArgumentValueFrom `json:"valueFrom,omitempty"`
}

// ArgumentValueFrom is where a Rollout arg's value comes from.
type ArgumentValueFrom struct {
	// PodTemplateHashValue is Stable or Latest: that ReplicaSet's pod-template hash.
	// +optional
	PodTemplateHashValue *ValueFromPodTemplateHash `json:"podTemplateHashValue,omitempty"`
	// FieldRef is a path into the Rollout.
	// +optional
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// ValueFromPodTemplateHash names a ReplicaSet of the Rollout.
type ValueFromPodTemplateHash string

// The two ReplicaSets an arg can take the hash of.
const (
	Stable ValueFromPodTemplateHash = "Stable"
	Latest ValueFromPodTemplateHash = "Latest"
)
