package cwproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Time is a CloudWatch timestamp. It reads and writes itself in each
// protocol's form: ISO 8601 text (Query, XML), epoch seconds (JSON) and CBOR
// tag 1 with epoch seconds (RPC v2 CBOR).
type Time struct{ time.Time }

// MarshalText writes ISO 8601 in UTC with the fraction only when there is one.
func (t Time) MarshalText() ([]byte, error) {
	return []byte(t.UTC().Format("2006-01-02T15:04:05.999Z")), nil
}

// UnmarshalText reads ISO 8601 (RFC 3339, with or without a fraction or zone)
// or epoch seconds.
func (t *Time) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return t.setEpoch(f)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not an ISO 8601 timestamp such as 2026-01-02T15:04:05Z", s)
}

func (t *Time) setEpoch(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return fmt.Errorf("%v is not a timestamp in epoch seconds", f)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	return nil
}

func (t Time) epoch() float64 { return float64(t.UnixNano()) / 1e9 }

// MarshalJSON writes epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(t.epoch(), 'f', -1, 64)), nil
}

// UnmarshalJSON reads epoch seconds, or an ISO 8601 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		f, err := n.Float64()
		if err != nil {
			return err
		}
		return t.setEpoch(f)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("a timestamp must be epoch seconds or an ISO 8601 string")
	}
	return t.UnmarshalText([]byte(s))
}

// MarshalCBOR writes tag 1 with epoch seconds: an integer when whole, else a float.
func (t Time) MarshalCBOR() ([]byte, error) {
	if t.Nanosecond() == 0 {
		return cbor.Marshal(cbor.Tag{Number: 1, Content: t.Unix()})
	}
	return cbor.Marshal(cbor.Tag{Number: 1, Content: t.epoch()})
}

// UnmarshalCBOR reads tag 1 (or an untagged number) with epoch seconds.
func (t *Time) UnmarshalCBOR(b []byte) error {
	var v any
	if err := cbor.Unmarshal(b, &v); err != nil {
		return err
	}
	if tag, ok := v.(cbor.Tag); ok {
		if tag.Number != 1 {
			return fmt.Errorf("a timestamp is CBOR tag 1, got tag %d", tag.Number)
		}
		v = tag.Content
	}
	if tm, ok := v.(time.Time); ok { // the decoder may turn tag 1 into a time itself
		t.Time = tm.UTC()
		return nil
	}
	switch n := v.(type) {
	case uint64:
		return t.setEpoch(float64(n))
	case int64:
		return t.setEpoch(float64(n))
	case float64:
		return t.setEpoch(n)
	}
	return fmt.Errorf("a timestamp must be epoch seconds, got %T", v)
}
