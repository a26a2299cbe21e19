package localalb

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParseActionAcceptsAnyKeyCase(t *testing.T) {
	camel := `{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"stable","servicePort":"80","weight":90},` +
		`{"serviceName":"canary","servicePort":80,"weight":10}],"targetGroupStickinessConfig":{"enabled":true,"durationSeconds":60}}}`
	pascal := `{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"stable","ServicePort":"80","Weight":90},` +
		`{"ServiceName":"canary","ServicePort":80,"Weight":10}],"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":60}}}`
	for _, raw := range []string{camel, pascal} {
		a, err := ParseAction("k", raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		tgs := a.ForwardConfig.TargetGroups
		if len(tgs) != 2 || *tgs[0].ServiceName != "stable" || *tgs[0].Weight != 90 || *tgs[1].Weight != 10 {
			t.Fatalf("%s: parsed %+v", raw, tgs)
		}
		if tgs[0].ServicePort.String() != "80" || tgs[1].ServicePort.Type != intstr.Int {
			t.Errorf("%s: ports %v %v", raw, tgs[0].ServicePort, tgs[1].ServicePort)
		}
		s := a.ForwardConfig.TargetGroupStickinessConfig
		if s == nil || !*s.Enabled || *s.DurationSeconds != 60 {
			t.Errorf("%s: stickiness %+v", raw, s)
		}
	}
}

func TestParseActionErrorsNameTheAnnotation(t *testing.T) {
	key := AnnotationActionsPrefix + "web"
	cases := map[string]string{
		`{"type":"forward",`:  "invalid JSON",
		`{"type":"teleport"}`: "unknown action type",
		`{"type":"forward","forwardConfig":{"targetGroups":[]}}`:                                                            "empty",
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a"}]}}`:                                         "servicePort",
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a","servicePort":80,"weight":1000}]}}`:          "weight 1000",
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a","servicePort":80,"targetGroupARN":"arn"}]}}`: "exactly one",
		`{"type":"fixed-response","fixedResponseConfig":{"statusCode":"abc"}}`:                                              "statusCode",
	}
	for raw, want := range cases {
		_, err := ParseAction(key, raw)
		if err == nil {
			t.Errorf("%s: want an error", raw)
			continue
		}
		var ae *annotationError
		if !errors.As(err, &ae) || ae.Key != key {
			t.Errorf("%s: error %v does not carry the annotation key", raw, err)
		}
		if !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q, want it to name %s and say %q", raw, err, key, want)
		}
	}
}

func TestParseActionOtherTypes(t *testing.T) {
	if _, err := ParseAction("k", `{"type":"forward","targetGroupARN":"arn:aws:elasticloadbalancing:x"}`); err != nil {
		t.Errorf("legacy targetGroupARN form: %v", err)
	}
	if _, err := ParseAction("k", `{"Type":"fixed-response","FixedResponseConfig":{"ContentType":"text/plain","StatusCode":"503","MessageBody":"down"}}`); err != nil {
		t.Errorf("fixed-response: %v", err)
	}
	if _, err := ParseAction("k", `{"type":"redirect","redirectConfig":{"protocol":"HTTPS","port":"443","statusCode":"HTTP_301"}}`); err != nil {
		t.Errorf("redirect: %v", err)
	}
}

func TestParseConditions(t *testing.T) {
	cs, err := ParseConditions("k", `[{"Field":"http-header","HttpHeaderConfig":{"HttpHeaderName":"X-Canary","Values":["1"]}},`+
		`{"field":"query-string","queryStringConfig":{"values":[{"key":"v","value":"2"}]}},{"field":"host-header","values":["a.example"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[0].HTTPHeaderConfig.HTTPHeaderName != "X-Canary" || *cs[1].QueryStringConfig.Values[0].Key != "v" {
		t.Fatalf("parsed %+v", cs)
	}
	if got := cs[2].toSDK(); got.HostHeaderConfig == nil || got.HostHeaderConfig.Values[0] != "a.example" {
		t.Errorf("legacy values not carried to the SDK condition: %+v", got)
	}
	for _, bad := range []string{`[{"field":"cookie"}]`, `[{"field":"http-header","httpHeaderConfig":{"values":["1"]}}]`, `{"field":"x"}`} {
		if _, err := ParseConditions("k", bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestParseListenPorts(t *testing.T) {
	ps, err := ParseListenPorts("", false)
	if err != nil || len(ps) != 1 || ps[0] != (ListenPort{Protocol: "HTTP", Port: 80}) {
		t.Fatalf("default: %v %v", ps, err)
	}
	ps, err = ParseListenPorts(`[{"HTTP": 8080}, {"HTTPS": 443}]`, true)
	if err != nil || len(ps) != 2 || ps[0].Port != 8080 || ps[1].Protocol != "HTTPS" {
		t.Fatalf("got %v %v", ps, err)
	}
	for _, bad := range []string{`[{"HTTP": 0}]`, `[{"UDP": 53}]`, `[]`, `HTTP:80`} {
		if _, err := ParseListenPorts(bad, true); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestParseHealthCheck(t *testing.T) {
	hc, err := ParseHealthCheck(nil, nil)
	if err != nil || hc != DefaultHealthCheck() {
		t.Fatalf("defaults: %+v %v", hc, err)
	}
	if hc.IntervalSeconds != 15 || hc.TimeoutSeconds != 5 || hc.HealthyThreshold != 2 || hc.UnhealthyThreshold != 2 || hc.Path != "/" || hc.SuccessCodes != "200" {
		t.Fatalf("defaults differ from the Load Balancer Controller's: %+v", hc)
	}
	ing := map[string]string{AnnotationHCPath: "/healthz", AnnotationHCInterval: "10", AnnotationHCTimeout: "3",
		AnnotationHealthyCount: "3", AnnotationUnhealthyCount: "4", AnnotationSuccessCodes: "200-299", AnnotationHCPort: "9090"}
	svc := map[string]string{AnnotationHCPath: "/ready"}
	hc, err = ParseHealthCheck(ing, svc)
	if err != nil {
		t.Fatal(err)
	}
	want := HealthCheck{Path: "/ready", Port: "9090", Protocol: "HTTP", IntervalSeconds: 10, TimeoutSeconds: 3,
		HealthyThreshold: 3, UnhealthyThreshold: 4, SuccessCodes: "200-299"}
	if hc != want {
		t.Fatalf("got %+v, want %+v (service annotations override the ingress)", hc, want)
	}
	for _, bad := range []map[string]string{
		{AnnotationHCPath: "healthz"}, {AnnotationHCInterval: "1"}, {AnnotationHCTimeout: "x"},
		{AnnotationSuccessCodes: "600"}, {AnnotationSuccessCodes: "299-200"}, {AnnotationHCPort: "http"},
		{AnnotationHCInterval: "5", AnnotationHCTimeout: "5"}, {AnnotationHCProtocol: "HTTPS"},
	} {
		if _, err := ParseHealthCheck(bad, nil); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestParseTargetGroupAttributesAndGroupOrder(t *testing.T) {
	a, err := ParseTargetGroupAttributes("deregistration_delay.timeout_seconds=30, stickiness.enabled=true")
	if err != nil || a["deregistration_delay.timeout_seconds"] != "30" || a["stickiness.enabled"] != "true" {
		t.Fatalf("got %v %v", a, err)
	}
	if _, err := ParseTargetGroupAttributes("novalue"); err == nil {
		t.Error("want an error for a pair without =")
	}
	if n, err := ParseGroupOrder("-5", true); err != nil || n != -5 {
		t.Errorf("group order: %d %v", n, err)
	}
	if _, err := ParseGroupOrder("1001", true); err == nil {
		t.Error("want an error for group.order 1001")
	}
}
