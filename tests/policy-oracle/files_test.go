package policyoracle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestFiles: random and mutated policy files. ktrail must accept exactly the files
// kube-apiserver's loader accepts, and read each accepted one the same way: the same number
// of rules and the same decisions for probe requests made of the strings the policy holds.
func TestFiles(t *testing.T) {
	r := newRand(t)
	dir := t.TempDir()
	rep := newReporter(t)
	accepted := 0
	reasons := map[string]int{}
	defer func() {
		if *stats {
			t.Logf("kube-apiserver's reasons for refusing files: %v", reasons)
		}
	}()
	for i := 0; i < *numFiles; i++ {
		text, ext := randomPolicyFile(r)
		name := fmt.Sprintf("file-%d.%s", i, ext)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		kube, kubeErr := policy.LoadPolicyFromBytes([]byte(text))
		got, err := ktrailLint(t, path)
		if err != nil {
			rep.fail("lint-failed", "%v\nfile:\n%s", err, text)
			keep(t, name, []byte(text))
			continue
		}
		if got.Accepted != (kubeErr == nil) {
			class := "ktrail-accepts"
			if !got.Accepted {
				class = "ktrail-refuses"
			}
			rep.fail(class, "kube-apiserver: %v; ktrail errors: %v\nfile %s:\n%s", kubeErr, got.Errors, name, text)
			keep(t, name, []byte(text))
			continue
		}
		if kubeErr != nil {
			reason := kubeErr.Error()
			if k := strings.IndexAny(reason, "0123456789\"`["); k > 0 {
				reason = reason[:k]
			}
			reasons[reason]++
			continue
		}
		accepted++
		if got.Rules != len(kube.Rules) {
			rep.fail("rule-count", "kube-apiserver reads %d rules, ktrail %d\nfile %s:\n%s", len(kube.Rules), got.Rules, name, text)
			keep(t, name, []byte(text))
			continue
		}
		if msg := compareProbes(t, r, kube, path, dir); msg != "" {
			rep.fail("read-differently", "%s\nfile %s:\n%s", msg, name, text)
			keep(t, name, []byte(text))
		}
	}
	t.Logf("%d of %d files accepted by kube-apiserver", accepted, *numFiles)
	rep.summary(*numFiles, "policy files")
}

// harvest collects the strings a policy mentions, for probes that reach its rules.
func harvest(p *auditinternal.Policy) (users, groups, verbs, nss, apiGroups, resources, names, paths []string) {
	for _, rule := range p.Rules {
		users = append(users, rule.Users...)
		groups = append(groups, rule.UserGroups...)
		verbs = append(verbs, rule.Verbs...)
		nss = append(nss, rule.Namespaces...)
		for _, gr := range rule.Resources {
			apiGroups = append(apiGroups, gr.Group)
			names = append(names, gr.ResourceNames...)
			for _, res := range gr.Resources {
				resources = append(resources, strings.Split(res, "/")...)
			}
		}
		for _, u := range rule.NonResourceURLs {
			paths = append(paths, strings.TrimRight(u, "*"), strings.TrimRight(u, "*")+"x")
		}
	}
	return
}

func orPool(r *rand.Rand, harvested, pool []string) string {
	if len(harvested) > 0 && r.Intn(3) != 0 {
		return pick(r, harvested)
	}
	return pick(r, pool)
}

// compareProbes evaluates probe requests with kube-apiserver's evaluator and with ktrail.
func compareProbes(t *testing.T, r *rand.Rand, kube *auditinternal.Policy, policyPath, dir string) string {
	users, groups, verbs, nss, apiGroups, resources, names, paths := harvest(kube)
	evaluator := policy.NewPolicyRuleEvaluator(kube)
	var events bytes.Buffer
	want := map[string]decision{}
	for j := 0; j < 30; j++ {
		id := fmt.Sprintf("probe-%d", j)
		var u *user.DefaultInfo
		if r.Intn(10) != 0 {
			u = &user.DefaultInfo{Name: orPool(r, users, userPool), Groups: []string{orPool(r, groups, userGroupPool)}}
		}
		verb := orPool(r, verbs, verbPool)
		if verb == "create" || verb == "update" {
			verb = "get" // their namespace and name come from the URL; TestDecisions covers them
		}
		attrs := authorizer.AttributesRecord{Verb: verb}
		if u != nil {
			attrs.User = u
		}
		ev := auditv1.Event{
			TypeMeta: metav1.TypeMeta{APIVersion: "audit.k8s.io/v1", Kind: "Event"},
			Level:    auditv1.LevelRequestResponse, Stage: auditv1.StageResponseComplete,
			Verb: verb, StageTimestamp: metav1.NewMicroTime(time.Unix(1700000000, 0)),
			RequestReceivedTimestamp: metav1.NewMicroTime(time.Unix(1700000000, 0)),
		}
		ev.AuditID = types.UID(id)
		if u != nil {
			ev.User.Username = u.Name
			ev.User.Groups = u.Groups
		}
		if r.Intn(4) == 0 {
			attrs.Path = orPool(r, paths, nonResourcePaths)
			ev.RequestURI = (&url.URL{Path: attrs.Path}).EscapedPath()
		} else {
			attrs.ResourceRequest = true
			attrs.APIGroup = orPool(r, apiGroups, apiGroupPool)
			attrs.APIVersion = "v1"
			attrs.Resource = orPool(r, resources, resourcePool)
			if r.Intn(3) == 0 {
				attrs.Subresource = orPool(r, resources, subPool)
			}
			if r.Intn(3) != 0 {
				attrs.Namespace = orPool(r, nss, nsPool)
			}
			if r.Intn(3) != 0 {
				attrs.Name = orPool(r, names, namePool)
			}
			ev.RequestURI = "/probe"
			ev.ObjectRef = &auditv1.ObjectReference{Resource: attrs.Resource, Subresource: attrs.Subresource,
				Namespace: attrs.Namespace, Name: attrs.Name, APIGroup: attrs.APIGroup, APIVersion: "v1"}
		}
		want[id] = decisionOf(evaluator.EvaluatePolicyRule(attrs))
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		events.Write(data)
		events.WriteByte('\n')
	}
	eventsPath := filepath.Join(dir, "probes.jsonl")
	if err := os.WriteFile(eventsPath, events.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ktrailCheck(t, policyPath, eventsPath)
	if err != nil {
		return err.Error()
	}
	var diffs []string
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			diffs = append(diffs, id+": no decision")
		} else if !g.decision.equal(w) {
			diffs = append(diffs, fmt.Sprintf("%s: kube-apiserver %s, ktrail %s", id, w, g.decision))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	if len(diffs) > 3 {
		diffs = diffs[:3]
	}
	probeLines := strings.Split(events.String(), "\n")
	return strings.Join(diffs, "\n") + "\nfirst probe: " + probeLines[0]
}
