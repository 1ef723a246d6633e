package main

// The scenarios, run at once on separate nodes of one control plane. Each one makes the real
// controllers act (the node lifecycle and taint-eviction controllers, the scheduler, the
// ReplicaSet controller) and kills ktrail with SIGKILL in its middle. What ktrail made of it is
// checked afterwards (verify.go) against the apiserver's own audit log.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/utils/ptr"
)

// The names the checks look for.
const (
	nsShort, deployShort, nodeShort, spareShort = "e2e-short", "web", "node-short", "node-short-2"
	nsLong, deployLong, nodeLong, spareLong     = "e2e-long", "api", "node-long", "node-long-2"
	nsDrain, deployDrain, nodeDrain, spareDrain = "e2e-drain", "shop", "node-drain", "node-drain-2"
	nsCrash, deployCrash, nodeCrash             = "e2e-crash", "crashloop", "node-crash"
	nsPending, deployPending                    = "e2e-pending", "huge"
	drainUser                                   = "alice"
	replicas                                    = 3
)

// failedNodes are the nodes whose kubelet stops: each must give exactly one node-not-ready.
var failedNodes = []struct{ node, namespace, deployment string }{
	{nodeShort, nsShort, deployShort},
	{nodeLong, nsLong, deployLong},
}

var allNodes = []string{nodeShort, spareShort, nodeLong, spareLong, nodeDrain, spareDrain, nodeCrash}

type runner struct {
	server, pki string
	admin       kubernetes.Interface
	ktrail      *ktrailProc
	kubelets    map[string]*kubelet
	ctx         context.Context
}

func (r *runner) logf(scenario, format string, args ...any) {
	log.Printf("%-12s "+format, append([]any{scenario}, args...)...)
}

func (r *runner) startKubelet(name, pool, cpu string) error {
	c, _, err := clientFor(r.server, r.pki, name, "kubelet/v1.37.2 (linux/amd64) kubernetes/e2e")
	if err != nil {
		return err
	}
	k := newKubelet(c, name, pool, cpu)
	if err := k.register(r.ctx); err != nil {
		return err
	}
	r.kubelets[name] = k
	return nil
}

func (r *runner) setup() error {
	ctx := r.ctx
	for _, ns := range []string{nsShort, nsLong, nsDrain, nsCrash, nsPending} {
		if _, err := r.admin.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	rb := r.admin.RbacV1()
	// Without the Node authorizer, kubelets get the bootstrap system:node role through RBAC.
	if _, err := rb.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e:nodes"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "system:nodes"}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// What `kubectl drain` needs, granted to the operator who drains.
	if _, err := rb.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e:drainer"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "patch", "update"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{""}, Resources: []string{"pods/eviction"}, Verbs: []string{"create"}},
			{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"get"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := rb.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e:drainer:" + drainUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "e2e:drainer"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: drainUser}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, n := range []struct{ name, pool string }{
		{nodeShort, "short"}, {nodeLong, "long"}, {nodeDrain, "drain"}, {nodeCrash, "crash"}} {
		if err := r.startKubelet(n.name, n.pool, "4"); err != nil {
			return err
		}
	}
	return r.waitUntainted("setup", nodeShort, nodeLong, nodeDrain, nodeCrash)
}

// waitUntainted waits until the node lifecycle controller has removed the not-ready taint that
// every node gets at registration, so no pod is refused for it.
func (r *runner) waitUntainted(scenario string, nodes ...string) error {
	return waitFor(90*time.Second, 500*time.Millisecond, func() bool {
		for _, name := range nodes {
			if ready, n := r.nodeReady(name); !ready || len(n.Spec.Taints) > 0 {
				return false
			}
		}
		return true
	})
}

func deployment(ns, name, pool string, tolerationSeconds *int64, cpu string, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	spec := v1.PodSpec{
		AutomountServiceAccountToken:  ptr.To(false),
		TerminationGracePeriodSeconds: ptr.To(int64(30)),
		Containers: []v1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}},
	}
	if pool != "" {
		spec.NodeSelector = map[string]string{poolLabel: pool}
	}
	if tolerationSeconds != nil {
		for _, key := range []string{"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"} {
			spec.Tolerations = append(spec.Tolerations, v1.Toleration{Key: key, Operator: v1.TolerationOpExists,
				Effect: v1.TaintEffectNoExecute, TolerationSeconds: tolerationSeconds})
		}
	}
	n := int32(replicas)
	if pool == "crash" {
		n = 1
	}
	if pool == "" {
		n = 2
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations}, Spec: spec},
		},
	}
}

// pods lists the live (not terminating) pods of a namespace; with node set, only those on it.
func (r *runner) pods(ns, node string, running bool) ([]v1.Pod, error) {
	list, err := r.admin.CoreV1().Pods(ns).List(r.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []v1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || (node != "" && p.Spec.NodeName != node) {
			continue
		}
		if running && p.Status.Phase != v1.PodRunning {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

func (r *runner) waitPods(scenario, ns, node string, n int, deadline time.Duration) ([]v1.Pod, error) {
	var got []v1.Pod
	err := waitFor(deadline, time.Second, func() bool {
		p, err := r.pods(ns, node, true)
		got = p
		return err == nil && len(p) >= n
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %d running pods in %s on %s, want %d, within %s", scenario, len(got), ns, node, n, deadline)
	}
	r.logf(scenario, "%d pods running on %s", len(got), node)
	return got, nil
}

func (r *runner) nodeReady(name string) (bool, *v1.Node) {
	n, err := r.admin.CoreV1().Nodes().Get(r.ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, nil
	}
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue, n
		}
	}
	return false, n
}

func hasTaint(n *v1.Node, key string, effect v1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// nodeOutage: the node's kubelet stops; the node lifecycle controller marks the node Unknown
// and taints it; the taint-eviction controller deletes its pods when their toleration of
// tolerationSeconds runs out; the ReplicaSet's replacements go to the spare node; then the
// kubelet comes back, reports Ready and finishes deleting the evicted pods.
func (r *runner) nodeOutage(scenario, node, spare, ns string, evictWithin time.Duration) error {
	old, err := r.pods(ns, node, true)
	if err != nil {
		return err
	}
	r.kubelets[node].cutOff()
	r.logf(scenario, "kubelet of %s stopped", node)
	if err := waitFor(90*time.Second, time.Second, func() bool {
		ready, n := r.nodeReady(node)
		return n != nil && !ready
	}); err != nil {
		return fmt.Errorf("%s: node %s not marked NotReady: %v", scenario, node, err)
	}
	r.logf(scenario, "node %s is not ready", node)
	if err := waitFor(60*time.Second, time.Second, func() bool {
		_, n := r.nodeReady(node)
		return n != nil && hasTaint(n, "node.kubernetes.io/unreachable", v1.TaintEffectNoExecute)
	}); err != nil {
		return fmt.Errorf("%s: node %s not tainted NoExecute: %v", scenario, node, err)
	}
	if err := r.ktrail.killAndRestart(scenario); err != nil {
		return err
	}
	if err := waitFor(evictWithin, 2*time.Second, func() bool {
		for _, p := range old {
			cur, err := r.admin.CoreV1().Pods(ns).Get(r.ctx, p.Name, metav1.GetOptions{})
			if err == nil && cur.DeletionTimestamp == nil {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("%s: the pods of %s were not evicted within %s", scenario, node, evictWithin)
	}
	r.logf(scenario, "%d pods of %s evicted", len(old), node)
	if _, err := r.waitPods(scenario, ns, spare, replicas, 90*time.Second); err != nil {
		return err
	}
	if err := r.kubelets[node].reconnect(r.ctx); err != nil {
		return fmt.Errorf("%s: kubelet of %s reconnecting: %w", scenario, node, err)
	}
	r.logf(scenario, "kubelet of %s back", node)
	if err := waitFor(90*time.Second, time.Second, func() bool {
		ready, n := r.nodeReady(node)
		if !ready || n == nil || len(n.Spec.Taints) != 0 {
			return false
		}
		for _, p := range old {
			if _, err := r.admin.CoreV1().Pods(ns).Get(r.ctx, p.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("%s: node %s not Ready and untainted with its old pods gone: %v", scenario, node, err)
	}
	r.logf(scenario, "node %s ready, untainted, evicted pods gone", node)
	return nil
}

// cordon sets spec.unschedulable with the strategic merge patch `kubectl cordon` and
// `kubectl uncordon` send (the two-way diff of the node before and after).
func cordon(ctx context.Context, c kubernetes.Interface, name string, desired bool) error {
	node, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	oldData, err := json.Marshal(node)
	if err != nil {
		return err
	}
	want := node.DeepCopy()
	want.Spec.Unschedulable = desired
	newData, err := json.Marshal(want)
	if err != nil {
		return err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, v1.Node{})
	if err != nil {
		return err
	}
	_, err = c.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}

// drainNode evicts every pod on the node through pods/eviction, as `kubectl drain` does, and
// waits until they are gone (the node's kubelet finishes their deletion).
func (r *runner) drainNode(scenario string, c kubernetes.Interface, node string) error {
	list, err := c.CoreV1().Pods("").List(r.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		return err
	}
	for _, p := range list.Items {
		err := c.PolicyV1().Evictions(p.Namespace).Evict(r.ctx, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
		if err != nil {
			return fmt.Errorf("evict %s/%s: %w", p.Namespace, p.Name, err)
		}
		r.logf(scenario, "evicting pod %s/%s", p.Namespace, p.Name)
	}
	return waitFor(2*time.Minute, time.Second, func() bool {
		for _, p := range list.Items {
			cur, err := c.CoreV1().Pods(p.Namespace).Get(r.ctx, p.Name, metav1.GetOptions{})
			if err == nil && cur.UID == p.UID {
				return false
			}
		}
		return true
	})
}

// nodeDrainByUser: alice, with her own client certificate, cordons the node and drains it
// (evictions through pods/eviction), then uncordons it once the replacements run on the
// spare node.
func (r *runner) nodeDrainByUser(scenario string) error {
	alice, aliceCfg, err := clientFor(r.server, r.pki, drainUser, "kubectl/v1.37.2 (linux/amd64) kubernetes/e2e")
	if err != nil {
		return err
	}
	if err := cordon(r.ctx, alice, nodeDrain, true); err != nil {
		return fmt.Errorf("%s: cordon: %w", scenario, err)
	}
	r.logf(scenario, "%s cordoned by %s", nodeDrain, drainUser)
	if err := r.ktrail.killAndRestart(scenario); err != nil {
		return err
	}
	if err := r.drainNode(scenario, alice, nodeDrain); err != nil {
		return fmt.Errorf("%s: drain: %w", scenario, err)
	}
	r.logf(scenario, "%s drained", nodeDrain)
	pods, err := r.waitPods(scenario, nsDrain, spareDrain, replicas, 90*time.Second)
	if err != nil {
		return err
	}
	if err := r.userActions(scenario, alice, aliceCfg, pods[0]); err != nil {
		return err
	}
	if err := cordon(r.ctx, alice, nodeDrain, false); err != nil {
		return fmt.Errorf("%s: uncordon: %w", scenario, err)
	}
	r.logf(scenario, "%s uncordoned by %s", nodeDrain, drainUser)
	return nil
}

// userActions: a secret read refused, an RBAC change that grants it, the read again, and an
// exec into a pod (the apiserver accepts it and fails to reach the simulated kubelet).
func (r *runner) userActions(scenario string, alice kubernetes.Interface, cfg *rest.Config, pod v1.Pod) error {
	ctx := r.ctx
	if _, err := r.admin.CoreV1().Secrets(nsDrain).Create(ctx, &v1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db-password"}, StringData: map[string]string{"password": "e2e-not-a-secret"},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := alice.CoreV1().Secrets(nsDrain).Get(ctx, "db-password", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: secret read before the grant: want forbidden, got %v", scenario, err)
	}
	if _, err := r.admin.RbacV1().Roles(nsDrain).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create", "get"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := r.admin.RbacV1().RoleBindings(nsDrain).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "secret-reader:" + drainUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "secret-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: drainUser}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := waitFor(30*time.Second, 500*time.Millisecond, func() bool {
		_, err := alice.CoreV1().Secrets(nsDrain).Get(ctx, "db-password", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		return fmt.Errorf("%s: secret read after the grant failed", scenario)
	}
	req := alice.CoreV1().RESTClient().Post().Resource("pods").Namespace(nsDrain).Name(pod.Name).SubResource("exec").
		VersionedParams(&v1.PodExecOptions{Container: "app", Command: []string{"cat", "/etc/hostname"}, Stdout: true},
			scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return err
	}
	var stdout bytes.Buffer
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = exec.StreamWithContext(ectx, remotecommand.StreamOptions{Stdout: &stdout})
	r.logf(scenario, "exec into %s as %s: %v (no kubelet listens: an error is expected)", pod.Name, drainUser, err)
	return nil
}

// crashLoop: the kubelet part is simulated (see kubelet.go): the container "exits" with code 1
// and is "restarted" with a shortened back-off, as restartCount, last state and BackOff Events.
func (r *runner) crashLoop(scenario string) error {
	var restarts int32
	countRestarts := func() int32 {
		p, err := r.pods(nsCrash, nodeCrash, false)
		if err != nil || len(p) != 1 || len(p[0].Status.ContainerStatuses) == 0 {
			return 0
		}
		return p[0].Status.ContainerStatuses[0].RestartCount
	}
	if err := waitFor(2*time.Minute, time.Second, func() bool { restarts = countRestarts(); return restarts >= 2 }); err != nil {
		return fmt.Errorf("%s: restartCount %d, want 2", scenario, restarts)
	}
	if err := r.ktrail.killAndRestart(scenario); err != nil {
		return err
	}
	if err := waitFor(3*time.Minute, time.Second, func() bool { restarts = countRestarts(); return restarts >= 4 }); err != nil {
		return fmt.Errorf("%s: restartCount %d, want 4", scenario, restarts)
	}
	r.logf(scenario, "%d restarts", restarts)
	return nil
}

// unschedulable: two pods ask for 1000 CPUs. The real scheduler reports FailedScheduling when
// they are created (again when nodes join) and when it retries them after five minutes in its
// unschedulable queue (no node change can make them fit, so nothing requeues them earlier).
// The scenario lasts until reports span more than scheduling-failure's sustainFor (60 s).
func (r *runner) unschedulable(scenario string) error {
	span := func() (first, last time.Time, pods int, err error) {
		list, err := r.admin.EventsV1().Events(nsPending).List(r.ctx, metav1.ListOptions{})
		if err != nil {
			return first, last, 0, err
		}
		seen := map[string]bool{}
		for _, e := range list.Items {
			if e.Reason != "FailedScheduling" {
				continue
			}
			seen[e.Regarding.Name] = true
			t := e.EventTime.Time
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if e.Series != nil && e.Series.LastObservedTime.After(t) {
				t = e.Series.LastObservedTime.Time
			}
			if t.After(last) {
				last = t
			}
		}
		return first, last, len(seen), nil
	}
	if err := waitFor(60*time.Second, time.Second, func() bool {
		_, _, n, err := span()
		return err == nil && n == 2
	}); err != nil {
		return fmt.Errorf("%s: no FailedScheduling for both pods", scenario)
	}
	r.logf(scenario, "FailedScheduling reported for both pods")
	if err := r.ktrail.killAndRestart(scenario); err != nil {
		return err
	}
	var first, last time.Time
	if err := waitFor(8*time.Minute, 5*time.Second, func() bool {
		f, l, _, err := span()
		first, last = f, l
		return err == nil && l.Sub(f) > 70*time.Second
	}); err != nil {
		return fmt.Errorf("%s: FailedScheduling reports span only %s", scenario, last.Sub(first))
	}
	r.logf(scenario, "FailedScheduling reports span %s", last.Sub(first).Round(time.Second))
	return nil
}

type runOutput struct {
	Kills []killRecord `json:"kills"`
}

func (r *runner) run(outFile string) error {
	start := time.Now()
	if err := r.setup(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	apps := r.admin.AppsV1()
	for _, d := range []*appsv1.Deployment{
		deployment(nsShort, deployShort, "short", ptr.To(int64(30)), "100m", nil),
		deployment(nsLong, deployLong, "long", nil, "100m", nil),
		deployment(nsDrain, deployDrain, "drain", nil, "100m", nil),
		deployment(nsCrash, deployCrash, "crash", nil, "100m", map[string]string{crashAnnotation: "crashloop"}),
	} {
		if _, err := apps.Deployments(d.Namespace).Create(r.ctx, d, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	launch := func(name string, f func(string) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			if err := f(name); err != nil {
				errs <- err
				r.logf(name, "FAILED after %s: %v", time.Since(t).Round(time.Second), err)
				return
			}
			r.logf(name, "done in %s", time.Since(t).Round(time.Second))
		}()
	}
	// The pending pods first: the scheduler's second report takes five minutes.
	if _, err := apps.Deployments(nsPending).Create(r.ctx, deployment(nsPending, deployPending, "", nil, "1000", nil),
		metav1.CreateOptions{}); err != nil {
		return err
	}
	launch("pending", r.unschedulable)
	for _, w := range []struct{ ns, node string }{{nsShort, nodeShort}, {nsLong, nodeLong}, {nsDrain, nodeDrain}} {
		if _, err := r.waitPods("setup", w.ns, w.node, replicas, 2*time.Minute); err != nil {
			return err
		}
	}
	// Spare capacity joins once the workloads run on their first node.
	for _, n := range []struct{ name, pool string }{{spareShort, "short"}, {spareLong, "long"}, {spareDrain, "drain"}} {
		if err := r.startKubelet(n.name, n.pool, "4"); err != nil {
			return err
		}
	}
	if err := r.waitUntainted("setup", spareShort, spareLong, spareDrain); err != nil {
		return fmt.Errorf("spare nodes still tainted: %w", err)
	}
	r.logf("setup", "ready after %s", time.Since(start).Round(time.Second))
	launch("long", func(s string) error { return r.nodeOutage(s, nodeLong, spareLong, nsLong, 7*time.Minute) })
	launch("short", func(s string) error { return r.nodeOutage(s, nodeShort, spareShort, nsShort, 2*time.Minute) })
	launch("drain", r.nodeDrainByUser)
	launch("crash", r.crashLoop)
	wg.Wait()
	close(errs)
	var failed []string
	for err := range errs {
		failed = append(failed, err.Error())
	}
	b, _ := json.MarshalIndent(runOutput{Kills: r.ktrail.kills}, "", "  ")
	if err := os.WriteFile(outFile, b, 0o644); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("scenarios failed:\n  %s", strings.Join(failed, "\n  "))
	}
	log.Printf("all scenarios done in %s", time.Since(start).Round(time.Second))
	return nil
}
