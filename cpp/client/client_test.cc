// Both clients, in-process and over gRPC, against one node started in the test: the same
// calls must give the same answers, errors included.
#include "client/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "rpc/node.h"
#include "server/config.h"
#include "storage/test_dir.h"

namespace cairn::client {
namespace {

using namespace std::chrono_literals;

enum class Kind { kInProcess, kGrpc };

class ClientTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    std::vector<std::string> args = {
        "--name=t",
        "--data-dir=" + dir_.path() + "/data",
        "--listen-client-urls=http://127.0.0.1:0",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:0",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=t=http://127.0.0.1:2380",
        "--log-level=error",
    };
    auto parsed = server::ParseCommandLine(args, {});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    auto node = rpc::Node::Start(parsed->config);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);
    ASSERT_TRUE(node_->WaitReady(20s, nullptr).ok());
    client_ = MakeClient({node_->client_urls()[0]});
  }
  void TearDown() override {
    if (client_) client_->Close(Cancelled("test over"));
    client_.reset();
    if (node_) node_->Stop();
  }

  std::unique_ptr<Client> MakeClient(const std::vector<std::string>& endpoints) {
    Options o;
    o.dial_timeout = 0ms;
    if (GetParam() == Kind::kInProcess) return InProcess(node_->member(), o);
    auto c = Connect(endpoints, o, nullptr);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  int64_t Put(const std::string& key, const std::string& value, int64_t lease = 0) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    req.set_lease(lease);
    etcdserverpb::PutResponse resp;
    Status s = client_->Put(req, &resp, {});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return resp.header().revision();
  }
  etcdserverpb::RangeResponse Get(const std::string& key, int64_t revision = 0,
                                  Status* status = nullptr) {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    req.set_revision(revision);
    etcdserverpb::RangeResponse resp;
    Status s = client_->Range(req, &resp, {});
    if (status != nullptr) *status = s;
    return resp;
  }

  storage::TempDir dir_;
  std::unique_ptr<rpc::Node> node_;
  std::unique_ptr<Client> client_;
};

// Collects what a watch callback receives.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<etcdserverpb::WatchResponse> batches;
  int events = 0;
  bool ended = false;
  Status end;

  WatchCallback Callback() {
    return [this](const etcdserverpb::WatchResponse& r, const Status& s) {
      std::lock_guard lock(mu);
      batches.push_back(r);
      events += r.events_size();
      if (r.canceled()) {
        ended = true;
        end = s;
      }
      cv.notify_all();
      return true;
    };
  }
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return pred(*this); });
  }
};

TEST_P(ClientTest, PutThenRangeReturnsTheValueAndTheRevision) {
  int64_t rev = Put("k", "v");
  auto resp = Get("k");
  ASSERT_EQ(resp.kvs_size(), 1);
  EXPECT_EQ(resp.kvs(0).value(), "v");
  EXPECT_EQ(resp.kvs(0).mod_revision(), rev);
  EXPECT_EQ(resp.header().revision(), rev);
  EXPECT_NE(resp.header().cluster_id(), 0u);
}

TEST_P(ClientTest, ErrorsCarryEtcdsCodeAndText) {
  int64_t rev = Put("k", "1");
  Put("k", "2");
  etcdserverpb::CompactionRequest creq;
  creq.set_revision(rev + 1);
  etcdserverpb::CompactionResponse cresp;
  ASSERT_TRUE(client_->Compact(creq, &cresp, {}).ok());
  Status s;
  Get("k", rev, &s);
  EXPECT_EQ(s.code(), Code::kOutOfRange);
  EXPECT_EQ(s.message(), "etcdserver: mvcc: required revision has been compacted");

  etcdserverpb::PutRequest empty;
  etcdserverpb::PutResponse presp;
  s = client_->Put(empty, &presp, {});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "etcdserver: key is not provided");
}

TEST_P(ClientTest, AWatchGetsEveryPutInOrderAndNothingAfterStop) {
  Seen seen;
  etcdserverpb::WatchCreateRequest req;
  req.set_key("w/");
  req.set_range_end("w0");
  auto w = client_->StartWatch(req, seen.Callback(), {});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int i = 0; i < 20; ++i) Put("w/" + std::to_string(i), "v");
  ASSERT_TRUE(seen.WaitFor([](Seen& s) { return s.events == 20; }));
  {
    std::lock_guard lock(seen.mu);
    int64_t last = 0;
    for (const auto& b : seen.batches) {
      for (const auto& e : b.events()) {
        EXPECT_GT(e.kv().mod_revision(), last);
        last = e.kv().mod_revision();
      }
    }
  }
  (*w)->Stop();
  Put("w/late", "v");
  std::this_thread::sleep_for(100ms);
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.events, 20);
  EXPECT_FALSE(seen.ended);
}

TEST_P(ClientTest, AWatchFromACompactedRevisionEndsWithTheCompactRevision) {
  int64_t rev = Put("c", "1");
  Put("c", "2");
  etcdserverpb::CompactionRequest creq;
  creq.set_revision(rev + 1);
  etcdserverpb::CompactionResponse cresp;
  ASSERT_TRUE(client_->Compact(creq, &cresp, {}).ok());
  Seen seen;
  etcdserverpb::WatchCreateRequest req;
  req.set_key("c");
  req.set_start_revision(rev);
  auto w = client_->StartWatch(req, seen.Callback(), {});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(seen.WaitFor([](Seen& s) { return s.ended; }));
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.batches.back().compact_revision(), rev + 1);
}

TEST_P(ClientTest, CloseEndsWatchesWithALastCallAndFailsLaterCalls) {
  Seen seen;
  etcdserverpb::WatchCreateRequest req;
  req.set_key("x");
  auto w = client_->StartWatch(req, seen.Callback(), {});
  ASSERT_TRUE(w.ok());
  client_->Close(Unavailable("etcdserver: server stopped"));
  ASSERT_TRUE(seen.WaitFor([](Seen& s) { return s.ended; }));
  EXPECT_EQ(seen.end.message(), "etcdserver: server stopped");
  Status s;
  Get("x", 0, &s);
  EXPECT_EQ(s.message(), "etcdserver: server stopped");
  w->reset();
}

TEST_P(ClientTest, AKeepAliveKeepsAShortLeaseAlivePastItsTtl) {
  etcdserverpb::LeaseGrantRequest greq;
  greq.set_ttl(2);
  etcdserverpb::LeaseGrantResponse gresp;
  ASSERT_TRUE(client_->LeaseGrant(greq, &gresp, {}).ok());
  std::atomic<int> answers{0};
  auto ka = client_->StartKeepAlive(gresp.id(),
                                    [&](int64_t ttl) {
                                      if (ttl > 0) ++answers;
                                      return true;
                                    },
                                    {});
  ASSERT_TRUE(ka.ok()) << ka.status().ToString();
  EXPECT_GT((*ka)->ttl(), 0);
  // Two TTLs later the lease still lives, renewed by the library.
  std::this_thread::sleep_for(4s);
  etcdserverpb::LeaseTimeToLiveRequest treq;
  treq.set_id(gresp.id());
  etcdserverpb::LeaseTimeToLiveResponse tresp;
  ASSERT_TRUE(client_->LeaseTimeToLive(treq, &tresp, {}).ok());
  EXPECT_GT(tresp.ttl(), 0);
  EXPECT_GE(answers.load(), 2);
}

TEST_P(ClientTest, AKeepAliveOfAMissingLeaseIsLeaseNotFound) {
  auto ka = client_->StartKeepAlive(12345, [](int64_t) { return true; }, {});
  ASSERT_FALSE(ka.ok());
  EXPECT_EQ(ka.status().message(), "etcdserver: requested lease not found");
}

TEST_P(ClientTest, ALockWaiterEndsWhenItsTokenIsCancelledAndTheNextGetsTheLock) {
  etcdserverpb::LeaseGrantRequest greq;
  greq.set_ttl(30);
  etcdserverpb::LeaseGrantResponse l1, l2;
  ASSERT_TRUE(client_->LeaseGrant(greq, &l1, {}).ok());
  ASSERT_TRUE(client_->LeaseGrant(greq, &l2, {}).ok());
  v3lockpb::LockRequest req;
  req.set_name("lk");
  req.set_lease(l1.id());
  v3lockpb::LockResponse held;
  ASSERT_TRUE(client_->Lock(req, &held, {}).ok());

  CancelToken token;
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    token.Cancel();
  });
  req.set_lease(l2.id());
  v3lockpb::LockResponse waited;
  CallOptions opts;
  opts.cancel = &token;
  Status s = client_->Lock(req, &waited, opts);
  canceller.join();
  EXPECT_EQ(s.code(), Code::kCancelled);

  v3lockpb::UnlockRequest ureq;
  ureq.set_key(held.key());
  v3lockpb::UnlockResponse uresp;
  ASSERT_TRUE(client_->Unlock(ureq, &uresp, {}).ok());
  ASSERT_TRUE(client_->Lock(req, &waited, {}).ok());
  EXPECT_NE(waited.key(), held.key());
}

TEST_P(ClientTest, ObserveReportsTheLeaderAndItsProclamations) {
  etcdserverpb::LeaseGrantRequest greq;
  greq.set_ttl(30);
  etcdserverpb::LeaseGrantResponse lease;
  ASSERT_TRUE(client_->LeaseGrant(greq, &lease, {}).ok());
  v3electionpb::CampaignRequest creq;
  creq.set_name("el");
  creq.set_lease(lease.id());
  creq.set_value("a");
  v3electionpb::CampaignResponse cresp;
  ASSERT_TRUE(client_->Campaign(creq, &cresp, {}).ok());

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> values;
  v3electionpb::LeaderRequest lreq;
  lreq.set_name("el");
  auto obs = client_->Observe(lreq, [&](const v3electionpb::LeaderResponse* r, const Status&) {
    std::lock_guard lock(mu);
    if (r != nullptr) values.push_back(r->kv().value());
    cv.notify_all();
    return true;
  });
  ASSERT_TRUE(obs.ok());
  {
    // An observer first reports the current leader: proclaim only once it has, or the
    // stream may start after the proclamation and see "b" alone.
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return !values.empty(); }));
  }
  v3electionpb::ProclaimRequest preq;
  *preq.mutable_leader() = cresp.leader();
  preq.set_value("b");
  v3electionpb::ProclaimResponse presp;
  ASSERT_TRUE(client_->Proclaim(preq, &presp, {}).ok());
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return values.size() >= 2; }));
  EXPECT_EQ(values[0], "a");
  EXPECT_EQ(values[1], "b");
  lock.unlock();
  (*obs)->Stop();
}

TEST_P(ClientTest, MemberListAndStatusDescribeTheNode) {
  etcdserverpb::MemberListResponse members;
  ASSERT_TRUE(client_->MemberList(&members, {}).ok());
  ASSERT_EQ(members.members_size(), 1);
  EXPECT_EQ(members.members(0).name(), "t");
  etcdserverpb::StatusResponse status;
  ASSERT_TRUE(client_->GetStatus(&status, {}).ok());
  EXPECT_EQ(status.leader(), node_->member()->id());
}

INSTANTIATE_TEST_SUITE_P(Both, ClientTest, ::testing::Values(Kind::kInProcess, Kind::kGrpc),
                         [](const auto& param_info) {
                           return param_info.param == Kind::kInProcess ? "InProcess" : "Grpc";
                         });

// Network only: a dead endpoint first in the list costs one failed attempt, not the call.
using NetworkClientTest = ClientTest;
TEST_P(NetworkClientTest, ReadsAndWritesMoveToTheNextEndpointWhenOneIsDown) {
  client_ = MakeClient({"127.0.0.1:1", node_->client_urls()[0]});
  ASSERT_NE(client_, nullptr);
  Put("f", "1");
  EXPECT_EQ(Get("f").kvs(0).value(), "1");
  Seen seen;
  etcdserverpb::WatchCreateRequest req;
  req.set_key("f");
  auto w = client_->StartWatch(req, seen.Callback(), {});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
}
INSTANTIATE_TEST_SUITE_P(Grpc, NetworkClientTest, ::testing::Values(Kind::kGrpc));

// A free TCP port on 127.0.0.1 (the kernel's choice; released for the caller to bind).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Three members in this process; the network client is given all three and loses the one
// it talks to.
TEST(ClusterFailoverTest, ANetworkClientMovesToAnotherMemberWhenItsMemberStops) {
  storage::TempDir dir;
  const std::vector<std::string> names = {"a", "b", "c"};
  std::vector<std::string> peers, clients;
  std::string initial_cluster;
  for (const std::string& n : names) {
    peers.push_back("http://127.0.0.1:" + std::to_string(FreePort()));
    clients.push_back("http://127.0.0.1:" + std::to_string(FreePort()));
    initial_cluster += (initial_cluster.empty() ? "" : ",") + n + "=" + peers.back();
  }
  std::vector<std::unique_ptr<rpc::Node>> nodes;
  for (size_t i = 0; i < names.size(); ++i) {
    auto parsed = server::ParseCommandLine(
        {"--name=" + names[i], "--data-dir=" + dir.path() + "/" + names[i],
         "--listen-client-urls=" + clients[i], "--advertise-client-urls=" + clients[i],
         "--listen-peer-urls=" + peers[i], "--initial-advertise-peer-urls=" + peers[i],
         "--initial-cluster=" + initial_cluster, "--log-level=error"},
        {});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    auto node = rpc::Node::Start(parsed->config);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    nodes.push_back(std::move(*node));
  }
  for (auto& n : nodes) ASSERT_TRUE(n->WaitReady(30s, nullptr).ok());

  Options o;
  o.dial_timeout = 5s;
  o.request_timeout = 10s;
  auto c = Connect(clients, o, nullptr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  etcdserverpb::PutRequest put;
  put.set_key("k");
  put.set_value("1");
  etcdserverpb::PutResponse presp;
  ASSERT_TRUE((*c)->Put(put, &presp, {}).ok());

  nodes[0]->Stop();  // the first endpoint, which the client was using
  etcdserverpb::RangeRequest get;
  get.set_key("k");
  etcdserverpb::RangeResponse gresp;
  Status s = (*c)->Range(get, &gresp, {});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(gresp.kvs_size(), 1);
  EXPECT_EQ(gresp.kvs(0).value(), "1");
  EXPECT_NE(gresp.header().member_id(), nodes[0]->member()->id());
  put.set_value("2");
  s = (*c)->Put(put, &presp, {});
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = (*c)->Range(get, &gresp, {});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(gresp.kvs(0).value(), "2");
  (*c)->Close(Cancelled("test over"));
  for (auto& n : nodes) n->Stop();
}

TEST(ConnectTest, WithADialTimeoutAndNoServerItFailsWithTheDeadline) {
  Options o;
  o.dial_timeout = 200ms;
  auto c = Connect({"127.0.0.1:1"}, o, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kDeadlineExceeded);
}

}  // namespace
}  // namespace cairn::client
