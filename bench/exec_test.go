package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hybridd/hybridd/internal/testenv"
	"github.com/hybridd/hybridd/oci"
)

// BenchmarkContainerExec is the per-message cost of the container function
// path inside the host: one exec of the probe's digest command in an idle
// container of a private containerd, through package oci as the engine
// calls it. The per-message cost of the wasm paths is in package
// wasmhost: BenchmarkReactorCallWAT, BenchmarkReactorCallGo,
// BenchmarkCommandWAT and BenchmarkCommandGo. B/op and allocs/op count
// this process only, not containerd, its shim or runc.
func BenchmarkContainerExec(b *testing.B) {
	cd := testenv.StartContainerd(b)
	ctx := context.Background()
	client, err := oci.Connect(ctx, oci.Config{
		Address: cd.Address, Namespace: cd.Namespace,
		InitPath: artifacts.initBinary, LogDir: b.TempDir(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	img, err := client.EnsureImage(ctx, oci.ArchivePrefix+artifacts.probeArchive, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	f, err := client.StartFunction(ctx, oci.ContainerSpec{
		Name: "bench-exec", Image: img.Ref, Command: []string{"/bin/probe", "digest"},
		MemoryLimit: 32 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close(context.Background()) })

	in := oci.Input{Topic: "sensors/office-1/telemetry", Payload: []byte(officeReading)}
	b.ReportAllocs()
	for b.Loop() {
		execCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := f.Exec(execCtx, in)
		cancel()
		if err != nil {
			b.Fatalf("exec: %v (stderr %q)", err, out.Stderr)
		}
	}
}
