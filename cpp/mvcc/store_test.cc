// Unit tests of the MVCC store, one etcd rule each.
#include "mvcc/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/etcd_errors.h"
#include "mvcc/check.h"
#include "storage/test_dir.h"

namespace cairn::mvcc {
namespace {

using namespace std::string_literals;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    db_.reset();
    storage::DbOptions options;
    options.checkpoint_interval_s = 0;
    options.cache_size_mb = 32;
    auto db = storage::Db::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto store = Store::Open(db_.get());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  PutResponse Put(const std::string& k, const std::string& v, int64_t lease = 0) {
    PutRequest req;
    req.key = k;
    req.value = v;
    req.lease = lease;
    auto r = store_->Put(req, ++index_, &events_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PutResponse{};
  }
  DeleteRangeResponse Delete(const std::string& k, const std::string& end = "") {
    DeleteRangeRequest req;
    req.key = k;
    req.range_end = end;
    req.prev_kv = true;
    auto r = store_->DeleteRange(req, ++index_, &events_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : DeleteRangeResponse{};
  }
  RangeResponse Get(const std::string& k, const std::string& end = "", int64_t rev = 0) {
    RangeRequest req;
    req.key = k;
    req.range_end = end;
    req.revision = rev;
    auto r = store_->Range(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RangeResponse{};
  }
  static std::vector<std::string> Keys(const RangeResponse& r) {
    std::vector<std::string> out;
    for (const auto& kv : r.kvs) out.push_back(kv.key);
    return out;
  }
  Result<TxnResponse> Txn(const TxnRequest& req) { return store_->Txn(req, ++index_, &events_); }

  storage::TempDir dir_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<Store> store_;
  uint64_t index_ = 0;
  std::vector<Event> events_;
};

Compare Cmp(const std::string& key, CompareTarget target, CompareResult result, int64_t n,
            const std::string& value = "", const std::string& end = "") {
  Compare c;
  c.key = key;
  c.range_end = end;
  c.target = target;
  c.result = result;
  c.number = n;
  c.value = value;
  return c;
}
RequestOp PutOp(const std::string& k, const std::string& v) {
  PutRequest p;
  p.key = k;
  p.value = v;
  return RequestOp{p};
}
RequestOp DelOp(const std::string& k, const std::string& end = "") {
  DeleteRangeRequest d;
  d.key = k;
  d.range_end = end;
  return RequestOp{d};
}
RequestOp GetOp(const std::string& k, int64_t rev = 0) {
  RangeRequest r;
  r.key = k;
  r.revision = rev;
  return RequestOp{r};
}

TEST_F(StoreTest, AFreshStoreIsAtRevisionOneAndTheFirstPutMakesTwo) {
  EXPECT_EQ(store_->current_revision(), 1);
  EXPECT_EQ(store_->compact_revision(), -1);
  EXPECT_EQ(Get("a").revision, 1);
  EXPECT_EQ(Put("a", "1").revision, 2);
  auto r = Get("a");
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0], (KeyValue{"a", 2, 2, 1, "1", 0}));
  EXPECT_EQ(r.revision, 2);
}

TEST_F(StoreTest, ReadTxnDecidesAndReadsLikeTxnButRefusesWrites) {
  Put("a", "1");
  TxnRequest txn;
  Compare cmp;
  cmp.key = "a";
  cmp.target = CompareTarget::kValue;
  cmp.value = "1";
  txn.compare.push_back(cmp);
  RangeRequest get;
  get.key = "a";
  txn.success.push_back(RequestOp{get});
  auto read = store_->ReadTxn(txn);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->succeeded);
  EXPECT_EQ(read->revision, 2);
  EXPECT_EQ(std::get<RangeResponse>(read->responses.at(0).response).kvs.at(0).value, "1");

  PutRequest put;
  put.key = "b";
  put.value = "2";
  txn.failure.push_back(RequestOp{put});  // never chosen, but a read may not hold a write
  EXPECT_EQ(store_->ReadTxn(txn).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->current_revision(), 2);
}

TEST_F(StoreTest, PutsBumpVersionAndModButKeepCreateEvenForTheSameValue) {
  Put("a", "1");
  Put("a", "1");
  Put("a", "2", 7);
  EXPECT_EQ(Get("a").kvs[0], (KeyValue{"a", 2, 4, 3, "2", 7}));
}

TEST_F(StoreTest, DeleteResetsVersionAndARecreatedKeyStartsANewLife) {
  Put("a", "1");
  Put("a", "2");
  auto d = Delete("a");
  EXPECT_EQ(d.deleted, 1);
  EXPECT_EQ(d.revision, 4);
  ASSERT_EQ(d.prev_kvs.size(), 1u);
  EXPECT_EQ(d.prev_kvs[0].value, "2");
  EXPECT_TRUE(Get("a").kvs.empty());
  Put("a", "3");
  EXPECT_EQ(Get("a").kvs[0], (KeyValue{"a", 5, 5, 1, "3", 0}));
}

TEST_F(StoreTest, ADeleteThatDeletesNothingDoesNotBumpTheRevision) {
  Put("a", "1");
  auto d = Delete("b");
  EXPECT_EQ(d.deleted, 0);
  EXPECT_EQ(d.revision, 2);
  EXPECT_EQ(store_->current_revision(), 2);
  EXPECT_EQ(store_->applied_index(), index_);
}

TEST_F(StoreTest, RangeEndSelectsOneKeyAPrefixOrEverythingFromKey) {
  for (const char* k : {"a", "ab", "b", "c"}) Put(k, "v");
  EXPECT_EQ(Keys(Get("a")), (std::vector<std::string>{"a"}));
  EXPECT_EQ(Keys(Get("a", "b")), (std::vector<std::string>{"a", "ab"}));
  EXPECT_EQ(Keys(Get("ab", "\0"s)), (std::vector<std::string>{"ab", "b", "c"}));
  EXPECT_EQ(Keys(Get("\0"s, "\0"s)), (std::vector<std::string>{"a", "ab", "b", "c"}));
  EXPECT_TRUE(Get("c", "a").kvs.empty());
  EXPECT_TRUE(Get("abc").kvs.empty());
  RangeRequest empty;
  EXPECT_EQ(store_->Range(empty).status(), etcd::EmptyKey());
}

TEST_F(StoreTest, RangeAtAnOldRevisionSeesTheStateThen) {
  Put("a", "1");  // 2
  Put("b", "1");  // 3
  Put("a", "2");  // 4
  Delete("b");    // 5
  Put("b", "2");  // 6
  auto at3 = Get("a", "\0"s, 3);
  ASSERT_EQ(at3.kvs.size(), 2u);
  EXPECT_EQ(at3.kvs[0], (KeyValue{"a", 2, 2, 1, "1", 0}));
  EXPECT_EQ(at3.kvs[1], (KeyValue{"b", 3, 3, 1, "1", 0}));
  EXPECT_EQ(at3.revision, 6);  // the header carries the current revision
  EXPECT_EQ(Keys(Get("a", "\0"s, 5)), (std::vector<std::string>{"a"}));
  EXPECT_EQ(Get("b", "", 6).kvs[0], (KeyValue{"b", 6, 6, 1, "2", 0}));
  EXPECT_TRUE(Get("a", "\0"s, 1).kvs.empty());
  RangeRequest future;
  future.key = "a";
  future.revision = 7;
  EXPECT_EQ(store_->Range(future).status(), etcd::FutureRev());
}

TEST_F(StoreTest, LimitSetsMoreAndCountIsTheWholeRange) {
  for (const char* k : {"a", "b", "c", "d"}) Put(k, "v");
  RangeRequest req;
  req.key = "a";
  req.range_end = "z";
  req.limit = 2;
  auto r = *store_->Range(req);
  EXPECT_EQ(Keys(r), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.more);
  EXPECT_EQ(r.count, 4);
  req.limit = 4;
  r = *store_->Range(req);
  EXPECT_FALSE(r.more);
  req.count_only = true;
  r = *store_->Range(req);
  EXPECT_TRUE(r.kvs.empty());
  EXPECT_EQ(r.count, 4);
  req.count_only = false;
  req.keys_only = true;
  r = *store_->Range(req);
  ASSERT_EQ(r.kvs.size(), 4u);
  EXPECT_EQ(r.kvs[3].value, "");
  EXPECT_EQ(r.kvs[3].version, 1);
}

TEST_F(StoreTest, SortOrdersByEachTargetAndNoneMeansAscendingForOtherTargets) {
  Put("a", "3");  // 2
  Put("b", "1");  // 3
  Put("c", "2");  // 4
  Put("b", "4");  // 5
  Put("b", "5");  // 6
  Put("a", "0");  // 7
  RangeRequest req;
  req.key = "a";
  req.range_end = "z";
  req.sort_target = SortTarget::kValue;
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"a", "c", "b"}));
  req.sort_order = SortOrder::kDescend;
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"b", "c", "a"}));
  req.sort_target = SortTarget::kVersion;  // a:2 b:3 c:1
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"b", "a", "c"}));
  req.sort_target = SortTarget::kMod;  // a:7 b:6 c:4
  req.sort_order = SortOrder::kAscend;
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"c", "b", "a"}));
  req.sort_target = SortTarget::kCreate;  // a:2 b:3 c:4
  req.sort_order = SortOrder::kDescend;
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"c", "b", "a"}));
  req.sort_target = SortTarget::kKey;
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"c", "b", "a"}));
  req.limit = 1;
  auto r = *store_->Range(req);
  EXPECT_EQ(Keys(r), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(r.more);
  EXPECT_EQ(r.count, 3);
}

TEST_F(StoreTest, SortNoneWithAnotherTargetSortsOnlyTheFetchedPageAsEtcdDoes) {
  Put("a", "3");
  Put("b", "2");
  Put("c", "1");
  RangeRequest req;
  req.key = "a";
  req.range_end = "z";
  req.sort_target = SortTarget::kValue;
  req.limit = 1;  // etcd fetches a, b (limit + 1), sorts them by value, keeps one
  auto r = *store_->Range(req);
  EXPECT_EQ(Keys(r), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(r.more);
}

TEST_F(StoreTest, RevisionFiltersPruneButCountIgnoresThem) {
  Put("a", "1");  // 2
  Put("b", "1");  // 3
  Put("c", "1");  // 4
  Put("a", "2");  // 5
  RangeRequest req;
  req.key = "a";
  req.range_end = "z";
  req.min_mod_revision = 4;
  auto r = *store_->Range(req);
  EXPECT_EQ(Keys(r), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(r.count, 3);
  req.min_mod_revision = 0;
  req.max_create_revision = 3;
  req.min_create_revision = 3;
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"b"}));
  req.min_create_revision = 0;
  req.max_create_revision = 0;
  req.max_mod_revision = 3;
  EXPECT_EQ(Keys(*store_->Range(req)), (std::vector<std::string>{"b"}));
}

TEST_F(StoreTest, PutOptionsPrevKvIgnoreValueAndIgnoreLease) {
  Put("a", "1", 5);
  PutRequest req;
  req.key = "a";
  req.ignore_value = true;
  req.prev_kv = true;
  auto r = store_->Put(req, ++index_, nullptr);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->prev_kv.has_value());
  EXPECT_EQ(r->prev_kv->value, "1");
  EXPECT_EQ(Get("a").kvs[0], (KeyValue{"a", 2, 3, 2, "1", 0}));  // lease not kept
  req.ignore_value = false;
  req.value = "2";
  req.ignore_lease = true;
  Put("a", "x", 9);
  ASSERT_TRUE(store_->Put(req, ++index_, nullptr).ok());
  EXPECT_EQ(Get("a").kvs[0], (KeyValue{"a", 2, 5, 4, "2", 9}));
}

TEST_F(StoreTest, PutOptionErrorsAreEtcdsAndChangeNothingButTheAppliedIndex) {
  Put("a", "1");
  PutRequest req;
  req.key = "missing";
  req.ignore_value = true;
  EXPECT_EQ(store_->Put(req, 10, &events_).status(), etcd::KeyNotFound());
  EXPECT_EQ(store_->applied_index(), 10u);
  req.ignore_value = false;
  req.ignore_lease = true;
  EXPECT_EQ(store_->Put(req, 11, &events_).status(), etcd::KeyNotFound());
  req.key = "a";
  req.lease = 3;
  EXPECT_EQ(store_->Put(req, 12, &events_).status(), etcd::LeaseProvided());
  req.ignore_lease = false;
  req.ignore_value = true;
  req.value = "v";
  EXPECT_EQ(store_->Put(req, 13, &events_).status(), etcd::ValueProvided());
  req.key = "";
  EXPECT_EQ(store_->Put(req, 14, &events_).status(), etcd::EmptyKey());
  EXPECT_EQ(store_->current_revision(), 2);
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(StoreTest, WritesReturnTheirEventsWithPreviousValues) {
  Put("a", "1");
  Put("b", "1");
  events_.clear();
  Put("a", "2");
  Delete("a", "c");
  ASSERT_EQ(events_.size(), 3u);
  EXPECT_EQ(events_[0].type, Event::Type::kPut);
  EXPECT_EQ(events_[0].kv, (KeyValue{"a", 2, 4, 2, "2", 0}));
  EXPECT_EQ(events_[0].prev_kv->value, "1");
  EXPECT_EQ(events_[1].type, Event::Type::kDelete);
  EXPECT_EQ(events_[1].kv, (KeyValue{"a", 0, 5, 0, "", 0}));
  EXPECT_EQ(events_[1].prev_kv->value, "2");
  EXPECT_EQ(events_[2].kv.key, "b");
  EXPECT_EQ(events_[2].kv.mod_revision, 5);
}

TEST_F(StoreTest, TxnComparesEveryTargetAndMissingKeysCompareAsZero) {
  Put("a", "x", 3);  // create 2 mod 2 version 1 lease 3
  auto check = [&](Compare c, bool want) {
    TxnRequest t;
    t.compare = {std::move(c)};
    auto r = Txn(t);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->succeeded, want);
  };
  check(Cmp("a", CompareTarget::kVersion, CompareResult::kEqual, 1), true);
  check(Cmp("a", CompareTarget::kCreate, CompareResult::kGreater, 1), true);
  check(Cmp("a", CompareTarget::kMod, CompareResult::kLess, 2), false);
  check(Cmp("a", CompareTarget::kLease, CompareResult::kNotEqual, 3), false);
  check(Cmp("a", CompareTarget::kValue, CompareResult::kEqual, 0, "x"), true);
  check(Cmp("a", CompareTarget::kValue, CompareResult::kGreater, 0, "w"), true);
  check(Cmp("m", CompareTarget::kMod, CompareResult::kEqual, 0), true);
  check(Cmp("m", CompareTarget::kVersion, CompareResult::kLess, 1), true);
  check(Cmp("m", CompareTarget::kValue, CompareResult::kNotEqual, 0, "x"), false);
  check(Cmp("m", CompareTarget::kValue, CompareResult::kEqual, 0, ""), false);
  Put("b", "y");
  check(Cmp("a", CompareTarget::kVersion, CompareResult::kEqual, 1, "", "c"), true);
  check(Cmp("a", CompareTarget::kValue, CompareResult::kEqual, 0, "x", "c"), false);
  EXPECT_EQ(store_->current_revision(), 3);  // read-only txns do not bump it
}

TEST_F(StoreTest, TxnWritesShareOneMainRevisionWithIncreasingSubs) {
  Put("z", "0");
  TxnRequest t;
  t.compare = {Cmp("z", CompareTarget::kValue, CompareResult::kEqual, 0, "0")};
  t.success = {PutOp("a", "1"), GetOp("a"), DelOp("z"), PutOp("b", "2")};
  t.failure = {PutOp("f", "1")};
  events_.clear();
  auto r = Txn(t);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, 3);
  ASSERT_EQ(r->responses.size(), 4u);
  const auto& got = std::get<RangeResponse>(r->responses[1].response);
  ASSERT_EQ(got.kvs.size(), 1u);  // a txn reads its own writes
  EXPECT_EQ(got.kvs[0], (KeyValue{"a", 3, 3, 1, "1", 0}));
  EXPECT_EQ(std::get<DeleteRangeResponse>(r->responses[2].response).deleted, 1);
  EXPECT_EQ(events_.size(), 3u);
  for (const auto& e : events_) EXPECT_EQ(e.kv.mod_revision, 3);
  EXPECT_EQ(Get("b").kvs[0].create_revision, 3);
  EXPECT_EQ(store_->current_revision(), 3);
  // The failure branch runs when a compare fails.
  r = Txn(t);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(Get("f").kvs.size(), 1u);
  EXPECT_EQ(r->revision, 4);
}

TEST_F(StoreTest, NestedTxnsDecideOnTheStateBeforeTheTxn) {
  TxnRequest inner;
  inner.compare = {Cmp("a", CompareTarget::kVersion, CompareResult::kEqual, 0)};
  inner.success = {PutOp("inner-saw-no-a", "1")};
  inner.failure = {PutOp("inner-saw-a", "1")};
  TxnRequest outer;
  outer.success = {PutOp("a", "1"), RequestOp{inner}};
  auto r = Txn(outer);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& nested = std::get<TxnResponse>(r->responses[1].response);
  EXPECT_TRUE(nested.succeeded);
  EXPECT_EQ(nested.revision, 0);
  EXPECT_EQ(Get("inner-saw-no-a").kvs.size(), 1u);
  EXPECT_EQ(Get("inner-saw-no-a").kvs[0].mod_revision, 2);
}

TEST_F(StoreTest, ATxnThatWritesAKeyTwiceIsRefusedWithDuplicateKey) {
  Put("a", "0");
  TxnRequest t;
  t.success = {PutOp("a", "1"), PutOp("a", "2")};
  EXPECT_EQ(Txn(t).status(), etcd::DuplicateKey());
  t.success = {PutOp("a", "1"), DelOp("a")};
  EXPECT_EQ(Txn(t).status(), etcd::DuplicateKey());
  t.success = {DelOp("a", "b"), PutOp("a", "1")};
  EXPECT_EQ(Txn(t).status(), etcd::DuplicateKey());
  TxnRequest nested;
  nested.success = {PutOp("a", "2")};
  t.success = {PutOp("a", "1"), RequestOp{nested}};
  EXPECT_EQ(Txn(t).status(), etcd::DuplicateKey());
  EXPECT_EQ(store_->current_revision(), 2);
  // Then and else of one nested txn may write the same key: only one runs.
  nested.failure = {PutOp("a", "3")};
  t.success = {RequestOp{nested}};
  EXPECT_TRUE(Txn(t).ok());
  // etcd keeps range_end "\0" literally in this check, so deleting every key from "a" on
  // and putting "a" passes (etcd 3.4.23 accepts it; a prefix delete and a put do not).
  t.success = {DelOp("a", "\0"s), PutOp("a", "9")};
  EXPECT_TRUE(Txn(t).ok());
  // Deleting twice is not a duplicate.
  t.success = {DelOp("a"), DelOp("a", "b")};
  EXPECT_TRUE(Txn(t).ok());
}

TEST_F(StoreTest, CheckTxnCountsOpsPerLevelLikeEtcd) {
  TxnRequest t;
  t.success = {PutOp("a", "1"), PutOp("b", "1"), PutOp("c", "1")};
  EXPECT_TRUE(CheckTxn(t, 3).ok());
  EXPECT_EQ(CheckTxn(t, 2), etcd::TooManyOps());
  TxnRequest outer;
  outer.success = {RequestOp{t}};
  EXPECT_EQ(CheckTxn(outer, 3), etcd::TooManyOps());  // the nested one gets 3 - 1
  EXPECT_TRUE(CheckTxn(outer, 4).ok());
  TxnRequest empty_key;
  empty_key.compare = {Cmp("", CompareTarget::kVersion, CompareResult::kEqual, 0)};
  EXPECT_EQ(CheckTxn(empty_key, 10), etcd::EmptyKey());
}

TEST_F(StoreTest, TxnOpErrorsRefuseTheWholeTxn) {
  Put("a", "1");
  TxnRequest t;
  PutRequest p;
  p.key = "missing";
  p.ignore_value = true;
  t.success = {PutOp("b", "1"), RequestOp{p}};
  EXPECT_EQ(Txn(t).status(), etcd::KeyNotFound());
  t.success = {PutOp("b", "1"), GetOp("a", 3)};  // the txn's own revision is future
  EXPECT_EQ(Txn(t).status(), etcd::FutureRev());
  EXPECT_TRUE(Get("b").kvs.empty());
  EXPECT_EQ(store_->current_revision(), 2);
  EXPECT_EQ(store_->applied_index(), index_);
}

TEST_F(StoreTest, CompactionRefusesOldReadsAndKeepsTheLatestOfEachKey) {
  Put("a", "1");  // 2
  Put("a", "2");  // 3
  Put("b", "1");  // 4
  Delete("b");    // 5
  Put("c", "1");  // 6
  Put("a", "3");  // 7
  auto before = store_->HashKV(0);
  ASSERT_TRUE(before.ok());
  auto at6 = Get("a", "\0"s, 6);
  EXPECT_EQ(store_->Compact(8, ++index_).status(), etcd::FutureRev());
  auto c = store_->Compact(6, ++index_);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->revision, 7);
  EXPECT_EQ(store_->Compact(6, ++index_).status(), etcd::Compacted());
  EXPECT_EQ(store_->Compact(5, ++index_).status(), etcd::Compacted());
  RangeRequest old;
  old.key = "a";
  old.revision = 5;
  EXPECT_EQ(store_->Range(old).status(), etcd::Compacted());
  auto mid = store_->HashKV(0);
  ASSERT_TRUE(mid.ok());
  ASSERT_TRUE(store_->RunCompaction(1, std::chrono::microseconds(0)).ok());
  EXPECT_EQ(Get("a", "\0"s, 6), at6);
  EXPECT_EQ(Keys(Get("a", "\0"s, 6)), (std::vector<std::string>{"a", "c"}));
  auto after = store_->HashKV(0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->hash, mid->hash);  // compaction's progress does not change HashKV
  EXPECT_EQ(after->compact_revision, 6);
  EXPECT_EQ(after->hash_revision, 7);
  EXPECT_NE(before->hash, after->hash);
  EXPECT_EQ(store_->HashKV(6).status(), etcd::Compacted());
  EXPECT_EQ(store_->HashKV(8).status(), etcd::FutureRev());
  Reopen();
  EXPECT_EQ(store_->compact_revision(), 6);
  EXPECT_EQ(store_->Range(old).status(), etcd::Compacted());
  EXPECT_EQ(Get("a", "\0"s, 6), at6);
  EXPECT_EQ(store_->HashKV(0)->hash, after->hash);
}

// Counts the rows of a table, as a compaction left them.
int Rows(storage::Db* db, const char* table) {
  auto session = db->Acquire();
  EXPECT_TRUE(session.ok());
  auto cursor = (*session)->OpenCursor(table);
  EXPECT_TRUE(cursor.ok());
  int rows = 0;
  while (*cursor->Next()) ++rows;
  return rows;
}

TEST_F(StoreTest, CompactionRemovesSupersededRevisionsFromTheTables) {
  for (int i = 0; i < 50; ++i) Put("hot", std::to_string(i));
  Put("gone", "x");
  Delete("gone");
  auto all_before = store_->Hash();
  ASSERT_TRUE(store_->Compact(store_->current_revision(), ++index_).ok());
  ASSERT_TRUE(store_->RunCompaction(7, std::chrono::microseconds(0)).ok());
  // Only the live key's latest revision is left, in the revision table and the index.
  EXPECT_EQ(Rows(db_.get(), storage::kMvccRevTable), 1);
  EXPECT_EQ(Rows(db_.get(), storage::kMvccIndexTable), 1);
  auto after = store_->Hash();
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->hash, all_before->hash);
  auto r = Get("hot");
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].version, 50);
  // A second store with the same history and no compaction run has the same HashKV.
  storage::TempDir dir2;
  storage::DbOptions options;
  options.checkpoint_interval_s = 0;
  auto db2 = storage::Db::Open(dir2.path(), options);
  ASSERT_TRUE(db2.ok());
  auto s2 = Store::Open(db2->get());
  ASSERT_TRUE(s2.ok());
  uint64_t i2 = 0;
  for (int i = 0; i < 50; ++i) {
    PutRequest p;
    p.key = "hot";
    p.value = std::to_string(i);
    ASSERT_TRUE((*s2)->Put(p, ++i2, nullptr).ok());
  }
  PutRequest p;
  p.key = "gone";
  p.value = "x";
  ASSERT_TRUE((*s2)->Put(p, ++i2, nullptr).ok());
  DeleteRangeRequest d;
  d.key = "gone";
  ASSERT_TRUE((*s2)->DeleteRange(d, ++i2, nullptr).ok());
  ASSERT_TRUE((*s2)->Compact((*s2)->current_revision(), ++i2).ok());
  EXPECT_EQ((*s2)->HashKV(0)->hash, store_->HashKV(0)->hash);
  EXPECT_NE((*s2)->Hash()->hash, store_->Hash()->hash);
}

TEST_F(StoreTest, ALaterCompactionRemovesWhatAnEarlierKeptAndWaitsForTheRunInProgress) {
  for (int i = 0; i < 20; ++i) Put("k" + std::to_string(i % 4), std::to_string(i));  // 2..21
  Put("gone", "x");
  Delete("gone");
  ASSERT_TRUE(store_->Compact(store_->current_revision(), ++index_).ok());
  // The first run is under way when the next compaction is applied.
  auto done = store_->CompactBatch(3);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);
  Put("k0", "new");  // supersedes the revision the first run keeps
  Delete("k1");      // so does a delete
  Put("k5", "new");
  const RangeResponse want = Get("k", "l");
  ASSERT_TRUE(store_->Compact(store_->current_revision(), ++index_).ok());
  ASSERT_TRUE(store_->RunCompaction(3, std::chrono::microseconds(0)).ok());
  // k0, k2, k3 and k5 keep their latest revision; nothing else is left.
  EXPECT_EQ(Rows(db_.get(), storage::kMvccRevTable), 4);
  EXPECT_EQ(Rows(db_.get(), storage::kMvccIndexTable), 4);
  EXPECT_EQ(Keys(want), (std::vector<std::string>{"k0", "k2", "k3", "k5"}));
  EXPECT_EQ(Get("k", "l").kvs, want.kvs);
  Reopen();
  EXPECT_EQ(Get("k", "l").kvs, want.kvs);
  EXPECT_EQ(*store_->CompactBatch(3), true);
}

TEST_F(StoreTest, CompactionAndReadsRunAlongsideWrites) {
  for (int i = 0; i < 1000; ++i) Put("k" + std::to_string(i % 40), std::to_string(i));
  int64_t compacted = store_->current_revision();
  RangeRequest at_compacted;
  at_compacted.key = "k";
  at_compacted.range_end = "l";
  at_compacted.revision = compacted;
  const RangeResponse want = *store_->Range(at_compacted);
  ASSERT_EQ(want.count, 40);
  ASSERT_TRUE(store_->Compact(compacted, ++index_).ok());

  std::atomic<bool> writing{true};
  Status compaction;
  std::thread compactor(
      [&] { compaction = store_->RunCompaction(5, std::chrono::milliseconds(1)); });
  std::atomic<int> reads{0}, bad_reads{0};
  std::thread reader([&] {
    while (writing.load() || reads.load() < 10) {
      auto r = store_->Range(at_compacted);
      // Every read sees the compacted revision whole, whatever compaction has deleted.
      if (!r.ok() || r->kvs != want.kvs || r->count != 40) bad_reads.fetch_add(1);
      reads.fetch_add(1);
    }
  });
  for (int i = 0; i < 300; ++i) Put("k" + std::to_string(i % 40), "new" + std::to_string(i));
  writing = false;
  compactor.join();
  reader.join();
  EXPECT_TRUE(compaction.ok()) << compaction.ToString();
  EXPECT_EQ(bad_reads.load(), 0) << "of " << reads.load();
  EXPECT_EQ(store_->current_revision(), compacted + 300);
  EXPECT_EQ(Get("k39").kvs[0].value, "new279");  // the last i < 300 with i % 40 == 39
  EXPECT_EQ(*store_->Range(at_compacted),
            (RangeResponse{store_->current_revision(), want.kvs, false, 40}));
}

// The hashes etcd 3.4.23 gave for this history (etcdctl put/del, endpoint hashkv), so a
// Cairn member and an etcd member that saw the same writes report the same HashKV.
TEST_F(StoreTest, HashKVEqualsEtcdsOnTheSameHistory) {
  EXPECT_EQ(store_->HashKV(0)->hash, 1084519789u);
  EXPECT_EQ(store_->HashKV(0)->compact_revision, -1);
  Put("a", "1");
  Put("b", "2");
  Put("a", "3");
  Delete("b");
  Put("c", "4");
  Put("a/x", "");
  EXPECT_EQ(store_->HashKV(0)->hash, 2031852687u);
  EXPECT_EQ(store_->HashKV(4)->hash, 2069675932u);
  ASSERT_TRUE(store_->Compact(4, ++index_).ok());
  EXPECT_EQ(store_->HashKV(0)->hash, 4248333155u);
  EXPECT_EQ(store_->HashKV(5)->hash, 1468967122u);
  ASSERT_TRUE(store_->RunCompaction().ok());
  EXPECT_EQ(store_->HashKV(0)->hash, 4248333155u);
  EXPECT_EQ(store_->HashKV(5)->hash, 1468967122u);
  EXPECT_EQ(store_->HashKV(5)->compact_revision, 4);
}

TEST_F(StoreTest, StateAndAppliedIndexSurviveReopen) {
  Put("a", "1");
  Put("b", "2");
  Delete("a");
  uint64_t applied = store_->applied_index();
  EXPECT_EQ(applied, index_);
  Reopen();
  EXPECT_EQ(store_->current_revision(), 4);
  EXPECT_EQ(store_->applied_index(), applied);
  EXPECT_EQ(Keys(Get("a", "\0"s)), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Keys(Get("a", "\0"s, 3)), (std::vector<std::string>{"a", "b"}));
}

TEST_F(StoreTest, ABatchGivesEachWriteItsRevisionAndShowsThemOnlyWhenCommitted) {
  Put("a", "1");  // revision 2
  auto batch = store_->BeginBatch();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  PutRequest put;
  put.key = "b";
  put.value = "2";
  auto p = (*batch)->Put(put, &events_);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->revision, 3);
  // Refused before it changed anything: the batch goes on.
  PutRequest missing;
  missing.key = "missing";
  missing.ignore_value = true;
  EXPECT_EQ((*batch)->Put(missing, &events_).status(), etcd::KeyNotFound());
  EXPECT_FALSE((*batch)->broken());
  DeleteRangeRequest del;
  del.key = "a";
  auto d = (*batch)->DeleteRange(del, &events_);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->revision, 4);
  TxnRequest txn;
  txn.compare.push_back(Cmp("b", CompareTarget::kMod, CompareResult::kEqual, 3));
  RangeRequest read;
  read.key = "b";
  PutRequest again;
  again.key = "b";
  again.value = "3";
  txn.success = {RequestOp{read}, RequestOp{again}};
  auto t = (*batch)->Txn(txn, &events_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->succeeded);  // it sees the batch's own earlier writes
  EXPECT_EQ(t->revision, 5);
  ASSERT_EQ(events_.size(), 4u);
  EXPECT_EQ(events_[1].kv.mod_revision, 3);
  EXPECT_EQ(events_[2].kv.mod_revision, 4);
  EXPECT_EQ(events_[3].kv.mod_revision, 5);

  // Readers and the store's counters see none of it yet.
  EXPECT_EQ(store_->current_revision(), 2);
  EXPECT_EQ(store_->applied_index(), 1u);
  EXPECT_EQ(Keys(Get("a", "\0"s)), (std::vector<std::string>{"a"}));

  ASSERT_TRUE((*batch)->Commit(7).ok());
  EXPECT_EQ(store_->current_revision(), 5);
  EXPECT_EQ(store_->applied_index(), 7u);
  RangeResponse now = Get("a", "\0"s);
  EXPECT_EQ(now.revision, 5);
  ASSERT_EQ(now.kvs.size(), 1u);
  EXPECT_EQ(now.kvs[0].key, "b");
  EXPECT_EQ(now.kvs[0].value, "3");
  EXPECT_EQ(now.kvs[0].create_revision, 3);
  EXPECT_EQ(Keys(Get("a", "\0"s, 3)), (std::vector<std::string>{"a", "b"}));
  // A committed batch takes no more writes.
  EXPECT_FALSE((*batch)->Put(put, &events_).ok());

  // Everything survives a reopen, the revision and applied index too.
  batch->reset();
  Reopen();
  EXPECT_EQ(store_->current_revision(), 5);
  EXPECT_EQ(store_->applied_index(), 7u);
}

TEST_F(StoreTest, ABatchDroppedWithoutCommitLeavesNoTrace) {
  Put("a", "1");
  {
    auto batch = store_->BeginBatch();
    ASSERT_TRUE(batch.ok());
    PutRequest put;
    put.key = "b";
    put.value = "2";
    ASSERT_TRUE((*batch)->Put(put, &events_).ok());
    ASSERT_TRUE((*batch)->Compact(2).ok());
  }
  EXPECT_EQ(store_->current_revision(), 2);
  EXPECT_EQ(store_->compact_revision(), -1);
  EXPECT_EQ(store_->applied_index(), 1u);
  EXPECT_EQ(Keys(Get("a", "\0"s)), (std::vector<std::string>{"a"}));
  // The write lock went with it: the next write goes through.
  EXPECT_EQ(Put("c", "3").revision, 3);
}

TEST_F(StoreTest, ACompactionInABatchRefusesTheBatchsLaterReadsBelowIt) {
  Put("a", "1");
  Put("a", "2");  // revision 3
  auto batch = store_->BeginBatch();
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE((*batch)->Compact(3).ok());
  TxnRequest txn;
  RangeRequest old;
  old.key = "a";
  old.revision = 2;
  txn.success = {RequestOp{old}};
  EXPECT_EQ((*batch)->Txn(txn, &events_).status(), etcd::Compacted());
  EXPECT_EQ((*batch)->Compact(3).status(), etcd::Compacted());
  ASSERT_TRUE((*batch)->Commit(10).ok());
  EXPECT_EQ(store_->compact_revision(), 3);
}

TEST_F(StoreTest, KeysWithZeroBytesAndPrefixesKeepTheirOwnHistories) {
  Put("a", "1");
  Put("a\0"s, "2");
  Put("a\0\0"s, "3");
  Put("ab", "4");
  Put("a", "5");
  auto old = Get("a", "b", 5);
  ASSERT_EQ(old.kvs.size(), 4u);
  EXPECT_EQ(old.kvs[0].value, "1");
  EXPECT_EQ(old.kvs[1].key, "a\0"s);
  EXPECT_EQ(old.kvs[2].key, "a\0\0"s);
  EXPECT_EQ(Get("a\0"s, "", 3).kvs[0].value, "2");
}

}  // namespace
}  // namespace cairn::mvcc
