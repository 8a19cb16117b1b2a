// Package e2e holds tmc's end-to-end tests: they run the real tmc binary
// against real API servers (see test/harness).
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tmcBin is the tmc binary built once for the package's tests.
var tmcBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tmc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmcBin = filepath.Join(dir, "tmc")
	args := []string{"build", "-o", tmcBin}
	if os.Getenv("TMC_E2E_RACE") != "" {
		args = append(args, "-race") // TMC_E2E_RACE=1 go test -race ./test/e2e
	}
	build := exec.Command("go", append(args, "github.com/kcp-dev/tmc/cmd/tmc")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build tmc:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tmc runs the binary and returns stdout, stderr and the exit code.
func tmc(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(tmcBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run tmc %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// startTMC starts the binary in the background with its output in a buffer;
// the test's cleanup kills it and, when the test failed, logs the output.
func startTMC(t *testing.T, name string, args ...string) (*exec.Cmd, *safeBuffer) {
	t.Helper()
	cmd := exec.Command(tmcBin, args...)
	buf := &safeBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, buf.String())
		}
	})
	return cmd, buf
}
