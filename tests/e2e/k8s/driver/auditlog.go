package main

// The apiserver's own audit log (--audit-log-path), read as ground truth, and the list of
// events the apiserver reported it could not deliver to the webhook.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"
)

type auditEvent struct {
	AuditID string `json:"auditID"`
	Stage   string `json:"stage"`
	Verb    string `json:"verb"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject json.RawMessage `json:"requestObject"`
	Received      time.Time       `json:"requestReceivedTimestamp"`
	StageTime     time.Time       `json:"stageTimestamp"`
}

func (e *auditEvent) ref() (resource, sub, ns, name string) {
	if e.ObjectRef == nil {
		return "", "", "", ""
	}
	return e.ObjectRef.Resource, e.ObjectRef.Subresource, e.ObjectRef.Namespace, e.ObjectRef.Name
}

func (e *auditEvent) ok() bool {
	return e.Stage == "ResponseComplete" && e.ResponseStatus != nil && e.ResponseStatus.Code >= 200 &&
		e.ResponseStatus.Code < 300
}

func (e *auditEvent) is(verbs []string, resource, sub string) bool {
	r, s, _, _ := e.ref()
	if r != resource || s != sub {
		return false
	}
	for _, v := range verbs {
		if v == e.Verb {
			return true
		}
	}
	return false
}

func readAuditLog(path string) ([]*auditEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, &e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Received.Before(out[j].Received) })
	return out, nil
}

type eventKey struct{ id, stage string }

// droppedByApiserver reads the apiserver's log for the events its audit plugins gave up on:
// "Error in audit plugin 'P' affecting N audit events: ERR" followed by one line per event.
func droppedByApiserver(path string) (map[eventKey]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	header := regexp.MustCompile(`Error in audit plugin '([^']+)' affecting \d+ audit events: (.*)`)
	item := regexp.MustCompile(`AUDIT: id="([^"]+)" stage="([^"]+)"`)
	out := map[eventKey]string{}
	why := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if m := header.FindStringSubmatch(sc.Text()); m != nil {
			why = m[1] + ": " + m[2]
			continue
		}
		if m := item.FindStringSubmatch(sc.Text()); m != nil && why != "" {
			out[eventKey{m[1], m[2]}] = why
		}
	}
	return out, sc.Err()
}

// readyStatus is the Ready condition's status in a nodes/status request body, "" without one.
func readyStatus(body json.RawMessage) string {
	var n struct {
		Status struct {
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(body, &n) != nil {
		return ""
	}
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status
		}
	}
	return ""
}
