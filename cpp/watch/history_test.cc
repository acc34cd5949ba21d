// Tests of the history reader on a real store: ranges, deletes, prev_kv, bounds, compaction.
#include "watch/history.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/etcd_errors.h"
#include "storage/test_dir.h"
#include "watch/test_print.h"

namespace cairn::watch {
namespace {

using namespace std::string_literals;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::DbOptions options;
    options.checkpoint_interval_s = 0;
    options.cache_size_mb = 32;
    auto db = storage::Db::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto store = mvcc::Store::Open(db_.get());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  void Put(const std::string& k, const std::string& v) {
    mvcc::PutRequest req;
    req.key = k;
    req.value = v;
    auto r = store_->Put(req, ++index_, &events_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void Delete(const std::string& k, const std::string& end = "") {
    mvcc::DeleteRangeRequest req;
    req.key = k;
    req.range_end = end;
    auto r = store_->DeleteRange(req, ++index_, &events_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // The store's own events (with prev_kv) for `range` in [from, to], optionally without
  // prev_kv: what the history must reproduce.
  std::vector<mvcc::Event> Expected(const KeyRange& range, int64_t from, int64_t to,
                                    bool prev_kv) const {
    std::vector<mvcc::Event> out;
    for (mvcc::Event e : events_) {
      if (e.kv.mod_revision < from || e.kv.mod_revision > to || !range.Contains(e.kv.key)) {
        continue;
      }
      if (!prev_kv) e.prev_kv.reset();
      out.push_back(std::move(e));
    }
    return out;
  }

  storage::TempDir dir_;
  std::unique_ptr<storage::Db> db_;
  std::unique_ptr<mvcc::Store> store_;
  uint64_t index_ = 0;
  std::vector<mvcc::Event> events_;
};

TEST_F(HistoryTest, ReadsTheStoresEventsForARange) {
  Put("a", "1");   // 2
  Put("b", "1");   // 3
  Put("a", "2");   // 4
  Delete("a");     // 5
  Put("ab", "1");  // 6
  Put("c", "1");   // 7
  int64_t to = store_->current_revision();
  ASSERT_EQ(to, 7);
  for (const KeyRange& range :
       {KeyRange("a", ""), KeyRange("a", "b"), KeyRange("b", "\0"s), KeyRange::All()}) {
    for (int64_t from = 1; from <= to; ++from) {
      auto got = ReadHistory(db_.get(), *store_, range, from, to, false);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(*got, Expected(range, from, to, false))
          << "range [" << range.key() << ", " << range.range_end() << ") from " << from;
    }
  }
}

TEST_F(HistoryTest, PrevKvIsTheKeyBeforeEachEvent) {
  Put("a", "1");
  Put("a", "2");
  Delete("a");
  Put("a", "3");  // a create again: no prev_kv
  Put("b", "1");
  auto got = ReadHistory(db_.get(), *store_, KeyRange::All(), 1, store_->current_revision(), true);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, Expected(KeyRange::All(), 1, store_->current_revision(), true));
  ASSERT_EQ(got->size(), 5u);
  EXPECT_FALSE((*got)[0].prev_kv.has_value());
  ASSERT_TRUE((*got)[2].prev_kv.has_value());
  EXPECT_EQ((*got)[2].prev_kv->value, "2");
  EXPECT_FALSE((*got)[3].prev_kv.has_value());
}

TEST_F(HistoryTest, EventsOfOneRevisionKeepTheirOrder) {
  Put("a", "1");
  Put("b", "1");
  Put("c", "1");
  Delete("a", "d");  // one revision, three deletes
  auto got = ReadHistory(db_.get(), *store_, KeyRange::All(), 5, 5, true);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ(*got, Expected(KeyRange::All(), 5, 5, true));
}

TEST_F(HistoryTest, BoundedReadStopsAtARevisionBoundary) {
  for (int i = 0; i < 5; ++i) Put("k" + std::to_string(i), "v");  // 2..6
  Delete("k", "l");                                               // 7: five deletes
  Put("z", "v");                                                  // 8
  auto snap = HistorySnapshot::Open(db_.get(), *store_);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  HistoryLimits limits;
  limits.max_revisions = 2;
  int64_t from = 2;
  std::vector<mvcc::Event> all;
  int reads = 0;
  while (from <= 8) {
    auto batch = (*snap)->Read(KeyRange::All(), from, 8, limits);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_GE(batch->last_revision, from);
    for (const auto& e : batch->events) {
      EXPECT_GE(e.kv.mod_revision, from);
      EXPECT_LE(e.kv.mod_revision, batch->last_revision);
    }
    EXPECT_LE(batch->last_revision - from + 1, 2);
    all.insert(all.end(), batch->events.begin(), batch->events.end());
    from = batch->last_revision + 1;
    ++reads;
  }
  EXPECT_EQ(reads, 4);
  EXPECT_EQ(all, Expected(KeyRange::All(), 2, 8, false));
}

TEST_F(HistoryTest, ByteBoundNeverSplitsARevision) {
  Put("a", std::string(100, 'x'));
  Put("b", std::string(100, 'x'));
  Delete("a", "c");  // revision 4 holds two events
  auto snap = HistorySnapshot::Open(db_.get(), *store_);
  ASSERT_TRUE(snap.ok());
  HistoryLimits limits;
  limits.max_bytes = 1;
  auto batch = (*snap)->Read(KeyRange::All(), 4, 4, limits);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->last_revision, 4);
  EXPECT_EQ(batch->events.size(), 2u);
}

TEST_F(HistoryTest, FromBelowTheCompactedRevisionIsCompacted) {
  Put("a", "1");
  Put("a", "2");
  Put("a", "3");  // 4
  ASSERT_TRUE(store_->Compact(3, ++index_).ok());
  ASSERT_TRUE(store_->RunCompaction().ok());
  auto below = ReadHistory(db_.get(), *store_, KeyRange::All(), 2, 4, false);
  EXPECT_EQ(below.status(), etcd::Compacted());
  // The compacted revision itself still reads, as in etcd; the prev_kv it would need is
  // gone (etcd's range below the compaction fails, and it sends the event without one).
  auto at = ReadHistory(db_.get(), *store_, KeyRange::All(), 3, 4, true);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  std::vector<mvcc::Event> want = Expected(KeyRange::All(), 3, 4, true);
  ASSERT_EQ(want.size(), 2u);
  want[0].prev_kv.reset();
  EXPECT_EQ(*at, want);
}

}  // namespace
}  // namespace cairn::watch
