package policyoracle

// Running the ktrail binary on files, and reading what it says.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkLine is one line of `ktrail policy check`'s output.
type checkLine struct {
	AuditID string `json:"auditID"`
	Stage   string `json:"stage"`
	decision
	Keep bool `json:"keep"`
	// Pointers, so that a missing field is told apart from a false or empty one.
	RawOmitStages        *[]string `json:"omitStages"`
	RawOmitManagedFields *bool     `json:"omitManagedFields"`
}

// ktrailCheck runs `ktrail policy check --policy policyPath eventsPath`; the decisions by auditID.
func ktrailCheck(t *testing.T, policyPath, eventsPath string) (map[string]checkLine, error) {
	cmd := exec.Command(needKtrail(t), "policy", "check", "--policy", policyPath, eventsPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ktrail policy check: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	out := map[string]checkLine{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l checkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("ktrail policy check printed %q: %v", sc.Text(), err)
		}
		if l.RawOmitStages != nil {
			l.OmitStages = append([]string{}, *l.RawOmitStages...)
			sortStages(l.OmitStages)
		} else {
			l.OmitStages = []string{"<missing>"}
		}
		if l.RawOmitManagedFields != nil {
			l.OmitManagedFields = *l.RawOmitManagedFields
		}
		out[l.AuditID] = l
	}
	return out, nil
}

// lintResult is what `ktrail policy lint -o json` says of a file.
type lintResult struct {
	Accepted bool
	Rules    int
	Errors   []string
}

func ktrailLint(t *testing.T, path string) (lintResult, error) {
	cmd := exec.Command(needKtrail(t), "policy", "lint", "-o", "json", "--policy", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return lintResult{}, fmt.Errorf("ktrail policy lint: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var doc struct {
		Rules  int `json:"rules"`
		Errors []struct {
			Line    int    `json:"line"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &doc); jerr != nil {
		return lintResult{}, fmt.Errorf("ktrail policy lint -o json printed %q: %v", stdout.String(), jerr)
	}
	res := lintResult{Accepted: err == nil, Rules: doc.Rules}
	for _, e := range doc.Errors {
		res.Errors = append(res.Errors, fmt.Sprintf("%d: %s: %s", e.Line, e.Field, e.Message))
	}
	if res.Accepted != (len(doc.Errors) == 0) {
		return res, fmt.Errorf("ktrail policy lint exit status %v but %d errors", err, len(doc.Errors))
	}
	return res, nil
}

// keep copies a failing input under -keep, to look at or to add to a regression set.
func keep(t *testing.T, name string, data []byte) {
	if *keepDir == "" {
		return
	}
	if err := os.MkdirAll(*keepDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*keepDir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
