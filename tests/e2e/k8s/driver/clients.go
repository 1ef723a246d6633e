package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const poolLabel = "e2e.ktrail.test/pool"

// clientFor connects as the holder of pki/NAME.crt (the apiserver maps CN to the user and O to
// groups).
func clientFor(server, pki, name, agent string) (kubernetes.Interface, *rest.Config, error) {
	cfg := &rest.Config{
		Host:      server,
		UserAgent: agent,
		QPS:       50,
		Burst:     100,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile:   filepath.Join(pki, "ca.crt"),
			CertFile: filepath.Join(pki, name+".crt"),
			KeyFile:  filepath.Join(pki, name+".key"),
		},
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("client for %s: %w", name, err)
	}
	return c, cfg, nil
}

// podStatusPatch is the strategic merge patch the kubelet's status manager sends: the status
// difference, with the pod's UID as a precondition.
func podStatusPatch(old, updated *v1.Pod) ([]byte, error) {
	oldData, err := json.Marshal(v1.Pod{Status: old.Status})
	if err != nil {
		return nil, err
	}
	newData, err := json.Marshal(v1.Pod{ObjectMeta: metaUID(old), Status: updated.Status})
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(oldData, newData, v1.Pod{})
}

func metaUID(p *v1.Pod) metav1.ObjectMeta { return metav1.ObjectMeta{UID: p.UID} }
