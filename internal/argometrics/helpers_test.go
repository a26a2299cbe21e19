package argometrics

import (
	dto "github.com/prometheus/client_model/go"
)

type dtoMetric struct{ Metric dto.Metric }

func (m *dtoMetric) label(name string) string {
	for _, l := range m.Metric.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
