// Defragment and Snapshot through clientv3 against cairnd: data kept, a snapshot that checks out.
package compat

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestDefragmentKeepsData(t *testing.T) {
	t.Parallel()
	s := startCairnd(t)
	seed(t, s.Client)
	if _, err := s.Client.Defragment(ctx(t), s.Endpoint); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client.Get(ctx(t), "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if keys(resp.Kvs) != "a ab b c d/x " || resp.Header.Revision != 8 {
		t.Errorf("after defragment: %q at %d", keys(resp.Kvs), resp.Header.Revision)
	}
	old, err := s.Client.Get(ctx(t), "a", clientv3.WithRev(2))
	if err != nil || len(old.Kvs) != 1 || string(old.Kvs[0].Value) != "1" {
		t.Errorf("history after defragment: %v %v", old, err)
	}
}

func TestSnapshotStreams(t *testing.T) {
	t.Parallel()
	s := startCairnd(t)
	seed(t, s.Client)
	rc, err := s.Client.Snapshot(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	// As etcd's, the stream ends with the SHA-256 of what precedes it, which restore checks.
	if len(data) <= sha256.Size {
		t.Fatalf("snapshot of %d bytes", len(data))
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		t.Errorf("the snapshot's last %d bytes are not the SHA-256 of the rest", sha256.Size)
	}
}
