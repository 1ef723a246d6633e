#!/usr/bin/env python3
"""Writes the YAML fixtures of `ktrail ingest` from the JSON-lines data beside this folder, in
the layout `kubectl get ... -o yaml` uses (a List whose items are sorted-key block mappings,
timestamps quoted). Run from this folder: python3 generate.py"""
import json
import yaml


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write(path, doc):
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, default_flow_style=False, sort_keys=True, width=1 << 20)


events = read_lines("../sonobuoy-results-0.10-events.jsonl")
for e in events:
    e.setdefault("apiVersion", "v1")
    e.setdefault("kind", "Event")
write("sonobuoy-events-list.yaml",
      {"apiVersion": "v1", "items": events, "kind": "List", "metadata": {"resourceVersion": ""}})

audit = read_lines("../audit2rbac-demo-v1.jsonl")
write("audit2rbac-demo-v1-eventlist.yaml",
      {"apiVersion": "audit.k8s.io/v1", "items": audit, "kind": "EventList", "metadata": {}})
