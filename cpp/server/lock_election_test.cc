// Lock and Election on a real member: etcd's ordering, hand-over, lease loss and errors.
#include "server/lock_election.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn::server {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(30);

// The outcome of one asynchronous call, which the test waits for with a deadline.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  std::shared_ptr<Cancellable> handle;

  Done Callback() {
    return [this](Status s) {
      std::lock_guard lock(mu);
      done = true;
      status = std::move(s);
      cv.notify_all();
    };
  }
  bool is_done() {
    std::lock_guard lock(mu);
    return done;
  }
  // Waits for the call to finish; false when it did not within the deadline.
  bool Wait() {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, Clock::now() + kDeadline, [&] { return done; });
  }
};

// What an Observe reported.
struct Observed {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<v3electionpb::LeaderResponse> values;

  ObserveSink Sink() {
    return [this](v3electionpb::LeaderResponse r) {
      std::lock_guard lock(mu);
      values.push_back(std::move(r));
      cv.notify_all();
    };
  }
  // Waits for the n-th value; returns its kv's value, or "<none>".
  std::string WaitFor(size_t n) {
    std::unique_lock lock(mu);
    if (!cv.wait_until(lock, Clock::now() + kDeadline, [&] { return values.size() >= n; })) {
      return "<none>";
    }
    return values[n - 1].kv().value();
  }
  size_t size() {
    std::lock_guard lock(mu);
    return values.size();
  }
};

class LockElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-lock-election-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    config_.data_dir = dir_.string();
    config_.heartbeat_interval_ms = 10;
    config_.election_timeout_ms = 100;  // minimum lease TTL 1 s, for the expiry test
    auto m = Member::Start(config_);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    member_ = std::move(*m);
    le_ = std::make_unique<LockElection>(member_.get());
  }
  void TearDown() override {
    // Every call must end before the member stops: cancel what a failed test left waiting.
    for (auto& p : pending_) {
      if (p->handle) p->handle->Cancel();
      EXPECT_TRUE(p->Wait()) << "a call did not end after Cancel";
    }
    pending_.clear();
    le_.reset();
    member_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <typename Req, typename Resp>
  Status Call(void (Member::*fn)(const Req&, Resp*, Done), const Req& req, Resp* resp) {
    std::promise<Status> p;
    (member_.get()->*fn)(req, resp, [&p](Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }
  template <typename Req, typename Resp>
  Status Call(void (LockElection::*fn)(const Req&, Resp*, Done), const Req& req, Resp* resp) {
    std::promise<Status> p;
    (le_.get()->*fn)(req, resp, [&p](Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }

  int64_t Grant(int64_t ttl) {
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl);
    etcdserverpb::LeaseGrantResponse resp;
    Status s = Call(&Member::LeaseGrant, req, &resp);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return resp.id();
  }
  void Revoke(int64_t lease) {
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(lease);
    etcdserverpb::LeaseRevokeResponse resp;
    Status s = Call(&Member::LeaseRevoke, req, &resp);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  etcdserverpb::RangeResponse GetPrefix(const std::string& prefix) {
    etcdserverpb::RangeRequest req;
    req.set_key(prefix);
    std::string end = prefix;
    ++end.back();
    req.set_range_end(end);
    etcdserverpb::RangeResponse resp;
    Status s = Call(&Member::Range, req, &resp);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return resp;
  }
  bool Exists(const std::string& key) {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    etcdserverpb::RangeResponse resp;
    Status s = Call(&Member::Range, req, &resp);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return resp.kvs_size() == 1;
  }
  // Waits until `key` exists: the call that writes it has arrived.
  ::testing::AssertionResult WaitExists(const std::string& key) {
    const auto deadline = Clock::now() + kDeadline;
    while (!Exists(key)) {
      if (Clock::now() > deadline) return ::testing::AssertionFailure() << key << " never appeared";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return ::testing::AssertionSuccess();
  }

  Pending* StartLock(const std::string& name, int64_t lease, v3lockpb::LockResponse* resp) {
    v3lockpb::LockRequest req;
    req.set_name(name);
    req.set_lease(lease);
    auto p = std::make_unique<Pending>();
    p->handle = le_->Lock(req, resp, p->Callback());
    pending_.push_back(std::move(p));
    return pending_.back().get();
  }
  Status Unlock(const std::string& key) {
    v3lockpb::UnlockRequest req;
    req.set_key(key);
    v3lockpb::UnlockResponse resp;
    return Call(&LockElection::Unlock, req, &resp);
  }
  Pending* StartCampaign(const std::string& name, int64_t lease, const std::string& value,
                         v3electionpb::CampaignResponse* resp) {
    v3electionpb::CampaignRequest req;
    req.set_name(name);
    req.set_lease(lease);
    req.set_value(value);
    auto p = std::make_unique<Pending>();
    p->handle = le_->Campaign(req, resp, p->Callback());
    pending_.push_back(std::move(p));
    return pending_.back().get();
  }
  Pending* StartObserve(const std::string& name, Observed* seen) {
    v3electionpb::LeaderRequest req;
    req.set_name(name);
    auto p = std::make_unique<Pending>();
    p->handle = le_->Observe(req, seen->Sink(), p->Callback());
    pending_.push_back(std::move(p));
    return pending_.back().get();
  }
  Result<std::string> LeaderValue(const std::string& name) {
    v3electionpb::LeaderRequest req;
    req.set_name(name);
    v3electionpb::LeaderResponse resp;
    Status s = Call(&LockElection::Leader, req, &resp);
    if (!s.ok()) return s;
    return resp.kv().value();
  }
  Status Proclaim(const v3electionpb::LeaderKey& leader, const std::string& value) {
    v3electionpb::ProclaimRequest req;
    *req.mutable_leader() = leader;
    req.set_value(value);
    v3electionpb::ProclaimResponse resp;
    return Call(&LockElection::Proclaim, req, &resp);
  }
  Status Resign(const v3electionpb::LeaderKey& leader) {
    v3electionpb::ResignRequest req;
    *req.mutable_leader() = leader;
    v3electionpb::ResignResponse resp;
    return Call(&LockElection::Resign, req, &resp);
  }

  std::filesystem::path dir_;
  Config config_;
  std::unique_ptr<Member> member_;
  std::unique_ptr<LockElection> le_;
  std::vector<std::unique_ptr<Pending>> pending_;
  Observed seen_;  // outlives the Observe calls, which TearDown ends
};

TEST(OwnerKeyTest, IsThePrefixAndTheLeaseInGoHex) {
  EXPECT_EQ(OwnerKey("n/", 0x694d8c1e2f3a4b5c), "n/694d8c1e2f3a4b5c");
  EXPECT_EQ(OwnerKey("n/", 10), "n/a");
  EXPECT_EQ(OwnerKey("n/", -255), "n/-ff");
  EXPECT_EQ(OwnerKey("n/", INT64_MIN), "n/-8000000000000000");
}

TEST_F(LockElectionTest, LocksAreGrantedOneAtATimeInOrderOfArrival) {
  const int64_t l1 = Grant(60), l2 = Grant(60), l3 = Grant(60);
  v3lockpb::LockResponse r1, r2, r3;
  Pending* a = StartLock("mx", l1, &r1);
  ASSERT_TRUE(a->Wait()) << "an uncontended lock did not return";
  ASSERT_TRUE(a->status.ok()) << a->status.ToString();
  EXPECT_EQ(r1.key(), OwnerKey("mx/", l1));
  EXPECT_EQ(r1.header().revision(), GetPrefix("mx/").kvs(0).create_revision());

  Pending* b = StartLock("mx", l2, &r2);
  ASSERT_TRUE(WaitExists(OwnerKey("mx/", l2)));
  Pending* c = StartLock("mx", l3, &r3);
  ASSERT_TRUE(WaitExists(OwnerKey("mx/", l3)));
  EXPECT_FALSE(b->is_done()) << "a second holder got the lock: " << b->status.ToString();
  EXPECT_FALSE(c->is_done()) << "a third holder got the lock: " << c->status.ToString();

  ASSERT_TRUE(Unlock(r1.key()).ok());
  ASSERT_TRUE(b->Wait()) << "unlock did not hand the lock to the next waiter";
  ASSERT_TRUE(b->status.ok()) << b->status.ToString();
  EXPECT_EQ(r2.key(), OwnerKey("mx/", l2));
  EXPECT_FALSE(c->is_done()) << "the last waiter got the lock while the second held it";

  ASSERT_TRUE(Unlock(r2.key()).ok());
  ASSERT_TRUE(c->Wait());
  ASSERT_TRUE(c->status.ok()) << c->status.ToString();
  EXPECT_EQ(r3.key(), OwnerKey("mx/", l3));
  // The header is that of the recheck after the wait, which sees the store as of then.
  EXPECT_GT(r3.header().revision(), r2.header().revision());
}

TEST_F(LockElectionTest, ManyConcurrentLockersHoldTheLockOneAtATime) {
  constexpr int kLockers = 8;
  std::vector<int64_t> leases;
  for (int i = 0; i < kLockers; ++i) leases.push_back(Grant(60));
  std::vector<v3lockpb::LockResponse> resps(kLockers);
  std::vector<Pending*> calls;
  for (int i = 0; i < kLockers; ++i) calls.push_back(StartLock("many", leases[i], &resps[i]));
  // Whoever holds the lock releases it; exactly one call may be done and not yet unlocked.
  std::vector<bool> released(kLockers, false);
  for (int round = 0; round < kLockers; ++round) {
    int holder = -1;
    const auto deadline = Clock::now() + kDeadline;
    while (holder < 0) {
      int done_and_held = 0;
      for (int i = 0; i < kLockers; ++i) {
        if (!released[i] && calls[i]->is_done()) {
          ++done_and_held;
          holder = i;
        }
      }
      ASSERT_LE(done_and_held, 1) << "two callers hold the lock at once";
      ASSERT_LT(Clock::now(), deadline) << "nobody got the lock in round " << round;
      if (holder < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(calls[holder]->status.ok()) << calls[holder]->status.ToString();
    released[holder] = true;
    ASSERT_TRUE(Unlock(resps[holder].key()).ok());
  }
  EXPECT_EQ(GetPrefix("many/").count(), 0);
}

TEST_F(LockElectionTest, RevokingTheHoldersLeaseLetsTheNextWaiterIn) {
  const int64_t l1 = Grant(60), l2 = Grant(60);
  v3lockpb::LockResponse r1, r2;
  Pending* a = StartLock("rv", l1, &r1);
  ASSERT_TRUE(a->Wait());
  ASSERT_TRUE(a->status.ok());
  Pending* b = StartLock("rv", l2, &r2);
  ASSERT_TRUE(WaitExists(OwnerKey("rv/", l2)));
  EXPECT_FALSE(b->is_done());
  Revoke(l1);
  ASSERT_TRUE(b->Wait()) << "the revoked holder's key did not free the waiter";
  EXPECT_TRUE(b->status.ok()) << b->status.ToString();
  EXPECT_EQ(r2.key(), OwnerKey("rv/", l2));
}

TEST_F(LockElectionTest, AnExpiredHoldersLeaseLetsTheNextWaiterIn) {
  const int64_t short_lease = Grant(1), long_lease = Grant(60);
  v3lockpb::LockResponse r1, r2;
  Pending* a = StartLock("ex", short_lease, &r1);
  ASSERT_TRUE(a->Wait());
  ASSERT_TRUE(a->status.ok());
  Pending* b = StartLock("ex", long_lease, &r2);
  // Nobody keeps the short lease alive: its expiry deletes the holder's key.
  ASSERT_TRUE(b->Wait()) << "the expired holder's key did not free the waiter";
  EXPECT_TRUE(b->status.ok()) << b->status.ToString();
  EXPECT_FALSE(Exists(r1.key()));
}

TEST_F(LockElectionTest, AWaiterWhoseLeaseEndedWhileWaitingGetsSessionExpired) {
  const int64_t l1 = Grant(60), l2 = Grant(60);
  v3lockpb::LockResponse r1, r2;
  Pending* a = StartLock("se", l1, &r1);
  ASSERT_TRUE(a->Wait());
  Pending* b = StartLock("se", l2, &r2);
  ASSERT_TRUE(WaitExists(OwnerKey("se/", l2)));
  Revoke(l2);  // the waiter's own key goes; it still waits for its predecessor, as etcd's
  EXPECT_FALSE(b->is_done());
  ASSERT_TRUE(Unlock(r1.key()).ok());
  ASSERT_TRUE(b->Wait());
  EXPECT_EQ(b->status, Status(Code::kUnknown, "mutex: session is expired"));
}

TEST_F(LockElectionTest, ACancelledWaiterDeletesItsKeyAndDoesNotBlockTheNext) {
  const int64_t l1 = Grant(60), l2 = Grant(60), l3 = Grant(60);
  v3lockpb::LockResponse r1, r2, r3;
  Pending* a = StartLock("cx", l1, &r1);
  ASSERT_TRUE(a->Wait());
  Pending* b = StartLock("cx", l2, &r2);
  ASSERT_TRUE(WaitExists(OwnerKey("cx/", l2)));
  Pending* c = StartLock("cx", l3, &r3);
  ASSERT_TRUE(WaitExists(OwnerKey("cx/", l3)));
  b->handle->Cancel();
  ASSERT_TRUE(b->Wait()) << "a cancelled waiter did not end";
  EXPECT_EQ(b->status.code(), Code::kCancelled);
  EXPECT_FALSE(Exists(OwnerKey("cx/", l2)));
  EXPECT_FALSE(c->is_done());
  ASSERT_TRUE(Unlock(r1.key()).ok());
  ASSERT_TRUE(c->Wait());
  EXPECT_TRUE(c->status.ok()) << c->status.ToString();
}

TEST_F(LockElectionTest, LockErrorsAreEtcdsTextsWithCodeUnknown) {
  v3lockpb::LockResponse r;
  Pending* p = StartLock("nl", 0x12345, &r);
  ASSERT_TRUE(p->Wait());
  EXPECT_EQ(p->status, Status(Code::kUnknown, "etcdserver: requested lease not found"));
  EXPECT_EQ(Unlock(""), Status(Code::kUnknown, "etcdserver: key is not provided"));
  EXPECT_TRUE(Unlock("nothing/here").ok());  // deleting nothing is no error, as in etcd
}

TEST_F(LockElectionTest, LockWithoutALeaseUsesANewSixtySecondLease) {
  v3lockpb::LockResponse r;
  Pending* p = StartLock("nolease", 0, &r);
  ASSERT_TRUE(p->Wait());
  ASSERT_TRUE(p->status.ok()) << p->status.ToString();
  auto got = GetPrefix("nolease/");
  ASSERT_EQ(got.kvs_size(), 1);
  const int64_t lease = got.kvs(0).lease();
  ASSERT_NE(lease, 0);
  EXPECT_EQ(r.key(), OwnerKey("nolease/", lease));
  etcdserverpb::LeaseTimeToLiveRequest ttl_req;
  ttl_req.set_id(lease);
  etcdserverpb::LeaseTimeToLiveResponse ttl;
  ASSERT_TRUE(Call(&Member::LeaseTimeToLive, ttl_req, &ttl).ok());
  EXPECT_EQ(ttl.grantedttl(), kSessionTtlSeconds);
}

TEST_F(LockElectionTest, CampaignProclaimResignHandOverLeadershipAsEtcd) {
  const int64_t l1 = Grant(60), l2 = Grant(60);
  EXPECT_EQ(LeaderValue("el").status(), Status(Code::kUnknown, "election: no leader"));

  v3electionpb::CampaignResponse c1, c2;
  Pending* a = StartCampaign("el", l1, "alpha", &c1);
  ASSERT_TRUE(a->Wait());
  ASSERT_TRUE(a->status.ok()) << a->status.ToString();
  EXPECT_EQ(c1.leader().name(), "el");
  EXPECT_EQ(c1.leader().key(), OwnerKey("el/", l1));
  EXPECT_EQ(c1.leader().lease(), l1);
  EXPECT_EQ(c1.leader().rev(), c1.header().revision());
  EXPECT_EQ(*LeaderValue("el"), "alpha");

  Pending* b = StartCampaign("el", l2, "beta", &c2);
  ASSERT_TRUE(WaitExists(OwnerKey("el/", l2)));
  EXPECT_FALSE(b->is_done()) << "two leaders at once";
  EXPECT_EQ(*LeaderValue("el"), "alpha");  // the oldest key leads

  ASSERT_TRUE(Proclaim(c1.leader(), "alpha2").ok());
  EXPECT_EQ(*LeaderValue("el"), "alpha2");
  v3electionpb::LeaderKey stale = c1.leader();
  stale.set_rev(stale.rev() + 100);
  EXPECT_EQ(Proclaim(stale, "x"), Status(Code::kUnknown, "election: not leader"));
  EXPECT_TRUE(Resign(stale).ok());  // resigning what one does not lead changes nothing
  EXPECT_EQ(*LeaderValue("el"), "alpha2");

  ASSERT_TRUE(Resign(c1.leader()).ok());
  ASSERT_TRUE(b->Wait()) << "resigning did not elect the next candidate";
  ASSERT_TRUE(b->status.ok()) << b->status.ToString();
  EXPECT_EQ(c2.leader().key(), OwnerKey("el/", l2));
  EXPECT_EQ(*LeaderValue("el"), "beta");
  EXPECT_EQ(Proclaim(c1.leader(), "back"), Status(Code::kUnknown, "election: not leader"));

  ASSERT_TRUE(Resign(c2.leader()).ok());
  EXPECT_EQ(LeaderValue("el").status(), Status(Code::kUnknown, "election: no leader"));
}

TEST_F(LockElectionTest, CampaigningAgainOnTheSameLeaseProclaimsTheNewValue) {
  const int64_t l1 = Grant(60);
  v3electionpb::CampaignResponse c1, c2;
  Pending* a = StartCampaign("again", l1, "one", &c1);
  ASSERT_TRUE(a->Wait());
  ASSERT_TRUE(a->status.ok());
  Pending* b = StartCampaign("again", l1, "two", &c2);
  ASSERT_TRUE(b->Wait());
  ASSERT_TRUE(b->status.ok()) << b->status.ToString();
  EXPECT_EQ(c2.leader().rev(), c1.leader().rev());  // the same key, created once
  EXPECT_EQ(*LeaderValue("again"), "two");
}

TEST_F(LockElectionTest, ACancelledCandidateResigns) {
  const int64_t l1 = Grant(60), l2 = Grant(60);
  v3electionpb::CampaignResponse c1, c2;
  Pending* a = StartCampaign("cc", l1, "a", &c1);
  ASSERT_TRUE(a->Wait());
  Pending* b = StartCampaign("cc", l2, "b", &c2);
  ASSERT_TRUE(WaitExists(OwnerKey("cc/", l2)));
  b->handle->Cancel();
  ASSERT_TRUE(b->Wait());
  EXPECT_EQ(b->status.code(), Code::kCancelled);
  EXPECT_FALSE(Exists(OwnerKey("cc/", l2)));
}

TEST_F(LockElectionTest, ElectionErrorsAreEtcds) {
  v3electionpb::ProclaimRequest proclaim;
  v3electionpb::ProclaimResponse proclaimed;
  const Status missing(Code::kUnknown, "\"leader\" field must be provided");
  EXPECT_EQ(Call(&LockElection::Proclaim, proclaim, &proclaimed), missing);
  v3electionpb::ResignRequest resign;
  v3electionpb::ResignResponse resigned;
  EXPECT_EQ(Call(&LockElection::Resign, resign, &resigned), missing);
  v3electionpb::CampaignResponse c;
  Pending* p = StartCampaign("err", 0x777, "v", &c);
  ASSERT_TRUE(p->Wait());
  EXPECT_EQ(p->status, Status(Code::kUnknown, "etcdserver: requested lease not found"));
}

TEST_F(LockElectionTest, ObserveReportsEachLeaderAndEachProclamation) {
  const int64_t l1 = Grant(60), l2 = Grant(60);
  Pending* obs = StartObserve("ob", &seen_);

  v3electionpb::CampaignResponse c1, c2;
  Pending* a = StartCampaign("ob", l1, "first", &c1);
  ASSERT_TRUE(a->Wait());
  EXPECT_EQ(seen_.WaitFor(1), "first");
  {
    std::lock_guard lock(seen_.mu);
    EXPECT_EQ(seen_.values[0].header().revision(), c1.leader().rev());
    EXPECT_EQ(seen_.values[0].kv().key(), c1.leader().key());
  }
  Pending* b = StartCampaign("ob", l2, "second", &c2);
  ASSERT_TRUE(WaitExists(OwnerKey("ob/", l2)));
  ASSERT_TRUE(Proclaim(c1.leader(), "first-again").ok());
  EXPECT_EQ(seen_.WaitFor(2), "first-again");
  ASSERT_TRUE(Resign(c1.leader()).ok());
  EXPECT_EQ(seen_.WaitFor(3), "second");
  ASSERT_TRUE(b->Wait());
  EXPECT_EQ(seen_.size(), 3u) << "a waiting candidate's put was reported as a leader";

  obs->handle->Cancel();
  ASSERT_TRUE(obs->Wait()) << "a cancelled Observe did not end";
  EXPECT_EQ(obs->status.code(), Code::kCancelled);
}

TEST_F(LockElectionTest, ObserveStartedWithALeaderReportsItFirst) {
  const int64_t l1 = Grant(60);
  v3electionpb::CampaignResponse c1;
  Pending* a = StartCampaign("ob2", l1, "here", &c1);
  ASSERT_TRUE(a->Wait());
  Pending* obs = StartObserve("ob2", &seen_);
  EXPECT_EQ(seen_.WaitFor(1), "here");
  Revoke(l1);  // no leader now; the observer waits for the next one
  const int64_t l2 = Grant(60);
  v3electionpb::CampaignResponse c2;
  Pending* b = StartCampaign("ob2", l2, "next", &c2);
  ASSERT_TRUE(b->Wait());
  EXPECT_EQ(seen_.WaitFor(2), "next");
  obs->handle->Cancel();
  ASSERT_TRUE(obs->Wait());
}

}  // namespace
}  // namespace cairn::server
