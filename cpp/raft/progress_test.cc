// Flow control and quorum arithmetic: Inflights, Progress states and ProgressTracker.
#include "raft/progress.h"

#include <gtest/gtest.h>

namespace cairn::raft {
namespace {

TEST(InflightsTest, FullAtCapacityAndFreedByAcknowledgement) {
  Inflights in(3);
  in.Add(5);
  in.Add(8);
  EXPECT_FALSE(in.Full());
  in.Add(10);
  EXPECT_TRUE(in.Full());
  in.FreeLE(8);
  EXPECT_EQ(in.Count(), 1u);
  EXPECT_FALSE(in.Full());
  // The ring wraps around.
  in.Add(12);
  in.Add(15);
  EXPECT_TRUE(in.Full());
  in.FreeLE(14);
  EXPECT_EQ(in.Count(), 1u);
  in.FreeFirst();
  EXPECT_EQ(in.Count(), 0u);
}

TEST(ProgressTest, ProbePausesAfterOneAppendUntilAnswered) {
  Progress pr(10);
  pr.BecomeProbe();
  EXPECT_FALSE(pr.IsPaused());
  pr.SentEntries(3);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_EQ(pr.next, 1u) << "probing does not move next optimistically";
  EXPECT_TRUE(pr.MaybeUpdate(3));
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, ReplicateMovesNextOptimisticallyWithinTheWindow) {
  Progress pr(2);
  pr.match = 4;
  pr.BecomeReplicate();
  EXPECT_EQ(pr.next, 5u);
  pr.SentEntries(3);
  EXPECT_EQ(pr.next, 8u);
  pr.SentEntries(1);
  EXPECT_TRUE(pr.IsPaused());
  pr.inflights.FreeLE(7);
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, StaleRejectionsAreIgnored) {
  Progress pr(10);
  pr.match = 5;
  pr.BecomeReplicate();
  pr.SentEntries(5);  // next = 11
  EXPECT_FALSE(pr.MaybeDecrTo(4, 0)) << "at or below match: an old message";
  EXPECT_TRUE(pr.MaybeDecrTo(8, 0));
  EXPECT_EQ(pr.next, 6u) << "replicate falls back to match + 1";

  Progress probe(10);
  probe.next = 10;
  EXPECT_FALSE(probe.MaybeDecrTo(7, 3)) << "probing only answers the last probe";
  EXPECT_TRUE(probe.MaybeDecrTo(9, 3));
  EXPECT_EQ(probe.next, 4u) << "jumps to the hint";
}

TEST(ProgressTest, SnapshotStatePausesUntilReported) {
  Progress pr(10);
  pr.BecomeSnapshot(20);
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 21u);
}

TEST(ProgressTrackerTest, CommitIndexIsTheMatchOfTheMajority) {
  ProgressTracker t(10);
  t.Reset(ConfState{{1, 2, 3, 4, 5}, {6}}, 1);
  uint64_t matches[] = {0, 9, 7, 5, 3, 1, 100};
  for (NodeId id = 1; id <= 6; ++id) t.Get(id)->match = matches[id];
  EXPECT_EQ(t.QuorumCommitted(), 5u) << "learner 6 does not count";
}

TEST(ProgressTrackerTest, VotesAreTalliedOverVotersOnly) {
  ProgressTracker t(10);
  t.Reset(ConfState{{1, 2, 3}, {4}}, 1);
  t.RecordVote(1, true);
  t.RecordVote(4, true);
  EXPECT_EQ(t.TallyVotes(), ProgressTracker::VoteResult::kPending);
  t.RecordVote(2, false);
  t.RecordVote(3, false);
  EXPECT_EQ(t.TallyVotes(), ProgressTracker::VoteResult::kLost);
  t.ResetVotes();
  t.RecordVote(1, true);
  t.RecordVote(3, true);
  EXPECT_EQ(t.TallyVotes(), ProgressTracker::VoteResult::kWon);
}

TEST(ProgressTrackerTest, PromotionKeepsProgressAndRemovalDropsIt) {
  ProgressTracker t(10);
  t.Reset(ConfState{{1}, {2}}, 1);
  t.Get(2)->match = 7;
  t.AddVoter(2, 100);
  EXPECT_TRUE(t.IsVoter(2));
  EXPECT_FALSE(t.IsLearner(2));
  EXPECT_EQ(t.Get(2)->match, 7u);
  t.Remove(2);
  EXPECT_EQ(t.Get(2), nullptr);
  EXPECT_EQ(t.GetConfState(), (ConfState{{1}, {}}));
}

}  // namespace
}  // namespace cairn::raft
