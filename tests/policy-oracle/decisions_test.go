package policyoracle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiserver/pkg/audit/policy"
	"sigs.k8s.io/yaml"
)

// TestDecisions: random valid policies × random requests. For each request kube-apiserver's
// evaluator gives the decision and its audit code writes the event; ktrail reads the event
// and must reach the same level, omitStages and omitManagedFields.
func TestDecisions(t *testing.T) {
	r := newRand(t)
	dir := t.TempDir()
	rep := newReporter(t)
	total := 0
	for i := 0; i < *numPolicies; i++ {
		p := randomPolicy(r)
		var data []byte
		var err error
		name := fmt.Sprintf("policy-%d.yaml", i)
		if r.Intn(3) == 0 {
			name = fmt.Sprintf("policy-%d.json", i)
			data, err = json.MarshalIndent(p, "", "  ")
		} else {
			data, err = yaml.Marshal(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		policyPath := filepath.Join(dir, name)
		if err := os.WriteFile(policyPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		loaded, err := policy.LoadPolicyFromFile(policyPath)
		if err != nil {
			t.Fatalf("kube-apiserver refuses a generated policy (a generator bug): %v\n%s", err, data)
		}
		evaluator := policy.NewPolicyRuleEvaluator(loaded)

		var events bytes.Buffer
		want := map[string]decision{}
		reqs := map[string]kubeRequest{}
		for j := 0; j < *numEvents; j++ {
			req := randomRequest(r)
			id := fmt.Sprintf("p%d-e%d", i, j)
			d, ev, ok := evaluate(evaluator, req, id)
			if !ok {
				continue
			}
			events.Write(ev)
			events.WriteByte('\n')
			want[id] = d
			reqs[id] = req
		}
		eventsPath := filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", i))
		if err := os.WriteFile(eventsPath, events.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ktrailCheck(t, policyPath, eventsPath)
		if err != nil {
			rep.fail("check-failed", "%v\npolicy:\n%s", err, data)
			continue
		}
		failedHere := false
		for id, w := range want {
			total++
			g, ok := got[id]
			if !ok {
				rep.fail("missing", "no decision printed for %s", id)
				continue
			}
			class := ""
			switch {
			case g.Level != w.Level:
				class = "level"
			case fmt.Sprint(g.OmitStages) != fmt.Sprint(w.OmitStages):
				class = "omitStages"
			case g.OmitManagedFields != w.OmitManagedFields:
				class = "omitManagedFields"
			}
			if class != "" {
				failedHere = true
				req := reqs[id]
				rep.fail(class, "%s %s user=%v stage=%s body(ns=%q name=%q set=%v): kube-apiserver %s, ktrail %s\npolicy:\n%s",
					req.method, req.uri, req.user, req.stage, req.bodyNamespace, req.bodyName, req.hasBody,
					w, g.decision, data)
			}
		}
		if failedHere {
			keep(t, name, data)
			keep(t, fmt.Sprintf("events-%d.jsonl", i), events.Bytes())
		}
	}
	rep.summary(total, "decisions")
}
