package policyoracle

// Random policies and requests, drawn from small pools so that rules and requests meet often,
// with the corner cases kube-apiserver's matching has: resource specs with several '*' and
// '/', special verbs, escaped URLs, cluster-scoped objects whose body names a namespace.

import (
	"fmt"
	"math/rand"
	"net/url"
	"strings"
	"time"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

var (
	userPool      = []string{"alice", "bob", "system:anonymous", "system:serviceaccount:kube-system:ctl", "system:kube-proxy", ""}
	userGroupPool = []string{"system:authenticated", "system:masters", "devs", "system:unauthenticated", "system:nodes"}
	verbPool      = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy", "redirect", "*", ""}
	nsPool        = []string{"default", "kube-system", "", "team a", "ns1"}
	apiGroupPool  = []string{"", "apps", "batch", "rbac.authorization.k8s.io", "*"}
	resourcePool  = []string{"pods", "configmaps", "secrets", "nodes", "namespaces", "deployments", "*", "redirect", "status", "log"}
	subPool       = []string{"log", "status", "exec", "*", "scale", "binding", "finalize"}
	namePool      = []string{"x", "web-1", "a b", "kube-system", "*", "café"}
	specPool      = []string{
		"pods", "pods/log", "pods/status", "*", "*/log", "*/status", "pods/*", "pods/*/*", "*/*/log",
		"pods//*", "*//log", "*/*", "nodes", "namespaces", "namespaces/status", "namespaces/finalize",
		"deployments/scale", "secrets", "configmaps", "*/*/*", "**/log", "pods/**", "/log", "pods/",
		"redirect", "*/exec", "*/*/*/*", "pods/*/log", "log", "status",
	}
	urlSpecPool = []string{"/healthz", "/healthz*", "/metrics", "/api*", "/apis/*", "*", "/version", "/logs/*",
		"/", "/openapi/*", "/api/v1/*", "/livez/*", "/readyz", "/a b", "/caf*"}
	nonResourcePaths = []string{"/healthz", "/healthz/etcd", "/metrics", "/api", "/apis", "/apis/apps", "/version",
		"/logs/kube.log", "/", "/openapi/v2", "/livez/ping", "/readyz", "/a b", "/café", "/api/v1", "/apis/apps/v1",
		"/healthz%2Fx", "/api/v1/redirect", "/api/v1/watch"}
	stagePool = []string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}
	levelPool = []auditv1.Level{auditv1.LevelNone, auditv1.LevelMetadata, auditv1.LevelRequest, auditv1.LevelRequestResponse}
)

func pick[T any](r *rand.Rand, pool []T) T { return pool[r.Intn(len(pool))] }

func some[T any](r *rand.Rand, pool []T, max int) []T {
	n := 1 + r.Intn(max)
	out := make([]T, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, pick(r, pool))
	}
	return out
}

func randomStages(r *rand.Rand) []auditv1.Stage {
	var out []auditv1.Stage
	for _, s := range some(r, stagePool, 3) {
		out = append(out, auditv1.Stage(s))
	}
	return out
}

func randomBoolPtr(r *rand.Rand) *bool {
	switch r.Intn(3) {
	case 0:
		return nil
	case 1:
		b := true
		return &b
	}
	b := false
	return &b
}

// randomPolicy is a policy kube-apiserver's validation accepts.
func randomPolicy(r *rand.Rand) *auditv1.Policy {
	p := &auditv1.Policy{}
	p.APIVersion = "audit.k8s.io/v1"
	p.Kind = "Policy"
	if r.Intn(4) == 0 {
		p.OmitStages = randomStages(r)
	}
	p.OmitManagedFields = r.Intn(3) == 0
	n := 1 + r.Intn(8)
	for i := 0; i < n; i++ {
		rule := auditv1.PolicyRule{Level: pick(r, levelPool)}
		if r.Intn(10) < 3 {
			rule.Users = some(r, userPool, 2)
		}
		if r.Intn(10) < 3 {
			rule.UserGroups = some(r, userGroupPool, 2)
		}
		if r.Intn(10) < 4 {
			rule.Verbs = some(r, verbPool, 3)
		}
		switch k := r.Intn(20); {
		case k < 10:
			if r.Intn(10) < 3 {
				rule.Namespaces = some(r, nsPool, 2)
			}
			if len(rule.Namespaces) == 0 || r.Intn(2) == 0 {
				for j := 1 + r.Intn(2); j > 0; j-- {
					gr := auditv1.GroupResources{Group: pick(r, apiGroupPool)}
					if r.Intn(6) != 0 {
						gr.Resources = some(r, specPool, 3)
					}
					if len(gr.Resources) > 0 && r.Intn(5) == 0 {
						gr.ResourceNames = some(r, namePool, 2)
					}
					rule.Resources = append(rule.Resources, gr)
				}
			}
		case k < 14:
			rule.NonResourceURLs = some(r, urlSpecPool, 2)
		}
		if r.Intn(4) == 0 {
			rule.OmitStages = randomStages(r)
		}
		rule.OmitManagedFields = randomBoolPtr(r)
		p.Rules = append(p.Rules, rule)
	}
	return p
}

// escapeSome percent-encodes some characters of a path segment, as some clients do.
func escapeSome(r *rand.Rand, s string) string {
	if r.Intn(6) != 0 {
		return url.PathEscape(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if r.Intn(3) == 0 || s[i] == ' ' || s[i] == '%' || s[i] == '?' || s[i] == '#' || s[i] >= 0x80 {
			fmt.Fprintf(&b, "%%%02X", s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func randomUser(r *rand.Rand) *user.DefaultInfo {
	if r.Intn(12) == 0 {
		return nil // no authenticated user at all
	}
	u := &user.DefaultInfo{Name: pick(r, userPool)}
	// An event cannot tell a user with no name and no groups from no user: give it a group.
	if r.Intn(4) != 0 || u.Name == "" {
		u.Groups = some(r, userGroupPool, 3)
	}
	return u
}

func randomRequest(r *rand.Rand) kubeRequest {
	req := kubeRequest{user: randomUser(r), stage: auditinternal.Stage(pick(r, stagePool))}
	if r.Intn(5) == 0 {
		req.method = pick(r, []string{"GET", "GET", "POST", "PUT", "HEAD", "DELETE"})
		p := pick(r, nonResourcePaths)
		if !strings.Contains(p, "%") {
			p = (&url.URL{Path: p}).EscapedPath()
		}
		if r.Intn(4) == 0 {
			p += pick(r, []string{"?verbose=1", "?x=%2F", "#frag"})
		}
		req.uri = p
		return req
	}
	req.method = pick(r, []string{"GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
	var parts []string
	if g := pick(r, apiGroupPool); g == "" || g == "*" {
		parts = append(parts, "api", "v1")
	} else {
		parts = append(parts, "apis", g, "v1")
	}
	if r.Intn(7) == 0 {
		parts = append(parts, pick(r, []string{"watch", "proxy", "redirect"}))
	}
	if r.Intn(10) < 6 {
		parts = append(parts, "namespaces", escapeSome(r, pick(r, nsPool[:4])))
		if r.Intn(12) == 0 {
			parts = append(parts, pick(r, []string{"status", "finalize"}))
		}
	}
	parts = append(parts, pick(r, resourcePool))
	if r.Intn(10) < 6 {
		parts = append(parts, escapeSome(r, pick(r, namePool)))
		if r.Intn(4) == 0 {
			parts = append(parts, pick(r, subPool))
			if r.Intn(8) == 0 {
				parts = append(parts, "extra")
			}
		}
	}
	req.uri = "/" + strings.Join(parts, "/")
	if r.Intn(12) == 0 {
		req.uri += "/"
	}
	if req.method == "GET" && r.Intn(3) == 0 {
		req.uri += pick(r, []string{"?watch=true", "?watch=1", "?watch=false", "?fieldSelector=metadata.name%3Dx",
			"?fieldSelector=metadata.name%3D%3Dweb-1&watch=true", "?fieldSelector=metadata.name%21%3Dx",
			"?fieldSelector=spec.nodeName%3Dn1%2Cmetadata.name%3Da%20b", "?limit=5"})
	}
	if req.method == "POST" || req.method == "PUT" {
		req.hasBody = r.Intn(10) < 8
		req.bodyName = pick(r, namePool)
		if r.Intn(2) == 0 {
			req.bodyNamespace = pick(r, nsPool)
		}
	}
	return req
}

func (k kubeRequest) receivedTime() time.Time { return time.Unix(1700000000, 0) }
