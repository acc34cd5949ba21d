// Three members in one process, talking over the gRPC peer transport on loopback: writes
// and reads through every member, a stopped leader replaced, the stopped member catching up
// when it returns, and the refusals of bootstrap.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "rpc/peer_transport.h"
#include "server/ids.h"
#include "server/member.h"
#include "storage/test_dir.h"

namespace cairn::rpc {
namespace {

using namespace std::chrono_literals;
using server::Member;

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

template <typename Req, typename Resp>
Status Call(Member* m, void (Member::*fn)(const Req&, Resp*, server::Done), const Req& req,
            Resp* resp) {
  std::promise<Status> p;
  (m->*fn)(req, resp, [&p](Status s) { p.set_value(std::move(s)); });
  return p.get_future().get();
}

// The peer transport, with a count of what the member sends (appends that carry entries
// and forwarded proposals, per peer) and a gate that holds the raft thread in Send.
class CountingTransport final : public server::Transport {
 public:
  struct Counts {
    int messages = 0;  // appends with entries, or proposals
    int entries = 0;
  };

  // The next Send waits (and every one after it) until Release.
  void Hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  // Until a Send waits at the gate (false after 5 s).
  bool WaitHeld() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return held_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }
  void ResetCounts() {
    std::lock_guard lock(mu_);
    appends_.clear();
    proposals_.clear();
  }
  Counts Appends(uint64_t to) {
    std::lock_guard lock(mu_);
    return appends_[to];
  }
  Counts Proposals(uint64_t to) {
    std::lock_guard lock(mu_);
    return proposals_[to];
  }

  Status Start(uint64_t cluster_id, uint64_t member_id, server::TransportEvents* events) override {
    return inner_.Start(cluster_id, member_id, events);
  }
  void Stop() override {
    Release();
    inner_.Stop();
  }
  void SetPeer(uint64_t id, const std::vector<std::string>& peer_urls) override {
    inner_.SetPeer(id, peer_urls);
  }
  void RemovePeer(uint64_t id) override { inner_.RemovePeer(id); }
  void Send(std::vector<raft::Message> messages) override {
    {
      std::unique_lock lock(mu_);
      for (const raft::Message& m : messages) {
        Counts* c = nullptr;
        if (m.type == raft::MessageType::kAppend && !m.entries.empty()) c = &appends_[m.to];
        if (m.type == raft::MessageType::kPropose) c = &proposals_[m.to];
        if (c == nullptr) continue;
        c->messages++;
        c->entries += static_cast<int>(m.entries.size());
      }
      held_ = hold_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
      held_ = false;
    }
    inner_.Send(std::move(messages));
  }
  void SendSnapshot(raft::Message message, std::unique_ptr<server::SnapshotSource> body) override {
    inner_.SendSnapshot(std::move(message), std::move(body));
  }
  void LeaseTimeToLive(uint64_t to, const etcdserverpb::LeaseTimeToLiveRequest& req,
                       etcdserverpb::LeaseTimeToLiveResponse* resp, server::Done done) override {
    inner_.LeaseTimeToLive(to, req, resp, std::move(done));
  }
  void LeaseLeases(uint64_t to, etcdserverpb::LeaseLeasesResponse* resp,
                   server::Done done) override {
    inner_.LeaseLeases(to, resp, std::move(done));
  }
  void LeaseKeepAlive(uint64_t to, const etcdserverpb::LeaseKeepAliveRequest& req,
                      etcdserverpb::LeaseKeepAliveResponse* resp, server::Done done) override {
    inner_.LeaseKeepAlive(to, req, resp, std::move(done));
  }
  void LearnerReady(uint64_t to, uint64_t id, server::Done done) override {
    inner_.LearnerReady(to, id, std::move(done));
  }
  Result<server::RemoteCluster> FetchCluster(const std::vector<std::string>& peer_urls) override {
    return inner_.FetchCluster(peer_urls);
  }
  std::optional<std::chrono::steady_clock::time_point> ActiveSince(uint64_t id) const override {
    return inner_.ActiveSince(id);
  }

 private:
  PeerTransport inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;                     // guarded by mu_
  bool held_ = false;                     // guarded by mu_; a Send waits at the gate
  std::map<uint64_t, Counts> appends_;    // guarded by mu_
  std::map<uint64_t, Counts> proposals_;  // guarded by mu_
};

class ClusterTest : public ::testing::Test {
 protected:
  static constexpr int kMembers = 3;

  void SetUp() override {
    std::string initial;
    for (int i = 0; i < kMembers; ++i) {
      names_.push_back("m" + std::to_string(i));
      peer_urls_.push_back("http://127.0.0.1:" + std::to_string(FreePort()));
      initial += (i ? "," : "") + names_[i] + "=" + peer_urls_[i];
    }
    initial_cluster_ = initial;
    members_.resize(kMembers);
    servers_.resize(kMembers);
    transports_.resize(kMembers);
    for (int i = 0; i < kMembers; ++i) ASSERT_TRUE(StartMember(i).ok());
  }
  void TearDown() override {
    for (int i = 0; i < kMembers; ++i) StopMember(i);
  }

  server::Config ConfigOf(int i) {
    server::Config c;
    c.name = names_[i];
    c.data_dir = dir_.path() + "/" + names_[i];
    c.heartbeat_interval_ms = 50;
    c.election_timeout_ms = 500;
    c.listen_peer_urls = {*server::ParseUrl(peer_urls_[i])};
    c.initial_advertise_peer_urls = c.listen_peer_urls;
    c.listen_client_urls = {*server::ParseUrl("http://127.0.0.1:1")};
    c.advertise_client_urls = c.listen_client_urls;
    c.initial_cluster = initial_cluster_;
    c.initial_cluster_token = token_;
    c.snapshot_count = snapshot_count_;
    return c;
  }

  Status StartMember(int i) {
    auto transport = std::make_unique<CountingTransport>();
    transports_[i] = transport.get();
    auto m = Member::Start(ConfigOf(i), std::move(transport));
    if (!m.ok()) return m.status();
    members_[i] = std::move(*m);
    auto s = PeerServer::Start(members_[i].get(), ConfigOf(i).listen_peer_urls);
    if (!s.ok()) return s.status();
    servers_[i] = std::move(*s);
    return Status::Ok();
  }
  void StopMember(int i) {
    if (servers_[i]) servers_[i]->Shutdown();
    if (members_[i]) members_[i]->Stop();
    servers_[i].reset();
    members_[i].reset();
  }

  // The leader every running member agrees on, once they do.
  int WaitForLeader() {
    for (int attempt = 0; attempt < 400; ++attempt) {
      uint64_t lead = 0;
      bool agreed = true;
      for (auto& m : members_) {
        if (!m) continue;
        if (m->leader() == 0 || (lead != 0 && m->leader() != lead)) agreed = false;
        lead = m->leader();
      }
      if (agreed && lead != 0) {
        for (int i = 0; i < kMembers; ++i) {
          if (members_[i] && members_[i]->id() == lead) return i;
        }
      }
      std::this_thread::sleep_for(25ms);
    }
    return -1;
  }

  Status Put(int i, const std::string& k, const std::string& v) {
    etcdserverpb::PutRequest req;
    req.set_key(k);
    req.set_value(v);
    etcdserverpb::PutResponse resp;
    return Call(members_[i].get(), &Member::Put, req, &resp);
  }
  Result<etcdserverpb::RangeResponse> Get(int i, const std::string& k, bool serializable) {
    etcdserverpb::RangeRequest req;
    req.set_key(k);
    req.set_serializable(serializable);
    etcdserverpb::RangeResponse resp;
    Status s = Call(members_[i].get(), &Member::Range, req, &resp);
    if (!s.ok()) return s;
    return resp;
  }

  // Until members i and j give the same HashKV at the same revision (false if they never do).
  bool Converged(int i, int j) {
    for (int attempt = 0; attempt < 600; ++attempt) {
      etcdserverpb::HashKVResponse a, b;
      if (members_[i]->HashKV({}, &a).ok() && members_[j]->HashKV({}, &b).ok() &&
          a.header().revision() == b.header().revision() && a.hash() == b.hash()) {
        return true;
      }
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }

  storage::TempDir dir_;
  std::string token_ = "cluster-test";
  uint64_t snapshot_count_ = 10000;
  std::vector<std::string> names_;
  std::vector<std::string> peer_urls_;
  std::string initial_cluster_;
  std::vector<std::unique_ptr<Member>> members_;
  std::vector<std::unique_ptr<PeerServer>> servers_;
  std::vector<CountingTransport*> transports_;  // each owned by its member
};

TEST_F(ClusterTest, WritesThroughEveryMemberAreReadFromEveryMember) {
  ASSERT_GE(WaitForLeader(), 0);
  const uint64_t cluster_id = members_[0]->cluster_id();
  for (int i = 0; i < kMembers; ++i) {
    EXPECT_EQ(members_[i]->cluster_id(), cluster_id);
    EXPECT_EQ(members_[i]->Members().size(), 3u);
    ASSERT_TRUE(Put(i, "key" + std::to_string(i), "from" + std::to_string(i)).ok());
  }
  for (int reader = 0; reader < kMembers; ++reader) {
    for (int writer = 0; writer < kMembers; ++writer) {
      // Linearizable: a follower asks the leader for a read index.
      auto got = Get(reader, "key" + std::to_string(writer), false);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->kvs_size(), 1);
      EXPECT_EQ(got->kvs(0).value(), "from" + std::to_string(writer));
      EXPECT_EQ(got->header().member_id(), members_[reader]->id());
    }
  }
}

// Requests that reach a member while its raft thread is busy go to raft together: the leader
// sends each follower one append with all of them, and a follower forwards them to the
// leader in one proposal (one each cost an append, its response and a commit update).
TEST_F(ClusterTest, RequestsThatArriveTogetherTravelInOneAppendAndOneForward) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % kMembers;
  ASSERT_TRUE(Put(follower, "warm", "up").ok());
  constexpr int kPuts = 50;
  for (int at : {leader, follower}) {
    CountingTransport* t = transports_[at];
    t->Hold();
    ASSERT_TRUE(t->WaitHeld());  // a heartbeat or its response: the raft thread waits
    t->ResetCounts();
    std::vector<std::promise<Status>> done(kPuts);
    std::vector<etcdserverpb::PutResponse> resp(kPuts);
    etcdserverpb::PutRequest req;
    req.set_value("v");
    for (int i = 0; i < kPuts; ++i) {
      req.set_key("k" + std::to_string(at) + "-" + std::to_string(i));
      members_[at]->Put(req, &resp[i], [&done, i](Status s) { done[i].set_value(s); });
    }
    t->Release();
    for (auto& d : done) ASSERT_TRUE(d.get_future().get().ok());
    if (at == leader) {
      for (int i = 0; i < kMembers; ++i) {
        if (i == leader) continue;
        auto c = t->Appends(members_[i]->id());
        EXPECT_GE(c.entries, kPuts) << "to member " << i;
        EXPECT_LE(c.messages, 2) << "to member " << i;
      }
    } else {
      auto c = t->Proposals(members_[leader]->id());
      EXPECT_EQ(c.entries, kPuts);
      EXPECT_EQ(c.messages, 1);
    }
  }
}

TEST_F(ClusterTest, LeaseCallsOnAFollowerAreAnsweredByTheLeader) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % kMembers;
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(60);
  etcdserverpb::LeaseGrantResponse granted;
  // The follower may apply a grant (and answer it) before the leader does; the leader
  // answers a keepalive right after only once it applied the grant too. Some rounds give
  // that race its chances.
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(Call(members_[follower].get(), &Member::LeaseGrant, grant, &granted).ok());
    etcdserverpb::LeaseKeepAliveRequest ka;
    ka.set_id(granted.id());
    etcdserverpb::LeaseKeepAliveResponse kar;
    Status s = Call(members_[follower].get(), &Member::LeaseKeepAlive, ka, &kar);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(kar.ttl(), 60) << "round " << round;
    if (round + 1 < kRounds) {
      etcdserverpb::LeaseRevokeRequest revoke;
      revoke.set_id(granted.id());
      etcdserverpb::LeaseRevokeResponse revoked;
      ASSERT_TRUE(Call(members_[follower].get(), &Member::LeaseRevoke, revoke, &revoked).ok());
    }
  }
  etcdserverpb::LeaseTimeToLiveRequest ttl;
  ttl.set_id(granted.id());
  etcdserverpb::LeaseTimeToLiveResponse ttlr;
  Status s = Call(members_[follower].get(), &Member::LeaseTimeToLive, ttl, &ttlr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ttlr.grantedttl(), 60);
  EXPECT_GT(ttlr.ttl(), 50);
  // The lessor of a follower does not renew: the answer came from the leader.
  EXPECT_EQ(ttlr.header().member_id(), members_[leader]->id());
  etcdserverpb::LeaseLeasesResponse leases;
  std::promise<Status> p;
  members_[follower]->LeaseLeases(&leases, [&](Status st) { p.set_value(st); });
  ASSERT_TRUE(p.get_future().get().ok());
  ASSERT_EQ(leases.leases_size(), 1);
  EXPECT_EQ(leases.leases(0).id(), granted.id());
}

TEST_F(ClusterTest, ALeaseKeepsItsTimeAcrossALeaderChangeAndExpiresThroughTheLeader) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % kMembers;
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(60);
  etcdserverpb::LeaseGrantResponse long_lease;
  ASSERT_TRUE(Call(members_[follower].get(), &Member::LeaseGrant, grant, &long_lease).ok());
  grant.set_ttl(1);  // raised to the minimum, about 1.5 election timeouts
  etcdserverpb::LeaseGrantResponse short_lease;
  ASSERT_TRUE(Call(members_[follower].get(), &Member::LeaseGrant, grant, &short_lease).ok());
  etcdserverpb::PutRequest put;
  put.set_key("ephemeral");
  put.set_lease(short_lease.id());
  etcdserverpb::PutResponse put_resp;
  ASSERT_TRUE(Call(members_[follower].get(), &Member::Put, put, &put_resp).ok());
  etcdserverpb::LeaseKeepAliveRequest ka;
  ka.set_id(long_lease.id());
  etcdserverpb::LeaseKeepAliveResponse kar;
  ASSERT_TRUE(Call(members_[follower].get(), &Member::LeaseKeepAlive, ka, &kar).ok());

  // The leader revokes the short lease through raft: its key goes on every member.
  for (int i = 0; i < kMembers; ++i) {
    bool gone = false;
    for (int attempt = 0; attempt < 400 && !gone; ++attempt) {
      auto got = Get(i, "ephemeral", true);
      gone = got.ok() && got->kvs_size() == 0;
      if (!gone) std::this_thread::sleep_for(25ms);
    }
    EXPECT_TRUE(gone) << "member " << i;
  }

  StopMember(leader);
  const int next = WaitForLeader();
  ASSERT_GE(next, 0);
  const int asker = (next + 1) % kMembers == leader ? (next + 2) % kMembers : (next + 1) % kMembers;
  etcdserverpb::LeaseTimeToLiveRequest ttl;
  ttl.set_id(long_lease.id());
  etcdserverpb::LeaseTimeToLiveResponse ttlr;
  Status s;
  for (int attempt = 0; attempt < 200; ++attempt) {
    s = Call(members_[asker].get(), &Member::LeaseTimeToLive, ttl, &ttlr);
    if (s.ok()) break;
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ttlr.grantedttl(), 60);
  // Renewed just before the change: what remains is not cut short by the new leader.
  EXPECT_GT(ttlr.ttl(), 45);
  EXPECT_EQ(ttlr.header().member_id(), members_[next]->id());
}

TEST_F(ClusterTest, AStoppedLeaderIsReplacedAndCatchesUpWhenItReturns) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put(i % kMembers, "k" + std::to_string(i), "v").ok());
  const uint64_t old_leader = members_[leader]->id();
  StopMember(leader);
  const int next = WaitForLeader();
  ASSERT_GE(next, 0);
  EXPECT_NE(members_[next]->id(), old_leader);
  const int survivor =
      (next + 1) % kMembers == leader ? (next + 2) % kMembers : (next + 1) % kMembers;
  for (int i = 20; i < 40; ++i) ASSERT_TRUE(Put(survivor, "k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(StartMember(leader).ok());
  ASSERT_GE(WaitForLeader(), 0);
  // Converged: the same hash at the same revision everywhere.
  bool converged = false;
  for (int attempt = 0; attempt < 400 && !converged; ++attempt) {
    std::vector<etcdserverpb::HashKVResponse> hashes(kMembers);
    converged = true;
    for (int i = 0; i < kMembers; ++i) {
      etcdserverpb::HashKVRequest req;
      if (!members_[i]->HashKV(req, &hashes[i]).ok()) converged = false;
    }
    for (int i = 1; i < kMembers && converged; ++i) {
      converged = hashes[i].header().revision() == hashes[0].header().revision() &&
                  hashes[i].hash() == hashes[0].hash();
    }
    if (converged) {
      EXPECT_EQ(hashes[0].header().revision(), 41);
    } else {
      std::this_thread::sleep_for(25ms);
    }
  }
  EXPECT_TRUE(converged);
  auto got = Get(leader, "k39", false);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->kvs_size(), 1);
}

TEST_F(ClusterTest, ALearnerAddedToTheClusterJoinsServesOnlySerializableReadsAndIsPromoted) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(Put(leader, "seen-by-learner", "yes").ok());
  // What MemberAdd --learner does: a conf change whose entry names the new member.
  const std::string url = "http://127.0.0.1:" + std::to_string(FreePort());
  cairn::internal::MemberRecord record;
  record.set_id(server::ComputeMemberId({*server::ParseUrl(url)}, token_));
  record.add_peer_urls(url);
  record.set_is_learner(true);
  std::promise<Status> added;
  members_[(leader + 1) % kMembers]->ProposeConfChange(raft::ConfChangeType::kAddLearner, record,
                                                       [&](Status s) { added.set_value(s); });
  ASSERT_TRUE(added.get_future().get().ok());
  // The proposer has applied the change when `done` runs; the others apply it soon after.
  ASSERT_EQ(members_[(leader + 1) % kMembers]->Members().size(), 4u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (members_[leader]->Members().size() != 4u && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(members_[leader]->Members().size(), 4u);

  server::Config c = ConfigOf(0);
  c.name = "learner";
  c.data_dir = dir_.path() + "/learner";
  c.listen_peer_urls = {*server::ParseUrl(url)};
  c.initial_advertise_peer_urls = c.listen_peer_urls;
  c.initial_cluster = initial_cluster_ + ",learner=" + url;
  c.initial_cluster_state = "existing";
  auto m = Member::Start(c, std::make_unique<PeerTransport>());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::unique_ptr<Member> learner = std::move(*m);
  auto ps = PeerServer::Start(learner.get(), c.listen_peer_urls);
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(learner->id(), record.id());
  EXPECT_EQ(learner->cluster_id(), members_[leader]->cluster_id());
  EXPECT_TRUE(learner->is_learner());

  etcdserverpb::RangeRequest get;
  get.set_key("seen-by-learner");
  get.set_serializable(true);
  bool seen = false;
  for (int attempt = 0; attempt < 400 && !seen; ++attempt) {
    etcdserverpb::RangeResponse resp;
    seen = Call(learner.get(), &Member::Range, get, &resp).ok() && resp.kvs_size() == 1;
    if (!seen) std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(seen);
  get.set_serializable(false);
  etcdserverpb::RangeResponse resp;
  Status s = Call(learner.get(), &Member::Range, get, &resp);
  EXPECT_EQ(s.message(), "etcdserver: rpc not supported for learner");
  etcdserverpb::PutRequest put;
  put.set_key("x");
  etcdserverpb::PutResponse put_resp;
  EXPECT_EQ(Call(learner.get(), &Member::Put, put, &put_resp).message(),
            "etcdserver: rpc not supported for learner");
  etcdserverpb::StatusResponse status;
  ASSERT_TRUE(learner->GetStatus(&status).ok());
  EXPECT_TRUE(status.islearner());

  // MemberPromote's conf change: the learner becomes a voter and serves everything.
  record.set_is_learner(false);
  std::promise<Status> promoted;
  members_[leader]->ProposeConfChange(raft::ConfChangeType::kAddVoter, record,
                                      [&](Status st) { promoted.set_value(st); });
  ASSERT_TRUE(promoted.get_future().get().ok());
  for (int attempt = 0; attempt < 400 && learner->is_learner(); ++attempt) {
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_FALSE(learner->is_learner());
  s = Call(learner.get(), &Member::Put, put, &put_resp);
  EXPECT_TRUE(s.ok()) << s.ToString();
  (*ps)->Shutdown();
  learner->Stop();
}

// The raft log is compacted every 20 entries (keeping a tail of 20).
class CompactingClusterTest : public ClusterTest {
 protected:
  CompactingClusterTest() { snapshot_count_ = 20; }
};

TEST_F(CompactingClusterTest, AMemberFarBehindCatchesUpBySnapshot) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int behind = (leader + 1) % kMembers;
  ASSERT_TRUE(Put(leader, "before", "1").ok());
  StopMember(behind);
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(600);
  etcdserverpb::LeaseGrantResponse granted;
  ASSERT_TRUE(Call(members_[leader].get(), &Member::LeaseGrant, grant, &granted).ok());
  for (int i = 0; i < 300; ++i) {
    etcdserverpb::PutRequest req;
    req.set_key("k" + std::to_string(i));
    req.set_value("v" + std::to_string(i));
    if (i % 10 == 0) req.set_lease(granted.id());
    etcdserverpb::PutResponse resp;
    ASSERT_TRUE(Call(members_[leader].get(), &Member::Put, req, &resp).ok());
  }
  // The leader's log no longer holds what the stopped member lacks.
  for (int i = 0; i < 400 && members_[leader]->raft_log_first_index() <= 10; ++i) {
    ASSERT_TRUE(Put(leader, "tick", std::to_string(i)).ok());
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(members_[leader]->raft_log_first_index(), 10u);
  ASSERT_TRUE(StartMember(behind).ok());
  ASSERT_TRUE(Converged(leader, behind));
  // It came by snapshot: its log starts above the entries it never received.
  EXPECT_GT(members_[behind]->raft_log_first_index(), 10u);
  auto got = Get(behind, "k0", true);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->kvs_size(), 1);
  EXPECT_EQ(got->kvs(0).lease(), granted.id());
  auto before = Get(behind, "before", false);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->kvs_size(), 1);
  // The lessor came with it, and the member keeps its own identity.
  etcdserverpb::LeaseLeasesResponse leases;
  std::promise<Status> listed;  // from its own lessor, not the leader's
  members_[behind]->LeaderLeaseLeases(&leases, [&](Status s) { listed.set_value(std::move(s)); });
  ASSERT_TRUE(listed.get_future().get().ok());
  ASSERT_EQ(leases.leases_size(), 1);
  EXPECT_EQ(leases.leases(0).id(), granted.id());
  EXPECT_EQ(members_[behind]->Members().size(), 3u);
  // Writes after the snapshot keep flowing to it.
  ASSERT_TRUE(Put(leader, "after", "1").ok());
  auto after = Get(behind, "after", false);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->kvs_size(), 1);
  // And it keeps all of it across a restart.
  StopMember(behind);
  ASSERT_TRUE(StartMember(behind).ok());
  auto again = Get(behind, "k299", false);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->kvs_size(), 1);
}

TEST_F(ClusterTest, ADataDirOfAnotherClusterIsRefused) {
  ASSERT_GE(WaitForLeader(), 0);
  StopMember(0);
  token_ = "another-cluster";
  Status s = StartMember(0);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("belongs to cluster"), std::string::npos) << s.message();
}

TEST_F(ClusterTest, ANameMissingFromTheInitialClusterIsRefused) {
  server::Config c = ConfigOf(0);
  c.name = "stranger";
  c.data_dir = dir_.path() + "/stranger";
  auto m = Member::Start(c, std::make_unique<PeerTransport>());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            "couldn't find local name \"stranger\" in the initial cluster configuration");
}

// The raft thread takes a snapshot while the apply thread is busy, and goes on voting: the
// install waits its turn on the apply thread instead of stopping raft.
TEST_F(CompactingClusterTest, RaftTakesASnapshotAndVotesWhileTheApplyThreadIsBusy) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int behind = (leader + 1) % kMembers;
  // A watch whose wake blocks holds the apply thread of `behind` in the write it notifies.
  std::atomic<bool> armed{false}, entered{false};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::unique_ptr<watch::Stream> stream;
  // Whatever happens, the apply thread is let go and the stream closed before TearDown.
  struct LetGo {
    std::promise<void>* release;
    std::unique_ptr<watch::Stream>* stream;
    bool done = false;
    void operator()() {
      if (!done) release->set_value();
      done = true;
    }
    ~LetGo() {
      (*this)();
      stream->reset();
    }
  } let_go{&release, &stream};
  stream = members_[behind]->OpenWatchStream([&] {
    if (!armed) return;
    entered = true;
    released.wait();
  });
  ASSERT_NE(stream, nullptr);
  watch::CreateRequest watch;
  watch.key = "block";
  stream->Create(watch);
  while (stream->TryPop()) {
  }
  armed = true;
  ASSERT_TRUE(Put(leader, "block", "1").ok());
  for (int i = 0; i < 400 && !entered; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(entered) << "the watch never held the apply thread";

  // Deaf to its peers meanwhile, it falls behind the leader's compacted log.
  servers_[behind]->Shutdown();
  etcdserverpb::StatusResponse st;
  ASSERT_TRUE(members_[leader]->GetStatus(&st).ok());
  const uint64_t gap_from = st.raftindex();
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(Put(leader, "k" + std::to_string(i), "v").ok());
  for (int i = 0; i < 400 && members_[leader]->raft_log_first_index() <= gap_from; ++i) {
    ASSERT_TRUE(Put(leader, "tick", std::to_string(i)).ok());
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(members_[leader]->raft_log_first_index(), gap_from);
  auto server = PeerServer::Start(members_[behind].get(), ConfigOf(behind).listen_peer_urls);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  servers_[behind] = std::move(*server);

  // Raft records the snapshot; the state waits for the apply thread.
  for (int i = 0; i < 1000 && members_[behind]->raft_log_first_index() <= gap_from; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(members_[behind]->raft_log_first_index(), gap_from);
  EXPECT_LE(members_[behind]->applied_index(), gap_from);
  // Its raft still votes: without the leader, it and the third member elect one.
  StopMember(leader);
  const int next = WaitForLeader();
  EXPECT_GE(next, 0) << "no leader elected while the apply thread of a member was busy";

  let_go();
  const int other =
      (behind + 1) % kMembers == leader ? (behind + 2) % kMembers : (behind + 1) % kMembers;
  EXPECT_TRUE(Converged(other, behind));
  auto got = Get(behind, "k299", true);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->kvs_size(), 1);
}

}  // namespace
}  // namespace cairn::rpc
