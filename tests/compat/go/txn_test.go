// Txn through clientv3 against cairnd: compares, branches, nested txns, and kube-apiserver's patterns.
package compat

import (
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestTxnCompares(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli) // a: create 2, mod 3, version 2, value "2"
	cases := []struct {
		name string
		cmps []clientv3.Cmp
		want bool
	}{
		{"value equal", []clientv3.Cmp{clientv3.Compare(clientv3.Value("a"), "=", "2")}, true},
		{"value not equal", []clientv3.Cmp{clientv3.Compare(clientv3.Value("a"), "!=", "2")}, false},
		{"value greater", []clientv3.Cmp{clientv3.Compare(clientv3.Value("a"), ">", "1")}, true},
		{"value less", []clientv3.Cmp{clientv3.Compare(clientv3.Value("a"), "<", "10")}, false},
		{"version", []clientv3.Cmp{clientv3.Compare(clientv3.Version("a"), "=", 2)}, true},
		{"create revision", []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision("a"), "=", 2)}, true},
		{"mod revision greater", []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("a"), ">", 2)}, true},
		{"mod revision less", []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("a"), "<", 3)}, false},
		{"lease", []clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue("a"), "=", clientv3.NoLease)}, true},
		{"compares are ANDed", []clientv3.Cmp{clientv3.Compare(clientv3.Version("a"), "=", 2), clientv3.Compare(clientv3.Version("b"), "=", 2)}, false},
		{"missing key: version 0", []clientv3.Cmp{clientv3.Compare(clientv3.Version("zz"), "=", 0)}, true},
		{"missing key: create 0", []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision("zz"), "=", 0)}, true},
		{"missing key: mod 0", []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("zz"), "=", 0)}, true},
		{"missing key: value compare is false", []clientv3.Cmp{clientv3.Compare(clientv3.Value("zz"), "=", "")}, false},
		{"missing key: value not-equal is false too", []clientv3.Cmp{clientv3.Compare(clientv3.Value("zz"), "!=", "x")}, false},
		{"range compare: every key matches", []clientv3.Cmp{clientv3.Compare(clientv3.Version("a").WithPrefix(), ">", 0)}, true},
		{"range compare: one key does not", []clientv3.Cmp{clientv3.Compare(clientv3.Version("a").WithPrefix(), "=", 2)}, false},
		{"no compares", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := cli.Txn(ctx(t)).If(c.cmps...).Then(clientv3.OpGet("a")).Else(clientv3.OpGet("b")).Commit()
			if err != nil {
				t.Fatal(err)
			}
			if resp.Succeeded != c.want {
				t.Errorf("succeeded %v, want %v", resp.Succeeded, c.want)
			}
			wantKey := map[bool]string{true: "a ", false: "b "}[c.want]
			if len(resp.Responses) != 1 || keys(resp.Responses[0].GetResponseRange().Kvs) != wantKey {
				t.Errorf("responses %v, want a get of %q", resp.Responses, wantKey)
			}
			// A read-only txn does not make a revision.
			if resp.Header.Revision != 8 {
				t.Errorf("header revision %d, want 8", resp.Header.Revision)
			}
		})
	}
}

func TestTxnWritesOneRevision(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	resp, err := cli.Txn(ctx(t)).
		If(clientv3.Compare(clientv3.Value("a"), "=", "2")).
		Then(clientv3.OpPut("t1", "x"), clientv3.OpPut("t2", "y", clientv3.WithPrevKV()), clientv3.OpDelete("b", clientv3.WithPrevKV()), clientv3.OpGet("t1")).
		Else(clientv3.OpPut("f", "1")).
		Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Succeeded || resp.Header.Revision != 9 || len(resp.Responses) != 4 {
		t.Fatalf("succeeded %v revision %d responses %d, want true 9 4", resp.Succeeded, resp.Header.Revision, len(resp.Responses))
	}
	if r := resp.Responses[2].GetResponseDeleteRange(); r.Deleted != 1 || keys(r.PrevKvs) != "b " {
		t.Errorf("delete in txn: %v", r)
	}
	// A get after a put in the same txn sees the put, at the txn's revision.
	if got, want := view(resp.Responses[3].GetResponseRange().Kvs), []kvView{{"t1", "x", 9, 9, 1, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("get in txn: %v, want %v", got, want)
	}
	get, err := cli.Get(ctx(t), "t", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(get.Kvs), []kvView{{"t1", "x", 9, 9, 1, 0}, {"t2", "y", 9, 9, 1, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after txn: %v, want %v", got, want)
	}
	// The failure branch runs when a compare fails.
	resp, err = cli.Txn(ctx(t)).If(clientv3.Compare(clientv3.Value("a"), "=", "9")).Then(clientv3.OpPut("s", "1")).Else(clientv3.OpPut("f", "1")).Commit()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Succeeded || resp.Header.Revision != 10 || resp.Responses[0].GetResponsePut() == nil {
		t.Errorf("failure branch: %v", resp)
	}
}

func TestNestedTxn(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	inner := clientv3.OpTxn(
		[]clientv3.Cmp{clientv3.Compare(clientv3.Version("b"), "=", 1)},
		[]clientv3.Op{clientv3.OpPut("inner-then", "1"), clientv3.OpGet("a")},
		[]clientv3.Op{clientv3.OpPut("inner-else", "1")},
	)
	resp, err := cli.Txn(ctx(t)).
		If(clientv3.Compare(clientv3.Version("a"), "=", 2)).
		Then(clientv3.OpPut("outer", "1"), inner).
		Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Succeeded || len(resp.Responses) != 2 || resp.Header.Revision != 9 {
		t.Fatalf("outer: %v", resp)
	}
	nested := resp.Responses[1].GetResponseTxn()
	if nested == nil || !nested.Succeeded || len(nested.Responses) != 2 {
		t.Fatalf("nested: %v", nested)
	}
	if got := keys(nested.Responses[1].GetResponseRange().Kvs); got != "a " {
		t.Errorf("nested get: %q", got)
	}
	get, err := cli.Get(ctx(t), "inner", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(get.Kvs), []kvView{{"inner-then", "1", 9, 9, 1, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after nested txn: %v, want %v", got, want)
	}
}

// kube-apiserver's storage: create if absent, update and delete only at the revision it read.
func TestOptimisticConcurrencyAsKubeAPIServer(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	key := "/registry/pods/default/p"
	create := func() *clientv3.TxnResponse {
		resp, err := cli.Txn(ctx(t)).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).Then(clientv3.OpPut(key, "v1")).Commit()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := create(); !resp.Succeeded || resp.Header.Revision != 2 {
		t.Fatalf("create: %v", resp)
	}
	if resp := create(); resp.Succeeded {
		t.Fatalf("second create succeeded: %v", resp)
	}
	update := func(rev int64, value string) *clientv3.TxnResponse {
		resp, err := cli.Txn(ctx(t)).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, value)).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := update(2, "v2"); !resp.Succeeded || resp.Header.Revision != 3 {
		t.Fatalf("update at the current revision: %v", resp)
	}
	stale := update(2, "v3")
	if stale.Succeeded {
		t.Fatalf("update at a stale revision succeeded")
	}
	if got, want := view(stale.Responses[0].GetResponseRange().Kvs), []kvView{{key, "v2", 2, 3, 2, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the failed update's get: %v, want %v", got, want)
	}
	del, err := cli.Txn(ctx(t)).If(clientv3.Compare(clientv3.ModRevision(key), "=", 3)).
		Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !del.Succeeded || del.Responses[0].GetResponseDeleteRange().Deleted != 1 || del.Header.Revision != 4 {
		t.Errorf("delete: %v", del)
	}
}
