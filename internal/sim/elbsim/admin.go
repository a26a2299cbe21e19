package elbsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cwproto"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// adminHandler serves the admin API (see the package documentation).
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_elbsim/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	mux.HandleFunc("GET /_elbsim/metrics", s.serveMetrics)
	mux.HandleFunc("GET /_elbsim/listeners", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Listeners()) })
	mux.HandleFunc("GET /_elbsim/faults", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.faults.Status()) })
	mux.HandleFunc("DELETE /_elbsim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.faults.Clear()
		writeJSON(w, http.StatusOK, s.faults.Status())
	})
	mux.HandleFunc("POST /_elbsim/faults/access-denied", s.adminFault(s.postAccessDenied))
	mux.HandleFunc("DELETE /_elbsim/faults/access-denied", s.adminFault(s.deleteAccessDenied))
	mux.HandleFunc("POST /_elbsim/faults/latency", s.adminFault(s.postLatency))
	mux.HandleFunc("DELETE /_elbsim/faults/latency", s.adminFault(s.deleteLatency))
	mux.HandleFunc("POST /_elbsim/faults/throttling", s.adminFault(s.postThrottling))
	mux.HandleFunc("DELETE /_elbsim/faults/throttling", s.adminFault(func(faultRequest) error { s.faults.ClearThrottling(); return nil }))
	mux.HandleFunc("POST /_elbsim/faults/propagation", s.adminFault(s.postPropagation))
	mux.HandleFunc("DELETE /_elbsim/faults/propagation", s.adminFault(func(faultRequest) error { s.SetPropagationDelay(s.o.PropagationDelay); return nil }))
	mux.HandleFunc("POST /_elbsim/faults/target-failing", s.adminFault(s.postTargetFailing(true)))
	mux.HandleFunc("DELETE /_elbsim/faults/target-failing", s.adminFault(s.postTargetFailing(false)))
	mux.HandleFunc("/_elbsim/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no admin endpoint %s %s; see the elbsim package documentation", r.Method, r.URL.Path)})
	})
	return mux
}

// faultRequest is the JSON body of the /_elbsim/faults/... endpoints; each uses some of the fields.
type faultRequest struct {
	Action        string   `json:"action"`        // access-denied, latency, throttling
	Latency       string   `json:"latency"`       // latency: a Go duration, e.g. "250ms"
	Delay         string   `json:"delay"`         // propagation: a Go duration, e.g. "3s"
	Count         *int     `json:"count"`         // throttling: throttle the next N calls of action (-1: all)
	Enabled       *bool    `json:"enabled"`       // throttling: token buckets on/off
	Class         string   `json:"class"`         // throttling: bucket class to resize
	Burst         *float64 `json:"burst"`         // throttling: bucket size
	RatePerSecond *float64 `json:"ratePerSecond"` // throttling: refill rate
	Principal     string   `json:"principal"`     // access-denied: caller ARN for the message
	IP            string   `json:"ip"`            // target-failing
	Port          int32    `json:"port"`          // target-failing
}

// adminFault decodes the optional JSON body (and ?action= for DELETE), runs f
// and answers the faults now in effect.
func (s *Server) adminFault(f func(faultRequest) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req faultRequest
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
		if err == nil && len(body) > 0 {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON object: " + err.Error()})
			return
		}
		if a := r.URL.Query().Get("action"); a != "" && req.Action == "" {
			req.Action = a
		}
		if err := f(req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, s.faults.Status())
	}
}

func checkAction(a string) error {
	if a == "" {
		return errors.New(`"action" is required, e.g. {"action":"DescribeTargetHealth"}`)
	}
	if !query.Known(a) && !cwproto.Known(a) {
		return fmt.Errorf("unknown action %q: elbsim serves %v (ELBv2) and %v (CloudWatch)", a, query.Actions(), cwproto.Operations())
	}
	return nil
}

func (s *Server) postAccessDenied(req faultRequest) error {
	if err := checkAction(req.Action); err != nil {
		return err
	}
	if req.Principal != "" {
		s.faults.SetPrincipal(req.Principal)
	}
	s.faults.DenyAction(req.Action)
	return nil
}

func (s *Server) deleteAccessDenied(req faultRequest) error {
	s.faults.AllowAction(req.Action) // "" clears all
	return nil
}

func (s *Server) postLatency(req faultRequest) error {
	if req.Action != "" {
		if err := checkAction(req.Action); err != nil {
			return err
		}
	}
	d, err := time.ParseDuration(req.Latency)
	if err != nil || d < 0 {
		return fmt.Errorf(`"latency" must be a duration such as "250ms", got %q`, req.Latency)
	}
	s.faults.SetLatency(req.Action, d)
	return nil
}

func (s *Server) deleteLatency(req faultRequest) error {
	if req.Action == "" {
		s.faults.ClearLatency()
	} else {
		s.faults.SetLatency(req.Action, 0)
	}
	return nil
}

func (s *Server) postPropagation(req faultRequest) error {
	d, err := time.ParseDuration(req.Delay)
	if err != nil || d < 0 {
		return fmt.Errorf(`"delay" must be a duration such as "3s", got %q`, req.Delay)
	}
	s.SetPropagationDelay(d)
	return nil
}

func (s *Server) postThrottling(req faultRequest) error {
	did := false
	if req.Enabled != nil {
		s.faults.SetThrottling(*req.Enabled)
		did = true
	}
	if req.Class != "" {
		st := s.faults.Status().Buckets[req.Class]
		if req.Burst != nil {
			st.Burst = *req.Burst
		}
		if req.RatePerSecond != nil {
			st.RatePerSecond = *req.RatePerSecond
		}
		if err := s.faults.SetBucket(req.Class, st); err != nil {
			return err
		}
		did = true
	}
	if req.Action != "" || req.Count != nil {
		if err := checkAction(req.Action); err != nil {
			return err
		}
		n := -1
		if req.Count != nil {
			n = *req.Count
		}
		s.faults.ThrottleNext(req.Action, n)
		did = true
	}
	if !did {
		return errors.New(`give {"enabled":true|false}, {"action":"X","count":N} or {"class":"describe","burst":40,"ratePerSecond":10}`)
	}
	return nil
}

func (s *Server) postTargetFailing(failing bool) func(faultRequest) error {
	return func(req faultRequest) error {
		if !failing && req.IP == "" {
			s.faults.ClearTargetFailing()
			return nil
		}
		if req.IP == "" || req.Port < 1 {
			return errors.New(`give {"ip":"127.0.0.2","port":8080}`)
		}
		s.faults.SetTargetFailing(req.IP, req.Port, failing)
		return nil
	}
}

// Listeners maps load balancer DNS names to listener ports to data-plane URLs
// (the JSON of GET /_elbsim/listeners). Listeners not yet on the data plane are left out.
func (s *Server) Listeners() map[string]map[string]string {
	st := s.model.State()
	out := map[string]map[string]string{}
	for _, lb := range st.LoadBalancers {
		for _, l := range st.ListenersOf(lb.ARN) {
			u, ok := s.applier.url(l.ARN)
			if !ok {
				continue
			}
			if out[lb.DNSName] == nil {
				out[lb.DNSName] = map[string]string{}
			}
			out[lb.DNSName][strconv.Itoa(int(l.Port))] = u
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"elbsim could not encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
