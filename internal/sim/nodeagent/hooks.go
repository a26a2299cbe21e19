package nodeagent

import (
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Lifecycle hooks (postStart, preStop) are not run: the node agent runs no image, so
// a command has nothing to run in. What a hook costs in time is modelled instead:
// hookDuration is how long the hook takes, and every other hook succeeds at once.
//
//   - a sleep action (lifecycle.*.sleep.seconds) lasts its seconds;
//   - an exec hook running sleep lasts what sleep would: ["sleep","10"],
//     ["/bin/sleep","10"], ["busybox","sleep","10"] (GNU sleep's s/m/h/d suffixes and
//     several arguments, summed, are understood; "infinity" never ends);
//   - an exec hook running a shell script (["sh","-c","..."], also bash, ash, dash)
//     lasts the sum of the `sleep N` commands in the script; the rest of the script
//     is taken to finish at once;
//   - any other exec command, and httpGet and tcpSocket hooks, succeed at once.
//
// neverEnds stands for a hook that does not finish (sleep infinity).
const neverEnds = time.Duration(math.MaxInt64)

// hookDuration is how long the lifecycle hook h keeps the container busy; 0 for nil.
func hookDuration(h *corev1.LifecycleHandler) time.Duration {
	switch {
	case h == nil:
		return 0
	case h.Sleep != nil:
		return time.Duration(max(h.Sleep.Seconds, 0)) * time.Second
	case h.Exec != nil:
		return execSleep(h.Exec.Command)
	default:
		return 0
	}
}

// execSleep is how long an exec command sleeps.
func execSleep(argv []string) time.Duration {
	if len(argv) > 0 && path.Base(argv[0]) == "busybox" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return 0
	}
	switch path.Base(argv[0]) {
	case "sleep":
		return sleepArgs(argv[1:])
	case "sh", "bash", "ash", "dash", "zsh":
		for i := 1; i < len(argv)-1; i++ {
			if strings.HasPrefix(argv[i], "-") && strings.Contains(argv[i], "c") {
				return scriptSleep(argv[i+1])
			}
		}
	}
	return 0
}

// shellSleep finds sleep commands in a shell script: `sleep` at the start of a
// command (after ;, &, |, a newline, a parenthesis, `then`, `do` or the script's
// start), with its arguments up to the end of that command.
var shellSleep = regexp.MustCompile(`(?m)(?:^|[;&|(\n]|\bthen|\bdo)\s*(?:/usr)?(?:/bin/)?sleep((?:[ \t]+[^\s;&|)]+)+)`)

func scriptSleep(script string) time.Duration {
	var total time.Duration
	for _, m := range shellSleep.FindAllStringSubmatch(script, -1) {
		total = addDuration(total, sleepArgs(strings.Fields(m[1])))
	}
	return total
}

// sleepArgs is what GNU sleep waits for its arguments: their sum, each a number
// with an optional s, m, h or d suffix. Arguments it would reject count nothing.
func sleepArgs(args []string) time.Duration {
	var total time.Duration
	for _, a := range args {
		if a == "infinity" || a == "inf" {
			return neverEnds
		}
		unit := time.Second
		switch {
		case strings.HasSuffix(a, "s"):
			a = strings.TrimSuffix(a, "s")
		case strings.HasSuffix(a, "m"):
			a, unit = strings.TrimSuffix(a, "m"), time.Minute
		case strings.HasSuffix(a, "h"):
			a, unit = strings.TrimSuffix(a, "h"), time.Hour
		case strings.HasSuffix(a, "d"):
			a, unit = strings.TrimSuffix(a, "d"), 24*time.Hour
		}
		f, err := strconv.ParseFloat(a, 64)
		if err != nil || f < 0 || math.IsNaN(f) {
			continue
		}
		if f*float64(unit) >= float64(neverEnds) {
			return neverEnds
		}
		total = addDuration(total, time.Duration(f*float64(unit)))
	}
	return total
}

// addDuration adds without overflowing past neverEnds.
func addDuration(a, b time.Duration) time.Duration {
	if a > neverEnds-b {
		return neverEnds
	}
	return a + b
}
