package main

// What ktrail stored and correlated, checked against the apiserver's own audit log: delivery
// (every event exactly once), the incidents of each scenario, the audit queries, and a replay
// of the log with `ktrail ingest` into a fresh store giving the same incidents.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

type incident struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	Start        string   `json:"start"`
	End          *string  `json:"end"`
	Node         *string  `json:"node"`
	Namespace    *string  `json:"namespace"`
	Workload     *string  `json:"workload"`
	WorkloadKind *string  `json:"workloadKind"`
	Actor        *string  `json:"actor"`
	Cause        *string  `json:"cause"`
	Objects      []string `json:"objects"`
	Replacements []string `json:"replacements"`
	Count        int      `json:"count"`
	Title        string   `json:"title"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// checker collects failures; an expected failure names a known bug outside this test and does
// not fail the run (it is printed, and counted).
type checker struct {
	store    string
	failures []string
	expected []string
	passed   int
	known    map[string]string // check name -> the known bug that makes it fail today
}

func (c *checker) check(name string, ok bool, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if ok {
		c.passed++
		log.Printf("ok   [%s] %s", c.store, name)
		return
	}
	if bug, known := c.known[name]; known {
		c.expected = append(c.expected, fmt.Sprintf("[%s] %s: %s (expected failure: %s)", c.store, name, msg, bug))
		log.Printf("XFAIL [%s] %s: %s\n      known bug: %s", c.store, name, msg, bug)
		return
	}
	c.failures = append(c.failures, fmt.Sprintf("[%s] %s: %s", c.store, name, msg))
	log.Printf("FAIL [%s] %s: %s", c.store, name, msg)
}

type ktrailCLI struct{ bin string }

func (k ktrailCLI) run(args ...string) ([]byte, error) {
	cmd := exec.Command(k.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ktrail %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func (k ktrailCLI) incidents(db string) ([]incident, error) {
	out, err := k.run("incidents", "list", "--db", db, "-o", "json")
	if err != nil {
		return nil, err
	}
	var list []incident
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("incidents list -o json: %w", err)
	}
	for i := range list {
		// `incidents show` must agree with the list.
		out, err := k.run("incidents", "show", list[i].ID, "--db", db, "-o", "json")
		if err != nil {
			return nil, err
		}
		var one incident
		if err := json.Unmarshal(out, &one); err != nil || one.ID != list[i].ID || one.Start != list[i].Start {
			return nil, fmt.Errorf("incidents show %s disagrees with the list: %s", list[i].ID, out)
		}
	}
	return list, nil
}

// storedKeys counts the stored audit events by (auditID, stage).
func (k ktrailCLI) storedKeys(db string) (map[eventKey]int, error) {
	out, err := k.run("sql", "--db", db, "-o", "json", "SELECT audit_id AS id, stage, count(*) AS n FROM audit_events GROUP BY audit_id, stage")
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID    string `json:"id"`
		Stage string `json:"stage"`
		N     int    `json:"n"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		return nil, fmt.Errorf("sql -o json: %w", err)
	}
	m := map[eventKey]int{}
	for _, r := range rows {
		m[eventKey{r.ID, r.Stage}] = r.N
	}
	return m, nil
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func sameSet(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func verifyCmd(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	bin := fs.String("ktrail", "", "the ktrail binary")
	db := fs.String("db", "", "the store ktrail serve wrote")
	replayDB := fs.String("replay-db", "", "a fresh store for the replay of the audit log")
	auditLog := fs.String("audit-log", "", "the apiserver's --audit-log-path file")
	apiserverLog := fs.String("apiserver-log", "", "the apiserver's stderr")
	runOut := fs.String("run", "", "what `e2e run` wrote")
	known := fs.String("known-failures", "", "file of `check-name<TAB>bug` lines: checks that fail because of a known bug")
	_ = fs.Parse(args)
	k := ktrailCLI{*bin}
	events, err := readAuditLog(*auditLog)
	if err != nil {
		return err
	}
	dropped, err := droppedByApiserver(*apiserverLog)
	if err != nil {
		return err
	}
	var ran runOutput
	if b, err := os.ReadFile(*runOut); err == nil {
		_ = json.Unmarshal(b, &ran)
	}
	knownBugs := map[string]string{}
	if *known != "" {
		b, err := os.ReadFile(*known)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if name, bug, ok := strings.Cut(line, "\t"); ok && !strings.HasPrefix(line, "#") {
				knownBugs[strings.TrimSpace(name)] = strings.TrimSpace(bug)
			}
		}
	}
	log.Printf("audit log: %d events; ktrail was killed %d times", len(events), len(ran.Kills))

	serve := &checker{store: "serve", known: knownBugs}
	checkDelivery(serve, k, *db, events, dropped)
	truth := groundTruth(events)
	served, err := k.incidents(*db)
	if err != nil {
		return err
	}
	checkIncidents(serve, truth, served)
	checkQueries(serve, k, *db, events)

	replay := &checker{store: "replay", known: knownBugs}
	_ = os.Remove(*replayDB)
	out, err := k.run("ingest", "--db", *replayDB, "--progress", "never", *auditLog)
	if err != nil {
		return err
	}
	log.Printf("replay: %s", strings.TrimSpace(string(out)))
	replayed, err := k.incidents(*replayDB)
	if err != nil {
		return err
	}
	checkIncidents(replay, truth, replayed)
	compareIncidents(replay, served, replayed)

	all := append(serve.failures, replay.failures...)
	xfail := append(serve.expected, replay.expected...)
	fmt.Printf("\nk8s e2e checks: %d passed, %d failed, %d expected failures (known bugs)\n",
		serve.passed+replay.passed, len(all), len(xfail))
	for _, x := range xfail {
		fmt.Printf("  XFAIL %s\n", x)
	}
	for _, f := range all {
		fmt.Printf("  FAIL  %s\n", f)
	}
	if len(all) > 0 {
		return fmt.Errorf("%d checks failed", len(all))
	}
	return nil
}

// checkDelivery: every event of the apiserver's log is stored exactly once, nothing else is
// stored, and the only events missing are those the apiserver itself reports it dropped while
// shutting down.
func checkDelivery(c *checker, k ktrailCLI, db string, events []*auditEvent, dropped map[eventKey]string) {
	stored, err := k.storedKeys(db)
	if err != nil {
		c.check("delivery: store readable", false, "%v", err)
		return
	}
	inLog := map[eventKey]int{}
	for _, e := range events {
		inLog[eventKey{e.AuditID, e.Stage}]++
	}
	var missing, excused, twice, extra, logDup []string
	for key, n := range inLog {
		if n > 1 {
			logDup = append(logDup, key.id+"/"+key.stage)
		}
		switch s := stored[key]; {
		case s == 0:
			if why, ok := dropped[key]; ok && strings.Contains(why, "shut down") {
				excused = append(excused, key.id+"/"+key.stage)
			} else {
				missing = append(missing, key.id+"/"+key.stage)
			}
		case s > n:
			twice = append(twice, key.id+"/"+key.stage)
		}
	}
	for key := range stored {
		if inLog[key] == 0 {
			extra = append(extra, key.id+"/"+key.stage)
		}
	}
	otherDrops := 0
	for _, why := range dropped {
		if !strings.Contains(why, "shut down") {
			otherDrops++
		}
	}
	log.Printf("delivery: %d events in the apiserver's log, %d stored; %d dropped by the apiserver during its own shutdown (excused)",
		len(inLog), len(stored), len(excused))
	c.check("delivery: apiserver log has unique auditID+stage", len(logDup) == 0, "%d repeated: %v", len(logDup), head(logDup))
	c.check("delivery: nothing missing", len(missing) == 0, "%d events of the log not stored: %v", len(missing), head(missing))
	c.check("delivery: nothing stored twice", len(twice) == 0, "%d stored more than once: %v", len(twice), head(twice))
	c.check("delivery: nothing extra", len(extra) == 0, "%d stored but not in the log: %v", len(extra), head(extra))
	c.check("delivery: apiserver dropped nothing while running", otherDrops == 0,
		"%d events dropped by the apiserver for other reasons than its shutdown", otherDrops)
}

func head(s []string) []string {
	sort.Strings(s)
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// checkQueries: `ktrail query audit` finds exactly the log's events for a few filters.
func checkQueries(c *checker, k ktrailCLI, db string, events []*auditEvent) {
	type q struct {
		name  string
		args  []string
		match func(e *auditEvent) bool
	}
	queries := []q{
		{"query: the drain user's requests", []string{"--user", drainUser},
			func(e *auditEvent) bool { return e.User.Username == drainUser }},
		{"query: secrets reads", []string{"--resource", "secrets", "--verb", "get", "-n", nsDrain},
			func(e *auditEvent) bool {
				r, s, ns, _ := e.ref()
				return r == "secrets" && s == "" && ns == nsDrain && e.Verb == "get"
			}},
		{"query: refused requests (403)", []string{"--code", "403"},
			func(e *auditEvent) bool { return e.ResponseStatus != nil && e.ResponseStatus.Code == 403 }},
		{"query: exec requests", []string{"--resource", "pods/exec"},
			func(e *auditEvent) bool { r, s, _, _ := e.ref(); return r == "pods" && s == "exec" }},
		{"query: RBAC changes", []string{"--resource", "rolebindings", "-n", nsDrain},
			func(e *auditEvent) bool { r, _, ns, _ := e.ref(); return r == "rolebindings" && ns == nsDrain }},
	}
	for _, query := range queries {
		want := map[string]bool{}
		for _, e := range events {
			if query.match(e) {
				want[e.AuditID+"/"+e.Stage] = true
			}
		}
		out, err := k.run(append([]string{"query", "audit", "--db", db, "-o", "json", "--limit", "0", "--stages", "all"}, query.args...)...)
		if err != nil {
			c.check(query.name, false, "%v", err)
			continue
		}
		var rows []map[string]any
		if err := json.Unmarshal(out, &rows); err != nil {
			c.check(query.name, false, "bad JSON: %v", err)
			continue
		}
		got := map[string]bool{}
		for _, r := range rows {
			got[fmt.Sprint(r["auditID"])+"/"+fmt.Sprint(r["stage"])] = true
		}
		same := len(got) == len(want)
		for key := range want {
			same = same && got[key]
		}
		c.check(query.name, same && len(want) > 0, "ktrail found %d, the log has %d", len(got), len(want))
	}
}

// compareIncidents: a replay of the apiserver's log gives the incidents the server made live.
func compareIncidents(c *checker, served, replayed []incident) {
	render := func(list []incident) []string {
		var out []string
		for _, i := range list {
			out = append(out, fmt.Sprintf("%s %s start=%s end=%s node=%s workload=%s/%s actor=%s cause=%s objects=%v replacements=%v",
				i.ID, i.Kind, i.Start, str(i.End), str(i.Node), str(i.Namespace), str(i.Workload), str(i.Actor),
				str(i.Cause), i.Objects, i.Replacements))
		}
		sort.Strings(out)
		return out
	}
	a, b := render(served), render(replayed)
	var diff []string
	for _, x := range a {
		if !contains(b, x) {
			diff = append(diff, "serve only:  "+x)
		}
	}
	for _, x := range b {
		if !contains(a, x) {
			diff = append(diff, "replay only: "+x)
		}
	}
	c.check("replay gives the served incidents", len(diff) == 0, "\n        %s", strings.Join(diff, "\n        "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
