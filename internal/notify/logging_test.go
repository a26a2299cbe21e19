package notify

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
)

func TestRouteEngineLogs(t *testing.T) {
	var buf bytes.Buffer
	l := logr.FromSlogHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	out, hooks, level := logrus.StandardLogger().Out, logrus.StandardLogger().Hooks, logrus.GetLevel()
	t.Cleanup(func() {
		logrus.SetOutput(out)
		logrus.StandardLogger().ReplaceHooks(hooks)
		logrus.SetLevel(level)
	})
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	RouteEngineLogs(l)
	logrus.WithField("trigger", "on-x").Error("failed to execute when condition")
	logrus.Info("invalidated cache")
	s := buf.String()
	if !strings.Contains(s, "level=ERROR") || !strings.Contains(s, `msg="failed to execute when condition"`) || !strings.Contains(s, "trigger=on-x") {
		t.Errorf("the engine's error was not routed: %q", s)
	}
	if strings.Contains(s, "invalidated cache") {
		t.Errorf("the engine's info shows at the info level: %q", s)
	}
}
