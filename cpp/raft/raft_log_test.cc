// RaftLog: the merge of persisted and unstable entries, conflicts, commit and apply.
#include "raft/raft_log.h"

#include <gtest/gtest.h>

namespace cairn::raft {
namespace {

std::vector<Entry> Ents(uint64_t lo, std::vector<uint64_t> terms) {
  std::vector<Entry> out;
  for (uint64_t t : terms) out.push_back(Entry{t, lo++});
  return out;
}

TEST(RaftLogTest, UnstableEntriesFollowThePersistedOnes) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, {1, 1, 2})).ok());
  RaftLog log(&s, kNoLimit);
  log.Append(Ents(4, {2, 3}));
  EXPECT_EQ(log.LastIndex(), 5u);
  EXPECT_EQ(log.UnstableEntries().size(), 2u);
  auto all = log.Slice(2, 6, kNoLimit);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
  log.StableTo(5, 3);
  EXPECT_TRUE(log.UnstableEntries().empty());
}

TEST(RaftLogTest, StableToIgnoresEntriesReplacedMeanwhile) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(Ents(1, {1, 1}));
  log.Append(Ents(2, {2}));  // a new leader replaced entry 2
  log.StableTo(2, 1);        // the old entry 2 was persisted
  EXPECT_EQ(log.UnstableEntries().size(), 2u) << "the replacement still needs persisting";
}

TEST(RaftLogTest, FindConflictReturnsFirstMismatchOrFirstNewEntry) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, {1, 2, 3})).ok());
  RaftLog log(&s, kNoLimit);
  EXPECT_EQ(log.FindConflict(Ents(1, {1, 2, 3})), 0u);
  EXPECT_EQ(log.FindConflict(Ents(2, {2, 3, 4})), 4u);
  EXPECT_EQ(log.FindConflict(Ents(2, {2, 4})), 3u);
}

TEST(RaftLogTest, FindConflictByTermSkipsEntriesOfNewerTerms) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, {1, 1, 3, 3, 5, 5})).ok());
  RaftLog log(&s, kNoLimit);
  EXPECT_EQ(log.FindConflictByTerm(6, 4), (std::pair<uint64_t, uint64_t>{4, 3}));
  EXPECT_EQ(log.FindConflictByTerm(6, 2), (std::pair<uint64_t, uint64_t>{2, 1}));
  EXPECT_EQ(log.FindConflictByTerm(6, 0), (std::pair<uint64_t, uint64_t>{0, 0}));
}

TEST(RaftLogTest, CommittedEntriesAreHandedOutOnceAndWithinTheByteBound) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, {1, 1, 1, 1})).ok());
  RaftLog log(&s, 2 * Entry{}.ByteSize());
  log.CommitTo(4);
  EXPECT_EQ(log.NextCommittedEntries().size(), 2u);
  log.AppliedTo(2);
  EXPECT_EQ(log.NextCommittedEntries().front().index, 3u);
  log.AppliedTo(4);
  EXPECT_FALSE(log.HasNextCommittedEntries());
}

TEST(RaftLogTest, RestoreFromSnapshotMovesTheLogPastIt) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(Ents(1, {1})).ok());
  RaftLog log(&s, kNoLimit);
  Snapshot snap;
  snap.metadata = SnapshotMetadata{10, 4, ConfState{{1}, {}}};
  log.Restore(snap);
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(log.LastIndex(), 10u);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_EQ(*log.Term(10), 4u);
  EXPECT_TRUE(IsCompacted(log.Term(5).status()));
}

}  // namespace
}  // namespace cairn::raft
