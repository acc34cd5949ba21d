// KV through clientv3 against cairnd: put, get and delete with their options, revisions, versions.
package compat

import (
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// seed writes the keys the read tests use, one revision each from 2 (a store starts at 1):
// a=1 (rev 2), a=2 (3), ab=3 (4), b=4 (5), c=5 (6), c=5 again (7), d/x=0 (8).
func seed(t *testing.T, cli *clientv3.Client) {
	t.Helper()
	for i, kv := range [][2]string{{"a", "1"}, {"a", "2"}, {"ab", "3"}, {"b", "4"}, {"c", "5"}, {"c", "5"}, {"d/x", "0"}} {
		resp, err := cli.Put(ctx(t), kv[0], kv[1])
		if err != nil {
			t.Fatalf("put %s: %v", kv[0], err)
		}
		if want := int64(i + 2); resp.Header.Revision != want {
			t.Fatalf("put %s: header revision %d, want %d", kv[0], resp.Header.Revision, want)
		}
	}
}

// kvView is what a test compares of a KeyValue.
type kvView struct {
	Key, Value                  string
	Create, Mod, Version, Lease int64
}

func view(kvs []*mvccpb.KeyValue) []kvView {
	out := []kvView{}
	for _, kv := range kvs {
		out = append(out, kvView{string(kv.Key), string(kv.Value), kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease})
	}
	return out
}

func keys(kvs []*mvccpb.KeyValue) string {
	s := ""
	for _, kv := range kvs {
		s += string(kv.Key) + " "
	}
	return s
}

func TestPutBumpsRevisionAndVersionEvenForTheSameValue(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	resp, err := cli.Put(ctx(t), "c", "5", clientv3.WithPrevKV())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Revision != 9 {
		t.Errorf("revision %d, want 9", resp.Header.Revision)
	}
	if got, want := view([]*mvccpb.KeyValue{resp.PrevKv}), []kvView{{"c", "5", 6, 7, 2, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("prev kv %v, want %v", got, want)
	}
	get, err := cli.Get(ctx(t), "c")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(get.Kvs), []kvView{{"c", "5", 6, 9, 3, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("get %v, want %v", got, want)
	}
	if get.Header.Revision != 9 || get.Count != 1 || get.More {
		t.Errorf("header revision %d count %d more %v, want 9 1 false", get.Header.Revision, get.Count, get.More)
	}
	// Header ids are the member's: the same as MemberList reports.
	members, err := cli.MemberList(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 1 || members.Members[0].ID != get.Header.MemberId ||
		members.Header.ClusterId != get.Header.ClusterId || get.Header.ClusterId == 0 {
		t.Errorf("member list %v, header %v: ids disagree", members.Members, get.Header)
	}
	// Put with IgnoreValue keeps the value and makes a new revision.
	if _, err := cli.Put(ctx(t), "c", "", clientv3.WithIgnoreValue()); err != nil {
		t.Fatal(err)
	}
	get, err = cli.Get(ctx(t), "c")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(get.Kvs), []kvView{{"c", "5", 6, 10, 4, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after ignore-value put: %v, want %v", got, want)
	}
}

func TestGetOptions(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	cases := []struct {
		name  string
		key   string
		opts  []clientv3.OpOption
		keys  string // the keys returned, in order
		count int64
		more  bool
	}{
		{"one key", "a", nil, "a ", 1, false},
		{"missing key", "zz", nil, "", 0, false},
		{"prefix", "a", []clientv3.OpOption{clientv3.WithPrefix()}, "a ab ", 2, false},
		{"from key", "b", []clientv3.OpOption{clientv3.WithFromKey()}, "b c d/x ", 3, false},
		{"range", "a", []clientv3.OpOption{clientv3.WithRange("c")}, "a ab b ", 3, false},
		{"all keys", "\x00", []clientv3.OpOption{clientv3.WithFromKey()}, "a ab b c d/x ", 5, false},
		{"limit cuts: more, count is the total", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithLimit(2)}, "a ab ", 5, true},
		{"limit equal to the total: no more", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithLimit(5)}, "a ab b c d/x ", 5, false},
		{"limit above the total", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithLimit(50)}, "a ab b c d/x ", 5, false},
		{"key descending", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}, "d/x c b ab a ", 5, false},
		{"key descending, limit", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(2)}, "d/x c ", 5, true},
		{"value ascending", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByValue, clientv3.SortAscend)}, "d/x a ab b c ", 5, false},
		{"version descending", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByVersion, clientv3.SortDescend)}, "a c ab b d/x ", 5, false},
		{"create descending", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend)}, "d/x c b ab a ", 5, false},
		{"mod ascending", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend)}, "a ab b c d/x ", 5, false},
		// Sort order NONE with a target other than KEY means ascending.
		{"mod, order none", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortNone)}, "a ab b c d/x ", 5, false},
		{"at revision 4", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(4)}, "a ab ", 2, false},
		{"at revision 2", "a", []clientv3.OpOption{clientv3.WithRev(2)}, "a ", 1, false},
		{"at revision 4, limit 1", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(4), clientv3.WithLimit(1)}, "a ", 2, true},
		{"serializable", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSerializable()}, "a ab b c d/x ", 5, false},
		{"count only", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}, "", 5, false},
		{"min mod revision", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMinModRev(5)}, "b c d/x ", 5, false},
		{"max mod revision", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMaxModRev(4)}, "a ab ", 5, false},
		{"min create revision", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMinCreateRev(6)}, "c d/x ", 5, false},
		{"max create revision", "", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithMaxCreateRev(2)}, "a ", 5, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := cli.Get(ctx(t), c.key, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(resp.Kvs); got != c.keys || resp.Count != c.count || resp.More != c.more {
				t.Errorf("keys %q count %d more %v, want %q %d %v", got, resp.Count, resp.More, c.keys, c.count, c.more)
			}
			if resp.Header.Revision != 8 {
				t.Errorf("header revision %d, want the store's current 8", resp.Header.Revision)
			}
		})
	}

	t.Run("values and revisions", func(t *testing.T) {
		resp, err := cli.Get(ctx(t), "", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		want := []kvView{{"a", "2", 2, 3, 2, 0}, {"ab", "3", 4, 4, 1, 0}, {"b", "4", 5, 5, 1, 0}, {"c", "5", 6, 7, 2, 0}, {"d/x", "0", 8, 8, 1, 0}}
		if got := view(resp.Kvs); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", got, want)
		}
		old, err := cli.Get(ctx(t), "a", clientv3.WithRev(2))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := view(old.Kvs), []kvView{{"a", "1", 2, 2, 1, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("at revision 2: %v, want %v", got, want)
		}
	})
	t.Run("keys only", func(t *testing.T) {
		resp, err := cli.Get(ctx(t), "a", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			t.Fatal(err)
		}
		want := []kvView{{"a", "", 2, 3, 2, 0}, {"ab", "", 4, 4, 1, 0}}
		if got := view(resp.Kvs); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	seed(t, cli)
	cases := []struct {
		name     string
		key      string
		opts     []clientv3.OpOption
		deleted  int64
		prevKeys string
		revision int64 // header revision after the call
	}{
		{"one key", "b", nil, 1, "", 9},
		{"nothing to delete: no new revision", "b", nil, 0, "", 9},
		{"prefix with prev kv", "a", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}, 2, "a ab ", 10},
		{"range", "c", []clientv3.OpOption{clientv3.WithRange("d0"), clientv3.WithPrevKV()}, 2, "c d/x ", 11},
		{"from key on an empty store", "\x00", []clientv3.OpOption{clientv3.WithFromKey()}, 0, "", 11},
	}
	for _, c := range cases {
		resp, err := cli.Delete(ctx(t), c.key, c.opts...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if resp.Deleted != c.deleted || keys(resp.PrevKvs) != c.prevKeys || resp.Header.Revision != c.revision {
			t.Errorf("%s: deleted %d prev %q revision %d, want %d %q %d", c.name, resp.Deleted,
				keys(resp.PrevKvs), resp.Header.Revision, c.deleted, c.prevKeys, c.revision)
		}
	}
	// A key deleted and written again starts a new life: version 1, a new create revision.
	if _, err := cli.Put(ctx(t), "a", "again"); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(ctx(t), "a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(resp.Kvs), []kvView{{"a", "again", 12, 12, 1, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// History before the delete is still readable.
	old, err := cli.Get(ctx(t), "a", clientv3.WithRev(9))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(old.Kvs), []kvView{{"a", "2", 2, 3, 2, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("at revision 9: %v, want %v", got, want)
	}
}
