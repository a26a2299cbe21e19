package rolloutview_test

import (
	"os"
	"testing"

	"github.com/albrollouts/albrollouts/internal/rolloutview"
)

func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer func() { _ = f.Close() }()
	if rolloutview.IsTerminal(f) {
		t.Fatal("/dev/null counted as a terminal")
	}
}
