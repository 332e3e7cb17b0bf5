// Command k8s-validate strictly decodes Kubernetes manifests into the API's own Go types
// (k8s.io/api): an unknown field, a wrong type, an unknown kind fails. It then checks what ties
// the objects together: a Deployment's selector matches its pod labels, a Service selects some
// Deployment's pods, probes and targetPorts name ports that exist. kubeconform does the first
// part from JSON schemas, which it downloads; this needs only Go modules.
//
//	go run ./scripts/k8s-validate examples/deploy/k8s/*.yaml
package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

var separator = regexp.MustCompile(`(?m)^---\s*$`)

func main() {
	var deployments []*appsv1.Deployment
	var services []*corev1.Service
	failed := false
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
		failed = true
	}
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fail("%v", err)
			continue
		}
		for i, doc := range separator.Split(string(data), -1) {
			if len(bytes.TrimSpace([]byte(doc))) == 0 {
				continue
			}
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				fail("%s #%d: %v", path, i, err)
				continue
			}
			var obj any
			switch meta.APIVersion + "/" + meta.Kind {
			case "apps/v1/Deployment":
				d := &appsv1.Deployment{}
				deployments, obj = append(deployments, d), d
			case "v1/Service":
				s := &corev1.Service{}
				services, obj = append(services, s), s
			default:
				fail("%s #%d: unknown kind %s %s", path, i, meta.APIVersion, meta.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				fail("%s #%d (%s): %v", path, i, meta.Kind, err)
				continue
			}
			fmt.Printf("ok   %s #%d %s\n", path, i, meta.Kind)
		}
	}
	ports := map[string]bool{}
	for _, d := range deployments {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			fail("Deployment %s: selector does not match the pod template's labels", d.Name)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			named := map[string]bool{}
			for _, p := range c.Ports {
				named[p.Name] = true
				ports[p.Name] = true
			}
			for what, probe := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
				if probe == nil {
					if what == "readinessProbe" {
						fail("Deployment %s: container %s has no readinessProbe", d.Name, c.Name)
					}
					continue
				}
				if probe.HTTPGet != nil && probe.HTTPGet.Port.Type == intstr.String && !named[probe.HTTPGet.Port.StrVal] {
					fail("Deployment %s: %s port %q is not a container port", d.Name, what, probe.HTTPGet.Port.StrVal)
				}
			}
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
				fail("Deployment %s: container %s has no preStop hook", d.Name, c.Name)
			}
		}
	}
	for _, s := range services {
		selected := false
		for _, d := range deployments {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				selected = true
			}
		}
		if !selected {
			fail("Service %s selects no Deployment's pods", s.Name)
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type == intstr.String && !ports[p.TargetPort.StrVal] {
				fail("Service %s: targetPort %q is no container's port", s.Name, p.TargetPort.StrVal)
			}
		}
	}
	if failed {
		os.Exit(1)
	}
	fmt.Printf("valid: %d Deployment(s), %d Service(s)\n", len(deployments), len(services))
}
