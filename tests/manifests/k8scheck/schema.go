package main

// A strict structural check of an object against one Kubernetes release's
// OpenAPI v2 definitions (k8s.io/kubernetes' api/openapi-spec/swagger.json,
// fetched by run.sh from the module proxy). The Go types only know 1.34;
// older API servers may lack a field or require one 1.34 defaults, which is
// how a CronJob without onPodConditions[].status got past a 1.34-only check
// and was rejected by 1.33. Checked, as the API server would at the latest
// on create:
//   - the apiVersion and kind are served by that release;
//   - no field the release does not know (unknown fields are an error with
//     kubectl's --validate=strict, and silently dropped without it);
//   - every field the schema lists as required is present;
//   - JSON types: object, array, string, integer (int32/int64 ranges),
//     number, boolean; int-or-string; Quantity as a string or a number;
//   - enum, wherever a schema carries one (Kubernetes' published schemas
//     carry almost none: their enums live in descriptions and in the API
//     server's validation code).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type jsonSchema struct {
	Ref                  string                 `json:"$ref"`
	Type                 string                 `json:"type"`
	Format               string                 `json:"format"`
	Properties           map[string]*jsonSchema `json:"properties"`
	AdditionalProperties *jsonSchema            `json:"additionalProperties"`
	Items                *jsonSchema            `json:"items"`
	Required             []string               `json:"required"`
	Enum                 []interface{}          `json:"enum"`
	PreserveUnknown      bool                   `json:"x-kubernetes-preserve-unknown-fields"`
	GVK                  []struct {
		Group, Version, Kind string
	} `json:"x-kubernetes-group-version-kind"`
}

type openAPI struct {
	version string // as given on the command line, e.g. v1.33.13
	defs    map[string]*jsonSchema
	byGVK   map[string]string // "apps/v1 Deployment" -> definition name
}

const (
	refPrefix = "#/definitions/"
	quantity  = "io.k8s.apimachinery.pkg.api.resource.Quantity"
)

func loadOpenAPI(version, path string) (*openAPI, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Swagger     string                 `json:"swagger"`
		Definitions map[string]*jsonSchema `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if doc.Swagger != "2.0" || len(doc.Definitions) == 0 {
		return nil, fmt.Errorf("%s: not a Swagger 2.0 document with definitions", path)
	}
	o := &openAPI{version: version, defs: doc.Definitions, byGVK: map[string]string{}}
	for name, d := range doc.Definitions {
		for _, g := range d.GVK {
			av := g.Version
			if g.Group != "" {
				av = g.Group + "/" + g.Version
			}
			// WatchEvent and DeleteOptions list every group; a kind's own
			// definition is the one named after it.
			if strings.HasSuffix(name, "."+g.Kind) {
				o.byGVK[av+" "+g.Kind] = name
			}
		}
	}
	return o, nil
}

// validateYAML checks one YAML document; it returns the problems found,
// each starting with the field's path.
func (o *openAPI) validateYAML(doc []byte) []string {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return []string{err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v map[string]interface{}
	if err := dec.Decode(&v); err != nil {
		return []string{err.Error()}
	}
	av, _ := v["apiVersion"].(string)
	kind, _ := v["kind"].(string)
	name, ok := o.byGVK[av+" "+kind]
	if !ok {
		return []string{fmt.Sprintf("%s %s is not served by Kubernetes %s", av, kind, o.version)}
	}
	var errs []string
	o.walk(kind, v, &jsonSchema{Ref: refPrefix + name}, &errs)
	return errs
}

func (o *openAPI) walk(path string, v interface{}, s *jsonSchema, errs *[]string) {
	bad := func(format string, a ...interface{}) {
		*errs = append(*errs, path+": "+fmt.Sprintf(format, a...))
	}
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, refPrefix)
		d, ok := o.defs[name]
		if !ok {
			bad("schema has no definition %s", s.Ref)
			return
		}
		if name == quantity {
			// The schema says string; the API server also takes a number.
			switch v.(type) {
			case string, json.Number, nil:
			default:
				bad("want a quantity (string or number), got %s", jsonType(v))
			}
			return
		}
		s = d
	}
	if v == nil {
		return // null: the field is unset
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !found {
			bad("%v is not one of %v", v, s.Enum)
		}
	}
	switch s.Type {
	case "object", "":
		if s.Type == "" && s.Properties == nil {
			return // no schema: anything goes (RawExtension, JSON)
		}
		m, ok := v.(map[string]interface{})
		if !ok {
			bad("want an object, got %s", jsonType(v))
			return
		}
		if s.Properties != nil {
			for _, k := range sortedKeys(m) {
				p, known := s.Properties[k]
				if !known {
					if !s.PreserveUnknown {
						*errs = append(*errs, path+"."+k+": unknown field")
					}
					continue
				}
				o.walk(path+"."+k, m[k], p, errs)
			}
			for _, r := range s.Required {
				if _, ok := m[r]; !ok {
					bad("missing required field %q", r)
				}
			}
		} else if s.AdditionalProperties != nil {
			for _, k := range sortedKeys(m) {
				o.walk(path+"."+k, m[k], s.AdditionalProperties, errs)
			}
		}
	case "array":
		a, ok := v.([]interface{})
		if !ok {
			bad("want an array, got %s", jsonType(v))
			return
		}
		if s.Items != nil {
			for i, e := range a {
				o.walk(fmt.Sprintf("%s[%d]", path, i), e, s.Items, errs)
			}
		}
	case "string":
		if _, ok := v.(string); ok {
			return
		}
		if n, ok := v.(json.Number); ok && s.Format == "int-or-string" {
			if _, err := n.Int64(); err == nil {
				return
			}
		}
		if s.Format == "int-or-string" {
			bad("want an integer or a string, got %s", jsonType(v))
		} else {
			bad("want a string, got %s", jsonType(v))
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			bad("want an integer, got %s", jsonType(v))
			return
		}
		i, err := n.Int64()
		if err != nil {
			bad("want an integer, got %s", n)
		} else if s.Format == "int32" && (i < math.MinInt32 || i > math.MaxInt32) {
			bad("%d does not fit in int32", i)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			bad("want a number, got %s", jsonType(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %s", jsonType(v))
		}
	default:
		bad("schema has unknown type %q", s.Type)
	}
}

func jsonType(v interface{}) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case json.Number:
		return "number " + x.String()
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []interface{}:
		return "an array"
	case map[string]interface{}:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// A CustomResourceDefinition's served versions, as the checks need them.
type crdDoc struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind string `json:"kind"`
		} `json:"names"`
		Versions []struct {
			Name   string `json:"name"`
			Served bool   `json:"served"`
			Schema struct {
				OpenAPIV3Schema *jsonSchema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

// loadCRD reads a CustomResourceDefinition (YAML) and returns its served
// versions' structural schemas, keyed "group/version Kind". Its schema
// language is the subset walk knows: properties, items, required, types;
// int-or-string fields carry no type and so accept anything, and so does
// metadata (`type: object` without properties), which the API server
// checks for every kind alike.
func loadCRD(path string) (map[string]*jsonSchema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c crdDoc
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := map[string]*jsonSchema{}
	for _, v := range c.Spec.Versions {
		if v.Served && v.Schema.OpenAPIV3Schema != nil {
			out[c.Spec.Group+"/"+v.Name+" "+c.Spec.Names.Kind] = v.Schema.OpenAPIV3Schema
		}
	}
	if c.Spec.Group == "" || c.Spec.Names.Kind == "" || len(out) == 0 {
		return nil, fmt.Errorf("%s: not a CustomResourceDefinition with a served schema", path)
	}
	return out, nil
}

// addCRD makes a custom resource's kinds known to o, as a cluster with
// that CRD installed serves them.
func (o *openAPI) addCRD(kinds map[string]*jsonSchema) {
	for gvk, s := range kinds {
		name := "crd " + gvk
		o.defs[name] = s
		o.byGVK[gvk] = name
	}
}
