// SPDX-License-Identifier: Apache-2.0
// Upload a body with Go's net/http client.  Go never adds Expect by
// itself; with the header set by the application, Transport waits
// ExpectContinueTimeout for a 100 before it sends the body (0: it sends
// the body at once).  Standard library only.  Prints one JSON object.
//
//	go_http_upload URL SIZE MODE
//	MODE: expect:MS   Expect: 100-continue, ExpectContinueTimeout MS ms
//	      no-expect   no Expect header
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type result struct {
	Client      string   `json:"client"`
	Version     string   `json:"version"`
	Mode        string   `json:"mode"`
	Status      *int     `json:"status"`
	Error       *string  `json:"error"`
	Got100      bool     `json:"got_100"`
	Requests    int      `json:"requests"`
	FirstBodyAt *float64 `json:"first_body_at"`
	Elapsed     float64  `json:"elapsed"`
	EchoMatches bool     `json:"echo_matches"`
}

// firstRead notes when the transport first reads the body.
type firstRead struct {
	r    io.Reader
	t0   time.Time
	when *float64
}

func (f *firstRead) Read(p []byte) (int, error) {
	if f.when == nil {
		s := time.Since(f.t0).Seconds()
		f.when = &s
	}
	return f.r.Read(p)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go_http_upload URL SIZE MODE")
		os.Exit(2)
	}
	url, mode := os.Args[1], os.Args[3]
	size, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad SIZE")
		os.Exit(2)
	}
	body := make([]byte, size)
	if _, err := rand.Read(body); err != nil {
		panic(err)
	}
	tr := &http.Transport{}
	expect := false
	if strings.HasPrefix(mode, "expect:") {
		ms, err := strconv.Atoi(strings.TrimPrefix(mode, "expect:"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad MODE")
			os.Exit(2)
		}
		tr.ExpectContinueTimeout = time.Duration(ms) * time.Millisecond
		expect = true
	} else if mode != "no-expect" {
		fmt.Fprintln(os.Stderr, "unknown MODE")
		os.Exit(2)
	}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	res := result{Client: "go-net-http", Version: "Go " + strings.TrimPrefix(runtime.Version(), "go"), Mode: mode}
	t0 := time.Now()
	fr := &firstRead{r: bytes.NewReader(body), t0: t0}
	req, err := http.NewRequest("POST", url, fr)
	if err != nil {
		panic(err)
	}
	req.ContentLength = int64(size)
	req.Header.Set("Content-Type", "application/octet-stream")
	if expect {
		req.Header.Set("Expect", "100-continue")
	}
	trace := &httptrace.ClientTrace{
		Got100Continue: func() { res.Got100 = true },
		WroteHeaders:   func() { res.Requests++ },
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := client.Do(req)
	if err != nil {
		msg := err.Error()
		res.Error = &msg
	} else {
		echo, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		code := resp.StatusCode
		res.Status = &code
		if rerr != nil {
			msg := rerr.Error()
			res.Error = &msg
		}
		res.EchoMatches = bytes.Equal(echo, body)
	}
	res.FirstBodyAt = fr.when
	res.Elapsed = time.Since(t0).Seconds()
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}
