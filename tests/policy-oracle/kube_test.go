package policyoracle

// What kube-apiserver does with a request: its RequestInfoFactory, authorizer attributes,
// policy evaluation and audit event construction, all through k8s.io/apiserver's own code.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured/unstructuredscheme"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// The factory kube-apiserver builds in its generic server config.
var requestInfoFactory = &request.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

// authorizerAttributes is what kube-apiserver's filters.GetAuthorizerAttributes builds from the
// request's user and RequestInfo (less the field and label selectors, which audit policies
// never consult). Written out here so that the test does not compile the whole filters
// package and its dependencies (half of its cold build time).
func authorizerAttributes(u *user.DefaultInfo, info *request.RequestInfo) authorizer.Attributes {
	a := authorizer.AttributesRecord{
		ResourceRequest: info.IsResourceRequest,
		Path:            info.Path,
		Verb:            info.Verb,
		APIGroup:        info.APIGroup,
		APIVersion:      info.APIVersion,
		Resource:        info.Resource,
		Subresource:     info.Subresource,
		Namespace:       info.Namespace,
		Name:            info.Name,
	}
	if u != nil {
		a.User = u
	}
	return &a
}

// A request as a client sends it: what kube-apiserver sees before any decision.
type kubeRequest struct {
	method string
	uri    string // path and query, as sent
	user   *user.DefaultInfo
	// The object in a create/update body (its metadata fills objectRef's empty fields).
	bodyNamespace, bodyName string
	hasBody                 bool
	stage                   auditinternal.Stage
}

// A decision: the fields ktrail's `policy check` reports and kube-apiserver's evaluator returns.
type decision struct {
	Level             string   `json:"level"`
	OmitStages        []string `json:"omitStages"`
	OmitManagedFields bool     `json:"omitManagedFields"`
}

func (d decision) String() string {
	return fmt.Sprintf("level=%s omitStages=%v omitManagedFields=%v", d.Level, d.OmitStages,
		d.OmitManagedFields)
}

func (d decision) equal(o decision) bool {
	return d.String() == o.String()
}

func decisionOf(rac audit.RequestAuditConfig) decision {
	stages := []string{}
	seen := map[string]bool{}
	for _, s := range rac.OmitStages {
		if !seen[string(s)] {
			seen[string(s)] = true
			stages = append(stages, string(s))
		}
	}
	sortStages(stages)
	return decision{Level: string(rac.Level), OmitStages: stages, OmitManagedFields: rac.OmitManagedFields}
}

var stageOrder = map[string]int{"RequestReceived": 0, "ResponseStarted": 1, "ResponseComplete": 2, "Panic": 3}

func sortStages(s []string) {
	sort.Slice(s, func(i, j int) bool { return stageOrder[s[i]] < stageOrder[s[j]] })
}

// captureSink keeps the last event it was given, converted to audit.k8s.io/v1.
type captureSink struct{ last *auditv1.Event }

func (c *captureSink) ProcessEvents(events ...*auditinternal.Event) bool {
	for _, ev := range events {
		out := &auditv1.Event{}
		if err := audit.Scheme.Convert(ev, out, nil); err != nil {
			panic(err)
		}
		out.TypeMeta.APIVersion = auditv1.SchemeGroupVersion.String()
		out.TypeMeta.Kind = "Event"
		c.last = out
	}
	return true
}

// recordEverything is the cluster's policy that produced the log ktrail reads: every request
// at RequestResponse, so the event carries everything kube-apiserver would fill in.
var recordEverything = audit.RequestAuditConfig{Level: auditinternal.LevelRequestResponse}

// evaluate runs `req` through kube-apiserver's request pipeline: the decision `evaluator`
// makes for it, and the audit event (JSON) kube-apiserver writes for it at req.stage.
// ok is false if kube-apiserver refuses the request before auditing it.
func evaluate(evaluator audit.PolicyRuleEvaluator, req kubeRequest, auditID string) (decision, []byte, bool) {
	httpReq, err := http.NewRequest(req.method, "https://kube-apiserver"+req.uri, nil)
	if err != nil {
		return decision{}, nil, false
	}
	info, err := requestInfoFactory.NewRequestInfo(httpReq)
	if err != nil {
		return decision{}, nil, false // WithRequestInfo answers 500; no audit event
	}
	ctx := audit.WithAuditContext(context.Background())
	audit.WithAuditID(ctx, types.UID(auditID))
	if req.user != nil {
		ctx = request.WithUser(ctx, req.user)
	}
	ctx = request.WithRequestInfo(ctx, info)
	httpReq = httpReq.WithContext(ctx)
	attribs := authorizerAttributes(req.user, info)
	d := decisionOf(evaluator.EvaluatePolicyRule(attribs))

	// The event, as the filter and handlers build it.
	sink := &captureSink{}
	ac := audit.AuditContextFrom(ctx)
	if err := ac.Init(recordEverything, sink); err != nil {
		panic(err)
	}
	audit.LogRequestMetadata(ctx, httpReq, req.receivedTime(), attribs)
	if req.stage != auditinternal.StageRequestReceived && req.hasBody && info.IsResourceRequest &&
		(info.Verb == "create" || info.Verb == "update") {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"namespace": req.bodyNamespace, "name": req.bodyName},
		}}
		gvr := schema.GroupVersionResource{Group: info.APIGroup, Version: info.APIVersion, Resource: info.Resource}
		audit.LogRequestObject(ctx, obj, schema.GroupVersion{Version: "v1"}, gvr, info.Subresource,
			unstructuredscheme.NewUnstructuredNegotiatedSerializer())
	}
	ac.ProcessEventStage(ctx, req.stage)
	if sink.last == nil {
		panic("no event captured")
	}
	data, err := json.Marshal(sink.last)
	if err != nil {
		panic(err)
	}
	return d, data, true
}
