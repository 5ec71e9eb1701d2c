package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/hybridd/hybridd/manifest"
)

// record is one desired workload as the state dir stores it. Its artifact
// files are copied into the state dir and the spec names the copies, so a
// restart does not depend on the files the manifest named, and a later edit
// of those files changes nothing until the next deploy.
type record struct {
	Workload manifest.Workload `json:"workload"`
	// Digest identifies the spec, whose artifact paths are content
	// addressed, so a deploy can tell "unchanged" from "replaced".
	Digest string `json:"digest"`
}

// store persists the desired state under dir: desired.json and artifacts/.
// It is not safe for concurrent use; the engine serializes access.
type store struct {
	dir string
}

const desiredFile = "desired.json"

func newStore(dir string) (*store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o700); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", dir, err)
	}
	return &store{dir: dir}, nil
}

// load returns the stored records; a missing file means none.
func (s *store) load() (map[string]*record, error) {
	records := make(map[string]*record)
	data, err := os.ReadFile(filepath.Join(s.dir, desiredFile))
	if errors.Is(err, os.ErrNotExist) {
		return records, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read desired state: %w", err)
	}
	var list []*record
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("parse desired state %s: %w (move the file away to start empty)",
			filepath.Join(s.dir, desiredFile), err)
	}
	for _, r := range list {
		records[r.Workload.Name] = r
	}
	return records, nil
}

// save writes all records atomically: a crash leaves the old or the new file.
func (s *store) save(records map[string]*record) error {
	list := make([]*record, 0, len(records))
	for _, r := range records {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Workload.Name < list[j].Workload.Name })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("encode desired state: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.dir, desiredFile), data)
}

// importArtifact copies the file at path into the state dir, named by its
// SHA-256 digest, and returns the copy's path and the digest.
func (s *store) importArtifact(path string) (string, string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("open artifact: %w", err)
	}
	defer src.Close()

	tmp, err := os.CreateTemp(filepath.Join(s.dir, "artifacts"), ".import-*")
	if err != nil {
		return "", "", fmt.Errorf("copy artifact %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	hash := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, hash), src); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("copy artifact %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", "", fmt.Errorf("copy artifact %s: %w", path, err)
	}
	digest := "sha256:" + hex.EncodeToString(hash.Sum(nil))
	dest := filepath.Join(s.dir, "artifacts", hex.EncodeToString(hash.Sum(nil))+filepath.Ext(path))
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return "", "", fmt.Errorf("copy artifact %s: %w", path, err)
	}
	return dest, digest, nil
}

// pruneArtifacts removes copies no record refers to.
func (s *store) pruneArtifacts(records map[string]*record) error {
	keep := make(map[string]bool)
	for _, r := range records {
		for _, path := range artifactPaths(r.Workload.Spec) {
			keep[path] = true
		}
	}
	dir := filepath.Join(s.dir, "artifacts")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list artifacts: %w", err)
	}
	for _, entry := range entries {
		path := filepath.Join(dir, entry.Name())
		if !keep[path] {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("remove unused artifact: %w", err)
			}
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
