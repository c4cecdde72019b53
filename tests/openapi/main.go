// openapi-check: validates forest-serve's OpenAPI document with
// kin-openapi, then validates example requests against it with
// openapi3filter, the way a gateway or a generated client would.
//
//	openapi-check DOC.json [REQUESTS.jsonl]
//
// DOC.json is GET /openapi.json of a live server. Each line of
// REQUESTS.jsonl is one request the README sends (tests/docs/
// api_examples.py captures them): {"where", "method", "path", "headers",
// "body" (base64), "expect": "valid" | "invalid"}. An example the README
// shows answered with a client error (400, 404, 405, 413, 415, 422) must
// be rejected by the document; every other must pass it.
//
// Prints one line per check and "N passed, N failed"; exits 1 on a
// failure.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

type example struct {
	Where   string            `json:"where"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Expect  string            `json:"expect"`
}

var passed, failed int

func check(name string, ok bool, detail string) {
	if ok {
		passed++
		fmt.Printf("  ok    %s\n", name)
		return
	}
	failed++
	fmt.Printf("  FAIL  %s\n", name)
	if detail != "" {
		fmt.Printf("        %s\n", strings.ReplaceAll(detail, "\n", "\n        "))
	}
}


func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: openapi-check DOC.json [REQUESTS.jsonl]")
		os.Exit(2)
	}
	ctx := context.Background()
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi-check: error:", err)
		os.Exit(2)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	check("the document loads as OpenAPI", err == nil, fmt.Sprint(err))
	if err != nil {
		finish()
	}
	check("the document is OpenAPI 3.0.3", doc.OpenAPI == "3.0.3", doc.OpenAPI)
	err = doc.Validate(ctx)
	check("the document validates (kin-openapi)", err == nil, fmt.Sprint(err))
	if err != nil || len(os.Args) < 3 {
		finish()
	}
	// Requests go to this host; the document itself names no server.
	doc.Servers = openapi3.Servers{{URL: "http://localhost"}}
	router, err := gorillamux.NewRouter(doc)
	check("a router can be built from the paths", err == nil, fmt.Sprint(err))
	if err != nil {
		finish()
	}
	f, err := os.Open(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi-check: error:", err)
		os.Exit(2)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		var ex example
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			check("a captured request parses", false, err.Error())
			continue
		}
		n++
		body, err := base64.StdEncoding.DecodeString(ex.Body)
		if err != nil {
			check(ex.Where+": body", false, err.Error())
			continue
		}
		// The server decodes a compressed body before it reads it; so
		// does this check.
		switch strings.ToLower(ex.Headers["Content-Encoding"]) {
		case "gzip", "x-gzip":
			body, err = inflate(gzip.NewReader(bytes.NewReader(body)))
		case "deflate":
			body, err = inflate(zlib.NewReader(bytes.NewReader(body)))
		}
		if err != nil {
			check(ex.Where+": compressed body", false, err.Error())
			continue
		}
		req, err := http.NewRequest(ex.Method, "http://localhost"+ex.Path, bytes.NewReader(body))
		if err != nil {
			check(ex.Where+": request", false, err.Error())
			continue
		}
		for k, v := range ex.Headers {
			req.Header.Set(k, v)
		}
		// curl -d says application/x-www-form-urlencoded; forest-serve
		// reads every body as JSON (or, with
		// Inference-Header-Content-Length, JSON then binary tensors).
		if req.Header.Get("Inference-Header-Content-Length") != "" {
			req.Header.Set("Content-Type", "application/octet-stream")
		} else if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		verr := func() error {
			route, params, err := router.FindRoute(req)
			if err != nil {
				return err
			}
			return openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
				Request:    req,
				PathParams: params,
				Route:      route,
				Options: &openapi3filter.Options{
					AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
				},
			})
		}()
		name := fmt.Sprintf("%s: %s %s is %s", ex.Where, ex.Method, ex.Path, ex.Expect)
		detail := fmt.Sprint(verr)
		if len(detail) > 400 {
			detail = detail[:400] + "..."
		}
		if ex.Expect == "invalid" {
			check(name, verr != nil, "the document accepts it, the server refuses it")
		} else {
			check(name, verr == nil, detail)
		}
	}
	if err := sc.Err(); err != nil {
		check("the captured requests read", false, err.Error())
	}
	check("the README has example requests", n > 0, "none captured")
	finish()
}

// inflate reads a decompressing reader to its end.
func inflate(r io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func finish() {
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
	os.Exit(0)
}
