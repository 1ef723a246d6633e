package main

// A kubelet without a container runtime: it makes the API calls a real kubelet makes for its
// node and its pods, so the real node lifecycle controller, taint-eviction controller, scheduler
// and ReplicaSet controller act on it as they would on a real node. What runs inside the
// containers is simulated: pods bound to the node are reported Running at once, and a pod
// annotated for a crash loop reports its container exiting and being restarted (the
// restartCount, the last terminated state and the kubelet's BackOff Event), with no process
// behind it.

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	nodeutil "k8s.io/component-helpers/node/util"
	"k8s.io/utils/ptr"
)

const (
	leaseDuration   = 40 * time.Second
	leaseRenew      = 4 * time.Second // the real kubelet renews every 10 s of a 40 s lease
	statusHeartbeat = 20 * time.Second
	podSync         = 1 * time.Second
	crashAnnotation = "e2e.ktrail.test/simulate"
)

type kubelet struct {
	name     string
	pool     string
	cpu      string
	client   kubernetes.Interface
	recorder record.EventRecorder
	stopRec  func()

	mu      sync.Mutex
	online  bool          // false while the node is cut off: no call reaches the apiserver
	resumed chan struct{} // closed when the node comes back
	pods    map[types.UID]*podState
}

type podState struct {
	running   bool
	restarts  int32
	nextCrash time.Time
}

func newKubelet(client kubernetes.Interface, name, pool, cpu string) *kubelet {
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	rec := broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: name})
	return &kubelet{
		name: name, pool: pool, cpu: cpu, client: client, recorder: rec,
		stopRec: broadcaster.Shutdown, online: true, pods: map[types.UID]*podState{},
	}
}

// nodeRef is the reference the kubelet uses for Events about its node.
func (k *kubelet) nodeRef() *v1.ObjectReference {
	return &v1.ObjectReference{Kind: "Node", Name: k.name, UID: types.UID(k.name)}
}

func (k *kubelet) readyConditions(now metav1.Time) []v1.NodeCondition {
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		return v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return []v1.NodeCondition{
		cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
}

// register creates the Node (as the kubelet's registerWithAPIServer does) and starts the
// Lease, status and pod loops.
func (k *kubelet) register(ctx context.Context) error {
	now := metav1.Now()
	capacity := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse(k.cpu),
		v1.ResourceMemory: resource.MustParse("8Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	node := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: k.name, Labels: map[string]string{
			"kubernetes.io/hostname": k.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			poolLabel: k.pool,
		}},
		Status: v1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: k.readyConditions(now),
			// Only an IP: the apiserver would otherwise resolve the node's name to reach it.
			Addresses: []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "127.0.0.1"}},
			// A port nothing listens on: exec requests reach the apiserver, which fails to dial.
			DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: 1}},
			NodeInfo: v1.NodeSystemInfo{KubeletVersion: "v1.37.2", OperatingSystem: "linux",
				Architecture: "amd64", ContainerRuntimeVersion: "simulated://1.0"},
		},
	}
	if _, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("register node %s: %w", k.name, err)
	}
	k.recorder.Eventf(k.nodeRef(), v1.EventTypeNormal, "Starting", "Starting kubelet.")
	k.recorder.Eventf(k.nodeRef(), v1.EventTypeNormal, "NodeReady", "Node %s status is now: NodeReady", k.name)
	if err := k.renewLease(ctx); err != nil {
		return err
	}
	go k.loop(ctx, leaseRenew, func() { _ = k.renewLease(ctx) })
	go k.loop(ctx, statusHeartbeat, func() { _ = k.postStatus(ctx) })
	go k.loop(ctx, podSync, func() { k.syncPods(ctx) })
	return nil
}

// loop runs f every period while the node is online.
func (k *kubelet) loop(ctx context.Context, period time.Duration, f func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if k.isOnline() {
				f()
			}
		}
	}
}

func (k *kubelet) isOnline() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.online
}

// cutOff stops every call to the apiserver, as a network partition or a dead kubelet would.
func (k *kubelet) cutOff() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.online = false
}

// reconnect is the kubelet reaching the apiserver again: it posts its status (Ready=True: it
// was ready all along, but the node object says Unknown), renews its Lease, and syncs pods.
func (k *kubelet) reconnect(ctx context.Context) error {
	k.mu.Lock()
	k.online = true
	k.mu.Unlock()
	if err := k.postStatus(ctx); err != nil {
		return err
	}
	if err := k.renewLease(ctx); err != nil {
		return err
	}
	k.syncPods(ctx)
	return nil
}

func (k *kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, k.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.name, Namespace: v1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: k.name}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(k.name),
				LeaseDurationSeconds: ptr.To(int32(leaseDuration.Seconds())), RenewTime: &now},
		}
		node, nerr := k.client.CoreV1().Nodes().Get(ctx, k.name, metav1.GetOptions{})
		if nerr != nil {
			return nerr
		}
		lease.OwnerReferences[0].UID = node.UID
		_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// postStatus patches nodes/status with fresh heartbeats, as the kubelet's status loop does.
func (k *kubelet) postStatus(ctx context.Context) error {
	old, err := k.client.CoreV1().Nodes().Get(ctx, k.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	updated := old.DeepCopy()
	fresh := k.readyConditions(now)
	for i := range fresh {
		for _, c := range old.Status.Conditions {
			if c.Type == fresh[i].Type && c.Status == fresh[i].Status {
				fresh[i].LastTransitionTime = c.LastTransitionTime
			}
		}
	}
	updated.Status.Conditions = fresh
	_, _, err = nodeutil.PatchNodeStatus(k.client.CoreV1(), types.NodeName(k.name), old, updated)
	if err != nil {
		log.Printf("kubelet %s: status: %v", k.name, err)
	}
	return err
}

// syncPods makes the node's pods what the kubelet would make them: bound pods Running,
// deleted pods gone, crash-looping pods restarting.
func (k *kubelet) syncPods(ctx context.Context) {
	list, err := k.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", k.name).String()})
	if err != nil {
		return
	}
	for i := range list.Items {
		pod := &list.Items[i]
		if !k.isOnline() {
			return
		}
		k.mu.Lock()
		st, ok := k.pods[pod.UID]
		if !ok {
			st = &podState{}
			k.pods[pod.UID] = st
		}
		k.mu.Unlock()
		switch {
		case pod.DeletionTimestamp != nil:
			k.finishDeletion(ctx, pod)
		case !st.running:
			if k.start(ctx, pod) == nil {
				st.running = true
				st.nextCrash = time.Now().Add(5 * time.Second)
			}
		case pod.Annotations[crashAnnotation] == "crashloop" && time.Now().After(st.nextCrash):
			k.crash(ctx, pod, st)
		}
	}
}

func (k *kubelet) start(ctx context.Context, pod *v1.Pod) error {
	now := metav1.Now()
	for _, c := range pod.Spec.Containers {
		k.recorder.Eventf(pod, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		k.recorder.Eventf(pod, v1.EventTypeNormal, "Created", "Created container: %s", c.Name)
		k.recorder.Eventf(pod, v1.EventTypeNormal, "Started", "Started container %s", c.Name)
	}
	status := v1.PodStatus{Phase: v1.PodRunning, HostIP: "127.0.0.1", HostIPs: []v1.HostIP{{IP: "127.0.0.1"}},
		PodIP: "10.244.0.1", PodIPs: []v1.PodIP{{IP: "10.244.0.1"}}, StartTime: &now,
		Conditions: []v1.PodCondition{
			{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: now},
			{Type: v1.ContainersReady, Status: v1.ConditionTrue, LastTransitionTime: now},
			{Type: v1.PodInitialized, Status: v1.ConditionTrue, LastTransitionTime: now}}}
	for _, c := range pod.Spec.Containers {
		status.ContainerStatuses = append(status.ContainerStatuses, v1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "simulated://" + c.Image, Ready: true,
			Started: ptr.To(true), ContainerID: "simulated://" + string(pod.UID) + "/" + c.Name,
			State: v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: now}}})
	}
	return k.patchStatus(ctx, pod, status)
}

// crash is the simulated part of a crash loop: the container exits with code 1, the kubelet
// backs off (the back-off is shortened to seconds so a test sees several restarts), reports
// the BackOff Event, restarts it and reports the new restartCount and the last exit.
func (k *kubelet) crash(ctx context.Context, pod *v1.Pod, st *podState) {
	st.restarts++
	now := metav1.Now()
	backoff := time.Duration(5<<min(st.restarts, 4)) * time.Second
	st.nextCrash = time.Now().Add(backoff)
	c := pod.Spec.Containers[0]
	k.recorder.Eventf(pod, v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)",
		c.Name, pod.Name, pod.Namespace, pod.UID)
	status := pod.Status.DeepCopy()
	status.ContainerStatuses = []v1.ContainerStatus{{
		Name: c.Name, Image: c.Image, ImageID: "simulated://" + c.Image, Ready: false, Started: ptr.To(false),
		RestartCount: st.restarts, ContainerID: "simulated://" + string(pod.UID) + "/" + c.Name,
		State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backoff, c.Name, pod.Name, pod.Namespace, pod.UID)}},
		LastTerminationState: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", StartedAt: now, FinishedAt: now}},
	}}
	for i := range status.Conditions {
		if status.Conditions[i].Type == v1.PodReady || status.Conditions[i].Type == v1.ContainersReady {
			status.Conditions[i].Status = v1.ConditionFalse
			status.Conditions[i].LastTransitionTime = now
		}
	}
	_ = k.patchStatus(ctx, pod, *status)
}

func (k *kubelet) patchStatus(ctx context.Context, pod *v1.Pod, status v1.PodStatus) error {
	updated := pod.DeepCopy()
	updated.Status = status
	patch, err := podStatusPatch(pod, updated)
	if err != nil {
		return err
	}
	_, err = k.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) {
		log.Printf("kubelet %s: pod %s/%s status: %v", k.name, pod.Namespace, pod.Name, err)
	}
	return err
}

// finishDeletion stops the pod's containers and removes the pod (grace 0, UID precondition),
// which is how a kubelet completes a graceful deletion.
func (k *kubelet) finishDeletion(ctx context.Context, pod *v1.Pod) {
	for _, c := range pod.Spec.Containers {
		k.recorder.Eventf(pod, v1.EventTypeNormal, "Killing", "Stopping container %s", c.Name)
	}
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To(int64(0)), Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		k.mu.Lock()
		delete(k.pods, pod.UID)
		k.mu.Unlock()
	}
}
