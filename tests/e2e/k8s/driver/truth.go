package main

// What the incidents must be, derived from the apiserver's audit log alone.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

type nodeOutageTruth struct {
	node, namespace, deployment string
	start, end                  time.Time // the controller's Ready!=True write, the kubelet's Ready=True write
	evicted                     []string  // "ns/pod" deleted by the controller
	replacements                []string  // "ns/pod -> node" bound after the first eviction
}

type drainTruth struct {
	start, end time.Time // alice's cordon and uncordon
	evicted    []string
}

type truth struct {
	outages      []nodeOutageTruth
	drain        drainTruth
	crashStart   time.Time // the first restart signal of the crash-looping pod
	crashWrite   time.Time // its first pods/status write with a restart
	crashEvent   time.Time // its first BackOff Event (whole seconds)
	crashPods    []string
	pendingStart time.Time // the first FailedScheduling report
	pendingPods  []string
}

const nodeController = "system:serviceaccount:kube-system:node-controller"

func isEvictionController(user string) bool {
	return user == nodeController || user == "system:serviceaccount:kube-system:taint-eviction-controller" ||
		user == "system:kube-controller-manager"
}

func groundTruth(events []*auditEvent) truth {
	var t truth
	for _, f := range failedNodes {
		o := nodeOutageTruth{node: f.node, namespace: f.namespace, deployment: f.deployment}
		var firstEviction time.Time
		for _, e := range events {
			if !e.ok() {
				continue
			}
			_, _, ns, name := e.ref()
			switch {
			case o.start.IsZero() && e.is([]string{"update", "patch"}, "nodes", "status") && name == f.node &&
				e.User.Username == nodeController && readyStatus(e.RequestObject) != "" && readyStatus(e.RequestObject) != "True":
				o.start = e.Received
			case !o.start.IsZero() && o.end.IsZero() && e.is([]string{"update", "patch"}, "nodes", "status") && name == f.node &&
				e.User.Username == "system:node:"+f.node && readyStatus(e.RequestObject) == "True":
				o.end = e.Received
			case e.is([]string{"delete"}, "pods", "") && ns == f.namespace && isEvictionController(e.User.Username):
				o.evicted = append(o.evicted, ns+"/"+name)
				if firstEviction.IsZero() {
					firstEviction = e.Received
				}
			case !firstEviction.IsZero() && e.is([]string{"create"}, "pods", "binding") && ns == f.namespace:
				var b struct {
					Target struct {
						Name string `json:"name"`
					} `json:"target"`
				}
				_ = json.Unmarshal(e.RequestObject, &b)
				o.replacements = append(o.replacements, ns+"/"+name+" -> "+b.Target.Name)
			}
		}
		t.outages = append(t.outages, o)
	}
	for _, e := range events {
		if !e.ok() {
			continue
		}
		_, _, ns, name := e.ref()
		switch {
		case e.User.Username == drainUser && e.is([]string{"patch", "update"}, "nodes", "") && name == nodeDrain:
			var n struct {
				Spec struct {
					Unschedulable *bool `json:"unschedulable"`
				} `json:"spec"`
			}
			_ = json.Unmarshal(e.RequestObject, &n)
			if n.Spec.Unschedulable != nil && *n.Spec.Unschedulable {
				t.drain.start = e.Received
			} else {
				t.drain.end = e.Received
			}
		case e.User.Username == drainUser && e.is([]string{"create"}, "pods", "eviction"):
			t.drain.evicted = append(t.drain.evicted, ns+"/"+name)
		case ns == nsCrash && e.is([]string{"patch", "update"}, "pods", "status"):
			var p struct {
				Status struct {
					ContainerStatuses []struct {
						RestartCount int `json:"restartCount"`
					} `json:"containerStatuses"`
				} `json:"status"`
			}
			_ = json.Unmarshal(e.RequestObject, &p)
			if len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount > 0 {
				t.crashWrite = earliest(t.crashWrite, e.Received)
				t.crashPods = appendOnce(t.crashPods, ns+"/"+name)
			}
		case (ns == nsCrash || ns == nsPending) && e.is([]string{"create"}, "events", ""):
			ev := eventOf(e.RequestObject)
			if ns == nsCrash && ev.Reason == "BackOff" {
				t.crashEvent = earliest(t.crashEvent, ev.time)
			}
			if ns == nsPending && ev.Reason == "FailedScheduling" {
				t.pendingStart = earliest(t.pendingStart, ev.time)
				t.pendingPods = appendOnce(t.pendingPods, ns+"/"+ev.object)
			}
		}
	}
	// The first restart is the first status write reporting one; a BackOff Event's time is only
	// its whole second, earlier than the write only if it falls in an earlier second.
	t.crashStart = t.crashWrite
	if !t.crashEvent.IsZero() && (t.crashWrite.IsZero() || t.crashEvent.Before(t.crashWrite.Truncate(time.Second))) {
		t.crashStart = t.crashEvent
	}
	return t
}

type eventBody struct {
	Reason string
	object string
	time   time.Time
}

// eventOf reads a created Event (core/v1 or events.k8s.io/v1): its reason, object and time.
func eventOf(body json.RawMessage) eventBody {
	var ev struct {
		Reason         string `json:"reason"`
		InvolvedObject struct {
			Name string `json:"name"`
		} `json:"involvedObject"`
		Regarding struct {
			Name string `json:"name"`
		} `json:"regarding"`
		LastTimestamp time.Time `json:"lastTimestamp"`
		EventTime     time.Time `json:"eventTime"`
	}
	_ = json.Unmarshal(body, &ev)
	out := eventBody{Reason: ev.Reason, object: ev.InvolvedObject.Name, time: ev.LastTimestamp}
	if out.object == "" {
		out.object = ev.Regarding.Name
	}
	if out.time.IsZero() {
		out.time = ev.EventTime
	}
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func appendOnce(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

func ofKind(list []incident, kind string) []incident {
	var out []incident
	for _, i := range list {
		if i.Kind == kind {
			out = append(out, i)
		}
	}
	return out
}

func checkIncidents(c *checker, t truth, list []incident) {
	// node-not-ready: one per failed node, none for the others.
	nnr := ofKind(list, "node-not-ready")
	perNode := map[string][]incident{}
	for _, i := range nnr {
		perNode[str(i.Node)] = append(perNode[str(i.Node)], i)
	}
	for _, o := range t.outages {
		name := "node-not-ready " + o.node
		got := perNode[o.node]
		delete(perNode, o.node)
		if o.start.IsZero() || o.end.IsZero() || len(o.evicted) == 0 {
			c.check(name+": ground truth", false, "the audit log lacks the outage (start %v, end %v, %d evicted)",
				o.start, o.end, len(o.evicted))
			continue
		}
		c.check(name+": one incident", len(got) == 1, "%d incidents: %s", len(got), brief(got))
		if len(got) == 0 {
			continue
		}
		i := got[0]
		c.check(name+": start", i.Start == ts(o.start), "start %s, the controller's Ready!=True write at %s", i.Start, ts(o.start))
		c.check(name+": end", str(i.End) == ts(o.end), "end %q, the kubelet's Ready=True write at %s", str(i.End), ts(o.end))
		c.check(name+": pods", sameSet(i.Objects, o.evicted), "pods %v, the controller deleted %v", i.Objects, o.evicted)
		c.check(name+": replacements", sameSet(i.Replacements, o.replacements),
			"replacements %v, placed after the evictions: %v", i.Replacements, o.replacements)
	}
	var others []incident
	for _, l := range perNode {
		others = append(others, l...)
	}
	c.check("node-not-ready: none for nodes that kept heartbeating", len(others) == 0, "%s", brief(others))

	drains := ofKind(list, "node-drain")
	c.check("node-drain: ground truth", !t.drain.start.IsZero() && !t.drain.end.IsZero() && len(t.drain.evicted) > 0,
		"the audit log lacks the drain")
	c.check("node-drain: one incident", len(drains) == 1, "%d: %s", len(drains), brief(drains))
	if len(drains) == 1 {
		d := drains[0]
		c.check("node-drain: node and actor", str(d.Node) == nodeDrain && str(d.Actor) == drainUser,
			"node %q actor %q, want %s by %s", str(d.Node), str(d.Actor), nodeDrain, drainUser)
		c.check("node-drain: start is the cordon", d.Start == ts(t.drain.start), "start %s, cordon at %s", d.Start, ts(t.drain.start))
		c.check("node-drain: end is the uncordon", str(d.End) == ts(t.drain.end), "end %q, uncordon at %s", str(d.End), ts(t.drain.end))
		c.check("node-drain: pods are the evictions", sameSet(d.Objects, t.drain.evicted), "pods %v, evicted %v", d.Objects, t.drain.evicted)
	}

	storms := ofKind(list, "restart-storm")
	c.check("restart-storm: one incident, the crash loop", len(storms) == 1 && str(storms[0].Namespace) == nsCrash &&
		str(storms[0].Workload) == deployCrash, "%s", brief(storms))
	if len(storms) == 1 {
		s := storms[0]
		c.check("restart-storm: start is the first restart", s.Start == ts(t.crashStart), "start %s, first restart %s", s.Start, ts(t.crashStart))
		c.check("restart-storm: cause", str(s.Cause) == "non-zero-exit", "cause %q, the container exits with code 1", str(s.Cause))
		c.check("restart-storm: pod", sameSet(s.Objects, t.crashPods), "pods %v, want %v", s.Objects, t.crashPods)
		c.check("restart-storm: still open (restarting when the run ended)", s.End == nil, "end %q", str(s.End))
	}

	sched := ofKind(list, "scheduling-failure")
	c.check("scheduling-failure: one incident, the pending pods", len(sched) == 1 && str(sched[0].Namespace) == nsPending &&
		str(sched[0].Workload) == deployPending, "%s", brief(sched))
	if len(sched) == 1 {
		s := sched[0]
		c.check("scheduling-failure: start is the first FailedScheduling", s.Start == ts(t.pendingStart),
			"start %s, first report %s", s.Start, ts(t.pendingStart))
		c.check("scheduling-failure: pods", sameSet(s.Objects, t.pendingPods), "pods %v, want %v", s.Objects, t.pendingPods)
		c.check("scheduling-failure: still open (never scheduled)", s.End == nil, "end %q", str(s.End))
	}
	c.check("no other incidents", len(list) == len(nnr)+len(drains)+len(storms)+len(sched), "%s", brief(list))
}

func brief(list []incident) string {
	var out []string
	for _, i := range list {
		out = append(out, fmt.Sprintf("%s(%s..%s %s)", i.Kind, i.Start, str(i.End), i.Title))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
