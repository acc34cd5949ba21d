// The concurrency package's Mutex and Election (sessions on leases, waits on watches) against cairnd.
package compat

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

func newSession(t *testing.T, cli *clientv3.Client) *concurrency.Session {
	t.Helper()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMutexExcludes(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	m1 := concurrency.NewMutex(newSession(t, cli), "/lock/a")
	m2 := concurrency.NewMutex(newSession(t, cli), "/lock/a")
	if err := m1.Lock(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := m2.TryLock(ctx(t)); !errors.Is(err, concurrency.ErrLocked) {
		t.Fatalf("TryLock while held: %v, want ErrLocked", err)
	}
	acquired := make(chan error, 1)
	go func() { acquired <- m2.Lock(ctx(t)) }()
	if err := m1.Unlock(ctx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-acquired:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(callTimeout):
		t.Fatal("the waiter did not get the lock after Unlock")
	}
	if err := m2.Unlock(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

// Many sessions increment a counter under one mutex with plain reads and writes: no
// increment is lost only if the mutex excludes.
func TestMutexSerializesIncrements(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	const workers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		m := concurrency.NewMutex(newSession(t, cli), "/lock/counter")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := m.Lock(ctx(t)); err != nil {
					errs <- err
					return
				}
				resp, err := cli.Get(ctx(t), "/counter")
				if err == nil {
					n := 0
					if len(resp.Kvs) == 1 {
						n = atoi(string(resp.Kvs[0].Value))
					}
					_, err = cli.Put(ctx(t), "/counter", strconv.Itoa(n+1))
				}
				if uerr := m.Unlock(ctx(t)); err == nil {
					err = uerr
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	resp, err := cli.Get(ctx(t), "/counter")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || atoi(string(resp.Kvs[0].Value)) != workers*each {
		t.Errorf("counter %v, want %d", resp.Kvs, workers*each)
	}
}

func TestElection(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	s1, s2 := newSession(t, cli), newSession(t, cli)
	e1 := concurrency.NewElection(s1, "/election/x")
	e2 := concurrency.NewElection(s2, "/election/x")
	observer := concurrency.NewElection(newSession(t, cli), "/election/x")
	observed := observer.Observe(watchCtx(t))

	if err := e1.Campaign(ctx(t), "one"); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- e2.Campaign(ctx(t), "two") }()
	leader, err := e1.Leader(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if string(leader.Kvs[0].Value) != "one" {
		t.Errorf("leader %q, want one", leader.Kvs[0].Value)
	}
	if err := e1.Proclaim(ctx(t), "one again"); err != nil {
		t.Fatal(err)
	}
	if err := e1.Resign(ctx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(callTimeout):
		t.Fatal("the second candidate did not win after the first resigned")
	}
	leader, err = e2.Leader(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if string(leader.Kvs[0].Value) != "two" {
		t.Errorf("leader %q, want two", leader.Kvs[0].Value)
	}
	// The observer sees each leader value in order (it may start from "one" or later, since
	// Observe begins with the leader current when it is set up, but "two" comes last).
	var seen []string
	for len(seen) == 0 || seen[len(seen)-1] != "two" {
		select {
		case resp, ok := <-observed:
			if !ok {
				t.Fatalf("observe closed after %v", seen)
			}
			seen = append(seen, string(resp.Kvs[0].Value))
		case <-time.After(callTimeout):
			t.Fatalf("observer saw %v, never two", seen)
		}
	}
	// The session's end (its lease revoked) ends the leadership.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Leader(ctx(t)); !errors.Is(err, concurrency.ErrElectionNoLeader) {
		t.Errorf("leader after the session closed: %v, want ErrElectionNoLeader", err)
	}
}
