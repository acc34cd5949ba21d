// Command lockelect drives etcd's Lock and Election gRPC services (which etcdctl does not
// use: its lock and elect run clientv3's concurrency package over KV, Watch and Lease) and
// prints a transcript with lease ids replaced by names, so that runs against etcd and
// cairnd compare line by line. Usage: lockelect host:port. Exit status 1 when a wait that
// must end did not end within its deadline.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3lock/v3lockpb"
	"google.golang.org/grpc/status"
)

// How long a call that must end is given; generous, as the comparison is the check.
const deadline = 20 * time.Second

var (
	ctx   = context.Background()
	names = map[string]string{}
)

// norm replaces each lease id (as hex, as the owner keys carry it) with its name.
func norm(s string) string {
	for id, n := range names {
		s = strings.ReplaceAll(s, id, n)
	}
	return s
}

func hex(id int64) string { return fmt.Sprintf("%x", id) }

func show(what string, err error) {
	if err != nil {
		st, _ := status.FromError(err)
		fmt.Printf("%s: error code=%s msg=%q\n", what, st.Code(), st.Message())
		return
	}
	fmt.Printf("%s: ok\n", what)
}

func fail(format string, args ...any) {
	fmt.Printf("FAILED: "+format+"\n", args...)
	os.Exit(1)
}

// keys lists the keys under prefix, normalized.
func keys(c *clientv3.Client, prefix string) string {
	r, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		fail("get %s: %v", prefix, err)
	}
	var out []string
	for _, kv := range r.Kvs {
		out = append(out, norm(string(kv.Key)))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// waitKeys waits until the keys under prefix are `want`: a call has arrived, or cleaned up.
func waitKeys(c *clientv3.Client, prefix, want string) {
	end := time.Now().Add(deadline)
	for keys(c, prefix) != want {
		if time.Now().After(end) {
			fail("keys under %s: %s, want %s", prefix, keys(c, prefix), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Args[1]}, DialTimeout: 5 * time.Second})
	if err != nil {
		fail("connect: %v", err)
	}
	defer c.Close()
	lk := v3lockpb.NewLockClient(c.ActiveConnection())
	el := v3electionpb.NewElectionClient(c.ActiveConnection())
	grant := func(n string) clientv3.LeaseID {
		g, err := c.Grant(ctx, 60)
		if err != nil {
			fail("grant: %v", err)
		}
		names[hex(int64(g.ID))] = n
		return g.ID
	}
	l1, l2, l3 := grant("L1"), grant("L2"), grant("L3")

	// Lock: the second caller waits for the first's unlock.
	r1, err := lk.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("s"), Lease: int64(l1)})
	show("lock s L1", err)
	fmt.Printf("  key=%s rev=%d\n", norm(string(r1.Key)), r1.Header.Revision)
	got := make(chan *v3lockpb.LockResponse, 1)
	go func() {
		r, err := lk.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("s"), Lease: int64(l2)})
		if err != nil {
			show("lock s L2", err)
		}
		got <- r
	}()
	waitKeys(c, "s/", "[s/L1 s/L2]")
	select {
	case <-got:
		fail("lock s L2 granted while L1 holds it")
	case <-time.After(200 * time.Millisecond):
		fmt.Println("lock s L2: waiting while L1 holds")
	}
	u, err := lk.Unlock(ctx, &v3lockpb.UnlockRequest{Key: r1.Key})
	show("unlock L1", err)
	fmt.Printf("  rev=%d\n", u.Header.Revision)
	var r2 *v3lockpb.LockResponse
	select {
	case r2 = <-got:
	case <-time.After(deadline):
		fail("lock s L2 not granted after the unlock")
	}
	fmt.Printf("lock s L2: granted after the unlock\n  key=%s rev=%d\n", norm(string(r2.Key)), r2.Header.Revision)
	_, err = lk.Unlock(ctx, &v3lockpb.UnlockRequest{Key: r2.Key})
	show("unlock L2", err)

	// A waiter whose lease ends while it waits learns so once its turn comes.
	h, err := lk.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("x"), Lease: int64(l1)})
	show("lock x L1", err)
	lost := make(chan error, 1)
	go func() {
		_, err := lk.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("x"), Lease: int64(l3)})
		lost <- err
	}()
	waitKeys(c, "x/", "[x/L1 x/L3]")
	_, err = c.Revoke(ctx, l3)
	show("revoke L3", err)
	_, err = lk.Unlock(ctx, &v3lockpb.UnlockRequest{Key: h.Key})
	show("unlock x L1", err)
	select {
	case err = <-lost:
		show("lock x L3 after its lease was revoked", err)
	case <-time.After(deadline):
		fail("lock x L3 never returned")
	}

	_, err = lk.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("s"), Lease: 0x12345})
	show("lock with a missing lease", err)
	_, err = lk.Unlock(ctx, &v3lockpb.UnlockRequest{})
	show("unlock an empty key", err)

	// A waiter that gives up deletes its key. Who notices the deadline first (client or
	// server) decides the message, so only the code is printed.
	h, err = lk.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("c"), Lease: int64(l1)})
	show("lock c L1", err)
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = lk.Lock(tctx, &v3lockpb.LockRequest{Name: []byte("c"), Lease: int64(l2)})
	cancel()
	fmt.Printf("lock c L2 with a 1s deadline: code=%s\n", status.Code(err))
	waitKeys(c, "c/", "[c/L1]")
	fmt.Println("  the waiter's key is gone")
	_, err = lk.Unlock(ctx, &v3lockpb.UnlockRequest{Key: h.Key})
	show("unlock c L1", err)

	// Election.
	_, err = el.Leader(ctx, &v3electionpb.LeaderRequest{Name: []byte("e")})
	show("leader before any campaign", err)
	c1, err := el.Campaign(ctx, &v3electionpb.CampaignRequest{Name: []byte("e"), Lease: int64(l1), Value: []byte("a")})
	show("campaign e L1 a", err)
	fmt.Printf("  leader name=%s key=%s rev=%d lease=%s header.rev=%d\n", c1.Leader.Name,
		norm(string(c1.Leader.Key)), c1.Leader.Rev, norm(hex(c1.Leader.Lease)), c1.Header.Revision)

	octx, ocancel := context.WithCancel(ctx)
	obs, err := el.Observe(octx, &v3electionpb.LeaderRequest{Name: []byte("e")})
	show("observe e", err)
	seen := make(chan string, 16)
	go func() {
		defer close(seen)
		for {
			r, err := obs.Recv()
			if err != nil {
				return
			}
			seen <- fmt.Sprintf("%s=%s header.rev=%d", norm(string(r.Kv.Key)), r.Kv.Value, r.Header.Revision)
		}
	}()
	observed := func() {
		select {
		case s := <-seen:
			fmt.Println("  observed", s)
		case <-time.After(deadline):
			fail("observe reported nothing")
		}
	}
	observed()

	elected := make(chan *v3electionpb.CampaignResponse, 1)
	go func() {
		r, err := el.Campaign(ctx, &v3electionpb.CampaignRequest{Name: []byte("e"), Lease: int64(l2), Value: []byte("b")})
		if err != nil {
			show("campaign e L2 b", err)
		}
		elected <- r
	}()
	waitKeys(c, "e/", "[e/L1 e/L2]")
	p, err := el.Proclaim(ctx, &v3electionpb.ProclaimRequest{Leader: c1.Leader, Value: []byte("a2")})
	show("proclaim a2", err)
	fmt.Printf("  rev=%d\n", p.Header.Revision)
	observed()
	lr, err := el.Leader(ctx, &v3electionpb.LeaderRequest{Name: []byte("e")})
	show("leader", err)
	fmt.Printf("  %s=%s rev=%d\n", norm(string(lr.Kv.Key)), lr.Kv.Value, lr.Header.Revision)
	stale := *c1.Leader
	stale.Rev += 100
	_, err = el.Proclaim(ctx, &v3electionpb.ProclaimRequest{Leader: &stale, Value: []byte("x")})
	show("proclaim with a stale rev", err)
	_, err = el.Proclaim(ctx, &v3electionpb.ProclaimRequest{Value: []byte("x")})
	show("proclaim without a leader key", err)
	_, err = el.Resign(ctx, &v3electionpb.ResignRequest{})
	show("resign without a leader key", err)
	rs, err := el.Resign(ctx, &v3electionpb.ResignRequest{Leader: &stale})
	show("resign with a stale rev", err)
	fmt.Printf("  rev=%d\n", rs.Header.Revision)
	rs, err = el.Resign(ctx, &v3electionpb.ResignRequest{Leader: c1.Leader})
	show("resign L1", err)
	fmt.Printf("  rev=%d\n", rs.Header.Revision)
	var c2 *v3electionpb.CampaignResponse
	select {
	case c2 = <-elected:
	case <-time.After(deadline):
		fail("campaign e L2 not elected after the resign")
	}
	fmt.Printf("campaign e L2 b: elected after the resign\n  leader key=%s rev=%d header.rev=%d\n",
		norm(string(c2.Leader.Key)), c2.Leader.Rev, c2.Header.Revision)
	observed()
	_, err = c.Revoke(ctx, l2)
	show("revoke L2", err)
	_, err = el.Leader(ctx, &v3electionpb.LeaderRequest{Name: []byte("e")})
	show("leader after the revoke", err)
	c3, err := el.Campaign(ctx, &v3electionpb.CampaignRequest{Name: []byte("e"), Lease: int64(l1), Value: []byte("z")})
	show("campaign e L1 z", err)
	fmt.Printf("  leader rev=%d\n", c3.Leader.Rev)
	observed()
	ocancel()
	select {
	case _, open := <-seen:
		fmt.Println("observe ended after cancel:", !open)
	case <-time.After(deadline):
		fail("observe did not end after cancel")
	}
	_, err = el.Campaign(ctx, &v3electionpb.CampaignRequest{Name: []byte("e"), Lease: 0x777, Value: []byte("v")})
	show("campaign with a missing lease", err)
	fmt.Println("keys at the end:", keys(c, ""))
}
