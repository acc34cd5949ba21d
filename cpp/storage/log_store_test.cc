// Tests of the raft log store: appends, conflict truncation, lookups, compaction, reopen.
#include "storage/log_store.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "storage/test_dir.h"

namespace cairn::storage {
namespace {

raft::Entry E(uint64_t index, uint64_t term, std::string data = "") {
  raft::Entry e;
  e.index = index;
  e.term = term;
  e.data = data.empty() ? "d" + std::to_string(index) + "t" + std::to_string(term) : data;
  return e;
}

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    db_.reset();
    DbOptions options;
    options.checkpoint_interval_s = 0;
    auto db = Db::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto store = LogStore::Open(db_.get());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  std::vector<raft::Entry> All() {
    auto lo = store_->FirstIndex();
    auto hi = store_->LastIndex();
    auto es = store_->Entries(*lo, *hi + 1, raft::kNoLimit);
    EXPECT_TRUE(es.ok()) << es.status().ToString();
    return es.ok() ? *es : std::vector<raft::Entry>{};
  }

  TempDir dir_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(LogStoreTest, AFreshLogIsEmptyWithTermZeroAtIndexZero) {
  EXPECT_EQ(*store_->FirstIndex(), 1u);
  EXPECT_EQ(*store_->LastIndex(), 0u);
  EXPECT_EQ(*store_->Term(0), 0u);
  EXPECT_TRUE(raft::IsUnavailable(store_->Term(1).status()));
  auto init = store_->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_TRUE(init->hard_state.IsEmpty());
}

TEST_F(LogStoreTest, SaveAppendsEntriesAndHardStateDurably) {
  raft::HardState hs{3, 2, 2};
  ASSERT_TRUE(store_->Save(hs, {E(1, 1), E(2, 1), E(3, 3)}).ok());
  Reopen();
  EXPECT_EQ(*store_->LastIndex(), 3u);
  EXPECT_EQ(*store_->Term(3), 3u);
  EXPECT_EQ(store_->GetInitialState()->hard_state, hs);
  EXPECT_EQ(All(), (std::vector<raft::Entry>{E(1, 1), E(2, 1), E(3, 3)}));
}

TEST_F(LogStoreTest, AConflictingAppendReplacesTheSuffix) {
  ASSERT_TRUE(store_->Save(std::nullopt, {E(1, 1), E(2, 1), E(3, 1), E(4, 1)}).ok());
  ASSERT_TRUE(store_->Save(std::nullopt, {E(2, 2)}).ok());
  EXPECT_EQ(*store_->LastIndex(), 2u);
  EXPECT_EQ(All(), (std::vector<raft::Entry>{E(1, 1), E(2, 2)}));
  Reopen();
  EXPECT_EQ(*store_->LastIndex(), 2u);
  EXPECT_TRUE(raft::IsUnavailable(store_->Term(3).status()));
}

TEST_F(LogStoreTest, AnAppendThatLeavesAGapIsRefused) {
  ASSERT_TRUE(store_->Save(std::nullopt, {E(1, 1)}).ok());
  EXPECT_FALSE(store_->Save(std::nullopt, {E(3, 1)}).ok());
  EXPECT_EQ(*store_->LastIndex(), 1u);
}

TEST_F(LogStoreTest, EntriesHonoursMaxBytesButReturnsAtLeastOne) {
  ASSERT_TRUE(store_->Save(std::nullopt, {E(1, 1, "aaaa"), E(2, 1, "bbbb"), E(3, 1, "c")}).ok());
  auto one = store_->Entries(1, 4, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  auto two = store_->Entries(1, 4, 2 * (24 + 4));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  EXPECT_TRUE(raft::IsUnavailable(store_->Entries(1, 5, raft::kNoLimit).status()));
}

TEST_F(LogStoreTest, CompactDropsEntriesButKeepsTheTermOfTheLastOne) {
  ASSERT_TRUE(store_->Save(std::nullopt, {E(1, 1), E(2, 1), E(3, 2), E(4, 2)}).ok());
  ASSERT_TRUE(store_->Compact(3).ok());
  EXPECT_EQ(*store_->FirstIndex(), 4u);
  EXPECT_EQ(*store_->Term(3), 2u);
  EXPECT_TRUE(raft::IsCompacted(store_->Term(2).status()));
  EXPECT_TRUE(raft::IsCompacted(store_->Entries(3, 5, raft::kNoLimit).status()));
  EXPECT_TRUE(raft::IsCompacted(store_->Compact(2)));
  Reopen();
  EXPECT_EQ(*store_->FirstIndex(), 4u);
  EXPECT_EQ(*store_->LastIndex(), 4u);
  EXPECT_EQ(*store_->Term(3), 2u);
  EXPECT_EQ(All(), (std::vector<raft::Entry>{E(4, 2)}));
  // Compacting everything leaves an empty log that still appends after it.
  ASSERT_TRUE(store_->Compact(4).ok());
  Reopen();
  EXPECT_EQ(*store_->FirstIndex(), 5u);
  EXPECT_EQ(*store_->LastIndex(), 4u);
  ASSERT_TRUE(store_->Save(std::nullopt, {E(5, 3)}).ok());
  EXPECT_EQ(*store_->Term(5), 3u);
}

TEST_F(LogStoreTest, EntriesReadBackTheSameFromMemoryAsFromDisk) {
  // Recent appends are read back from memory, older ones and all after a reopen from disk.
  ASSERT_TRUE(store_->Save(std::nullopt, {E(1, 1), E(2, 1), E(3, 1), E(4, 1), E(5, 1)}).ok());
  ASSERT_TRUE(store_->Save(std::nullopt, {E(3, 2), E(4, 2)}).ok());
  ASSERT_TRUE(store_->Compact(1).ok());
  const std::vector<raft::Entry> small{E(2, 1), E(3, 2), E(4, 2)};
  EXPECT_EQ(All(), small);
  EXPECT_EQ(*store_->Term(4), 2u);
  EXPECT_TRUE(raft::IsUnavailable(store_->Term(5).status()));
  // Enough large entries that memory keeps only the latest few.
  std::vector<raft::Entry> large;
  for (uint64_t i = 5; i < 15; ++i) large.push_back(E(i, 3, std::string(1 << 20, 'a' + i)));
  ASSERT_TRUE(store_->Save(std::nullopt, large).ok());
  std::vector<raft::Entry> all = small;
  all.insert(all.end(), large.begin(), large.end());
  EXPECT_EQ(All(), all);
  auto recent = store_->Entries(13, 15, raft::kNoLimit);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(*recent, (std::vector<raft::Entry>{large[8], large[9]}));
  auto capped = store_->Entries(13, 15, 1);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->size(), 1u);
  EXPECT_EQ(*store_->Term(2), 1u);
  EXPECT_EQ(*store_->Term(14), 3u);
  Reopen();
  EXPECT_EQ(All(), all);
  EXPECT_EQ(*store_->Term(14), 3u);
}

TEST_F(LogStoreTest, SnapshotsReplaceTheLogAndOlderOnesAreRefused) {
  ASSERT_TRUE(store_->Save(std::nullopt, {E(1, 1), E(2, 1), E(3, 1)}).ok());
  ASSERT_TRUE(store_->CreateSnapshot(2, raft::ConfState{{1, 2, 3}, {}}, "state@2").ok());
  auto snap = store_->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata.index, 2u);
  EXPECT_EQ(snap->metadata.term, 1u);
  EXPECT_EQ(snap->data, "state@2");
  EXPECT_TRUE(raft::IsSnapshotOutOfDate(store_->CreateSnapshot(1, {}, "")));

  raft::Snapshot received;
  received.metadata.index = 10;
  received.metadata.term = 4;
  received.metadata.conf_state.voters = {1, 2};
  received.data = "state@10";
  ASSERT_TRUE(store_->ApplySnapshot(received).ok());
  Reopen();
  EXPECT_EQ(*store_->FirstIndex(), 11u);
  EXPECT_EQ(*store_->LastIndex(), 10u);
  EXPECT_EQ(*store_->Term(10), 4u);
  EXPECT_EQ(*store_->GetSnapshot(), received);
  EXPECT_EQ(store_->GetInitialState()->conf_state, received.metadata.conf_state);
  EXPECT_TRUE(raft::IsSnapshotOutOfDate(store_->ApplySnapshot(received)));
  ASSERT_TRUE(store_->Save(std::nullopt, {E(11, 4)}).ok());
  EXPECT_EQ(All(), (std::vector<raft::Entry>{E(11, 4)}));
}

}  // namespace
}  // namespace cairn::storage
