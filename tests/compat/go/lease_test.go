// Leases through clientv3 against cairnd: grant, attach, time-to-live, keepalive, revoke, expiry.
package compat

import (
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const expiryWait = 20 * time.Second // a lease that has not expired by then fails the test

func TestLeaseLifecycle(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	grant, err := cli.Grant(ctx(t), 60)
	if err != nil {
		t.Fatal(err)
	}
	if grant.ID == clientv3.NoLease || grant.TTL != 60 {
		t.Fatalf("grant: id %x ttl %d", grant.ID, grant.TTL)
	}
	for _, k := range []string{"k1", "k2"} {
		if _, err := cli.Put(ctx(t), k, "v", clientv3.WithLease(grant.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx(t), "free", "v"); err != nil {
		t.Fatal(err)
	}
	get, err := cli.Get(ctx(t), "k1")
	if err != nil {
		t.Fatal(err)
	}
	if get.Kvs[0].Lease != int64(grant.ID) {
		t.Errorf("k1's lease %x, want %x", get.Kvs[0].Lease, grant.ID)
	}
	ttl, err := cli.TimeToLive(ctx(t), grant.ID, clientv3.WithAttachedKeys())
	if err != nil {
		t.Fatal(err)
	}
	if ttl.ID != grant.ID || ttl.GrantedTTL != 60 || ttl.TTL <= 0 || ttl.TTL > 60 || len(ttl.Keys) != 2 {
		t.Errorf("time to live: %+v", ttl)
	}
	leases, err := cli.Leases(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Leases) != 1 || leases.Leases[0].ID != grant.ID {
		t.Errorf("leases: %v", leases.Leases)
	}
	ka, err := cli.KeepAliveOnce(ctx(t), grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ka.ID != grant.ID || ka.TTL != 60 {
		t.Errorf("keepalive once: %+v", ka)
	}

	revoke, err := cli.Revoke(ctx(t), grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Revoking deletes the attached keys in one revision.
	if revoke.Header.Revision != 5 {
		t.Errorf("revoke at revision %d, want 5", revoke.Header.Revision)
	}
	all, err := cli.Get(ctx(t), "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if keys(all.Kvs) != "free " || all.Header.Revision != 5 {
		t.Errorf("after revoke: %q at %d", keys(all.Kvs), all.Header.Revision)
	}
	// A lease that is gone: TimeToLive says TTL -1, Revoke and KeepAliveOnce say not found.
	ttl, err = cli.TimeToLive(ctx(t), grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TTL != -1 {
		t.Errorf("time to live of a revoked lease: %d, want -1", ttl.TTL)
	}
	_, err = cli.Revoke(ctx(t), grant.ID)
	wantEtcdError(t, err, rpctypes.ErrLeaseNotFound)
	_, err = cli.KeepAliveOnce(ctx(t), grant.ID)
	wantEtcdError(t, err, rpctypes.ErrLeaseNotFound)
	_, err = cli.Put(ctx(t), "k1", "v", clientv3.WithLease(grant.ID))
	wantEtcdError(t, err, rpctypes.ErrLeaseNotFound)
}

func TestLeaseChosenID(t *testing.T) {
	t.Parallel()
	s := startCairnd(t)
	leases := pb.NewLeaseClient(s.Client.ActiveConnection())
	resp, err := leases.LeaseGrant(ctx(t), &pb.LeaseGrantRequest{ID: 1000, TTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != 1000 || resp.TTL != 60 {
		t.Errorf("grant: %+v", resp)
	}
	_, err = leases.LeaseGrant(ctx(t), &pb.LeaseGrantRequest{ID: 1000, TTL: 60})
	wantGRPCError(t, err, rpctypes.ErrGRPCLeaseExist)
}

// Leases shorter than etcd's minimum (1.5 election timeouts, rounded up) get the minimum.
func TestLeaseMinimumTTL(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	grant, err := cli.Grant(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if grant.TTL != 2 {
		t.Errorf("granted TTL %d, want 2 (election timeout 1000 ms)", grant.TTL)
	}
}

func TestLeaseExpiryDeletesKeys(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	grant, err := cli.Grant(ctx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx(t), "e", "v", clientv3.WithLease(grant.ID)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(expiryWait)
	for {
		resp, err := cli.Get(ctx(t), "e")
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key of a 2 s lease still there after %v", expiryWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ttl, err := cli.TimeToLive(ctx(t), grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TTL != -1 {
		t.Errorf("time to live of an expired lease: %d, want -1", ttl.TTL)
	}
}

// With KeepAlive running, a short lease outlives several TTLs and its key stays.
func TestLeaseKeepAliveKeepsKeys(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	grant, err := cli.Grant(ctx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx(t), "kept", "v", clientv3.WithLease(grant.ID)); err != nil {
		t.Fatal(err)
	}
	kctx := watchCtx(t)
	ch, err := cli.KeepAlive(kctx, grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	// clientv3 sends a keepalive every TTL/3; seven answers span more than two TTLs.
	for i := 0; i < 7; i++ {
		select {
		case resp, ok := <-ch:
			if !ok {
				t.Fatalf("keepalive channel closed after %d answers", i)
			}
			if resp.ID != grant.ID || resp.TTL != 2 {
				t.Fatalf("keepalive answer %+v", resp)
			}
		case <-time.After(expiryWait):
			t.Fatalf("no keepalive answer after %d", i)
		}
	}
	resp, err := cli.Get(ctx(t), "kept")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys(resp.Kvs)) != "kept " {
		t.Errorf("the key of a lease kept alive is gone")
	}
}
