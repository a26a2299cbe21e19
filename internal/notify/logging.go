package notify

import (
	"io"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
)

// RouteEngineLogs sends notifications-engine's logs (logrus's standard
// logger, process-wide) to l, in the controller's format: errors as errors,
// warnings as info, its info at V(1). Call it once, from main.
func RouteEngineLogs(l logr.Logger) {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.InfoLevel)
	logrus.AddHook(engineHook{l: l.WithName("notifications-engine")})
}

type engineHook struct{ l logr.Logger }

func (engineHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h engineHook) Fire(e *logrus.Entry) error {
	kv := make([]any, 0, 2*len(e.Data))
	for k, v := range e.Data {
		kv = append(kv, k, v)
	}
	switch {
	case e.Level <= logrus.ErrorLevel:
		h.l.Error(nil, e.Message, kv...)
	case e.Level == logrus.WarnLevel:
		h.l.Info(e.Message, kv...)
	default:
		h.l.V(1).Info(e.Message, kv...)
	}
	return nil
}
