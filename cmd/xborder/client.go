package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xborder/xborder/node"
	"github.com/xborder/xborder/node/api"
)

// client talks to a node's local API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// newClient resolves the API address and token: flag > environment >
// the sign-in `xborder login` saved for that address > the data dir's
// admin.token; https as apiEndpoint says.
func (g *globals) newClient() (*client, error) {
	base, tr, err := g.apiEndpoint()
	if err != nil {
		return nil, err
	}
	c := &client{base: base, token: g.token, http: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
	if c.token == "" {
		if c.token, err = savedToken(context.Background(), base, time.Now()); err != nil {
			return nil, err
		}
	}
	if c.token == "" {
		tok, err := readTokenFile(dataPath(g, node.AdminTokenFile))
		if err != nil {
			return nil, fmt.Errorf("no API token: run `xborder login`, pass --token or XBORDER_TOKEN, or run where %s is readable (%v)", dataPath(g, node.AdminTokenFile), err)
		}
		c.token = tok
	}
	return c, nil
}

// publicClient reaches the node's public endpoints, with no token.
func (g *globals) publicClient() (*client, error) {
	base, tr, err := g.apiEndpoint()
	if err != nil {
		return nil, err
	}
	return &client{base: base, http: &http.Client{Timeout: 30 * time.Second, Transport: tr}}, nil
}

// apiURL turns a listen address into a URL a local client can dial.
func apiURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// apiError is a non-2xx answer of the API.
type apiError struct {
	Status  int
	Message string
	Body    []byte // the whole answer, for endpoints whose errors carry more
}

func (e *apiError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "the node refused the token: " + e.Message
	case http.StatusForbidden:
		return "not allowed: " + e.Message
	default:
		return fmt.Sprintf("the node answered %d: %s", e.Status, e.Message)
	}
}

// get fetches path and decodes the JSON answer into out.
func (c *client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

// post sends body (JSON-encoded unless nil) and decodes the answer into out.
func (c *client) post(ctx context.Context, path string, body, out any) error {
	return c.do(ctx, http.MethodPost, path, body, out)
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	contentType := ""
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	return c.send(ctx, method, path, rd, contentType, out)
}

// upload streams a file after its JSON metadata as multipart/form-data,
// without holding the file in memory. A predictor, when not "", is sent
// as a "predictor" part between the two.
func (c *client) upload(ctx context.Context, path string, meta any, file, predictor string, out any) error {
	var parts []filePart
	if predictor != "" {
		parts = append(parts, filePart{name: "predictor", path: predictor})
	}
	return c.uploadParts(ctx, path, meta, append(parts, filePart{name: "file", path: file}), out)
}

// filePart is a file sent as a named part of a multipart upload.
type filePart struct{ name, path string }

// uploadParts streams the JSON metadata, then each file as its named
// part, as multipart/form-data, without holding a file in memory.
func (c *client) uploadParts(ctx context.Context, path string, meta any, parts []filePart, out any) error {
	files := make([]*os.File, len(parts))
	for i, p := range parts {
		f, err := os.Open(p.path)
		if err != nil {
			return err
		}
		defer f.Close()
		files[i] = f
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			part, err := mw.CreateFormField("metadata")
			if err != nil {
				return err
			}
			if err := json.NewEncoder(part).Encode(meta); err != nil {
				return err
			}
			for i, p := range parts {
				fp, err := mw.CreateFormFile(p.name, filepath.Base(p.path))
				if err != nil {
					return err
				}
				if _, err := io.Copy(fp, files[i]); err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	return c.send(ctx, http.MethodPost, path, pr, mw.FormDataContentType(), out)
}

func (c *client) send(ctx context.Context, method, path string, rd io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return fmt.Errorf("cannot reach the node at %s: is `xborder run` running? (%v)", c.base, op.Err)
		}
		return fmt.Errorf("cannot reach the node at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.answerError(resp)
	}
	// An answer is decoded as it arrives, whatever its size: a federation
	// catalogue grows with every member's entries.
	dec := json.NewDecoder(resp.Body)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode answer from %s%s: %w", c.base, path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode answer from %s%s: more than one JSON document", c.base, path)
	}
	return nil
}

// maxErrorAnswer bounds what is read of an error answer: a message and,
// for a refused agreement, the agreement.
const maxErrorAnswer = 16 << 20

// deniedError renders a policy refusal with each reason on its own line.
func deniedError(reasons, rules []string) error {
	var b strings.Builder
	b.WriteString("denied by policy:")
	for i, r := range reasons {
		b.WriteString("\n  - " + r)
		if i < len(rules) {
			b.WriteString(" [" + rules[i] + "]")
		}
	}
	return errors.New(b.String())
}

// answerError is the error a non-2xx answer carries.
func (c *client) answerError(resp *http.Response) error {
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorAnswer))
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", c.base, err)
	}
	var e api.Error
	if json.Unmarshal(answer, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(answer))
	}
	if e.Denied {
		return &exitErr{code: exitDenied, err: deniedError(e.Reasons, e.Rules)}
	}
	return &apiError{Status: resp.StatusCode, Message: e.Error, Body: answer}
}
