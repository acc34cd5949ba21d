// Compaction and errors: cairnd's errors must be the values etcd's clients match (rpctypes), code and text.
package compat

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/status"
)

// wantEtcdError checks err as clientv3 users match it (errors.Is and ==, against rpctypes'
// client-side value) — which clientv3 derives from the server's message text alone.
func wantEtcdError(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || err != want {
		t.Errorf("got error %v (%T), want %v", err, err, want)
	}
}

// wantGRPCError checks an error from the generated client as sent by the server: the gRPC
// code and message of etcd's server-side error (rpctypes.ErrGRPC*).
func wantGRPCError(t *testing.T, err, want error) {
	t.Helper()
	got, wantStatus := grpcStatus(t, err), status.Convert(want)
	if got.Code() != wantStatus.Code() || got.Message() != wantStatus.Message() {
		t.Errorf("got %v %q, want %v %q", got.Code(), got.Message(), wantStatus.Code(), wantStatus.Message())
	}
}

func TestCompaction(t *testing.T) {
	t.Parallel()
	s := startCairnd(t)
	cli := s.Client
	seed(t, cli)
	resp, err := cli.Compact(ctx(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Revision != 8 {
		t.Errorf("compact header revision %d, want 8", resp.Header.Revision)
	}
	_, err = cli.Get(ctx(t), "a", clientv3.WithRev(3))
	wantEtcdError(t, err, rpctypes.ErrCompacted)
	_, err = s.rawKV().Range(ctx(t), &pb.RangeRequest{Key: []byte("a"), Revision: 3})
	wantGRPCError(t, err, rpctypes.ErrGRPCCompacted)
	// A txn reading below the compacted revision fails as a whole.
	_, err = cli.Txn(ctx(t)).Then(clientv3.OpPut("t", "1"), clientv3.OpGet("a", clientv3.WithRev(2))).Commit()
	wantEtcdError(t, err, rpctypes.ErrCompacted)

	// The compacted revision itself is still readable.
	at4, err := cli.Get(ctx(t), "", clientv3.WithPrefix(), clientv3.WithRev(4))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(at4.Kvs), []kvView{{"a", "2", 2, 3, 2, 0}, {"ab", "3", 4, 4, 1, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("at the compacted revision: %v, want %v", got, want)
	}

	_, err = cli.Compact(ctx(t), 4)
	wantEtcdError(t, err, rpctypes.ErrCompacted)
	_, err = cli.Compact(ctx(t), 3)
	wantEtcdError(t, err, rpctypes.ErrCompacted)
	_, err = cli.Compact(ctx(t), 100)
	wantEtcdError(t, err, rpctypes.ErrFutureRev)

	// Physical: the call returns once the compaction is done; nothing current is lost.
	if _, err := cli.Compact(ctx(t), 6, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	_, err = cli.Get(ctx(t), "a", clientv3.WithRev(5))
	wantEtcdError(t, err, rpctypes.ErrCompacted)
	all, err := cli.Get(ctx(t), "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(all.Kvs); got != "a ab b c d/x " || all.Header.Revision != 8 {
		t.Errorf("after physical compaction: %q at %d", got, all.Header.Revision)
	}
	at6, err := cli.Get(ctx(t), "c", clientv3.WithRev(6))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := view(at6.Kvs), []kvView{{"c", "5", 6, 6, 1, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("c at revision 6: %v, want %v", got, want)
	}
	// HashKV reports the compaction.
	hash, err := cli.HashKV(ctx(t), s.Endpoint, 0)
	if err != nil {
		t.Fatal(err)
	}
	if hash.CompactRevision != 6 {
		t.Errorf("HashKV compact revision %d, want 6", hash.CompactRevision)
	}
}

func TestErrorsAsEtcdGivesThem(t *testing.T) {
	t.Parallel()
	s := startCairnd(t, "--max-txn-ops=4", "--max-request-bytes=2048")
	cli := s.Client
	seed(t, cli)
	puts := func(n int) []clientv3.Op {
		var ops []clientv3.Op
		for i := 0; i < n; i++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("k%d", i), "v"))
		}
		return ops
	}
	big := strings.Repeat("x", 3000)
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"put empty key", func() error { _, err := cli.Put(ctx(t), "", "v"); return err }, rpctypes.ErrEmptyKey},
		{"get empty key", func() error { _, err := cli.Get(ctx(t), ""); return err }, rpctypes.ErrEmptyKey},
		{"delete empty key", func() error { _, err := cli.Delete(ctx(t), ""); return err }, rpctypes.ErrEmptyKey},
		{"future revision", func() error { _, err := cli.Get(ctx(t), "a", clientv3.WithRev(100)); return err }, rpctypes.ErrFutureRev},
		{"ignore value on a missing key", func() error { _, err := cli.Put(ctx(t), "zz", "", clientv3.WithIgnoreValue()); return err }, rpctypes.ErrKeyNotFound},
		{"ignore lease on a missing key", func() error { _, err := cli.Put(ctx(t), "zz", "v", clientv3.WithIgnoreLease()); return err }, rpctypes.ErrKeyNotFound},
		{"value with ignore value", func() error { _, err := cli.Put(ctx(t), "a", "v", clientv3.WithIgnoreValue()); return err }, rpctypes.ErrValueProvided},
		{"lease that does not exist", func() error { _, err := cli.Put(ctx(t), "l", "v", clientv3.WithLease(1234)); return err }, rpctypes.ErrLeaseNotFound},
		{"txn puts one key twice", func() error {
			_, err := cli.Txn(ctx(t)).Then(clientv3.OpPut("d", "1"), clientv3.OpPut("d", "2")).Commit()
			return err
		}, rpctypes.ErrDuplicateKey},
		{"txn puts and deletes one key", func() error {
			_, err := cli.Txn(ctx(t)).Then(clientv3.OpPut("d", "1"), clientv3.OpDelete("c", clientv3.WithRange("e"))).Commit()
			return err
		}, rpctypes.ErrDuplicateKey},
		{"txn with more ops than --max-txn-ops", func() error { _, err := cli.Txn(ctx(t)).Then(puts(5)...).Commit(); return err }, rpctypes.ErrTooManyOps},
		{"txn with more compares than --max-txn-ops", func() error {
			var cmps []clientv3.Cmp
			for i := 0; i < 5; i++ {
				cmps = append(cmps, clientv3.Compare(clientv3.Version(fmt.Sprintf("k%d", i)), "=", 0))
			}
			_, err := cli.Txn(ctx(t)).If(cmps...).Commit()
			return err
		}, rpctypes.ErrTooManyOps},
		{"put larger than --max-request-bytes", func() error { _, err := cli.Put(ctx(t), "big", big); return err }, rpctypes.ErrRequestTooLarge},
		{"txn larger than --max-request-bytes", func() error { _, err := cli.Txn(ctx(t)).Then(clientv3.OpPut("big", big)).Commit(); return err }, rpctypes.ErrRequestTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantEtcdError(t, c.call(), c.want) })
	}

	// The same errors as the server sends them, gRPC code and text, through the generated client.
	kv := s.rawKV()
	raw := []struct {
		name string
		call func() error
		want error
	}{
		{"put empty key", func() error { _, err := kv.Put(ctx(t), &pb.PutRequest{Value: []byte("v")}); return err }, rpctypes.ErrGRPCEmptyKey},
		{"future revision", func() error {
			_, err := kv.Range(ctx(t), &pb.RangeRequest{Key: []byte("a"), Revision: 100})
			return err
		}, rpctypes.ErrGRPCFutureRev},
		{"ignore value on a missing key", func() error {
			_, err := kv.Put(ctx(t), &pb.PutRequest{Key: []byte("zz"), IgnoreValue: true})
			return err
		}, rpctypes.ErrGRPCKeyNotFound},
		{"lease that does not exist", func() error { _, err := kv.Put(ctx(t), &pb.PutRequest{Key: []byte("l"), Lease: 1234}); return err }, rpctypes.ErrGRPCLeaseNotFound},
		{"txn puts one key twice", func() error {
			put := &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("d")}}}
			_, err := kv.Txn(ctx(t), &pb.TxnRequest{Success: []*pb.RequestOp{put, put}})
			return err
		}, rpctypes.ErrGRPCDuplicateKey},
		{"too many ops", func() error {
			var ops []*pb.RequestOp
			for i := 0; i < 5; i++ {
				ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(fmt.Sprintf("k%d", i))}}})
			}
			_, err := kv.Txn(ctx(t), &pb.TxnRequest{Failure: ops})
			return err
		}, rpctypes.ErrGRPCTooManyOps},
		{"request too large", func() error {
			_, err := kv.Put(ctx(t), &pb.PutRequest{Key: []byte("big"), Value: []byte(big)})
			return err
		}, rpctypes.ErrGRPCRequestTooLarge},
		{"compact in the future", func() error { _, err := kv.Compact(ctx(t), &pb.CompactionRequest{Revision: 100}); return err }, rpctypes.ErrGRPCFutureRev},
	}
	for _, c := range raw {
		t.Run("raw "+c.name, func(t *testing.T) { wantGRPCError(t, c.call(), c.want) })
	}

	// Nothing above changed the store.
	resp, err := cli.Get(ctx(t), "", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Revision != 8 || keys(resp.Kvs) != "a ab b c d/x " {
		t.Errorf("after the errors: revision %d keys %q, want 8 and the seeded keys", resp.Header.Revision, keys(resp.Kvs))
	}
}

// Requests a well-behaved client does not send get etcd's answers (etcd 3.5 and later for the
// sort options; etcd 3.4 crashes on a bad sort target), and leave the store as it was.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	s := startCairnd(t)
	seed(t, s.Client)
	kv := s.rawKV()
	rangeKeys := func(r *pb.RangeRequest) (string, *pb.RangeResponse) {
		t.Helper()
		resp, err := kv.Range(ctx(t), r)
		if err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		return keys(resp.Kvs), resp
	}
	errorCases := []struct {
		name string
		call func() error
		want error
	}{
		{"sort order out of the enum", func() error {
			_, err := kv.Range(ctx(t), &pb.RangeRequest{Key: []byte("a"), SortOrder: 7})
			return err
		}, rpctypes.ErrGRPCInvalidSortOption},
		{"sort target out of the enum", func() error {
			_, err := kv.Range(ctx(t), &pb.RangeRequest{Key: []byte("a"), SortOrder: pb.RangeRequest_ASCEND, SortTarget: 9})
			return err
		}, rpctypes.ErrGRPCInvalidSortOption},
		{"compare with an empty key", func() error {
			_, err := kv.Txn(ctx(t), &pb.TxnRequest{Compare: []*pb.Compare{{Target: pb.Compare_VERSION, TargetUnion: &pb.Compare_Version{Version: 0}}}})
			return err
		}, rpctypes.ErrGRPCEmptyKey},
		{"negative lease", func() error { _, err := kv.Put(ctx(t), &pb.PutRequest{Key: []byte("a"), Lease: -1}); return err }, rpctypes.ErrGRPCLeaseNotFound},
		{"compact at a negative revision", func() error {
			_, err := kv.Compact(ctx(t), &pb.CompactionRequest{Revision: -1})
			return err
		}, rpctypes.ErrGRPCCompacted},
	}
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) { wantGRPCError(t, c.call(), c.want) })
	}
	t.Run("negative revision reads the current one", func(t *testing.T) {
		got, resp := rangeKeys(&pb.RangeRequest{Key: []byte("a"), Revision: -1})
		if got != "a " || resp.Kvs[0].ModRevision != 3 || resp.Header.Revision != 8 {
			t.Errorf("got %q %v", got, resp)
		}
	})
	t.Run("range end before the key is empty", func(t *testing.T) {
		if got, resp := rangeKeys(&pb.RangeRequest{Key: []byte("c"), RangeEnd: []byte("a")}); got != "" || resp.Count != 0 {
			t.Errorf("got %q count %d", got, resp.Count)
		}
	})
	t.Run("huge and negative limits mean none", func(t *testing.T) {
		for _, limit := range []int64{1 << 62, -1} {
			got, resp := rangeKeys(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Limit: limit})
			if got != "a ab b c d/x " || resp.More || resp.Count != 5 {
				t.Errorf("limit %d: %q more %v count %d", limit, got, resp.More, resp.Count)
			}
		}
	})
	_, resp := rangeKeys(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if resp.Header.Revision != 8 || resp.Count != 5 {
		t.Errorf("after the requests: revision %d count %d, want 8 and 5", resp.Header.Revision, resp.Count)
	}
}
