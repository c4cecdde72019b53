// Command k8scheck checks rendered Kubernetes manifests offline, no cluster
// needed (tests/manifests/run.sh runs it on `kubectl kustomize k8s/`):
//   - each object decodes strictly into its k8s.io/api type, so an unknown
//     or misspelt field fails, as `kubectl apply --validate=strict` would;
//   - with -schema VERSION=SWAGGER_JSON (repeatable), each object matches
//     that release's OpenAPI schema: served kind, no unknown fields, every
//     required field, JSON types (schema.go), so older minors are covered
//     as well as the 1.34 types;
//   - every pod template meets the "restricted" Pod Security Standard, by
//     the same library the API server's admission plugin uses;
//   - the project's conventions (STYLE.md): the app.kubernetes.io labels on
//     every object and pod template, no version in selectors, requests and
//     a memory limit on every container, read-only root filesystem, no
//     service-account token, probes on named ports;
//   - every NetworkPolicy governs ingress and egress; the base allows no
//     egress, and an overlay that needs some adds narrow rules only: each
//     names its peers by pod or namespace selector and its ports;
//   - a Deployment an HPA scales sets no replicas (the HPA owns the count;
//     a re-apply would cut a scaled-out Deployment back to the file's);
//   - custom resources (-crd PATH, repeatable: KEDA's ScaledObject) match
//     their CRD's schema; a Deployment a ScaledObject scales sets no
//     replicas and no HPA of the manifests scales it too (KEDA makes its
//     own HPA and refuses a target another one owns).
//
// Usage: k8scheck [-schema v1.33.13=path/to/swagger.json]... [-crd PATH]... <all.yaml
// Reads multi-document YAML on stdin; prints failures and a closing
// "N passed, N failed"; exits 1 when anything failed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

var passed, failed int

// A YAML document that starts with this comment begins a new rendering.
const renderingMark = "# k8scheck: rendering"

func check(name string, ok bool, detail string) {
	if ok {
		passed++
		return
	}
	failed++
	fmt.Printf("FAIL %s: %s\n", name, detail)
}

var wantLabels = []string{"app.kubernetes.io/name", "app.kubernetes.io/instance",
	"app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"}

func checkLabels(what string, l map[string]string) {
	for _, k := range wantLabels {
		check(what+" label "+k, l[k] != "", "missing")
	}
}

func checkSelector(what string, s map[string]string) {
	for k := range s {
		check(what+" selector", !strings.Contains(k, "version"), "selects on "+k)
	}
}

// checkPod checks a pod template; claims are the names of a StatefulSet's
// volumeClaimTemplates, which its containers may mount like volumes.
func checkPod(what string, meta metav1.ObjectMeta, spec *corev1.PodSpec, claims ...string) {
	checkLabels(what+" pod template", meta.Labels)
	ev, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		panic(err)
	}
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, r := range ev.EvaluatePod(lv, &meta, spec) {
		check(what+" restricted PSS", r.Allowed, r.ForbiddenReason+": "+r.ForbiddenDetail)
	}
	check(what+" automountServiceAccountToken false",
		spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken, "not false")
	for _, c := range spec.Containers {
		cw := what + " container " + c.Name
		check(cw+" cpu request", !c.Resources.Requests.Cpu().IsZero(), "none")
		check(cw+" memory request", !c.Resources.Requests.Memory().IsZero(), "none")
		check(cw+" memory limit", !c.Resources.Limits.Memory().IsZero(), "none")
		sc := c.SecurityContext
		check(cw+" readOnlyRootFilesystem", sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "not true")
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p != nil && p.HTTPGet != nil {
				found := false
				for _, cp := range c.Ports {
					found = found || cp.Name == p.HTTPGet.Port.String()
				}
				check(cw+" probe port is a named container port", found, p.HTTPGet.Port.String())
			}
		}
		for _, m := range c.VolumeMounts {
			found := false
			for _, v := range spec.Volumes {
				found = found || v.Name == m.Name
			}
			for _, cl := range claims {
				found = found || cl == m.Name
			}
			check(cw+" volumeMount "+m.Name+" has a volume", found, "no such volume")
		}
	}
}

// crossCheck checks the autoscalers of one rendering against its
// Deployments: deployments maps namespace/name to whether it sets
// spec.replicas. A rendering without any Deployment (a part, such as
// overlays/monitoring/scaling) is checked where it is included.
func crossCheck(deployments map[string]bool, hpas []*autoscalingv2.HorizontalPodAutoscaler, scaledObjects []*scaledObject) {
	if len(deployments) == 0 {
		return
	}
	for _, h := range hpas {
		t := h.Spec.ScaleTargetRef
		if t.Kind != "Deployment" {
			continue
		}
		what := "HorizontalPodAutoscaler/" + h.Name + " target Deployment/" + t.Name
		setsReplicas, found := deployments[h.Namespace+"/"+t.Name]
		check(what+" is in the manifests", found, "not found")
		check(what+" sets no replicas", !setsReplicas, "spec.replicas is set: every apply resets the HPA's count")
	}
	for _, so := range scaledObjects {
		t := so.Spec.ScaleTargetRef
		if t.Kind != "" && t.Kind != "Deployment" {
			continue
		}
		what := "ScaledObject/" + so.Name + " target Deployment/" + t.Name
		setsReplicas, found := deployments[so.Namespace+"/"+t.Name]
		check(what+" is in the manifests", found, "not found")
		check(what+" sets no replicas", !setsReplicas, "spec.replicas is set: every apply resets KEDA's count")
		for _, h := range hpas {
			r := h.Spec.ScaleTargetRef
			check(what+" is scaled by no other HPA",
				!(h.Namespace == so.Namespace && r.Kind == "Deployment" && r.Name == t.Name),
				"HorizontalPodAutoscaler/"+h.Name+" scales it too: KEDA refuses a target another HPA owns")
		}
	}
}

func decode(doc []byte, v interface{}) error { return yaml.UnmarshalStrict(doc, v) }

// scaledObject is what the checks read of KEDA's ScaledObject
// (keda.sh/v1alpha1); its CRD's schema checks the rest.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
	} `json:"spec"`
}

func main() {
	var schemas []*openAPI
	flag.Func("schema", "VERSION=PATH of a Kubernetes swagger.json (repeatable)", func(arg string) error {
		version, path, ok := strings.Cut(arg, "=")
		if !ok || version == "" || path == "" {
			return fmt.Errorf("want VERSION=PATH, got %q", arg)
		}
		s, err := loadOpenAPI(version, path)
		if err != nil {
			return err
		}
		schemas = append(schemas, s)
		return nil
	})
	var crds []map[string]*jsonSchema
	flag.Func("crd", "PATH of a CustomResourceDefinition whose kinds the manifests use (repeatable)", func(path string) error {
		c, err := loadCRD(path)
		if err != nil {
			return err
		}
		crds = append(crds, c)
		return nil
	})
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: k8scheck [-schema VERSION=PATH]... [-crd PATH]... <manifests.yaml")
		os.Exit(2)
	}
	for _, s := range schemas {
		for _, c := range crds {
			s.addCRD(c)
		}
	}
	// namespace/name of each Deployment -> whether it sets spec.replicas;
	// the HPAs, checked against them once every object is read.
	deployments := map[string]bool{}
	var hpas []*autoscalingv2.HorizontalPodAutoscaler
	var scaledObjects []*scaledObject
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		panic(err)
	}
	for _, doc := range bytes.Split(in, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		// Each rendering (run.sh marks where one starts) is one set of
		// objects applied together: the cross-object checks stay inside it.
		if bytes.HasPrefix(bytes.TrimSpace(doc), []byte(renderingMark)) {
			crossCheck(deployments, hpas, scaledObjects)
			deployments = map[string]bool{}
			hpas, scaledObjects = nil, nil
			continue
		}
		var tm metav1.TypeMeta
		var hdr struct{ Metadata struct{ Name string } }
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			check("yaml", false, err.Error())
			continue
		}
		if tm.Kind == "" && tm.APIVersion == "" {
			continue // only comments
		}
		_ = yaml.Unmarshal(doc, &hdr)
		for _, s := range schemas {
			errs := s.validateYAML(doc)
			check(tm.Kind+"/"+hdr.Metadata.Name+" matches the Kubernetes "+s.version+" schema",
				len(errs) == 0, strings.Join(errs, "; "))
		}
		var obj interface{}
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "v1/ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1/PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "v1/PersistentVolume":
			obj = &corev1.PersistentVolume{}
		case "v1/Service":
			obj = &corev1.Service{}
		case "batch/v1/Job":
			obj = &batchv1.Job{}
		case "batch/v1/CronJob":
			obj = &batchv1.CronJob{}
		case "apps/v1/Deployment":
			obj = &appsv1.Deployment{}
		case "apps/v1/StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "autoscaling/v2/HorizontalPodAutoscaler":
			obj = &autoscalingv2.HorizontalPodAutoscaler{}
		case "policy/v1/PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "networking.k8s.io/v1/NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		case "keda.sh/v1alpha1/ScaledObject":
			obj = &scaledObject{}
		default:
			check("known kind", false, tm.APIVersion+" "+tm.Kind)
			continue
		}
		var err error
		if _, custom := obj.(*scaledObject); custom {
			// Only the fields the checks read are typed; the CRD's schema
			// (-crd) is what rejects unknown ones.
			err = yaml.Unmarshal(doc, obj)
		} else {
			err = decode(doc, obj)
		}
		var meta *metav1.ObjectMeta
		name := tm.Kind
		switch o := obj.(type) {
		case *corev1.Namespace:
			meta = &o.ObjectMeta
		case *corev1.ConfigMap:
			meta = &o.ObjectMeta
		case *corev1.PersistentVolumeClaim:
			meta = &o.ObjectMeta
		case *corev1.PersistentVolume:
			meta = &o.ObjectMeta
		case *corev1.Service:
			meta = &o.ObjectMeta
			checkSelector(name, o.Spec.Selector)
		case *batchv1.Job:
			meta = &o.ObjectMeta
			checkPod("Job/"+o.Name, o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec)
		case *batchv1.CronJob:
			meta = &o.ObjectMeta
			checkLabels("CronJob/"+o.Name+" job template", o.Spec.JobTemplate.Labels)
			checkPod("CronJob/"+o.Name, o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec)
		case *appsv1.Deployment:
			meta = &o.ObjectMeta
			checkSelector("Deployment/"+o.Name, o.Spec.Selector.MatchLabels)
			checkPod("Deployment/"+o.Name, o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec)
			deployments[o.Namespace+"/"+o.Name] = o.Spec.Replicas != nil
		case *appsv1.StatefulSet:
			meta = &o.ObjectMeta
			checkSelector("StatefulSet/"+o.Name, o.Spec.Selector.MatchLabels)
			claims := []string{}
			for _, t := range o.Spec.VolumeClaimTemplates {
				claims = append(claims, t.Name)
			}
			checkPod("StatefulSet/"+o.Name, o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, claims...)
		case *autoscalingv2.HorizontalPodAutoscaler:
			meta = &o.ObjectMeta
			hpas = append(hpas, o)
		case *scaledObject:
			meta = &o.ObjectMeta
			scaledObjects = append(scaledObjects, o)
		case *policyv1.PodDisruptionBudget:
			meta = &o.ObjectMeta
			checkSelector("PDB/"+o.Name, o.Spec.Selector.MatchLabels)
		case *networkingv1.NetworkPolicy:
			meta = &o.ObjectMeta
			checkSelector("NetworkPolicy/"+o.Name, o.Spec.PodSelector.MatchLabels)
			// Both directions are governed, and the base opens no egress:
			// an overlay that needs some (object store, DNS) adds a rule.
			types := map[networkingv1.PolicyType]bool{}
			for _, t := range o.Spec.PolicyTypes {
				types[t] = true
			}
			w := "NetworkPolicy/" + o.Name
			check(w+" policyTypes has Ingress", types[networkingv1.PolicyTypeIngress], fmt.Sprint(o.Spec.PolicyTypes))
			check(w+" policyTypes has Egress", types[networkingv1.PolicyTypeEgress], fmt.Sprint(o.Spec.PolicyTypes))
			for i, r := range o.Spec.Egress {
				narrow := len(r.To) > 0 && len(r.Ports) > 0
				for _, p := range r.To {
					if p.IPBlock != nil || (p.PodSelector == nil && p.NamespaceSelector == nil) {
						narrow = false
					}
				}
				check(fmt.Sprintf("%s egress rule %d names its peers by selector and its ports", w, i), narrow, fmt.Sprintf("%+v", r))
			}
		}
		name = tm.Kind + "/" + meta.Name
		check(name+" decodes strictly", err == nil, fmt.Sprint(err))
		checkLabels(name, meta.Labels)
		if tm.Kind != "Namespace" && tm.Kind != "PersistentVolume" {
			check(name+" has a namespace", meta.Namespace != "", "none")
		}
	}
	crossCheck(deployments, hpas, scaledObjects)
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
