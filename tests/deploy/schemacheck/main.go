// schemacheck reads Kubernetes manifests (a multi-document YAML stream, as `kubectl kustomize`
// prints it) on standard input and checks each object against the Kubernetes API types of
// k8s.io/api: strict decoding refuses unknown and duplicate fields and wrong types. It then checks
// what ktrail's deployment promises: non-root, read-only root filesystem, probes on /healthz and
// /readyz, a grace period longer than --shutdown-timeout, requests and limits. Exit 1 on any error.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	decoder := codecs.UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	var problems []string
	objects := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail("reading YAML: %v", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			problems = append(problems, fmt.Sprintf("object %d: %v", objects+1, err))
			objects++
			continue
		}
		objects++
		name := gvk.Kind + "/" + nameOf(obj)
		for _, p := range checkObject(obj) {
			problems = append(problems, name+": "+p)
		}
		fmt.Printf("ok %s %s\n", gvk.GroupVersion().String(), name)
	}
	if objects == 0 {
		fail("no objects on standard input")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "error:", p)
		}
		os.Exit(1)
	}
	fmt.Printf("%d objects valid\n", objects)
}

func nameOf(obj runtime.Object) string {
	type named interface{ GetName() string }
	if n, ok := obj.(named); ok {
		return n.GetName()
	}
	return "?"
}

func checkObject(obj runtime.Object) []string {
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		return checkPod(&o.Spec.Template.Spec)
	case *appsv1.Deployment:
		return checkPod(&o.Spec.Template.Spec)
	}
	return nil
}

// checkPod holds ktrail's pods to what docs/deploy.md promises.
func checkPod(spec *corev1.PodSpec) []string {
	var out []string
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		out = append(out, "pod securityContext.runAsNonRoot is not true")
	}
	grace := int64(30)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			out = append(out, c.Name+": readOnlyRootFilesystem is not true")
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			out = append(out, c.Name+": allowPrivilegeEscalation is not false")
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			out = append(out, c.Name+": liveness probe is not GET /healthz")
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			out = append(out, c.Name+": readiness probe is not GET /readyz")
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
			c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			out = append(out, c.Name+": cpu and memory requests and limits must all be set")
		}
		shutdown := 25 * time.Second // ktrail's default --shutdown-timeout
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--shutdown-timeout="); ok {
				d, err := time.ParseDuration(v)
				if err != nil {
					out = append(out, c.Name+": --shutdown-timeout "+v+" is not a duration")
					continue
				}
				shutdown = d
			}
		}
		if time.Duration(grace)*time.Second <= shutdown {
			out = append(out, fmt.Sprintf("%s: terminationGracePeriodSeconds %d is not longer than --shutdown-timeout %s", c.Name, grace, shutdown))
		}
	}
	return out
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "schemacheck: "+format+"\n", args...)
	os.Exit(2)
}
