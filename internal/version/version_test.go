package version

import "testing"

func TestImageRef(t *testing.T) {
	saved := Version
	t.Cleanup(func() { Version = saved })
	for v, want := range map[string]string{
		"v0.1.0":              Image + ":v0.1.0",
		"v1.2.3-rc.1":         Image + ":v1.2.3-rc.1",
		"v0.1.0-3-g5a055eb":   Image + ":latest",
		"v0.1.0-dirty":        Image + ":latest",
		"5a055eb":             Image + ":latest",
		"dev":                 Image + ":latest",
		"":                    Image + ":latest",
		"v0.1.0\n":            Image + ":latest",
		"v0.1.0-rc.1-2-gabcd": Image + ":latest",
	} {
		Version = v
		if got := ImageRef(); got != want {
			t.Errorf("Version %q: ImageRef() = %q, want %q", v, got, want)
		}
	}
}
