package elbsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/health"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/model"
)

// stateFileVersion is bumped when the state file format changes incompatibly.
const stateFileVersion = 1

// stateFile is the JSON written on Close and read on Start: the service model
// (load balancers, listeners, rules, target groups, targets, tags) and the
// health of the targets, so that a restarted elbsim answers as before.
// Data-plane ports are not kept: listeners get new loopback ports.
type stateFile struct {
	FormatVersion int             `json:"formatVersion"`
	Model         *model.State    `json:"model"`
	Health        health.Snapshot `json:"health"`
}

// saveState writes the state file atomically (temp file + rename).
func (s *Server) saveState(path string) error {
	body, err := json.MarshalIndent(stateFile{FormatVersion: stateFileVersion, Model: s.model.State(), Health: s.prober.Snapshot()}, "", " ")
	if err != nil {
		return fmt.Errorf("elbsim: encode state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".elbsim-state-*")
	if err != nil {
		return fmt.Errorf("elbsim: write state file %s: %w", path, err)
	}
	if _, err := tmp.Write(body); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("elbsim: write state file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("elbsim: write state file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("elbsim: write state file %s: %w", path, err)
	}
	return nil
}

// loadState reads the state file if it exists; a missing file is an empty start.
func (s *Server) loadState(path string) error {
	body, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("elbsim: read state file %s: %w", path, err)
	}
	var f stateFile
	if err := json.Unmarshal(body, &f); err != nil {
		return fmt.Errorf("elbsim: state file %s is not valid JSON (%w); move it away to start empty", path, err)
	}
	if f.FormatVersion != stateFileVersion || f.Model == nil {
		return fmt.Errorf("elbsim: state file %s has format version %d, this elbsim reads version %d; move it away to start empty", path, f.FormatVersion, stateFileVersion)
	}
	f.Model.Reindex()
	// Health first, so that the model's targets keep their states when applied.
	s.prober.Restore(f.Health)
	if qe := s.model.Restore(f.Model); qe != nil {
		return fmt.Errorf("elbsim: state file %s: %s", path, qe.Message)
	}
	return nil
}
