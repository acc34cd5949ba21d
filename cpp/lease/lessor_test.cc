// Tests of the lessor's rules, on a real WiredTiger database in a temporary directory.
#include "lease/lessor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/etcd_errors.h"
#include "storage/test_dir.h"

namespace cairn::lease {
namespace {

using Keys = std::vector<std::string>;

constexpr int64_t kSecond = 1000;
// An arbitrary start, so that nothing depends on the clock starting at zero.
constexpr int64_t kT0 = 1'000'000;

class LessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    options_.min_ttl_s = 2;
    options_.checkpoint_interval_ms = 300 * kSecond;
    options_.expired_retry_interval_ms = 3 * kSecond;
    OpenAll();
  }

  void OpenAll() {
    storage::DbOptions db_options;
    db_options.checkpoint_interval_s = 0;
    auto db = storage::Db::Open(dir_.path(), db_options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto lessor = Lessor::Open(db_.get(), options_);
    ASSERT_TRUE(lessor.ok()) << lessor.status().ToString();
    lessor_ = std::move(*lessor);
  }

  // Closes and reopens the database as a restart does (after the server's checkpoint).
  void Restart() {
    ASSERT_TRUE(db_->Checkpoint().ok());
    lessor_.reset();
    db_.reset();
    OpenAll();
  }

  void Grant(int64_t id, int64_t ttl_s, int64_t now_ms = kT0) {
    Status s = lessor_->Grant(id, ttl_s, now_ms);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  TimeToLiveResult Ttl(int64_t id, int64_t now_ms, bool with_keys = false) {
    auto r = lessor_->TimeToLive(id, now_ms, with_keys);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : TimeToLiveResult{};
  }

  storage::TempDir dir_;
  LessorOptions options_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<Lessor> lessor_;
};

// --- Grant, revoke, attach, detach ---

TEST_F(LessorTest, RevokeReturnsTheAttachedKeysInByteOrderAndForgetsTheLease) {
  Grant(1, 60);
  Grant(2, 60);
  using namespace std::string_literals;
  for (const std::string& key : {"b"s, "a"s, "a\0z"s, "ab"s}) {
    ASSERT_TRUE(lessor_->Attach(1, key).ok());
  }
  ASSERT_TRUE(lessor_->Attach(2, "other").ok());
  auto keys = lessor_->Revoke(1);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (Keys{"a"s, "a\0z"s, "ab"s, "b"s}));
  EXPECT_FALSE(lessor_->Exists(1));
  EXPECT_EQ(lessor_->Leases(), std::vector<int64_t>{2});
  EXPECT_EQ(lessor_->Revoke(1).status(), etcd::LeaseNotFound());
  // The other lease's attachment was not touched.
  EXPECT_EQ(Ttl(2, kT0, true).keys, Keys{"other"});
}

TEST_F(LessorTest, RevokeOfALeaseWithoutKeysReturnsNoKeys) {
  Grant(5, 60);
  auto keys = lessor_->Revoke(5);
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->empty());
}

TEST_F(LessorTest, AttachIsIdempotentAndDetachRemovesOnlyThatKey) {
  Grant(1, 60);
  ASSERT_TRUE(lessor_->Attach(1, "k1").ok());
  ASSERT_TRUE(lessor_->Attach(1, "k1").ok());
  ASSERT_TRUE(lessor_->Attach(1, "k2").ok());
  EXPECT_EQ(Ttl(1, kT0, true).keys, (Keys{"k1", "k2"}));
  ASSERT_TRUE(lessor_->Detach(1, "k1").ok());
  ASSERT_TRUE(lessor_->Detach(1, "never-attached").ok());
  EXPECT_EQ(Ttl(1, kT0, true).keys, Keys{"k2"});
  EXPECT_TRUE(Ttl(1, kT0, false).keys.empty());  // keys only when asked for
}

TEST_F(LessorTest, KeysOfNeighbouringAndNegativeIdsDoNotMix) {
  // Ids whose encodings share leading bytes, and ids on both sides of zero.
  const std::vector<int64_t> ids = {-1, 1, 256, 257, INT64_MIN, INT64_MAX};
  for (int64_t id : ids) {
    Grant(id, 60);
    ASSERT_TRUE(lessor_->Attach(id, "key-" + std::to_string(id)).ok());
  }
  std::vector<int64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(lessor_->Leases(), sorted);
  for (int64_t id : ids) {
    EXPECT_EQ(Ttl(id, kT0, true).keys, Keys{"key-" + std::to_string(id)}) << id;
  }
}

TEST_F(LessorTest, GrantRefusesIdZeroBecauseTheServerChoosesIdsBeforeProposing) {
  Status s = lessor_->Grant(0, 60, kT0);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(lessor_->Leases().empty());
}

TEST_F(LessorTest, GrantRaisesATtlBelowTheMinimumToTheMinimum) {
  Grant(1, 1);
  Grant(2, 0);
  Grant(3, -5);
  Grant(4, 3);
  EXPECT_EQ(Ttl(1, kT0).granted_ttl, 2);
  EXPECT_EQ(Ttl(2, kT0).granted_ttl, 2);
  EXPECT_EQ(Ttl(3, kT0).granted_ttl, 2);
  EXPECT_EQ(Ttl(4, kT0).granted_ttl, 3);
}

TEST(MinLeaseTTLTest, IsOneAndAHalfElectionTimeoutsRoundedUpToSeconds) {
  EXPECT_EQ(MinLeaseTTL(10, 100), 2);    // etcd's defaults: 1.5 s -> 2 s
  EXPECT_EQ(MinLeaseTTL(10, 1000), 15);  // exactly 15 s
  EXPECT_EQ(MinLeaseTTL(5, 100), 1);     // (3 * 5) / 2 = 7 ticks: 0.7 s -> 1 s
  EXPECT_EQ(MinLeaseTTL(20, 150), 5);    // 30 ticks * 150 ms = 4.5 s -> 5 s
}

TEST_F(LessorTest, GrantAboveMaxLeaseTTLIsLeaseTTLTooLarge) {
  Status s = lessor_->Grant(1, kMaxLeaseTTL + 1, kT0);
  EXPECT_EQ(s, etcd::LeaseTTLTooLarge());
  EXPECT_EQ(s.code(), Code::kOutOfRange);
  EXPECT_EQ(s.message(), "etcdserver: too large lease TTL");
  EXPECT_FALSE(lessor_->Exists(1));
  Grant(2, kMaxLeaseTTL);  // the maximum itself is allowed
  lessor_->Promote(kT0, 0);
  EXPECT_EQ(Ttl(2, kT0).ttl, kMaxLeaseTTL);
}

TEST_F(LessorTest, GrantOfAnIdInUseIsLeaseExistAndKeepsTheFirstLease) {
  Grant(1, 60);
  Status s = lessor_->Grant(1, 90, kT0);
  EXPECT_EQ(s, etcd::LeaseExist());
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(), "etcdserver: lease already exists");
  EXPECT_EQ(Ttl(1, kT0).granted_ttl, 60);
}

TEST_F(LessorTest, EveryCallOnAMissingLeaseIsLeaseNotFoundWithEtcdsCodeAndText) {
  const Status want = etcd::LeaseNotFound();
  EXPECT_EQ(want.code(), Code::kNotFound);
  EXPECT_EQ(want.message(), "etcdserver: requested lease not found");
  EXPECT_EQ(lessor_->Revoke(9).status(), want);
  EXPECT_EQ(lessor_->Attach(9, "k"), want);
  EXPECT_EQ(lessor_->Detach(9, "k"), want);
  // The server turns this into etcd's TimeToLive answer with TTL -1 (etcd does so in its
  // gRPC layer too), so the lessor reports the error.
  EXPECT_EQ(lessor_->TimeToLive(9, kT0, true).status(), want);
  lessor_->Promote(kT0, 0);
  EXPECT_EQ(lessor_->Renew(9, kT0).status(), want);
  // A checkpoint that a revoke overtook is ignored, as etcd ignores it.
  EXPECT_TRUE(lessor_->ApplyCheckpoint(9, 30, kT0).ok());
  EXPECT_FALSE(lessor_->Exists(9));
}

// --- Expiry, only on the leader ---

TEST_F(LessorTest, NoLeaseExpiresOffTheLeader) {
  Grant(1, 10);
  const int64_t much_later = kT0 + 1000 * kSecond;
  EXPECT_TRUE(lessor_->ExpiredLeases(much_later, 100).empty());
  EXPECT_EQ(lessor_->Renew(1, kT0).status(), etcd::NotLeader());
  EXPECT_FALSE(lessor_->is_leader());

  lessor_->Promote(much_later, 0);
  EXPECT_TRUE(lessor_->is_leader());
  EXPECT_TRUE(lessor_->ExpiredLeases(much_later + 10 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(much_later + 10 * kSecond, 100), std::vector<int64_t>{1});

  lessor_->Demote();
  EXPECT_FALSE(lessor_->is_leader());
  EXPECT_TRUE(lessor_->ExpiredLeases(much_later + 100 * kSecond, 100).empty());
  EXPECT_EQ(lessor_->Renew(1, much_later).status(), etcd::NotLeader());
}

TEST_F(LessorTest, ALeaseGrantedOnTheLeaderExpiresItsTtlAfterItsGrant) {
  lessor_->Promote(kT0, 0);
  Grant(1, 10, kT0 + 5 * kSecond);
  EXPECT_TRUE(lessor_->ExpiredLeases(kT0 + 15 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(kT0 + 15 * kSecond, 100), std::vector<int64_t>{1});
}

TEST_F(LessorTest, AnExpiredLeaseIsHandedOutOncePerRetryInterval) {
  lessor_->Promote(kT0, 0);
  Grant(1, 10);
  const int64_t expiry = kT0 + 10 * kSecond;
  EXPECT_EQ(lessor_->ExpiredLeases(expiry, 100), std::vector<int64_t>{1});
  // The revoke is on its way through raft: not again before the retry interval.
  EXPECT_TRUE(lessor_->ExpiredLeases(expiry, 100).empty());
  EXPECT_TRUE(lessor_->ExpiredLeases(expiry + 3 * kSecond - 1, 100).empty());
  // The proposal was lost: handed out again, and again one interval later.
  EXPECT_EQ(lessor_->ExpiredLeases(expiry + 3 * kSecond, 100), std::vector<int64_t>{1});
  EXPECT_TRUE(lessor_->ExpiredLeases(expiry + 6 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(expiry + 6 * kSecond, 100), std::vector<int64_t>{1});
  // Revoked: never again.
  ASSERT_TRUE(lessor_->Revoke(1).ok());
  EXPECT_TRUE(lessor_->ExpiredLeases(expiry + 100 * kSecond, 100).empty());
}

TEST_F(LessorTest, ManyLeasesExpireInOrderOfExpiryAtMostLimitPerCall) {
  lessor_->Promote(kT0, 0);
  // 500 leases with TTLs 2..501 s granted in a scrambled order of ids.
  const int kLeases = 500;
  for (int i = 0; i < kLeases; ++i) {
    int64_t id = (i * 7919) % kLeases + 1;  // a permutation of 1..500
    Grant(id, id + 1);
  }
  std::vector<int64_t> expired;
  int64_t now = kT0;
  while (now <= kT0 + (kLeases + 1) * kSecond) {
    std::vector<int64_t> batch = lessor_->ExpiredLeases(now, 7);
    EXPECT_LE(batch.size(), 7u);
    for (int64_t id : batch) {
      // Nothing is handed out before its expiry.
      EXPECT_LE(kT0 + (id + 1) * kSecond, now) << id;
      expired.push_back(id);
      ASSERT_TRUE(lessor_->Revoke(id).ok());
    }
    // Time moves on only once the due leases are drained.
    if (batch.size() < 7) now += kSecond / 2;
  }
  std::vector<int64_t> want(kLeases);
  for (int i = 0; i < kLeases; ++i) want[i] = i + 1;
  EXPECT_EQ(expired, want);
  EXPECT_TRUE(lessor_->Leases().empty());
}

TEST_F(LessorTest, RenewOnTheLeaderRestartsTheTtlAndReturnsIt) {
  lessor_->Promote(kT0, 0);
  Grant(1, 10);
  auto r = lessor_->Renew(1, kT0 + 8 * kSecond);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ttl, 10);
  EXPECT_FALSE(r->reset_checkpoint);  // nothing checkpointed to reset
  EXPECT_TRUE(lessor_->ExpiredLeases(kT0 + 18 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(kT0 + 18 * kSecond, 100), std::vector<int64_t>{1});
}

TEST_F(LessorTest, RenewOfAnExpiredLeaseIsRefusedUntilItsRevokeMakesItNotFound) {
  lessor_->Promote(kT0, 0);
  Grant(1, 10);
  const int64_t expiry = kT0 + 10 * kSecond;
  EXPECT_EQ(lessor_->Renew(1, expiry).status(), LeaseExpiredNotRevoked());
  EXPECT_EQ(LeaseExpiredNotRevoked().code(), Code::kUnavailable);
  ASSERT_TRUE(lessor_->Revoke(1).ok());
  EXPECT_EQ(lessor_->Renew(1, expiry).status(), etcd::LeaseNotFound());
}

// --- Checkpoints and leader changes ---

TEST_F(LessorTest, PromoteRestartsExpiryFromTheCheckpointedRemainingTtl) {
  Grant(1, 600);
  Grant(2, 600);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 100, kT0).ok());
  const int64_t t = kT0 + 50 * kSecond;
  lessor_->Promote(t, 0);
  EXPECT_EQ(Ttl(1, t).ttl, 100);
  EXPECT_EQ(Ttl(2, t).ttl, 600);
  EXPECT_EQ(Ttl(1, t).granted_ttl, 600);
  EXPECT_TRUE(lessor_->ExpiredLeases(t + 100 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(t + 100 * kSecond, 100), std::vector<int64_t>{1});
}

TEST_F(LessorTest, PromoteAddsTheExtensionToEveryLease) {
  Grant(1, 10);
  lessor_->Promote(kT0, 2 * kSecond);
  EXPECT_TRUE(lessor_->ExpiredLeases(kT0 + 12 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(kT0 + 12 * kSecond, 100), std::vector<int64_t>{1});
}

TEST_F(LessorTest, ALeaderChangeDoesNotCutTheRemainingTtlShort) {
  // Member A leads: the lease runs for 400 s, a checkpoint records 200 s left at t+400.
  lessor_->Promote(kT0, 0);
  Grant(1, 600);
  EXPECT_TRUE(lessor_->Checkpoints(kT0 + 300 * kSecond - 1, 100).empty());
  auto cps = lessor_->Checkpoints(kT0 + 400 * kSecond, 100);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].id, 1);
  EXPECT_EQ(cps[0].remaining_ttl, 200);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 200, kT0 + 400 * kSecond).ok());
  // Leadership moves away and comes back (to this or any member holding the same state).
  lessor_->Demote();
  const int64_t t = kT0 + 450 * kSecond;
  lessor_->Promote(t, 0);
  EXPECT_EQ(Ttl(1, t).ttl, 200);  // not the full 600 again, and not less than 200
  EXPECT_TRUE(lessor_->ExpiredLeases(t + 200 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(t + 200 * kSecond, 100), std::vector<int64_t>{1});
}

TEST_F(LessorTest, CheckpointsAreDuePerIntervalRoundedUpAndAtMostLimitPerCall) {
  lessor_->Promote(kT0, 0);
  for (int64_t id = 1; id <= 5; ++id) Grant(id, 1000);
  Grant(6, 300);  // no longer than the interval: never checkpointed
  const int64_t due = kT0 + 300 * kSecond;
  EXPECT_TRUE(lessor_->Checkpoints(due - 1, 100).empty());
  auto first = lessor_->Checkpoints(due + 1, 3);  // 699.999 s left: rounded up to 700
  ASSERT_EQ(first.size(), 3u);
  auto rest = lessor_->Checkpoints(due + 1, 3);
  ASSERT_EQ(rest.size(), 2u);
  std::vector<int64_t> ids;
  for (const auto& batch : {first, rest}) {
    for (const LeaseCheckpoint& cp : batch) {
      ids.push_back(cp.id);
      EXPECT_EQ(cp.remaining_ttl, 700) << cp.id;
    }
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  // Each lease is due again one interval later (whether or not its checkpoint applied).
  EXPECT_TRUE(lessor_->Checkpoints(due + 300 * kSecond, 100).empty());
  EXPECT_EQ(lessor_->Checkpoints(due + 300 * kSecond + 1, 100).size(), 5u);
  // At 400 s left (more than the interval) they stay scheduled; at 100 s left they drop
  // out, as etcd stops checkpointing a lease with less than an interval to go.
  EXPECT_EQ(lessor_->Checkpoints(due + 600 * kSecond + 1, 100).size(), 5u);
  EXPECT_TRUE(lessor_->Checkpoints(due + 2000 * kSecond, 100).empty());
}

TEST_F(LessorTest, NoCheckpointsOffTheLeaderOrWithCheckpointingOff) {
  Grant(1, 1000);
  EXPECT_TRUE(lessor_->Checkpoints(kT0 + 1000 * kSecond, 100).empty());
  lessor_.reset();
  options_.checkpointing = false;
  auto lessor = Lessor::Open(db_.get(), options_);
  ASSERT_TRUE(lessor.ok());
  lessor_ = std::move(*lessor);
  lessor_->Promote(kT0, 0);
  EXPECT_TRUE(lessor_->Checkpoints(kT0 + 500 * kSecond, 100).empty());
}

TEST_F(LessorTest, RenewResetsTheCheckpointedRemainingTtlThroughARaftCheckpoint) {
  Grant(1, 600);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 100, kT0).ok());
  lessor_->Promote(kT0, 0);
  auto r = lessor_->Renew(1, kT0 + 10 * kSecond);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ttl, 600);
  EXPECT_TRUE(r->reset_checkpoint);
  // Asked once until the reset is applied, not on every keepalive.
  auto again = lessor_->Renew(1, kT0 + 11 * kSecond);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->reset_checkpoint);
  // The leader's own expiry is the full TTL from the renewal at once.
  EXPECT_EQ(Ttl(1, kT0 + 11 * kSecond).ttl, 600);
  // The server proposes (1, 0); applied on every member, a later leader gives 600 s.
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 0, kT0 + 12 * kSecond).ok());
  lessor_->Demote();
  EXPECT_EQ(Ttl(1, kT0 + 20 * kSecond).ttl, 600);
  lessor_->Promote(kT0 + 20 * kSecond, 0);
  EXPECT_EQ(Ttl(1, kT0 + 20 * kSecond).ttl, 600);
}

TEST_F(LessorTest, EveryAppliedCheckpointLetsTheNextRenewalAskForAResetAgain) {
  Grant(1, 600);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 100, kT0).ok());
  lessor_->Promote(kT0, 0);
  auto r = lessor_->Renew(1, kT0 + 10 * kSecond);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->reset_checkpoint);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 0, kT0 + 11 * kSecond).ok());
  // The same leader later checkpoints the lease, and that applies too.
  auto cps = lessor_->Checkpoints(kT0 + 311 * kSecond, 100);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].remaining_ttl, 299);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 299, kT0 + 311 * kSecond).ok());
  auto later = lessor_->Renew(1, kT0 + 320 * kSecond);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->reset_checkpoint);
}

TEST_F(LessorTest, ACheckpointOvertakenByARenewalIsCorrectedByTheNextCheckpoint) {
  lessor_->Promote(kT0, 0);
  Grant(1, 600);
  auto cps = lessor_->Checkpoints(kT0 + 400 * kSecond, 100);  // 200 s left
  ASSERT_EQ(cps.size(), 1u);
  // A keepalive arrives while that checkpoint is in raft: nothing checkpointed yet.
  auto r = lessor_->Renew(1, kT0 + 401 * kSecond);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->reset_checkpoint);
  // The stale 200 s applies everywhere; the leader sees it is shorter than the truth.
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 200, kT0 + 402 * kSecond).ok());
  auto fix = lessor_->Checkpoints(kT0 + 402 * kSecond, 100);
  ASSERT_EQ(fix.size(), 1u);
  EXPECT_EQ(fix[0].id, 1);
  EXPECT_EQ(fix[0].remaining_ttl, 599);  // 599 s left after the renewal at t+401
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 599, kT0 + 402 * kSecond).ok());
  lessor_->Demote();
  lessor_->Promote(kT0 + 403 * kSecond, 0);
  EXPECT_EQ(Ttl(1, kT0 + 403 * kSecond).ttl, 599);
}

TEST_F(LessorTest, AStaleCheckpointAppliedJustAfterARenewalIsResetToTheFullTtl) {
  lessor_->Promote(kT0, 0);
  Grant(1, 600);
  const int64_t t = kT0 + kSecond;
  ASSERT_TRUE(lessor_->Renew(1, t).ok());
  // A checkpoint taken before the renewal (by this or a former leader) applies now.
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 100, t).ok());
  // The lease has its full TTL left, so the replacement is "no remaining TTL" (0).
  auto cps = lessor_->Checkpoints(t, 100);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].id, 1);
  EXPECT_EQ(cps[0].remaining_ttl, 0);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 0, t).ok());
  lessor_->Demote();
  lessor_->Promote(t, 0);
  EXPECT_EQ(Ttl(1, t).ttl, 600);
}

TEST_F(LessorTest, ALostResetProposalIsCorrectedByTheNextScheduledCheckpoint) {
  Grant(1, 600);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 100, kT0).ok());
  // 100 s left is less than an interval: nothing is scheduled on Promote.
  lessor_->Promote(kT0, 0);
  EXPECT_TRUE(lessor_->Checkpoints(kT0 + 99 * kSecond, 100).empty());
  auto r = lessor_->Renew(1, kT0 + 10 * kSecond);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->reset_checkpoint);
  // The server's proposal of (1, 0) is lost; later keepalives do not ask again...
  auto again = lessor_->Renew(1, kT0 + 20 * kSecond);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->reset_checkpoint);
  // ...but the renewal scheduled a checkpoint one interval after it, which replaces the
  // stale 100 s on every member.
  EXPECT_TRUE(lessor_->Checkpoints(kT0 + 310 * kSecond - 1, 100).empty());
  auto cps = lessor_->Checkpoints(kT0 + 310 * kSecond, 100);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].remaining_ttl, 310);  // renewed at t+20 for 600 s
}

TEST_F(LessorTest, PromoteSpreadsLeasesThatWouldExpireInOnePile) {
  lessor_.reset();
  options_.revoke_rate_per_s = 100;  // at most 75 expiries per second after Promote
  options_.checkpointing = false;
  auto lessor = Lessor::Open(db_.get(), options_);
  ASSERT_TRUE(lessor.ok());
  lessor_ = std::move(*lessor);
  for (int64_t id = 1; id <= 200; ++id) Grant(id, 10);
  lessor_->Promote(kT0, 0);
  const int64_t pile = kT0 + 10 * kSecond;
  EXPECT_TRUE(lessor_->ExpiredLeases(pile - 1, 1000).empty());
  // Each second from the pile on holds 75 expiries, the lowest ids first; none is earlier.
  std::vector<int64_t> first = lessor_->ExpiredLeases(pile + kSecond - 1, 1000);
  ASSERT_EQ(first.size(), 75u);
  EXPECT_EQ(first.front(), 1);
  EXPECT_EQ(first.back(), 75);
  std::vector<int64_t> second = lessor_->ExpiredLeases(pile + 2 * kSecond, 1000);
  ASSERT_EQ(second.size(), 75u);
  EXPECT_EQ(second.front(), 76);
  EXPECT_EQ(second.back(), 150);
  EXPECT_EQ(lessor_->ExpiredLeases(pile + 3 * kSecond, 1000).size(), 50u);
}

// --- TimeToLive ---

TEST_F(LessorTest, TimeToLiveTruncatesSecondsAsEtcdAndReadsZeroOnceExpired) {
  lessor_->Promote(kT0, 0);
  Grant(1, 10);
  EXPECT_EQ(Ttl(1, kT0).ttl, 10);
  EXPECT_EQ(Ttl(1, kT0 + 1).ttl, 9);  // 9.999 s
  EXPECT_EQ(Ttl(1, kT0 + 9 * kSecond + 1).ttl, 0);
  EXPECT_EQ(Ttl(1, kT0 + 20 * kSecond).ttl, 0);  // expired, not yet revoked
  EXPECT_EQ(Ttl(1, kT0 + 20 * kSecond).granted_ttl, 10);
}

// --- Persistence ---

TEST_F(LessorTest, LeasesRemainingTtlsAndAttachmentsSurviveARestart) {
  Grant(1, 600);
  Grant(2, 30);
  Grant(-3, 60);
  ASSERT_TRUE(lessor_->Attach(1, "a").ok());
  ASSERT_TRUE(lessor_->Attach(1, "b").ok());
  ASSERT_TRUE(lessor_->Attach(2, "c").ok());
  ASSERT_TRUE(lessor_->Detach(1, "b").ok());
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 120, kT0).ok());
  ASSERT_TRUE(lessor_->Revoke(-3).ok());

  Restart();
  EXPECT_EQ(lessor_->Leases(), (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(lessor_->is_leader());
  TimeToLiveResult one = Ttl(1, kT0, true);
  EXPECT_EQ(one.granted_ttl, 600);
  EXPECT_EQ(one.ttl, 120);  // off the leader: the checkpointed remaining TTL
  EXPECT_EQ(one.keys, Keys{"a"});
  EXPECT_EQ(Ttl(2, kT0, true).keys, Keys{"c"});
  // A restart does not expire anything early: no expiry until this member leads, and
  // then from the remaining TTL.
  const int64_t t = kT0 + 10'000 * kSecond;
  EXPECT_TRUE(lessor_->ExpiredLeases(t, 100).empty());
  lessor_->Promote(t, 0);
  EXPECT_EQ(Ttl(1, t).ttl, 120);
  EXPECT_EQ(Ttl(2, t).ttl, 30);
  EXPECT_TRUE(lessor_->ExpiredLeases(t + 30 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(t + 30 * kSecond, 100), std::vector<int64_t>{2});
  auto keys = lessor_->Revoke(2);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, Keys{"c"});
  EXPECT_TRUE(lessor_->ExpiredLeases(t + 120 * kSecond - 1, 100).empty());
  EXPECT_EQ(lessor_->ExpiredLeases(t + 120 * kSecond, 100), std::vector<int64_t>{1});

  // A revoke is as durable as a grant.
  Restart();
  EXPECT_EQ(lessor_->Leases(), std::vector<int64_t>{1});
  EXPECT_EQ(lessor_->Revoke(2).status(), etcd::LeaseNotFound());
  EXPECT_EQ(Ttl(1, kT0, true).keys, Keys{"a"});
}

TEST_F(LessorTest, ARestartRaisesStoredTtlsToANewMinimum) {
  Grant(1, 3);
  lessor_.reset();
  options_.min_ttl_s = 5;
  auto lessor = Lessor::Open(db_.get(), options_);
  ASSERT_TRUE(lessor.ok());
  lessor_ = std::move(*lessor);
  EXPECT_EQ(Ttl(1, kT0).granted_ttl, 5);
}

TEST_F(LessorTest, RenewTouchesNoTableSoARestartKeepsTheReplicatedState) {
  Grant(1, 600);
  ASSERT_TRUE(lessor_->ApplyCheckpoint(1, 100, kT0).ok());
  lessor_->Promote(kT0, 0);
  ASSERT_TRUE(lessor_->Renew(1, kT0 + kSecond).ok());
  Restart();
  // Until the reset checkpoint applies, every member (and the restarted one) holds 100.
  EXPECT_EQ(Ttl(1, kT0).ttl, 100);
}

// --- Threads ---

TEST_F(LessorTest, ApplyThreadWritesAndLeaderThreadReadsRunConcurrently) {
  // The apply thread grants, attaches and revokes while another thread renews, reads and
  // collects expiries and checkpoints, as the server's threads do. The end state must be
  // exactly what the apply thread did (and the sanitizers must see nothing).
  lessor_->Promote(kT0, 0);
  const int64_t kLeases = 400;
  std::thread apply([&] {
    for (int64_t id = 1; id <= kLeases; ++id) {
      EXPECT_TRUE(lessor_->Grant(id, 1000, kT0).ok());
      EXPECT_TRUE(lessor_->Attach(id, "key" + std::to_string(id)).ok());
      if (id % 2 == 0) {
        auto keys = lessor_->Revoke(id - 1);
        EXPECT_TRUE(keys.ok());
        if (keys.ok()) {
          EXPECT_EQ(*keys, Keys{"key" + std::to_string(id - 1)});
        }
      }
      EXPECT_TRUE(lessor_->ApplyCheckpoint(id, 900, kT0).ok());
    }
  });
  std::thread leader([&] {
    for (int64_t i = 0; i < 4 * kLeases; ++i) {
      const int64_t id = i % kLeases + 1;
      const int64_t now = kT0 + i;
      auto r = lessor_->Renew(id, now);
      if (!r.ok()) {
        EXPECT_EQ(r.status(), etcd::LeaseNotFound());
      }
      auto ttl = lessor_->TimeToLive(id, now, true);
      if (ttl.ok()) {
        EXPECT_EQ(ttl->granted_ttl, 1000);
        EXPECT_LE(ttl->keys.size(), 1u);
      }
      EXPECT_TRUE(lessor_->ExpiredLeases(now, 10).empty());  // nothing runs out
      lessor_->Checkpoints(now + 300 * kSecond, 10);
      lessor_->Leases();
    }
  });
  apply.join();
  leader.join();
  std::vector<int64_t> want;
  for (int64_t id = 2; id <= kLeases; id += 2) want.push_back(id);
  EXPECT_EQ(lessor_->Leases(), want);
  for (int64_t id : want) {
    EXPECT_EQ(Ttl(id, kT0, true).keys, Keys{"key" + std::to_string(id)}) << id;
  }
}

}  // namespace
}  // namespace cairn::lease
