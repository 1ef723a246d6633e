#!/usr/bin/env python3
"""Writes the scenario fixtures of this folder (see README.md for why each record looks the way
it does). Deterministic: the same script writes the same bytes. Run from this folder."""
import json
from datetime import datetime, timedelta, timezone

DAY = datetime(2026, 3, 1, tzinfo=timezone.utc)
_uid = [0]


def uid():
    _uid[0] += 1
    return "00000000-0000-4000-8000-%012d" % _uid[0]


def ts(t, micro=False):
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(h, m, s=0):
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


class EventStore:
    """core/v1 Events as the apiserver holds them: an Event repeated by its reporter is
    updated in place (same name and uid, count + 1, new lastTimestamp)."""

    def __init__(self):
        self.by_key = {}

    def emit(self, t, ns, obj, reason, message, component, host=None, etype="Normal",
             field_path=None):
        key = (ns, obj["kind"], obj["name"], reason, message, component, field_path)
        ev = self.by_key.get(key)
        if ev is None:
            involved = dict(obj)
            if field_path:
                involved["fieldPath"] = field_path
            name = "%s.%x" % (obj["name"], 0x1800000000000000 + len(self.by_key) * 7919)
            ev = {"apiVersion": "v1", "kind": "Event",
                  "metadata": {"name": name, "namespace": ns, "uid": uid(),
                               "creationTimestamp": ts(t)},
                  "involvedObject": involved, "reason": reason, "message": message,
                  "source": {"component": component}, "type": etype,
                  "firstTimestamp": ts(t), "lastTimestamp": ts(t), "count": 1,
                  "eventTime": None, "reportingComponent": component, "reportingInstance": host or ""}
            if host:
                ev["source"]["host"] = host
            self.by_key[key] = ev
            return ("ADDED", json.loads(json.dumps(ev)))
        ev["count"] += 1
        ev["lastTimestamp"] = ts(t)
        return ("MODIFIED", json.loads(json.dumps(ev)))


def pod_ref(ns, name):
    return {"kind": "Pod", "namespace": ns, "name": name, "apiVersion": "v1",
            "uid": "pod-" + name}


def node_ref(name):
    return {"kind": "Node", "name": name, "uid": name, "apiVersion": "v1"}


_audit = [0]


def audit(t, user, verb, resource, name, ns=None, sub=None, code=200, request=None,
          response=None, level="Request", groups=None, agent="kube-controller-manager/v1.29.2"):
    _audit[0] += 1
    ref = {"resource": resource, "name": name, "apiVersion": "v1"}
    if ns:
        ref["namespace"] = ns
    if sub:
        ref["subresource"] = sub
    path = "/api/v1/" + ("namespaces/%s/" % ns if ns else "") + resource + "/" + name + \
        ("/" + sub if sub else "")
    ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
          "auditID": "a0000000-0000-4000-8000-%012d" % _audit[0], "stage": "ResponseComplete",
          "requestURI": path, "verb": verb,
          "user": {"username": user, "groups": groups or ["system:authenticated"]},
          "sourceIPs": ["10.0.0.10"], "userAgent": agent, "objectRef": ref,
          "responseStatus": {"metadata": {}, "code": code},
          "requestReceivedTimestamp": ts(t, True),
          "stageTimestamp": ts(t + timedelta(milliseconds=4), True)}
    if request is not None:
        ev["requestObject"] = request
    if response is not None:
        ev["responseObject"] = response
    return ev


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":"), sort_keys=False) + "\n")


# ---------------------------------------------------------------------------------------------
# Scenario 1: node worker-3 stops heartbeating at 02:14, as the node lifecycle controller and the
# taint-eviction controller of Kubernetes 1.29+ handle it (pkg/controller/nodelifecycle,
# pkg/controller/tainteviction): Ready=Unknown first, then the NoSchedule taint, the NoExecute
# taint on the rate-limited queue a moment later; the pods (default 300 s toleration) are deleted
# 300 s after the NoExecute taint, recreated elsewhere; the kubelet is back at 02:41.
NODE = "worker-3"
PODS = [("shop", "checkout-7d9f8b6c5-x2x9z", "checkout-7d9f8b6c5"),
        ("shop", "checkout-7d9f8b6c5-q4rlm", "checkout-7d9f8b6c5"),
        ("shop", "cart-5c8d9b7f64-m7kxp", "cart-5c8d9b7f64"),
        ("payments", "ledger-0", None)]
REPLACEMENTS = {"checkout-7d9f8b6c5-x2x9z": ("checkout-7d9f8b6c5-b8wvn", "worker-1"),
                "checkout-7d9f8b6c5-q4rlm": ("checkout-7d9f8b6c5-h6ztp", "worker-2"),
                "cart-5c8d9b7f64-m7kxp": ("cart-5c8d9b7f64-s9dfc", "worker-1"),
                "ledger-0": ("ledger-0", "worker-2")}


def unreachable(effect, t):
    return {"key": "node.kubernetes.io/unreachable", "effect": effect, "timeAdded": ts(t)}


def event_write(t, ev, user, verb="create", agent="kube-controller-manager/v1.29.2"):
    """An Event written through the API, as audit sees it (the whole Event in the request)."""
    ns = ev["metadata"]["namespace"]
    return audit(t, user, verb, "events", ev["metadata"]["name"], ns, code=201, request=ev,
                 agent=agent)


def node_not_ready():
    es = EventStore()
    events, audits = [], []
    controller = "system:serviceaccount:kube-system:node-controller"
    t_bind = at(1, 0)
    for i, (ns, pod, rs) in enumerate(PODS):
        t = t_bind + timedelta(seconds=i)
        events.append(es.emit(t, ns, pod_ref(ns, pod), "Scheduled",
                              "Successfully assigned %s/%s to %s" % (ns, pod, NODE),
                              "default-scheduler"))
        audits.append(audit(t, "system:kube-scheduler", "create", "pods", pod, ns, "binding", 201,
                            request={"kind": "Binding", "apiVersion": "v1",
                                     "metadata": {"name": pod, "namespace": ns},
                                     "target": {"kind": "Node", "name": NODE}},
                            agent="kube-scheduler/v1.29.2"))
    # Unrelated traffic that keeps event time moving.
    for m in range(0, 80, 5):
        t = at(1, 30) + timedelta(minutes=m)
        audits.append(audit(t, "system:node:worker-1", "patch", "nodes", "worker-1", sub="status",
                            request={"status": {"conditions": [
                                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                                 "lastHeartbeatTime": ts(t)}]}},
                            agent="kubelet/v1.29.2"))
    # monitorNodeHealth: Ready=Unknown (an update of nodes/status), then the Event.
    t_nr = at(2, 14) + timedelta(milliseconds=412)
    audits.append(audit(t_nr, controller, "update", "nodes", NODE, sub="status",
                        request={"kind": "Node", "apiVersion": "v1",
                                 "metadata": {"name": NODE},
                                 "status": {"conditions": [
                                     {"type": "Ready", "status": "Unknown",
                                      "reason": "NodeStatusUnknown",
                                      "message": "Kubelet stopped posting node status."}]}}))
    kind, ev = es.emit(t_nr, "default", node_ref(NODE), "NodeNotReady",
                       "Node %s status is now: NodeNotReady" % NODE, "node-controller")
    events.append((kind, ev))
    audits.append(event_write(t_nr + timedelta(milliseconds=3), ev, controller))
    # The NoSchedule pass follows the Ready condition at once (11 ms later); the NoExecute taint
    # comes from the rate-limited tainting queue a moment after. Taints have no merge key: each
    # patch carries the whole list.
    audits.append(audit(t_nr + timedelta(milliseconds=11), controller, "patch", "nodes", NODE,
                        request={"spec": {"taints": [unreachable("NoSchedule", t_nr)]}}))
    for ns, pod, _ in PODS:
        events.append(es.emit(t_nr, ns, pod_ref(ns, pod), "NodeNotReady", "Node is not ready",
                              "node-controller", etype="Warning"))
    t_nx = t_nr + timedelta(milliseconds=1300)
    audits.append(audit(t_nx, controller, "patch", "nodes", NODE,
                        request={"spec": {"taints": [unreachable("NoSchedule", t_nr),
                                                     unreachable("NoExecute", t_nx)]}}))
    t_ev = t_nx + timedelta(seconds=300)
    evictor = "system:serviceaccount:kube-system:taint-eviction-controller"
    for i, (ns, pod, rs) in enumerate(PODS):
        t = t_ev + timedelta(milliseconds=100 * i)
        kind, ev = es.emit(t, ns, pod_ref(ns, pod), "TaintManagerEviction",
                           "Marking for deletion Pod %s/%s" % (ns, pod),
                           "taint-eviction-controller")
        events.append((kind, ev))
        audits.append(audit(t, evictor, "delete", "pods", pod, ns, level="Metadata"))
        audits.append(event_write(t + timedelta(milliseconds=2), ev, evictor))
        new, target = REPLACEMENTS[pod]
        tc = t + timedelta(seconds=1)
        owner = ({"kind": "ReplicaSet", "name": rs} if rs else {"kind": "StatefulSet",
                                                                   "name": "ledger"})
        if rs:
            events.append(es.emit(tc, ns, {"kind": "ReplicaSet", "namespace": ns, "name": rs,
                                           "apiVersion": "apps/v1"},
                                  "SuccessfulCreate", "Created pod: " + new,
                                  "replicaset-controller"))
        audits.append(audit(tc, "system:serviceaccount:kube-system:" +
                            ("replicaset-controller" if rs else "statefulset-controller"),
                            "create", "pods", new, ns, code=201, level="Request",
                            request={"kind": "Pod", "apiVersion": "v1",
                                     "metadata": {"name": new, "namespace": ns,
                                                  "ownerReferences": [
                                                      dict(owner, apiVersion="apps/v1",
                                                           controller=True,
                                                           uid="owner-" + owner["name"])]},
                                     "spec": {"containers": [{"name": "app",
                                                              "image": "shop/app:1.4"}]}}))
        ts_ = tc + timedelta(seconds=1)
        kind, ev = es.emit(ts_, ns, pod_ref(ns, new), "Scheduled",
                           "Successfully assigned %s/%s to %s" % (ns, new, target),
                           "default-scheduler")
        events.append((kind, ev))
        audits.append(audit(ts_, "system:kube-scheduler", "create", "pods", new, ns, "binding",
                            201, request={"kind": "Binding", "apiVersion": "v1",
                                          "metadata": {"name": new, "namespace": ns},
                                          "target": {"kind": "Node", "name": target}},
                            agent="kube-scheduler/v1.29.2"))
        # The scheduler's Event for the same placement: one replacement, not two.
        audits.append(event_write(ts_ + timedelta(milliseconds=5), ev, "system:kube-scheduler",
                                  agent="kube-scheduler/v1.29.2"))
        events.append(es.emit(ts_ + timedelta(seconds=3), ns, pod_ref(ns, new), "Started",
                              "Started container app", "kubelet", host=target))
    # The kubelet is back: it records NodeReady and patches Ready=True; the controller's
    # NoSchedule pass drops that taint at once, its health monitor the NoExecute one later.
    t_ready = at(2, 41) + timedelta(milliseconds=250)
    kubelet = "system:node:" + NODE
    kind, ev = es.emit(t_ready, "default", node_ref(NODE), "NodeReady",
                       "Node %s status is now: NodeReady" % NODE, "kubelet", host=NODE)
    events.append((kind, ev))
    audits.append(audit(t_ready, kubelet, "patch", "nodes", NODE, sub="status",
                        request={"status": {"conditions": [
                            {"type": "Ready", "status": "True", "reason": "KubeletReady",
                             "message": "kubelet is posting ready status"}]}},
                        agent="kubelet/v1.29.2"))
    audits.append(event_write(t_ready + timedelta(milliseconds=4), ev, kubelet,
                              agent="kubelet/v1.29.2"))
    audits.append(audit(t_ready + timedelta(milliseconds=15), controller, "patch", "nodes",
                        NODE, request={"spec": {"taints": [unreachable("NoExecute", t_nx)]}}))
    audits.append(audit(t_ready + timedelta(seconds=3), controller, "patch", "nodes",
                        NODE, request={"spec": {"taints": None}}))
    # Later heartbeats of the recovered node (Ready again) must not reopen anything.
    for m in (5, 10, 15):
        t = t_ready + timedelta(minutes=m)
        events.append(es.emit(t, "default", node_ref("worker-1"), "Starting",
                              "Starting kube-proxy.", "kube-proxy", host="worker-1"))
        audits.append(audit(t, "system:node:" + NODE, "patch", "nodes", NODE, sub="status",
                            request={"status": {"conditions": [
                                {"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
                            agent="kubelet/v1.29.2"))
    # As kube-apiserver writes them: in time order.
    audits.sort(key=lambda a: a["requestReceivedTimestamp"])
    events.sort(key=lambda e: e[1]["lastTimestamp"])
    write_jsonl("node-not-ready.events.jsonl", [e for _, e in events])
    write_jsonl("node-not-ready.audit.jsonl", audits)


# ---------------------------------------------------------------------------------------------
# Scenario 2: the two pods of Deployment shop/checkout crash-loop for an hour because the
# liveness probe fails: 3 failures (periodSeconds 10) kill the container, the kubelet restarts
# it after a back-off of 10 s, 20 s, 40 s, ... capped at 300 s.
def restart_storm():
    es = EventStore()
    watch, audits = [], []
    pods = [("checkout-7d9f8b6c5-x2x9z", "worker-1"), ("checkout-7d9f8b6c5-q4rlm", "worker-2")]
    event_names = {}
    for p, (pod, node) in enumerate(pods):
        start = at(9, 0) + timedelta(seconds=7 * p)
        backoff = 10
        restarts = 0
        while start < at(10, 0):
            for k in range(1, 4):
                t = start + timedelta(seconds=10 * k)
                watch.append(es.emit(t, "shop", pod_ref("shop", pod), "Unhealthy",
                                     "Liveness probe failed: HTTP probe failed with statuscode: 500",
                                     "kubelet", host=node, etype="Warning",
                                     field_path="spec.containers{checkout}"))
            t_kill = start + timedelta(seconds=30)
            watch.append(es.emit(t_kill, "shop", pod_ref("shop", pod), "Killing",
                                 "Container checkout failed liveness probe, will be restarted",
                                 "kubelet", host=node, field_path="spec.containers{checkout}"))
            t_bo = t_kill + timedelta(seconds=1)
            watch.append(es.emit(t_bo, "shop", pod_ref("shop", pod), "BackOff",
                                 "Back-off restarting failed container checkout in pod %s_shop(pod-%s)"
                                 % (pod, pod), "kubelet", host=node, etype="Warning",
                                 field_path="spec.containers{checkout}"))
            restarts += 1
            # The kubelet reports the restart in the pod status (what audit sees).
            audits.append(audit(t_bo, "system:node:" + node, "patch", "pods", pod, "shop",
                                "status", request={"status": {"containerStatuses": [
                                    {"name": "checkout", "restartCount": restarts, "ready": False,
                                     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                     "lastState": {"terminated": {"exitCode": 137,
                                                                  "reason": "Error"}}}]}},
                                agent="kubelet/v1.29.2"))
            # ... and records its Events through the API: create the first time, then patch
            # count and lastTimestamp (Request level: the patch body only).
            for kind, ev in watch[-3:]:
                name = ev["metadata"]["name"]
                if kind == "ADDED" and name not in event_names:
                    event_names[name] = True
                    body = {k: v for k, v in ev.items() if k != "metadata"}
                    body["metadata"] = {"name": name, "namespace": "shop"}
                    audits.append(audit(t_bo, "system:node:" + node, "create", "events", "",
                                        "shop", code=201, request=body,
                                        agent="kubelet/v1.29.2"))
                    audits[-1]["objectRef"]["name"] = name
                elif kind == "MODIFIED":
                    audits.append(audit(t_bo, "system:node:" + node, "patch", "events", name,
                                        "shop", request={"count": ev["count"],
                                                         "lastTimestamp": ev["lastTimestamp"],
                                                         "message": ev["message"]},
                                        agent="kubelet/v1.29.2"))
            start = t_kill + timedelta(seconds=backoff)
            backoff = min(backoff * 2, 300)
    # The workload is fixed at 10:00; unrelated traffic moves event time on for 30 minutes.
    for m in range(0, 31, 5):
        t = at(10, 0) + timedelta(minutes=m)
        watch.append(es.emit(t, "default", node_ref("worker-1"), "Starting", "Starting kubelet.",
                             "kubelet", host="worker-1"))
        audits.append(audit(t, "system:node:worker-1", "patch", "nodes", "worker-1", sub="status",
                            request={"status": {"conditions": [
                                {"type": "Ready", "status": "True"}]}}, agent="kubelet/v1.29.2"))
    watch.sort(key=lambda kv: kv[1]["lastTimestamp"])
    audits.sort(key=lambda a: a["requestReceivedTimestamp"])
    write_jsonl("restart-storm.watch.jsonl", [{"type": k, "object": e} for k, e in watch])
    write_jsonl("restart-storm.audit.jsonl", audits)


# ---------------------------------------------------------------------------------------------
# Scenario 3: alice drains worker-2 (kubectl drain: cordon, then an eviction per pod), and
# uncordons it 20 minutes later.
def node_drain():
    es = EventStore()
    events, audits = [], []
    node = "worker-2"
    pods = [("shop", "checkout-7d9f8b6c5-h6ztp"), ("shop", "cart-5c8d9b7f64-w2qzd"),
            ("payments", "ledger-1")]
    for i, (ns, pod) in enumerate(pods):
        t = at(9, 0) + timedelta(seconds=i)
        events.append(es.emit(t, ns, pod_ref(ns, pod), "Scheduled",
                              "Successfully assigned %s/%s to %s" % (ns, pod, node),
                              "default-scheduler"))
        audits.append(audit(t, "system:kube-scheduler", "create", "pods", pod, ns, "binding", 201,
                            request={"kind": "Binding", "apiVersion": "v1",
                                     "metadata": {"name": pod, "namespace": ns},
                                     "target": {"kind": "Node", "name": node}},
                            agent="kube-scheduler/v1.29.2"))
    alice = dict(user="alice@example.com", groups=["sre", "system:authenticated"],
                 agent="kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819")
    t_cordon = at(10, 0)
    audits.append(audit(t_cordon, verb="patch", resource="nodes", name=node,
                        request={"spec": {"unschedulable": True}}, **alice))
    events.append(es.emit(t_cordon + timedelta(seconds=1), "default", node_ref(node),
                          "NodeNotSchedulable",
                          "Node %s status is now: NodeNotSchedulable" % node, "kubelet",
                          host=node))
    for i, (ns, pod) in enumerate(pods):
        t = t_cordon + timedelta(seconds=5 + i)
        audits.append(audit(t, verb="create", resource="pods", name=pod, ns=ns, sub="eviction",
                            code=201, request={"kind": "Eviction", "apiVersion": "policy/v1",
                                               "metadata": {"name": pod, "namespace": ns}},
                            **alice))
        events.append(es.emit(t + timedelta(milliseconds=200), ns, pod_ref(ns, pod), "Killing",
                              "Stopping container app", "kubelet", host=node))
    t_uncordon = at(10, 20)
    audits.append(audit(t_uncordon, verb="patch", resource="nodes", name=node,
                        request={"spec": {"unschedulable": None}}, **alice))
    events.append(es.emit(t_uncordon + timedelta(seconds=1), "default", node_ref(node),
                          "NodeSchedulable", "Node %s status is now: NodeSchedulable" % node,
                          "kubelet", host=node))
    for m in (5, 10):
        t = t_uncordon + timedelta(minutes=m)
        events.append(es.emit(t, "default", node_ref("worker-1"), "Starting",
                              "Starting kube-proxy.", "kube-proxy", host="worker-1"))
        audits.append(audit(t, "system:node:" + node, "patch", "nodes", node, sub="status",
                            request={"status": {"conditions": [
                                {"type": "Ready", "status": "True"}]}}, agent="kubelet/v1.29.2"))
    write_jsonl("node-drain.events.jsonl", [e for _, e in events])
    write_jsonl("node-drain.audit.jsonl", audits)


# ---------------------------------------------------------------------------------------------
# Scenario 5: one restart, one failed probe: not incidents.
def no_incident():
    es = EventStore()
    events, audits = [], []
    pod, node = "api-6b9f7c8d4-z5vkt", "worker-1"
    t = at(11, 0)
    events.append(es.emit(t, "shop", pod_ref("shop", pod), "Unhealthy",
                          "Liveness probe failed: Get \"http://10.1.2.3:8080/healthz\": "
                          "context deadline exceeded", "kubelet", host=node, etype="Warning",
                          field_path="spec.containers{api}"))
    other = "worker-7c6d5b9f8-k2mzn"
    t2 = at(11, 5)
    events.append(es.emit(t2, "jobs", pod_ref("jobs", other), "BackOff",
                          "Back-off restarting failed container worker in pod %s_jobs(x)" % other,
                          "kubelet", host=node, etype="Warning",
                          field_path="spec.containers{worker}"))
    audits.append(audit(t2, "system:node:" + node, "patch", "pods", other, "jobs", "status",
                        request={"status": {"containerStatuses": [
                            {"name": "worker", "restartCount": 1,
                             "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}},
                        agent="kubelet/v1.29.2"))
    for m in range(10, 70, 10):
        tt = at(11, m % 60) + timedelta(hours=m // 60)
        events.append(es.emit(tt, "default", node_ref(node), "Starting", "Starting kube-proxy.",
                              "kube-proxy", host=node))
        audits.append(audit(tt, "system:node:" + node, "patch", "nodes", node, sub="status",
                            request={"status": {"conditions": [
                                {"type": "Ready", "status": "True"}]}}, agent="kubelet/v1.29.2"))
    write_jsonl("no-incident.events.jsonl", [e for _, e in events])
    write_jsonl("no-incident.audit.jsonl", audits)


if __name__ == "__main__":
    node_not_ready()
    restart_storm()
    node_drain()
    no_incident()
