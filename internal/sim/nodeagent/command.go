package nodeagent

import (
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// A container's command is not run either (the agent runs no image), but what a
// short command does over time is modelled, so that the containers of Jobs (and
// other pods with restartPolicy Never or OnFailure) finish: exitAfter tells how
// long the container runs and with which exit code it ends.
//
//   - no command: the image's entrypoint, a server: it never ends;
//   - sleep (also /bin/sleep, busybox sleep): ends with 0 after its arguments'
//     time (see sleepArgs), never for "infinity";
//   - true, false: end at once with 0, 1;
//   - a shell script (["sh","-c","..."] and its options, e.g. ["sh","-c","-x",
//     "..."]; also bash, ash, dash, zsh) of simple commands joined by ;, &&, ||
//     and newlines: sleep lasts its time, exit N ends the script with N, true and
//     : succeed, false fails, and any other command succeeds at once; && and ||
//     skip what the last status says to skip, and -e ends the script on a failing
//     command that is not on the left of && or ||. A script with control flow (if,
//     for, while, until, case) lasts the sum of its sleep commands and ends with 0;
//   - any other command never ends (it is taken for a server).
//
// The time is the workload's own and is not time-scaled (only the kubelet's
// timings are): a Job that sleeps 10 s runs 10 s.
func exitAfter(c *corev1.Container) (run time.Duration, code int32, ends bool) {
	if len(c.Command) == 0 {
		return 0, 0, false
	}
	argv := append(append([]string{}, c.Command...), c.Args...)
	if path.Base(argv[0]) == "busybox" {
		argv = argv[1:]
		if len(argv) == 0 {
			return 0, 0, false
		}
	}
	switch path.Base(argv[0]) {
	case "sleep":
		d := sleepArgs(argv[1:])
		if d == neverEnds {
			return 0, 0, false
		}
		return d, 0, true
	case "true":
		return 0, 0, true
	case "false":
		return 0, 1, true
	case "sh", "bash", "ash", "dash", "zsh":
		script, errexit, ok := shellScript(argv[1:])
		if !ok {
			return 0, 0, false
		}
		return runScript(script, errexit)
	}
	return 0, 0, false
}

// shellScript finds the script of a shell invocation: the first argument after the
// options when one of them is -c (options may be grouped: -ec, -xc; -o takes a
// value). errexit is -e.
func shellScript(args []string) (script string, errexit, ok bool) {
	hasC := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if hasC && i+1 < len(args) {
				return args[i+1], errexit, true
			}
			return "", false, false
		}
		if len(a) > 1 && (a[0] == '-' || a[0] == '+') {
			if a[0] == '-' {
				hasC = hasC || strings.Contains(a[1:], "c")
				errexit = errexit || strings.Contains(a[1:], "e")
			}
			if strings.HasSuffix(a, "o") && i+1 < len(args) {
				i++ // -o option-name
			}
			continue
		}
		if hasC {
			return a, errexit, true
		}
		return "", false, false // a script file
	}
	return "", false, false
}

// scriptCommand is one simple command of a script and the operator before it.
type scriptCommand struct {
	op   string // "" (first), ";", "&&" or "||"
	args []string
}

// runScript plays a script of simple commands: how long it runs and its exit code.
func runScript(script string, errexit bool) (time.Duration, int32, bool) {
	cmds := splitScript(script)
	if hasControlFlow(cmds) {
		d := scriptSleep(script)
		return d, 0, d != neverEnds
	}
	var elapsed time.Duration
	var status int32
	for i, c := range cmds {
		if (c.op == "&&" && status != 0) || (c.op == "||" && status == 0) {
			continue
		}
		d, code, exit := simpleCommand(c.args, status)
		if d == neverEnds {
			return 0, 0, false
		}
		elapsed, status = addDuration(elapsed, d), code
		last := i == len(cmds)-1 || (cmds[i+1].op != "&&" && cmds[i+1].op != "||")
		if exit || (errexit && status != 0 && last) {
			return elapsed, status, true
		}
	}
	return elapsed, status, true
}

// hasControlFlow reports whether a command starts with a compound command's keyword.
func hasControlFlow(cmds []scriptCommand) bool {
	for _, c := range cmds {
		switch c.args[0] {
		case "if", "for", "while", "until", "case", "select", "function":
			return true
		}
	}
	return false
}

// simpleCommand plays one command of a script: how long it takes, its status, and
// whether it ends the script (exit). status is the status before it (exit's default).
func simpleCommand(args []string, status int32) (time.Duration, int32, bool) {
	if path.Base(args[0]) == "busybox" && len(args) > 1 {
		args = args[1:]
	}
	switch path.Base(args[0]) {
	case "sleep":
		return sleepArgs(args[1:]), 0, false
	case "exit":
		if len(args) > 1 {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				n = 2 // sh: Illegal number
			}
			status = int32(n & 0xff)
		}
		return 0, status, true
	case "false":
		return 0, 1, false
	}
	return 0, 0, false // true, :, echo, and anything else: succeeds at once
}

// scriptScanner cuts a script into simple commands.
type scriptScanner struct {
	cmds   []scriptCommand
	cur    scriptCommand
	word   strings.Builder
	inWord bool
	quote  byte // the quote open, 0 outside quotes
}

func (s *scriptScanner) endWord() {
	if s.inWord {
		s.cur.args = append(s.cur.args, s.word.String())
		s.word.Reset()
		s.inWord = false
	}
}

// endCmd ends the current command; nextOp links it to the next one.
func (s *scriptScanner) endCmd(nextOp string) {
	s.endWord()
	if len(s.cur.args) == 0 {
		// An empty command (a blank line): an && or || before it still links
		// what follows.
		if s.cur.op != "&&" && s.cur.op != "||" {
			s.cur.op = nextOp
		}
		return
	}
	s.cmds = append(s.cmds, s.cur)
	s.cur = scriptCommand{op: nextOp}
}

// escaped takes the byte after the backslash at i (a backslash-newline joins
// lines) and returns its index.
func (s *scriptScanner) escaped(script string, i int) int {
	if i+1 == len(script) {
		s.add('\\')
		return i
	}
	if script[i+1] != '\n' {
		s.add(script[i+1])
	}
	return i + 1
}

// quoted takes a byte inside quotes: the closing quote, or part of the word.
func (s *scriptScanner) quoted(ch byte) {
	if ch == s.quote {
		s.quote = 0
	} else {
		s.add(ch)
	}
}

func (s *scriptScanner) add(ch byte) {
	s.word.WriteByte(ch)
	s.inWord = true
}

// splitScript cuts a script into simple commands at ;, newlines, &&, || (a single
// & or | counts as ;), outside quotes; words are split at blanks, quotes removed.
// Parentheses and braces are dropped.
func splitScript(script string) []scriptCommand {
	var s scriptScanner
	for i := 0; i < len(script); i++ {
		i = s.step(script, i)
	}
	s.endCmd("")
	return s.cmds
}

// step scans script[i] (with what it takes after it) and returns the index of the
// last byte it took.
func (s *scriptScanner) step(script string, i int) int {
	ch := script[i]
	if s.quote != 0 {
		s.quoted(ch)
		return i
	}
	double := i+1 < len(script) && script[i+1] == ch
	switch {
	case ch == '\'' || ch == '"':
		s.quote, s.inWord = ch, true
	case ch == '\\':
		i = s.escaped(script, i)
	case strings.IndexByte(" \t(){}", ch) >= 0:
		s.endWord()
	case ch == ';' || ch == '\n':
		s.endCmd(";")
	case (ch == '&' || ch == '|') && double:
		s.endCmd(string([]byte{ch, ch}))
		i++
	case ch == '&' || ch == '|':
		s.endCmd(";")
	default:
		s.add(ch)
	}
	return i
}
