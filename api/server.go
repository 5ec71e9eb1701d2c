package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hybridd/hybridd/engine"
	"github.com/hybridd/hybridd/manifest"
)

// maxRequestBytes bounds a request body: manifests are small, and artifacts
// are read by the daemon from the paths the manifests give.
const maxRequestBytes = 16 << 20

// Server serves the control API for one engine.
type Server struct {
	engine  *engine.Engine
	version string
	logger  *slog.Logger
	http    *http.Server
}

// NewServer builds the HTTP handlers around the engine.
func NewServer(e *engine.Engine, version string, logger *slog.Logger) *Server {
	s := &Server{engine: e, version: version, logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/apply", s.apply)
	mux.HandleFunc("POST /v1/plan", s.plan)
	mux.HandleFunc("GET /v1/workloads", s.list)
	mux.HandleFunc("POST /v1/remove", s.remove)
	mux.HandleFunc("GET /v1/workloads/{name}/logs", s.logs)
	mux.HandleFunc("GET /v1/version", s.versionInfo)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Listen creates the unix socket at path, replacing a stale socket file
// left by a daemon that did not shut down, and restricts it to the owner.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return nil, fmt.Errorf("socket %s is in use by a running daemon (stop it, or pass another --socket)", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restrict socket %s: %w", path, err)
	}
	return l, nil
}

// Serve handles requests on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests and waits for those in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	workloads, ok := s.parse(w, r)
	if !ok {
		return
	}
	statuses, err := s.engine.Apply(r.Context(), workloads)
	if err != nil {
		s.logger.Warn("deploy rejected", "error", err)
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, ApplyResponse{Workloads: statuses})
}

func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	workloads, ok := s.parse(w, r)
	if !ok {
		return
	}
	state := s.engine.BudgetState()
	writeJSON(w, http.StatusOK, PlanResponse{
		Daemon:  true,
		Entries: s.engine.Plan(r.Context(), workloads),
		Budget: BudgetSummary{
			Capacity: state.Capacity, Reserved: state.Reserved, Free: state.Capacity - state.Reserved,
		},
	})
}

// parse decodes the manifest files of a request. A bad manifest is the
// client's error: the response is 400 with the parser's positioned message.
func (s *Server) parse(w http.ResponseWriter, r *http.Request) ([]manifest.Workload, bool) {
	var req ApplyRequest
	if !decode(w, r, &req) {
		return nil, false
	}
	if len(req.Files) == 0 {
		writeError(w, http.StatusBadRequest, errors.New("no manifest files in the request"))
		return nil, false
	}
	sources := make([]manifest.Source, 0, len(req.Files))
	for _, f := range req.Files {
		if !filepath.IsAbs(f.Path) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("manifest path %q is not absolute", f.Path))
			return nil, false
		}
		sources = append(sources, manifest.Source{Name: f.Path, Data: f.Content})
	}
	workloads, err := manifest.ParseSources(sources...)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return nil, false
	}
	return workloads, true
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, ListResponse{Workloads: s.engine.List(r.Context())})
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	var req RemoveRequest
	if !decode(w, r, &req) {
		return
	}
	if err := s.engine.Remove(r.Context(), req.Names); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, engine.ErrNotFound) {
			status = http.StatusNotFound
		}
		writeError(w, status, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// logs writes one line per log line; with ?follow=1 it keeps streaming until
// the client goes away.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	follow := r.URL.Query().Get("follow") == "1"
	lines, next, err := s.engine.Logs(r.Context(), r.PathValue("name"), follow)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, line := range lines {
		fmt.Fprintln(w, line)
	}
	if next == nil {
		return
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	for line := range next {
		fmt.Fprintln(w, line)
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func (s *Server) versionInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, VersionResponse{Version: s.version})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, maxRequestBytes)
	if err := json.NewDecoder(body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("invalid request body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, ErrorResponse{Error: err.Error()})
}
