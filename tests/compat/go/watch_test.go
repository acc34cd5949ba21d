// Watch through clientv3 against cairnd: history and live events, prev_kv, filters, compaction, progress.
package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const watchWait = 20 * time.Second // a watch that sends nothing for this long fails the test

// eventView is what a test compares of a watch event.
type eventView struct {
	Type       string
	Key, Value string
	Mod        int64
	Prev       string // the previous value, with prev_kv
}

func events(evs []*clientv3.Event) []eventView {
	var out []eventView
	for _, ev := range evs {
		e := eventView{Type: ev.Type.String(), Key: string(ev.Kv.Key), Value: string(ev.Kv.Value), Mod: ev.Kv.ModRevision}
		if ev.PrevKv != nil {
			e.Prev = string(ev.PrevKv.Value)
		}
		out = append(out, e)
	}
	return out
}

// receive reads responses until n events have come; it fails on a closed channel, an error
// or a long silence.
func receive(t *testing.T, ch clientv3.WatchChan, n int) ([]eventView, []clientv3.WatchResponse) {
	t.Helper()
	var got []eventView
	var resps []clientv3.WatchResponse
	for len(got) < n {
		select {
		case resp, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %v", got)
			}
			if err := resp.Err(); err != nil {
				t.Fatalf("watch error %v after %v", err, got)
			}
			got = append(got, events(resp.Events)...)
			resps = append(resps, resp)
		case <-time.After(watchWait):
			t.Fatalf("no watch response for %v; have %v", watchWait, got)
		}
	}
	return got, resps
}

func watchCtx(t *testing.T) context.Context {
	c, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	t.Cleanup(cancel)
	return c
}

func TestWatchHistoryThenLive(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	ch := cli.Watch(watchCtx(t), "a", clientv3.WithPrefix(), clientv3.WithRev(2), clientv3.WithPrevKV())
	got, _ := receive(t, ch, 3)
	want := []eventView{{"PUT", "a", "1", 2, ""}, {"PUT", "a", "2", 3, "1"}, {"PUT", "ab", "3", 4, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history: %v, want %v", got, want)
	}
	if _, err := cli.Delete(ctx(t), "a", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	got, resps := receive(t, ch, 2)
	// One revision's events arrive together, in one response.
	want = []eventView{{"DELETE", "a", "", 9, "2"}, {"DELETE", "ab", "", 9, "3"}}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(resps) != 1 || resps[0].Header.Revision != 9 {
		t.Errorf("live delete: %v in %d responses, want %v in one at revision 9", got, len(resps), want)
	}
}

func TestWatchFromNowAndFilters(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	all := cli.Watch(watchCtx(t), "k", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	noPut := cli.Watch(watchCtx(t), "k", clientv3.WithPrefix(), clientv3.WithFilterPut(), clientv3.WithCreatedNotify())
	noDelete := cli.Watch(watchCtx(t), "k", clientv3.WithPrefix(), clientv3.WithFilterDelete(), clientv3.WithCreatedNotify())
	for _, ch := range []clientv3.WatchChan{all, noPut, noDelete} {
		select {
		case resp := <-ch:
			if !resp.Created {
				t.Fatalf("first response %v, want created", resp)
			}
		case <-time.After(watchWait):
			t.Fatal("no created response")
		}
	}
	if _, err := cli.Txn(ctx(t)).Then(clientv3.OpPut("k1", "a"), clientv3.OpPut("k2", "b")).Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx(t), "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx(t), "k3", "c"); err != nil {
		t.Fatal(err)
	}
	got, _ := receive(t, all, 4)
	want := []eventView{{"PUT", "k1", "a", 2, ""}, {"PUT", "k2", "b", 2, ""}, {"DELETE", "k1", "", 3, ""}, {"PUT", "k3", "c", 4, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("all: %v, want %v", got, want)
	}
	if got, _ := receive(t, noPut, 1); fmt.Sprint(got) != fmt.Sprint([]eventView{{"DELETE", "k1", "", 3, ""}}) {
		t.Errorf("no put: %v", got)
	}
	got, _ = receive(t, noDelete, 3)
	if fmt.Sprint(got) != fmt.Sprint([]eventView{want[0], want[1], want[3]}) {
		t.Errorf("no delete: %v", got)
	}
}

func TestWatchFromACompactedRevision(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	if _, err := cli.Compact(ctx(t), 5); err != nil {
		t.Fatal(err)
	}
	ch := cli.Watch(watchCtx(t), "", clientv3.WithPrefix(), clientv3.WithRev(3))
	select {
	case resp, ok := <-ch:
		if !ok {
			t.Fatal("watch closed without a response")
		}
		if resp.CompactRevision != 5 || !resp.Canceled || resp.Err() != rpctypes.ErrCompacted {
			t.Errorf("got compact revision %d canceled %v err %v, want 5 true %v", resp.CompactRevision, resp.Canceled, resp.Err(), rpctypes.ErrCompacted)
		}
	case <-time.After(watchWait):
		t.Fatal("no response")
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("the watch channel stays open after the compacted response")
		}
	case <-time.After(watchWait):
		t.Error("the watch channel is not closed")
	}
	// From the compacted revision itself, history is there.
	got, _ := receive(t, cli.Watch(watchCtx(t), "c", clientv3.WithRev(5)), 2)
	if want := []eventView{{"PUT", "c", "5", 6, ""}, {"PUT", "c", "5", 7, ""}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("from the compacted revision: %v, want %v", got, want)
	}
}

func TestWatchProgressRequest(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	wctx := watchCtx(t)
	ch := cli.Watch(wctx, "nothing-here", clientv3.WithCreatedNotify())
	select {
	case resp := <-ch:
		if !resp.Created {
			t.Fatalf("first response %v, want created", resp)
		}
	case <-time.After(watchWait):
		t.Fatal("no created response")
	}
	if err := cli.RequestProgress(wctx); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-ch:
		if !resp.IsProgressNotify() || resp.Header.Revision != 8 {
			t.Errorf("got %+v, want a progress notification at revision 8", resp)
		}
	case <-time.After(watchWait):
		t.Fatal("no progress notification")
	}
}

func TestWatchCancelClosesTheChannel(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	wctx, cancel := context.WithCancel(context.Background())
	ch := cli.Watch(wctx, "k", clientv3.WithCreatedNotify())
	<-ch
	cancel()
	deadline := time.After(watchWait)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the watch channel is not closed after cancel")
		}
	}
}
