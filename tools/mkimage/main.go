// Command mkimage builds OCI image archives for hybridd from local files,
// without Docker or a registry. The Makefile uses it to package the
// examples; "mkimage -help" lists the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hybridd/hybridd/ociarchive"
)

const usage = `Usage:
  mkimage -o OUT.tar [flags] SOURCE:DEST[:MODE]...
  mkimage -o OUT.tar -wasm MODULE.wasm

The first form writes a container image with one layer that holds each
SOURCE host file at the absolute path DEST, with the octal permission
MODE (default: the mode of SOURCE). The second form writes a wasm artifact
(config application/vnd.wasm.config.v0+json, one application/wasm layer).
Both write a tar of an OCI image layout that "ctr images import" and
hybridd's "oci-archive:" references accept. Equal inputs give equal bytes.

Example:
  mkimage -o probe.tar -entrypoint /bin/probe ./probe:/bin/probe

Flags:
`

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		out        = fs.String("o", "", "output archive path (required)")
		wasm       = fs.String("wasm", "", "build a wasm artifact from this WebAssembly module instead of a container image")
		name       = fs.String("name", "", "image reference stored in index.json (default hybridd.local/<OUT base name>:latest)")
		entrypoint = fs.String("entrypoint", "", "image entrypoint, split on spaces, e.g. \"/bin/app --flag\"")
		cmd        = fs.String("cmd", "", "image command (arguments after the entrypoint), split on spaces")
		user       = fs.String("user", "", "image user as uid[:gid], e.g. 65534:65534")
		platform   = fs.String("platform", "", "image platform os/arch[/variant] (default linux/<GOARCH of mkimage>)")
		env        stringList
	)
	fs.Var(&env, "env", "environment variable KEY=value; repeat for several")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("missing -o OUT.tar: name the archive to write")
	}

	if *wasm != "" {
		if fs.NArg() > 0 {
			return fmt.Errorf("-wasm takes no SOURCE:DEST files, got %q", fs.Args())
		}
		return ociarchive.BuildWasm(*out, *wasm)
	}

	files, err := parseFiles(fs.Args())
	if err != nil {
		return err
	}
	for _, e := range env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("invalid -env %q: use KEY=value", e)
		}
	}
	return ociarchive.Build(*out, ociarchive.Image{
		Name:       *name,
		Files:      files,
		Entrypoint: strings.Fields(*entrypoint),
		Cmd:        strings.Fields(*cmd),
		Env:        env,
		User:       *user,
		Platform:   *platform,
	})
}

func parseFiles(args []string) ([]ociarchive.File, error) {
	if len(args) == 0 {
		return nil, errors.New("no files: give at least one SOURCE:DEST argument, e.g. ./app:/bin/app")
	}
	files := make([]ociarchive.File, 0, len(args))
	for _, a := range args {
		parts := strings.Split(a, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("invalid file argument %q: use SOURCE:DEST or SOURCE:DEST:MODE, e.g. ./app:/bin/app:0755", a)
		}
		f := ociarchive.File{Source: parts[0], Dest: parts[1]}
		if len(parts) == 3 {
			mode, err := strconv.ParseUint(parts[2], 8, 32)
			if err != nil || mode > 0o777 {
				return nil, fmt.Errorf("invalid mode %q in %q: use octal permission bits, e.g. 0755", parts[2], a)
			}
			f.Mode = os.FileMode(mode)
		}
		files = append(files, f)
	}
	return files, nil
}
