// Package elbsim is an AWS Elastic Load Balancing v2 (ALB) emulator that the
// real aws-sdk-go-v2 client and the AWS CLI talk to, that routes real HTTP
// traffic by weight and that health-checks targets for real.
//
// Parts:
//
//   - query: the AWS Query protocol codec (form bodies in, XML out);
//   - model: the service model (objects, ARNs, validation, error codes, pagination);
//   - faults: throttling, AccessDenied, latency and failing-target injection;
//   - health: the target health prober;
//   - dataplane: one loopback HTTP listener per ALB listener;
//   - cwproto and cloudwatch: CloudWatch's GetMetricData and ListMetrics for
//     AWS/ApplicationELB (the wire codec in three protocols, and the metrics
//     computed from the data plane's requests and the health checks);
//   - this package: the HTTP server gluing them, eventual consistency, the admin
//     API, metrics and the state file.
//
// # The ELBv2 API
//
// POST / with Action=<Op>&Version=2015-12-01&…, signed with SigV4 (any
// credentials are accepted unless Options.StrictAuth is set). Served Actions:
// CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer, CreateListener,
// DescribeListeners, ModifyListener, DeleteListener, CreateRule, DescribeRules,
// ModifyRule, DeleteRule, SetRulePriorities, CreateTargetGroup,
// DescribeTargetGroups, ModifyTargetGroup, DeleteTargetGroup,
// DescribeTargetGroupAttributes, ModifyTargetGroupAttributes, RegisterTargets,
// DeregisterTargets, DescribeTargetHealth, AddTags, RemoveTags, DescribeTags.
//
// The same endpoint serves CloudWatch (version 2010-08-01): GetMetricData and
// ListMetrics, in the Query protocol (Action=GetMetricData&Version=2010-08-01),
// awsJson1_0 (X-Amz-Target: GraniteServiceVersion20100801.GetMetricData) and
// RPC v2 CBOR (POST /service/GraniteServiceVersion20100801/operation/GetMetricData).
//
// Differences from AWS, on purpose: only application load balancers, HTTP
// listeners and HTTP target groups of type ip are served, and targets must be
// loopback addresses (127.0.0.0/8); subnets are optional; quotas are larger.
//
// # Eventual consistency
//
// Every successful mutation produces a new version of the model. Describe*
// answers show a version Options.DescribeDelay after it was made; the data plane
// and prober get it Options.PropagationDelay after it was released by the
// batching rule (Options.Batching: a change with no other change in the previous
// 10 s — scaled by TimeScale — is released at once, later ones together at the
// next 10 s boundary). DescribeTargetHealth reconciles the two: a target that
// Describe* shows registered but the prober does not know yet is
// initial/Elb.RegistrationInProgress; one removed but still probed is draining.
//
// # Admin API
//
// Under Endpoint()+"/_elbsim/", JSON unless noted:
//
//	GET    /_elbsim/stats     per-Action calls, throttled and error counts; per-target-group
//	                          data-plane requests, by status code and by target
//	GET    /_elbsim/metrics   the same as Prometheus text (elbsim_api_calls_total{action},
//	                          elbsim_api_throttled_total{action}, elbsim_api_errors_total{action,code},
//	                          elbsim_target_group_requests_total{target_group},
//	                          elbsim_target_group_responses_total{target_group,code},
//	                          elbsim_target_requests_total{target_group,target})
//	GET    /_elbsim/listeners {"<dns name>": {"<port>": "http://127.0.0.1:<bound port>"}}
//	GET    /_elbsim/faults    the faults in effect
//	DELETE /_elbsim/faults    clear every fault (and turn the token buckets off)
//
//	POST   /_elbsim/faults/access-denied  {"action":"DescribeTargetHealth"[,"principal":"arn:aws:sts::…"]}
//	       every call of the action answers 403 AccessDenied "User: … is not authorized to perform:
//	       elasticloadbalancing:DescribeTargetHealth because no identity-based policy allows …"
//	DELETE /_elbsim/faults/access-denied  [{"action":"…"} or ?action=…; none: all]
//	POST   /_elbsim/faults/latency        {"latency":"250ms"[,"action":"DescribeRules"]} (no action: every call)
//	DELETE /_elbsim/faults/latency        [{"action":"…"}; none: all]
//	POST   /_elbsim/faults/throttling     {"enabled":true|false}: token buckets on/off (Describe*: burst 40, 10/s;
//	                                      Register/DeregisterTargets: 20, 4/s; other mutations: 20, 4/s)
//	                                      {"class":"describe","burst":5,"ratePerSecond":1}: resize a bucket
//	                                      {"action":"DescribeTargetHealth","count":3}: throttle the next 3 calls
//	                                      (count -1 or absent: every call until cleared)
//	DELETE /_elbsim/faults/throttling     remove forced throttles and turn the buckets off
//	POST   /_elbsim/faults/target-failing {"ip":"127.0.0.2","port":8080}: its health checks fail
//	                                      (unhealthy / Target.ResponseCodeMismatch after the threshold)
//	DELETE /_elbsim/faults/target-failing [{"ip":…,"port":…}; none: all]
//
// Throttled calls answer HTTP 400 code Throttling "Rate exceeded", which the AWS
// SDKs retry with backoff. The same faults are available in Go through Server.Faults.
//
// # State file
//
// With Options.StateFile, the model and the targets' health are loaded on Start
// (when the file exists) and written on Close; data-plane ports change across restarts.
package elbsim
