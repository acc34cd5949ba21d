// Maintenance and Cluster through clientv3 against cairnd: Status, HashKV, MemberList, AlarmList.
package compat

import (
	"fmt"
	"testing"

	"github.com/coreos/go-semver/semver"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	const quota = 1 << 30
	s := startCairnd(t, fmt.Sprintf("--quota-backend-bytes=%d", quota))
	seed(t, s.Client)
	st, err := s.Client.Status(ctx(t), s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader == 0 || st.Leader != st.Header.MemberId {
		t.Errorf("leader %x, member %x: a one-member cluster leads itself", st.Leader, st.Header.MemberId)
	}
	if st.Header.Revision != 8 || st.RaftTerm == 0 || st.RaftIndex == 0 || st.RaftAppliedIndex == 0 {
		t.Errorf("status %+v", st)
	}
	if st.DbSize <= 0 || st.DbSizeInUse <= 0 || st.DbSizeInUse > st.DbSize || st.IsLearner || len(st.Errors) != 0 {
		t.Errorf("status %+v", st)
	}
	if st.DbSizeQuota != quota {
		t.Errorf("db size quota %d, want --quota-backend-bytes %d", st.DbSizeQuota, quota)
	}
	// kube-apiserver turns on consistent reads from its cache (progress requests) only
	// from etcd 3.5.13 (or 3.4.31) on, judged by this field.
	v, err := semver.NewVersion(st.Version)
	if err != nil {
		t.Fatalf("version %q is not semver: %v", st.Version, err)
	}
	if v.LessThan(*semver.New("3.5.13")) {
		t.Errorf("version %s: below 3.5.13, kube-apiserver would not use progress requests", v)
	}
}

func TestHashKV(t *testing.T) {
	t.Parallel()
	s := startCairnd(t)
	cli := s.Client
	seed(t, cli)
	hash := func(rev int64) (uint32, int64, int64) {
		t.Helper()
		resp, err := cli.HashKV(ctx(t), s.Endpoint, rev)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Hash, resp.CompactRevision, resp.HashRevision
	}
	h1, compacted, hashRev := hash(0)
	if compacted != -1 || hashRev != 8 {
		t.Errorf("compact revision %d, hash revision %d; want -1 (never compacted) and 8", compacted, hashRev)
	}
	if h2, _, _ := hash(0); h2 != h1 {
		t.Errorf("two HashKV calls with no write between: %d then %d", h1, h2)
	}
	at5, _, rev5 := hash(5)
	if rev5 != 5 {
		t.Errorf("hash revision %d, want 5", rev5)
	}
	if _, err := cli.Put(ctx(t), "a", "changed"); err != nil {
		t.Fatal(err)
	}
	if h3, _, _ := hash(0); h3 == h1 {
		t.Errorf("HashKV unchanged by a write: %d", h3)
	}
	// The hash at an old revision covers history up to it: later writes leave it alone.
	if again, _, _ := hash(5); again != at5 {
		t.Errorf("HashKV at revision 5 changed from %d to %d after a later write", at5, again)
	}
	if _, err := cli.Compact(ctx(t), 4); err != nil {
		t.Fatal(err)
	}
	if _, compacted, _ := hash(0); compacted != 4 {
		t.Errorf("compact revision %d after compacting at 4", compacted)
	}
}

func TestMemberListAndAlarms(t *testing.T) {
	t.Parallel()
	s := startCairnd(t)
	members, err := s.Client.MemberList(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 1 {
		t.Fatalf("members %v", members.Members)
	}
	m := members.Members[0]
	if m.Name != "compat" || m.ID != members.Header.MemberId || m.IsLearner ||
		len(m.ClientURLs) != 1 || m.ClientURLs[0] != "http://"+s.Endpoint || len(m.PeerURLs) != 1 {
		t.Errorf("member %+v", m)
	}
	alarms, err := s.Client.AlarmList(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(alarms.Alarms) != 0 {
		t.Errorf("alarms %v on a fresh member", alarms.Alarms)
	}
	// clientv3 3.6 asks for a linearizable list by default (above); a serializable one too.
	serializable, err := s.Client.MemberList(ctx(t), clientv3.WithSerializable())
	if err != nil {
		t.Fatal(err)
	}
	if len(serializable.Members) != 1 || serializable.Members[0].ID != m.ID {
		t.Errorf("serializable member list %v", serializable.Members)
	}
}
