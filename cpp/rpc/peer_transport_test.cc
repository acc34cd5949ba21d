// The gRPC peer transport against a fake member: batching, a peer that is down, snapshots
// in chunks, and the cluster id check.
#include "rpc/peer_transport.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace cairn::rpc {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kCluster = 0xc1;

// A port nothing listens on (bound, then released).
int UnusedPort() {
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

// Records what arrives, and lets a test wait for it.
class FakeMember final : public server::PeerHandler, public server::TransportEvents {
 public:
  explicit FakeMember(uint64_t cluster_id = kCluster) : cluster_id_(cluster_id) {}

  uint64_t cluster_id() const override { return cluster_id_; }
  bool IsRemovedMember(uint64_t id) const override {
    std::lock_guard lock(mu_);
    return removed_.count(id) > 0;
  }
  void Step(raft::Message m) override {
    std::lock_guard lock(mu_);
    steps_.push_back(std::move(m));
    cv_.notify_all();
  }
  class Sink final : public server::SnapshotSink {
   public:
    explicit Sink(FakeMember* m) : m_(m) {}
    Status Write(std::string_view bytes) override {
      std::lock_guard lock(m_->mu_);
      m_->snapshot_writes_++;
      m_->snapshot_bytes_.append(bytes);
      return Status::Ok();
    }
    Status Finish() override {
      std::lock_guard lock(m_->mu_);
      m_->snapshot_finished_ = true;
      m_->cv_.notify_all();
      return Status::Ok();
    }

   private:
    FakeMember* m_;
  };
  Result<std::unique_ptr<server::SnapshotSink>> ReceiveSnapshot(raft::Message m,
                                                                uint64_t total) override {
    std::lock_guard lock(mu_);
    snapshot_message_ = std::move(m);
    snapshot_total_ = total;
    return std::unique_ptr<server::SnapshotSink>(new Sink(this));
  }
  server::RemoteCluster ClusterView() const override {
    server::RemoteCluster rc;
    rc.cluster_id = cluster_id_;
    rc.members.emplace_back().set_id(7);
    return rc;
  }
  void LeaderLeaseTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                             etcdserverpb::LeaseTimeToLiveResponse* resp,
                             server::Done done) override {
    resp->set_id(req.id());
    resp->set_ttl(42);
    // Answered later, from another thread, as a leader waiting for its applied index does.
    std::thread([done = std::move(done)] { done(Status::Ok()); }).detach();
  }
  void LeaderLeaseLeases(etcdserverpb::LeaseLeasesResponse*, server::Done done) override {
    done(Status(Code::kFailedPrecondition, "etcdserver: not leader"));
  }
  void LeaderLeaseKeepAlive(const etcdserverpb::LeaseKeepAliveRequest&,
                            etcdserverpb::LeaseKeepAliveResponse*, server::Done done) override {
    done(Status::Ok());
  }
  Status LearnerReady(uint64_t) override { return Status::Ok(); }

  void ReportUnreachable(uint64_t id) override {
    std::lock_guard lock(mu_);
    unreachable_.push_back(id);
    cv_.notify_all();
  }
  void ReportSnapshot(uint64_t id, bool ok) override {
    std::lock_guard lock(mu_);
    snapshot_reports_.emplace_back(id, ok);
    cv_.notify_all();
  }
  void ReportRemoved() override {
    std::lock_guard lock(mu_);
    told_removed_++;
    cv_.notify_all();
  }

  template <typename Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(); });
  }

  uint64_t cluster_id_;
  mutable std::mutex mu_;
  std::set<uint64_t> removed_;
  int told_removed_ = 0;
  std::condition_variable cv_;
  std::vector<raft::Message> steps_;
  std::vector<uint64_t> unreachable_;
  std::vector<std::pair<uint64_t, bool>> snapshot_reports_;
  raft::Message snapshot_message_;
  uint64_t snapshot_total_ = 0;
  int snapshot_writes_ = 0;
  std::string snapshot_bytes_;
  bool snapshot_finished_ = false;
};

struct Served {
  FakeMember member;
  std::unique_ptr<PeerServer> server;
  std::string url;
  explicit Served(uint64_t cluster_id = kCluster) : member(cluster_id) {
    auto url_parsed = server::ParseUrl("http://127.0.0.1:0");
    auto s = PeerServer::Start(&member, {*url_parsed});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(*s);
    url = "http://127.0.0.1:" + std::to_string(server->ports()[0]);
  }
};

raft::Message Heartbeat(uint64_t to, uint64_t commit) {
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = 1;
  m.to = to;
  m.term = 3;
  m.commit = commit;
  return m;
}

raft::Message Append(uint64_t to, uint64_t index, size_t bytes) {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = 1;
  m.to = to;
  m.term = 3;
  m.index = index;
  m.entries.push_back(raft::Entry{.term = 3, .index = index + 1, .data = std::string(bytes, 'x')});
  return m;
}

TEST(PeerTransportTest, OneReadyForOnePeerTravelsAsOneWritePerStream) {
  Served peer;
  FakeMember events;
  PeerTransport t;
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {peer.url});
  std::vector<raft::Message> ready;
  for (uint64_t i = 0; i < 10; ++i) ready.push_back(Heartbeat(2, i));
  for (uint64_t i = 0; i < 5; ++i) ready.push_back(Append(2, 100 + i, 1000));
  t.Send(std::move(ready));
  ASSERT_TRUE(peer.member.WaitFor([&] { return peer.member.steps_.size() == 15; }));
  // The sender counts a write once gRPC took it, which may be after it arrived.
  PeerStats stats;
  for (int i = 0; i < 1000 && stats.messages_sent < 15; ++i) {
    std::this_thread::sleep_for(5ms);
    stats = t.stats(2);
  }
  // Heartbeats on the priority stream, appends with entries on the bulk stream: one each.
  EXPECT_EQ(stats.batches_sent, 2u);
  EXPECT_EQ(stats.messages_sent, 15u);
  // Order within each stream is kept.
  std::vector<uint64_t> commits, indexes;
  for (const raft::Message& m : peer.member.steps_) {
    if (m.type == raft::MessageType::kHeartbeat) commits.push_back(m.commit);
    if (m.type == raft::MessageType::kAppend) indexes.push_back(m.index);
  }
  EXPECT_EQ(commits, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(indexes, (std::vector<uint64_t>{100, 101, 102, 103, 104}));
  EXPECT_EQ(peer.member.steps_[0].term, 3u);
  t.Stop();
}

TEST(PeerTransportTest, AMemberTheClusterRemovedIsRefusedAndToldSo) {
  Served peer;
  {
    std::lock_guard lock(peer.member.mu_);
    peer.member.removed_.insert(1);
  }
  FakeMember events;
  PeerTransport t;
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {peer.url});
  // It keeps sending (a removed member that restarted campaigns) until it hears the answer.
  for (int i = 0; i < 200 && events.told_removed_ == 0; ++i) {
    t.Send({Heartbeat(2, static_cast<uint64_t>(i))});
    events.WaitFor([&] { return events.told_removed_ > 0; }, 20ms);
  }
  EXPECT_GT(events.told_removed_, 0);
  std::lock_guard lock(peer.member.mu_);
  EXPECT_TRUE(peer.member.steps_.empty()) << "a removed member's message reached raft";
  t.Stop();
}

TEST(PeerTransportTest, APeerThatIsDownIsReportedAndDoesNotHoldUpTheOthers) {
  Served up;
  FakeMember events;
  PeerTransport t;
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {up.url});
  t.SetPeer(3, {"http://127.0.0.1:" + std::to_string(UnusedPort())});
  constexpr int kRounds = 200;
  for (int i = 0; i < kRounds; ++i) {
    t.Send({Heartbeat(2, static_cast<uint64_t>(i)), Heartbeat(3, static_cast<uint64_t>(i))});
  }
  ASSERT_TRUE(up.member.WaitFor([&] { return up.member.steps_.size() == kRounds; }));
  ASSERT_TRUE(events.WaitFor(
      [&] { return std::count(events.unreachable_.begin(), events.unreachable_.end(), 3u) > 0; }));
  EXPECT_EQ(std::count(events.unreachable_.begin(), events.unreachable_.end(), 2u), 0);
  EXPECT_GT(t.stats(3).messages_dropped, 0u);
  EXPECT_EQ(t.stats(3).messages_sent, 0u);
  // An unknown peer is unreachable too.
  t.Send({Heartbeat(9, 1)});
  EXPECT_TRUE(events.WaitFor(
      [&] { return std::count(events.unreachable_.begin(), events.unreachable_.end(), 9u) > 0; }));
  t.Stop();
}

TEST(PeerTransportTest, APeerThatComesBackIsReachedAgain) {
  const int port = UnusedPort();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  FakeMember events;
  PeerTransport t;
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {url});
  t.Send({Heartbeat(2, 1)});
  ASSERT_TRUE(events.WaitFor([&] { return !events.unreachable_.empty(); }));
  FakeMember member;
  auto s = PeerServer::Start(&member, {*server::ParseUrl(url)});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // Raft keeps sending heartbeats; one gets through once the stream is open again.
  bool reached = false;
  for (int i = 0; i < 1000 && !reached; ++i) {
    t.Send({Heartbeat(2, 2)});
    std::this_thread::sleep_for(20ms);
    std::lock_guard lock(member.mu_);
    reached = !member.steps_.empty();
  }
  ASSERT_TRUE(reached);
  EXPECT_EQ(member.steps_[0].commit, 2u);
  t.Stop();
}

// An archive of known bytes.
class FakeSource final : public server::SnapshotSource {
 public:
  explicit FakeSource(size_t size) {
    for (size_t i = 0; i < size; ++i) bytes_.push_back(static_cast<char>(i * 7 % 251));
  }
  uint64_t total_bytes() const override { return bytes_.size(); }
  Status Read(size_t max, std::string* out) override {
    out->assign(bytes_.substr(pos_, max));
    pos_ += out->size();
    return Status::Ok();
  }
  std::string bytes_;
  size_t pos_ = 0;
};

TEST(PeerTransportTest, ASnapshotTravelsInChunksAndIsReported) {
  Served peer;
  FakeMember events;
  PeerTransportOptions options;
  options.snapshot_chunk_bytes = 256 << 10;
  PeerTransport t(options);
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {peer.url});
  raft::Message m;
  m.type = raft::MessageType::kSnapshot;
  m.from = 1;
  m.to = 2;
  m.term = 4;
  m.snapshot.metadata.index = 500;
  m.snapshot.metadata.term = 4;
  m.snapshot.metadata.conf_state.voters = {1, 2, 3};
  auto source = std::make_unique<FakeSource>(3 << 20);
  const std::string expected = source->bytes_;
  t.SendSnapshot(m, std::move(source));
  ASSERT_TRUE(events.WaitFor([&] { return !events.snapshot_reports_.empty(); }));
  EXPECT_EQ(events.snapshot_reports_[0], std::make_pair(uint64_t{2}, true));
  std::lock_guard lock(peer.member.mu_);
  EXPECT_TRUE(peer.member.snapshot_finished_);
  EXPECT_EQ(peer.member.snapshot_total_, expected.size());
  EXPECT_EQ(peer.member.snapshot_writes_, 12);  // 3 MiB in 256 KiB chunks
  EXPECT_TRUE(peer.member.snapshot_bytes_ == expected);
  EXPECT_EQ(peer.member.snapshot_message_.snapshot.metadata, m.snapshot.metadata);
  t.Stop();
}

TEST(PeerTransportTest, ASnapshotToAPeerThatIsDownFails) {
  FakeMember events;
  PeerTransport t;
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {"http://127.0.0.1:" + std::to_string(UnusedPort())});
  raft::Message m;
  m.type = raft::MessageType::kSnapshot;
  m.to = 2;
  m.snapshot.metadata.index = 5;
  t.SendSnapshot(m, std::make_unique<FakeSource>(1000));
  ASSERT_TRUE(events.WaitFor([&] { return !events.snapshot_reports_.empty(); }));
  EXPECT_EQ(events.snapshot_reports_[0], std::make_pair(uint64_t{2}, false));
  t.Stop();
}

TEST(PeerTransportTest, AnotherClustersMessagesAreRefused) {
  Served other(0xdead);
  FakeMember events;
  PeerTransport t;
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {other.url});
  // The refusal ends the stream; the sender notices at its next write (raft sends
  // heartbeats all the time).
  bool reported = false;
  for (int i = 0; i < 1000 && !reported; ++i) {
    t.Send({Heartbeat(2, 1)});
    std::this_thread::sleep_for(10ms);
    std::lock_guard lock(events.mu_);
    reported = !events.unreachable_.empty();
  }
  ASSERT_TRUE(reported);
  std::lock_guard lock(other.member.mu_);
  EXPECT_TRUE(other.member.steps_.empty());
  t.Stop();
}

TEST(PeerTransportTest, LeaseCallsAndClusterFetchReachTheMember) {
  Served leader;
  FakeMember events;
  PeerTransport t;
  ASSERT_TRUE(t.Start(kCluster, 1, &events).ok());
  t.SetPeer(2, {leader.url});
  etcdserverpb::LeaseTimeToLiveRequest req;
  req.set_id(5);
  etcdserverpb::LeaseTimeToLiveResponse resp;
  std::promise<Status> p;
  t.LeaseTimeToLive(2, req, &resp, [&](Status s) { p.set_value(s); });
  ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_EQ(resp.id(), 5);
  EXPECT_EQ(resp.ttl(), 42);
  etcdserverpb::LeaseLeasesResponse leases;
  std::promise<Status> p2;
  t.LeaseLeases(2, &leases, [&](Status s) { p2.set_value(s); });
  Status s = p2.get_future().get();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(), "etcdserver: not leader");
  auto rc = t.FetchCluster({"http://127.0.0.1:" + std::to_string(UnusedPort()), leader.url});
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->cluster_id, kCluster);
  ASSERT_EQ(rc->members.size(), 1u);
  EXPECT_EQ(rc->members[0].id(), 7u);
  t.Stop();
}

}  // namespace
}  // namespace cairn::rpc
