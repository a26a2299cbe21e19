// Package analysis measures Argo Rollouts' AnalysisRuns: it takes each
// metric's measurements on its schedule, judges them with the metric's
// conditions and limits, and writes the run's phase and metricResults exactly
// as Argo Rollouts does, so Argo's tooling reads them (docs/analysis.md).
//
// Deciding is apart from doing. The pure parts take the run's status and the
// time and return what to do or what the status becomes:
//
//	args.go        {{args.x}} substitution into a metric; secret values kept out of status
//	validate.go    the metric rules a run must satisfy; dryRun and measurementRetention rules
//	evaluate.go    successCondition / failureCondition with expr-lang/expr and Argo's helpers
//	schedule.go    which metric needs a measurement now, when to look again, TTL
//	assess.go      a measurement's counters, a metric's phase, the run's phase and
//	               summaries, how many measurements each metric keeps
//	builder.go     the AnalysisRun a Rollout's analysis gets (names, labels, merged templates)
//	fieldref.go    a valueFrom.fieldRef arg read from the Rollout
//	history.go     which completed runs a rollout's run history limits delete
//
// The I/O parts:
//
//	measure.go     the providers behind one interface; unsupported providers fail closed
//	reconciler.go  the controller-runtime reconciler: level-triggered, restart-safe
//	setup.go       wiring into a manager
//
// and one package per provider: prometheus, web, job, cloudwatch (with
// provider holding what they share).
//
// Restart safety: a new measurement is first written to the run's status as
// Running (with its start time) under optimistic locking, and only then
// taken; the result replaces it in a second write. A restart between the two
// finds the Running measurement in status and completes it, so a measurement
// is neither taken twice (a stale read fails the first write) nor lost. Every
// decision is made from the status read, never from memory.
package analysis
