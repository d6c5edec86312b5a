// Package faultproxy is a loopback HTTP reverse proxy for tests that puts
// failures between a client and a server: S3-style 5xx errors and
// throttling, either instead of forwarding a request or after forwarding it
// (the server did the work but the client is told it failed).
//
//	p := faultproxy.New(t, moto.Endpoint)
//	p.Inject(faultproxy.Rule{Match: faultproxy.Method("PUT"), Status: 503, Code: "SlowDown", Times: 4})
//	client := moto.NewClient(p.URL)
package faultproxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Rule says which requests fail and how.
type Rule struct {
	// Match selects the requests the rule applies to; nil matches all.
	Match func(*http.Request) bool
	// Status is the HTTP status of the failure, such as 500 or 503.
	Status int
	// Code is the S3 error code put in the XML body, such as
	// "InternalError" or "SlowDown". Empty means "InternalError".
	Code string
	// AfterForward forwards the request to the server first and answers
	// with the failure only afterwards, as when a response is lost.
	AfterForward bool
	// Times is how many matching requests fail; a negative number means
	// every matching request until the rule is cleared.
	Times int
}

// Method returns a matcher for requests with the given HTTP method.
func Method(method string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method }
}

// Request is one request the proxy saw.
type Request struct {
	Method string
	Path   string
	// Injected is the status of the failure the proxy answered with, or 0
	// when the server's own answer was passed through.
	Injected int
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL; point the client's endpoint at it.
	URL string

	srv   *httptest.Server
	proxy *httputil.ReverseProxy

	mu   sync.Mutex
	rule *Rule
	left int
	log  []Request
}

// New starts a proxy in front of target (a base URL such as
// http://127.0.0.1:1234) and closes it when the test ends.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("faultproxy: bad target %q: %v", target, err)
	}
	p := &Proxy{proxy: httputil.NewSingleHostReverseProxy(u)}
	// The client signed its requests for the proxy's host: keep the Host
	// header as sent (NewSingleHostReverseProxy does not rewrite it).
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.Close)
	return p
}

// Inject makes the proxy fail requests as r says, replacing any earlier rule.
func (p *Proxy) Inject(r Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Status == 0 {
		r.Status = http.StatusInternalServerError
	}
	if r.Code == "" {
		r.Code = "InternalError"
	}
	p.rule = &r
	p.left = r.Times
}

// Clear removes the rule: every request is forwarded untouched.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = nil
}

// Requests returns the requests seen so far, in order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
}

// Injected returns how many failures the proxy has answered with.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.log {
		if r.Injected != 0 {
			n++
		}
	}
	return n
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// take reports whether req must fail, and with which rule, consuming one
// of the rule's failures.
func (p *Proxy) take(req *http.Request) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rule
	entry := Request{Method: req.Method, Path: req.URL.Path}
	if r != nil && (r.Match == nil || r.Match(req)) && p.left != 0 {
		if p.left > 0 {
			p.left--
		}
		entry.Injected = r.Status
		p.log = append(p.log, entry)
		return r
	}
	p.log = append(p.log, entry)
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	r := p.take(req)
	if r == nil {
		p.proxy.ServeHTTP(w, req)
		return
	}
	if r.AfterForward {
		p.proxy.ServeHTTP(discard{header: http.Header{}}, req)
	} else {
		// Read the body so that the client is not cut off mid-request.
		_, _ = io.Copy(io.Discard, req.Body)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(r.Status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>injected by faultproxy</Message><RequestId>faultproxy</RequestId></Error>`, r.Code)
}

// discard is a ResponseWriter that drops the server's answer.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
