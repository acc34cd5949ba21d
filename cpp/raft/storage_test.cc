// MemoryStorage honours the Storage contract raft relies on.
#include "raft/storage.h"

#include <gtest/gtest.h>

namespace cairn::raft {
namespace {

std::vector<Entry> Ents(uint64_t lo, uint64_t hi, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t i = lo; i <= hi; ++i) out.push_back(Entry{term, i, EntryType::kNormal, "d"});
  return out;
}

TEST(MemoryStorageTest, NewLogIsEmptyWithFirstIndexOne) {
  MemoryStorage s;
  EXPECT_EQ(*s.FirstIndex(), 1u);
  EXPECT_EQ(*s.LastIndex(), 0u);
  EXPECT_EQ(*s.Term(0), 0u);
  EXPECT_TRUE(IsUnavailable(s.Term(1).status()));
}

TEST(MemoryStorageTest, AppendTruncatesAConflictingSuffix) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 5, 1)).ok());
  ASSERT_TRUE(s.Append(Ents(3, 4, 2)).ok());
  EXPECT_EQ(*s.LastIndex(), 4u);
  EXPECT_EQ(*s.Term(2), 1u);
  EXPECT_EQ(*s.Term(3), 2u);
  EXPECT_FALSE(s.Append(Ents(6, 6, 2)).ok()) << "a gap must be refused";
}

TEST(MemoryStorageTest, EntriesHonoursMaxBytesButReturnsAtLeastOne) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 5, 1)).ok());
  uint64_t one = Ents(1, 1, 1)[0].ByteSize();
  EXPECT_EQ(s.Entries(1, 6, kNoLimit)->size(), 5u);
  EXPECT_EQ(s.Entries(1, 6, 2 * one)->size(), 2u);
  EXPECT_EQ(s.Entries(1, 6, 0)->size(), 1u);
  EXPECT_TRUE(IsUnavailable(s.Entries(1, 7, kNoLimit).status()));
}

TEST(MemoryStorageTest, CompactKeepsTheTermOfTheCompactedIndex) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 5, 1)).ok());
  ASSERT_TRUE(s.Compact(3).ok());
  EXPECT_EQ(*s.FirstIndex(), 4u);
  EXPECT_EQ(*s.Term(3), 1u);
  EXPECT_TRUE(IsCompacted(s.Term(2).status()));
  EXPECT_TRUE(IsCompacted(s.Entries(3, 5, kNoLimit).status()));
  EXPECT_TRUE(IsCompacted(s.Compact(2)));
  // Appending over compacted indexes keeps only the new part.
  ASSERT_TRUE(s.Append(Ents(2, 6, 1)).ok());
  EXPECT_EQ(*s.LastIndex(), 6u);
  EXPECT_EQ(*s.FirstIndex(), 4u);
}

TEST(MemoryStorageTest, SnapshotsReplaceTheLogAndRefuseOlderOnes) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, 5, 2)).ok());
  auto snap = s.CreateSnapshot(4, ConfState{{1, 2, 3}, {}}, "data");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata.term, 2u);
  EXPECT_TRUE(IsSnapshotOutOfDate(s.CreateSnapshot(3, ConfState{}, "").status()));

  MemoryStorage other;
  ASSERT_TRUE(other.ApplySnapshot(*snap).ok());
  EXPECT_EQ(*other.FirstIndex(), 5u);
  EXPECT_EQ(*other.LastIndex(), 4u);
  EXPECT_EQ(*other.Term(4), 2u);
  EXPECT_EQ(other.GetInitialState()->conf_state, (ConfState{{1, 2, 3}, {}}));
  EXPECT_TRUE(IsSnapshotOutOfDate(other.ApplySnapshot(*snap)));
}

}  // namespace
}  // namespace cairn::raft
