package main

import "strings"

// compareSemver compares two semantic versions without the "v" prefix, as the
// OSV entries write them, the way golang.org/x/mod/semver.Compare does with
// one: -1, 0 or +1; an invalid version is below every valid one, and equal to
// every other invalid one.
func compareSemver(a, b string) int {
	va, okA := parseSemver(a)
	vb, okB := parseSemver(b)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return -1
	case !okB:
		return 1
	}
	for i := range 3 {
		if c := compareNumeric(va.num[i], vb.num[i]); c != 0 {
			return c
		}
	}
	return comparePrerelease(va.pre, vb.pre)
}

type semver struct {
	num [3]string
	pre []string // dot-separated identifiers; nil for a release
}

// parseSemver parses MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]; the build is
// ignored, as precedence ignores it.
func parseSemver(v string) (semver, bool) {
	var s semver
	if i := strings.IndexByte(v, '+'); i >= 0 {
		if !validIdents(v[i+1:], false) {
			return s, false
		}
		v = v[:i]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		if !validIdents(v[i+1:], true) {
			return s, false
		}
		s.pre = strings.Split(v[i+1:], ".")
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return s, false
	}
	for i, p := range parts {
		if !isNumeric(p) || (len(p) > 1 && p[0] == '0') {
			return s, false
		}
		s.num[i] = p
	}
	return s, true
}

// validIdents reports whether s is dot-separated non-empty identifiers of
// [0-9A-Za-z-]; in a prerelease, numeric ones have no leading zero.
func validIdents(s string, prerelease bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for _, c := range id {
			if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' {
				return false
			}
		}
		if prerelease && isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// compareNumeric compares decimal strings without leading zeros.
func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// comparePrerelease orders prereleases by SemVer 2.0: a release is above
// every prerelease; identifiers compare numerically when both are numeric,
// numeric below alphanumeric, and a shorter list below a longer one it
// begins.
func comparePrerelease(a, b []string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		nx, ny := isNumeric(x), isNumeric(y)
		var c int
		switch {
		case nx && ny:
			c = compareNumeric(x, y)
		case nx:
			c = -1
		case ny:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
