package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// ErrDaemonUnreachable wraps failures to connect to the daemon's socket.
var ErrDaemonUnreachable = errors.New("daemon not reachable")

// Client calls a daemon over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &Client{socket: socket, http: &http.Client{Transport: transport}}
}

// ReadFiles reads manifest files for a request, making their paths absolute.
func ReadFiles(paths []string) ([]File, error) {
	files := make([]File, 0, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", p, err)
		}
		data, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		files = append(files, File{Path: abs, Content: data})
	}
	return files, nil
}

// Apply deploys manifest files.
func (c *Client) Apply(ctx context.Context, files []File) (ApplyResponse, error) {
	var resp ApplyResponse
	err := c.do(ctx, http.MethodPost, "/v1/apply", ApplyRequest{Files: files}, &resp)
	return resp, err
}

// Plan returns what a deploy of the files would decide.
func (c *Client) Plan(ctx context.Context, files []File) (PlanResponse, error) {
	var resp PlanResponse
	err := c.do(ctx, http.MethodPost, "/v1/plan", ApplyRequest{Files: files}, &resp)
	return resp, err
}

// List returns the deployed workloads.
func (c *Client) List(ctx context.Context) (ListResponse, error) {
	var resp ListResponse
	err := c.do(ctx, http.MethodGet, "/v1/workloads", nil, &resp)
	return resp, err
}

// Remove removes workloads by name.
func (c *Client) Remove(ctx context.Context, names []string) error {
	return c.do(ctx, http.MethodPost, "/v1/remove", RemoveRequest{Names: names}, nil)
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (VersionResponse, error) {
	var resp VersionResponse
	err := c.do(ctx, http.MethodGet, "/v1/version", nil, &resp)
	return resp, err
}

// Logs writes a workload's log lines to w; with follow it streams until ctx
// is done or the daemon stops.
func (c *Client) Logs(ctx context.Context, name string, follow bool, w io.Writer) error {
	path := "/v1/workloads/" + url.PathEscape(name) + "/logs"
	if follow {
		path += "?follow=1"
	}
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		if _, err := fmt.Fprintln(w, scanner.Text()); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return scanner.Err()
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("invalid response from daemon: %w", err)
	}
	return nil
}

// send performs a request and turns a non-2xx response into an error
// carrying the daemon's message.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://hybridd"+path, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: %v (start it with hybridd serve, or set --socket or HYBRIDD_SOCKET)",
			ErrDaemonUnreachable, c.socket, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e ErrorResponse
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
		return nil, fmt.Errorf("daemon responded %s", resp.Status)
	}
	return nil, errors.New(e.Error)
}
