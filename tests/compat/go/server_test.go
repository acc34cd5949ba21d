// Package compat runs etcd's own Go client (clientv3) against cairnd; this file starts and stops cairnd.
package compat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/status"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
	callTimeout  = 10 * time.Second
)

// cairndPath is $CAIRND, else build/dev/cpp/cmd/cairnd under the repository root, found by
// walking up from the test's directory to the one holding CMakePresets.json.
func cairndPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CAIRND"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "CMakePresets.json")); err == nil {
			return filepath.Join(dir, "build", "dev", "cpp", "cmd", "cairnd")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no repository root (CMakePresets.json) above the test directory; set CAIRND")
		}
		dir = parent
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is one cairnd started for one test.
type server struct {
	Endpoint string // host:port of its client URL
	Client   *clientv3.Client
}

// startCairnd starts cairnd on free loopback ports with a data dir in t.TempDir(), waits
// until it serves a linearizable read, and registers its stop (SIGTERM, then wait) and the
// client's close with t.Cleanup. extraFlags are etcd flags added to the defaults.
func startCairnd(t *testing.T, extraFlags ...string) *server {
	t.Helper()
	bin := cairndPath(t)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("cairnd not found at %s (build the dev preset or set CAIRND): %v", bin, err)
	}
	dir := t.TempDir()
	client := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	args := append([]string{
		"--name=compat",
		"--data-dir=" + filepath.Join(dir, "data"),
		"--listen-client-urls=http://" + client,
		"--advertise-client-urls=http://" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=compat=" + peer,
	}, extraFlags...)
	logPath := filepath.Join(dir, "cairnd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logFile, logFile, dir
	cmd.Env = withoutEtcdVariables(os.Environ())
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting cairnd: %v", err)
	}
	// exited is closed when cairnd has exited; waitErr is then its exit status. A closed
	// channel can be received from any number of times (start-up and cleanup both do).
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
			t.Errorf("cairnd exited during the test: %v\n%s", waitErr, logTail(logPath))
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if !stoppedBySigterm(waitErr) {
				t.Errorf("cairnd did not stop cleanly on SIGTERM: %v\n%s", waitErr, logTail(logPath))
			}
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("cairnd did not stop within %v of SIGTERM", stopTimeout)
		}
	})

	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{client},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("clientv3.New: %v", err)
	}
	t.Cleanup(func() { cli.Close() })

	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "compat-ready-probe")
		cancel()
		if err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("cairnd exited while starting: %v\n%s", waitErr, logTail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairnd not ready after %v: %v\n%s", readyTimeout, err, logTail(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &server{Endpoint: client, Client: cli}
}

// stoppedBySigterm: exit status 0, or death by the SIGTERM itself (etcd re-raises it).
func stoppedBySigterm(err error) bool {
	if err == nil {
		return true
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		ws, ok := exit.Sys().(syscall.WaitStatus)
		return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
	}
	return false
}

func withoutEtcdVariables(env []string) []string {
	var out []string
	for _, kv := range env {
		if len(kv) >= 5 && kv[:5] == "ETCD_" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// ctx gives each call a deadline so that a hung server fails the test instead of the run.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return c
}

// rawKV is etcd's generated KV client on the same connection: it sees the server's gRPC
// status as sent, before clientv3 maps it to rpctypes' errors.
func (s *server) rawKV() pb.KVClient { return pb.NewKVClient(s.Client.ActiveConnection()) }

// grpcStatus returns the gRPC code and message of err, failing if it carries none.
func grpcStatus(t *testing.T, err error) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || err == nil {
		t.Fatalf("want a gRPC status error, got %v", err)
	}
	return st
}
