package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Test fixtures, built once by TestMain.
var (
	// fixtureDir holds every assembled and built module as NAME.wasm.
	fixtureDir string
	// sharedHost is one Host for the tests that need no host of their own,
	// so that each Go module is compiled once per test binary.
	sharedHost *Host
)

// goModules are the example functions built with GOOS=wasip1 GOARCH=wasm;
// reactors need -buildmode=c-shared.
var goModules = []struct {
	name    string
	reactor bool
}{
	{"threshold-alert", false},
	{"dew-point", false},
	{"moving-average", true},
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wasmhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create fixture directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	fixtureDir = dir

	if err := assembleWAT(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := buildGoModules(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	ctx := context.Background()
	sharedHost, err = New(ctx, Config{CacheDir: testCacheDir(dir)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "create shared host:", err)
		return 1
	}
	defer sharedHost.Close(ctx)
	if err := precompileGoModules(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// testCacheDir returns a compilation cache directory that outlives the test
// binary, like the go build cache, so that a second run does not compile the
// Go modules again. Compiling them takes about 40 s each under -race.
func testCacheDir(fallback string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(fallback, "cache")
	}
	return filepath.Join(dir, "hybridd", "wasmhost-test")
}

// precompileGoModules loads the Go modules side by side once, so that their
// compilations overlap instead of running one after the other inside tests.
func precompileGoModules(ctx context.Context, dir string) error {
	errs := make(chan error, len(goModules))
	for _, mod := range goModules {
		go func() {
			wasm, err := os.ReadFile(filepath.Join(dir, mod.name+".wasm"))
			if err != nil {
				errs <- err
				return
			}
			cfg := ModuleConfig{Name: mod.name, Env: map[string]string{"FIELD": "co2", "WINDOW": "1"}}
			m, err := sharedHost.Load(ctx, wasm, cfg)
			if err != nil {
				errs <- fmt.Errorf("precompile %s: %w", mod.name, err)
				return
			}
			errs <- m.Close(ctx)
		}()
	}
	var joined error
	for range goModules {
		joined = errors.Join(joined, <-errs)
	}
	return joined
}

// assembleWAT turns each testdata/*.wat into dir/NAME.wasm with wat2wasm.
func assembleWAT(dir string) error {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		return fmt.Errorf("wat2wasm not found in PATH: install the Debian package wabt (apt-get install wabt)")
	}
	sources, err := filepath.Glob("testdata/*.wat")
	if err != nil || len(sources) == 0 {
		return fmt.Errorf("no testdata/*.wat found: run the tests from the wasmhost directory")
	}
	for _, src := range sources {
		out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".wat")+".wasm")
		if msg, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
			return fmt.Errorf("wat2wasm %s: %v\n%s", src, err, msg)
		}
	}
	return nil
}

// buildGoModules builds the example functions under examples/wasm-sensors.
// The go build cache makes repeated runs fast.
func buildGoModules(dir string) error {
	for _, mod := range goModules {
		args := []string{"build", "-o", filepath.Join(dir, mod.name+".wasm")}
		if mod.reactor {
			args = append(args, "-buildmode=c-shared")
		}
		args = append(args, "./examples/wasm-sensors/"+mod.name)
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
		}
	}
	return nil
}

// fixture returns the bytes of dir/NAME.wasm.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	wasm, err := os.ReadFile(filepath.Join(fixtureDir, name+".wasm"))
	if err != nil {
		t.Fatalf("read fixture %s: %v", name, err)
	}
	return wasm
}
