package query

import (
	"encoding/xml"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

type testShape struct {
	Name    string            `xml:"Name"`
	Port    *int32            `xml:"Port"`
	On      *bool             `xml:"On"`
	Names   []string          `xml:"Names"`
	Actions []Action          `xml:"Actions"`
	Extra   map[string]string `xml:"-" query:"Extra"`
	Skipped string            `xml:"-"`
}

func TestDecode(t *testing.T) {
	body := "Name=a+b&Port=8080&On=TRUE&Names.member.2=second&Names.member.1=first&Names.member.10=tenth" +
		"&Actions.member.1.Type=forward&Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=arn1" +
		"&Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight=0&Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled=false" +
		"&Extra.entry.1.key=k1&Extra.entry.1.value=v1&Extra.entry.2.key=k2&Skipped=x&Unknown.member.1=ignored"
	vals, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	var s testShape
	if e := Decode(vals, &s); e != nil {
		t.Fatal(e)
	}
	if s.Name != "a b" || *s.Port != 8080 || !*s.On || strings.Join(s.Names, ",") != "first,second,tenth" || s.Skipped != "" {
		t.Fatalf("decoded %+v", s)
	}
	a := s.Actions[0]
	if a.Type != "forward" || a.ForwardConfig.TargetGroups[0].TargetGroupArn != "arn1" || *a.ForwardConfig.TargetGroups[0].Weight != 0 ||
		*a.ForwardConfig.TargetGroupStickinessConfig.Enabled || a.FixedResponseConfig != nil {
		t.Fatalf("decoded action %+v", a)
	}
	if s.Extra["k1"] != "v1" || s.Extra["k2"] != "" || len(s.Extra) != 2 {
		t.Fatalf("decoded map %v", s.Extra)
	}
}

func TestDecodeEmptyListAndAbsent(t *testing.T) {
	var s testShape
	if e := Decode(url.Values{"Names": {""}}, &s); e != nil {
		t.Fatal(e)
	}
	if s.Names == nil || len(s.Names) != 0 || s.Actions != nil || s.Port != nil {
		t.Fatalf("an empty list must decode as empty (not nil) and absent fields stay nil: %+v", s)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, body := range []string{
		"Port=eighty", "Port=99999999999", "On=yes", "Names.member.0=x", "Names.member.x=y", "Names.member.01=z",
		"Extra.entry.1.value=v", "Actions.member.1.Order=1.5",
	} {
		vals, _ := url.ParseQuery(body)
		var s testShape
		e := Decode(vals, &s)
		if e == nil || e.Status != 400 || e.Code != CodeValidationError {
			t.Errorf("%s: got %v, want a 400 ValidationError", body, e)
		}
	}
}

func TestParseForm(t *testing.T) {
	if _, e := ParseForm("Version=2015-12-01"); e == nil || e.Code != CodeMissingAction {
		t.Fatalf("missing action: %v", e)
	}
	if _, e := ParseForm("Action=X&a=%"); e == nil || e.Code != CodeMalformedQueryString {
		t.Fatalf("bad escape: %v", e)
	}
	req, e := ParseForm("Action=DescribeTags&Version=2015-12-01&ResourceArns.member.1=a")
	if e != nil || req.Action != "DescribeTags" || req.Version != APIVersion {
		t.Fatalf("%+v %v", req, e)
	}
	in, e := DecodeRequest(req)
	if e != nil || in.(*DescribeTagsInput).ResourceArns[0] != "a" {
		t.Fatalf("%+v %v", in, e)
	}
	if _, e := DecodeRequest(&Request{Action: "Nope"}); e == nil || e.Code != CodeInvalidAction {
		t.Fatalf("unknown action: %v", e)
	}
	if len(Actions()) != 24 {
		t.Fatalf("%d actions", len(Actions()))
	}
}

func TestMarshalResult(t *testing.T) {
	w := int32(0)
	body, err := MarshalResult("DescribeRules", "req-1", &RulesResult{Rules: []Rule{{RuleArn: "r", Priority: "default", IsDefault: true,
		Actions: []Action{{Type: "forward", ForwardConfig: &ForwardActionConfig{TargetGroups: []TargetGroupTuple{{TargetGroupArn: "tg", Weight: &w}}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<DescribeRulesResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeRulesResult><Rules><member><RuleArn>r</RuleArn><Priority>default</Priority>`,
		`<Actions><member><Type>forward</Type><ForwardConfig><TargetGroups><member><TargetGroupArn>tg</TargetGroupArn><Weight>0</Weight></member></TargetGroups></ForwardConfig></member></Actions><IsDefault>true</IsDefault>`,
		`</DescribeRulesResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeRulesResponse>`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("response lacks %s\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "NextMarker") {
		t.Errorf("empty NextMarker must be omitted:\n%s", body)
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, "rid", Client(CodeRuleNotFound, "Rule '%s' not found", "a<b"))
	var parsed struct {
		Type      string `xml:"Error>Type"`
		Code      string `xml:"Error>Code"`
		Message   string `xml:"Error>Message"`
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &parsed); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 400 || parsed.Type != "Sender" || parsed.Code != "RuleNotFound" || parsed.Message != "Rule 'a<b' not found" ||
		parsed.RequestID != "rid" || rec.Header().Get("x-amzn-RequestId") != "rid" {
		t.Fatalf("%d %+v %v", rec.Code, parsed, rec.Header())
	}
	if id := NewRequestID(); len(id) != 36 || id[14] != '4' {
		t.Fatalf("request id %q is not a v4 UUID", id)
	}
}
