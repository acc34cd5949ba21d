// One test per rule of Figure 2 (the rules for servers) and Figure 3 (the properties) of
// the Raft paper, each named after the sentence it checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "raft/raft.h"
#include "raft/raft_core.h"
#include "raft/test_cluster.h"

namespace cairn::raft {
namespace {

using testing::TestCluster;

// A member alone with its storage, driven by hand: messages in, messages out.
struct Solo {
  std::unique_ptr<MemoryStorage> storage = std::make_unique<MemoryStorage>();
  std::unique_ptr<RawNode> node;
  Raft& r() { return node->raft(); }
};

// Member `id` of `voters` whose log holds one entry per element of `terms`.
Solo MakeSolo(NodeId id, std::vector<NodeId> voters, std::vector<uint64_t> terms = {},
              HardState hs = {}, bool pre_vote = false) {
  Solo s;
  std::vector<Entry> ents;
  for (size_t i = 0; i < terms.size(); ++i) ents.push_back(Entry{terms[i], i + 1});
  EXPECT_TRUE(s.storage->Append(ents).ok());
  if (hs.term == 0 && !terms.empty()) hs.term = terms.back();
  s.storage->SetHardState(hs);
  s.storage->SetConfState(ConfState{voters, {}});
  Config c;
  c.id = id;
  c.pre_vote = pre_vote;
  auto node = RawNode::Create(c, s.storage.get());
  EXPECT_TRUE(node.ok()) << node.status().ToString();
  s.node = std::move(node).value();
  return s;
}

std::vector<Message> Filter(const std::vector<Message>& msgs, MessageType type) {
  std::vector<Message> out;
  for (const Message& m : msgs) {
    if (m.type == type) out.push_back(m);
  }
  return out;
}

// --- Figure 2, rules for all servers -------------------------------------------------------

TEST(RaftPaperTest, AllServersConvertToFollowerOnHigherTerm) {
  for (StateRole role : {StateRole::kFollower, StateRole::kCandidate, StateRole::kLeader}) {
    Solo s = MakeSolo(1, {1, 2, 3});
    if (role == StateRole::kCandidate) s.r().BecomeCandidate();
    if (role == StateRole::kLeader) {
      s.r().BecomeCandidate();
      s.r().BecomeLeader();
    }
    ASSERT_TRUE(
        s.r().Step(Message{.type = MessageType::kAppend, .from = 2, .to = 1, .term = 5}).ok());
    EXPECT_EQ(s.r().role(), StateRole::kFollower) << StateRoleName(role);
    EXPECT_EQ(s.r().term(), 5u);
    EXPECT_EQ(s.r().lead(), 2u);
  }
}

TEST(RaftPaperTest, AllServersRejectMessagesFromAnOlderTerm) {
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 2}, HardState{3, 0, 0});
  s.r().TakeMessages();
  ASSERT_TRUE(s.r()
                  .Step(Message{.type = MessageType::kAppend,
                                .from = 2,
                                .to = 1,
                                .term = 2,
                                .log_term = 2,
                                .index = 2,
                                .entries = {Entry{2, 3}}})
                  .ok());
  EXPECT_EQ(s.r().log().LastIndex(), 2u) << "entries from a stale leader must not be appended";
  auto out = s.r().TakeMessages();
  // The stale leader is told the newer term so that it steps down.
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MessageType::kAppendResponse);
  EXPECT_EQ(out[0].term, 3u);
}

// --- Figure 2, followers -------------------------------------------------------------------

TEST(RaftPaperTest, FollowerBecomesCandidateWhenElectionTimeoutElapses) {
  Solo s = MakeSolo(1, {1, 2, 3});
  int timeout = s.r().randomized_election_timeout();
  for (int i = 0; i < timeout - 1; ++i) s.node->Tick();
  EXPECT_EQ(s.r().role(), StateRole::kFollower);
  s.node->Tick();
  EXPECT_EQ(s.r().role(), StateRole::kCandidate);
  EXPECT_EQ(s.r().term(), 1u);
}

TEST(RaftPaperTest, FollowerHearingFromLeaderDoesNotStartElection) {
  Solo s = MakeSolo(1, {1, 2, 3});
  for (int i = 0; i < 100; ++i) {
    s.node->Tick();
    ASSERT_TRUE(
        s.r().Step(Message{.type = MessageType::kHeartbeat, .from = 2, .to = 1, .term = 1}).ok());
  }
  EXPECT_EQ(s.r().role(), StateRole::kFollower);
  EXPECT_EQ(s.r().term(), 1u);
}

// Strictly between: see ElectionTest.FirstFollowerToTimeOutAfterTheLeaderFailsWinsAtOnce.
TEST(RaftPaperTest, ElectionTimeoutsAreRandomizedBetweenOneAndTwoTimeouts) {
  std::set<int> seen;
  for (NodeId id = 1; id <= 50; ++id) {
    Solo s = MakeSolo(id, {id});
    int t = s.r().randomized_election_timeout();
    EXPECT_GT(t, 10);
    EXPECT_LT(t, 20);
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 3u) << "timeouts should differ between members";
}

TEST(RaftPaperTest, ElectionTimeoutIsDeterministicForASeed) {
  Solo a = MakeSolo(1, {1, 2, 3});
  Solo b = MakeSolo(1, {1, 2, 3});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(a.r().randomized_election_timeout(), b.r().randomized_election_timeout());
    a.r().BecomeFollower(a.r().term() + 1, kNone);
    b.r().BecomeFollower(b.r().term() + 1, kNone);
  }
}

// --- Figure 2, candidates ------------------------------------------------------------------

TEST(RaftPaperTest, CandidateIncrementsTermVotesForSelfAndRequestsVotes) {
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 1});
  ASSERT_TRUE(s.node->Campaign().ok());
  EXPECT_EQ(s.r().role(), StateRole::kCandidate);
  EXPECT_EQ(s.r().term(), 2u);
  EXPECT_EQ(s.r().vote(), 1u);
  auto votes = Filter(s.r().messages_after_persist(), MessageType::kVote);
  ASSERT_EQ(votes.size(), 2u);
  for (const Message& m : votes) {
    EXPECT_EQ(m.term, 2u);
    EXPECT_EQ(m.index, 2u);
    EXPECT_EQ(m.log_term, 1u);
  }
  EXPECT_TRUE(Filter(s.r().messages(), MessageType::kVote).empty())
      << "vote requests go out only after the new term and self-vote are durable";
}

TEST(RaftPaperTest, CandidateWithVotesFromMajorityBecomesLeader) {
  Solo s = MakeSolo(1, {1, 2, 3, 4, 5});
  ASSERT_TRUE(s.node->Campaign().ok());
  ASSERT_TRUE(
      s.r().Step(Message{.type = MessageType::kVoteResponse, .from = 2, .to = 1, .term = 1}).ok());
  EXPECT_EQ(s.r().role(), StateRole::kCandidate) << "2 of 5 is not a majority";
  ASSERT_TRUE(
      s.r().Step(Message{.type = MessageType::kVoteResponse, .from = 3, .to = 1, .term = 1}).ok());
  EXPECT_EQ(s.r().role(), StateRole::kLeader);
}

TEST(RaftPaperTest, CandidateWithRejectionsFromMajorityBecomesFollower) {
  Solo s = MakeSolo(1, {1, 2, 3});
  ASSERT_TRUE(s.node->Campaign().ok());
  for (NodeId from : {2, 3}) {
    ASSERT_TRUE(s.r()
                    .Step(Message{.type = MessageType::kVoteResponse,
                                  .from = from,
                                  .to = 1,
                                  .term = 1,
                                  .reject = true})
                    .ok());
  }
  EXPECT_EQ(s.r().role(), StateRole::kFollower);
}

TEST(RaftPaperTest, CandidateReceivingAppendFromNewLeaderBecomesFollower) {
  Solo s = MakeSolo(1, {1, 2, 3});
  ASSERT_TRUE(s.node->Campaign().ok());
  ASSERT_TRUE(
      s.r().Step(Message{.type = MessageType::kAppend, .from = 2, .to = 1, .term = 1}).ok());
  EXPECT_EQ(s.r().role(), StateRole::kFollower);
  EXPECT_EQ(s.r().lead(), 2u);
}

TEST(RaftPaperTest, CandidateStartsNewElectionWhenElectionTimesOutInASplitVote) {
  Solo s = MakeSolo(1, {1, 2, 3});
  ASSERT_TRUE(s.node->Campaign().ok());
  EXPECT_EQ(s.r().term(), 1u);
  for (int i = 0; i < 2 * 10; ++i) s.node->Tick();
  EXPECT_EQ(s.r().role(), StateRole::kCandidate);
  EXPECT_EQ(s.r().term(), 2u);
}

// --- Figure 2, RequestVote receiver --------------------------------------------------------

TEST(RaftPaperTest, VoterGrantsAtMostOneVotePerTerm) {
  Solo s = MakeSolo(1, {1, 2, 3});
  ASSERT_TRUE(s.r().Step(Message{.type = MessageType::kVote, .from = 2, .to = 1, .term = 1}).ok());
  ASSERT_TRUE(s.r().Step(Message{.type = MessageType::kVote, .from = 3, .to = 1, .term = 1}).ok());
  auto resp = Filter(s.r().messages_after_persist(), MessageType::kVoteResponse);
  ASSERT_EQ(resp.size(), 2u);
  EXPECT_FALSE(resp[0].reject);
  EXPECT_TRUE(resp[1].reject);
  EXPECT_EQ(s.r().vote(), 2u);
  // The same candidate asking again gets the same answer.
  ASSERT_TRUE(s.r().Step(Message{.type = MessageType::kVote, .from = 2, .to = 1, .term = 1}).ok());
  EXPECT_FALSE(s.r().messages_after_persist().back().reject);
}

TEST(RaftPaperTest, VoterRejectsCandidateWhoseLogIsLessUpToDate) {
  // Voter's log: terms [1, 2, 2]. Section 5.4.1: compare last term, then length.
  struct Case {
    uint64_t last_term, last_index;
    bool granted;
  } cases[] = {{1, 3, false}, {1, 5, false}, {2, 2, false},
               {2, 3, true},  {2, 4, true},  {3, 1, true}};
  for (const Case& c : cases) {
    Solo s = MakeSolo(1, {1, 2, 3}, {1, 2, 2});
    ASSERT_TRUE(s.r()
                    .Step(Message{.type = MessageType::kVote,
                                  .from = 2,
                                  .to = 1,
                                  .term = 3,
                                  .log_term = c.last_term,
                                  .index = c.last_index})
                    .ok());
    auto resp = Filter(s.r().messages_after_persist(), MessageType::kVoteResponse);
    ASSERT_EQ(resp.size(), 1u);
    EXPECT_EQ(!resp[0].reject, c.granted) << c.last_term << "/" << c.last_index;
  }
}

// --- Figure 2, AppendEntries receiver ------------------------------------------------------

TEST(RaftPaperTest, FollowerRejectsAppendWhenLogHasNoEntryAtPrevIndexWithPrevTerm) {
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 2});
  struct Case {
    uint64_t index, log_term;
    bool reject;
  } cases[] = {{2, 3, true}, {3, 2, true}, {2, 2, false}, {1, 1, false}, {0, 0, false}};
  for (const Case& c : cases) {
    ASSERT_TRUE(s.r()
                    .Step(Message{.type = MessageType::kAppend,
                                  .from = 2,
                                  .to = 1,
                                  .term = 2,
                                  .log_term = c.log_term,
                                  .index = c.index})
                    .ok());
    auto resp = s.r().messages_after_persist().back();
    EXPECT_EQ(resp.reject, c.reject) << c.index << "/" << c.log_term;
  }
}

TEST(RaftPaperTest, FollowerDeletesConflictingEntryAndAllThatFollowIt) {
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 1, 1, 1});
  ASSERT_TRUE(s.r()
                  .Step(Message{.type = MessageType::kAppend,
                                .from = 2,
                                .to = 1,
                                .term = 2,
                                .log_term = 1,
                                .index = 1,
                                .entries = {Entry{1, 2}, Entry{2, 3}}})
                  .ok());
  EXPECT_EQ(s.r().log().LastIndex(), 3u);
  EXPECT_EQ(*s.r().log().Term(2), 1u);
  EXPECT_EQ(*s.r().log().Term(3), 2u);
}

TEST(RaftPaperTest, FollowerKeepsItsLogWhenAppendCarriesEntriesItAlreadyHas) {
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 1, 1});
  // A delayed, shorter append must not truncate entry 3.
  ASSERT_TRUE(s.r()
                  .Step(Message{.type = MessageType::kAppend,
                                .from = 2,
                                .to = 1,
                                .term = 1,
                                .log_term = 1,
                                .index = 0,
                                .entries = {Entry{1, 1}}})
                  .ok());
  EXPECT_EQ(s.r().log().LastIndex(), 3u);
}

TEST(RaftPaperTest, FollowerSetsCommitToMinOfLeaderCommitAndLastNewEntry) {
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 1});
  ASSERT_TRUE(s.r()
                  .Step(Message{.type = MessageType::kAppend,
                                .from = 2,
                                .to = 1,
                                .term = 1,
                                .log_term = 1,
                                .index = 2,
                                .entries = {Entry{1, 3}},
                                .commit = 10})
                  .ok());
  EXPECT_EQ(s.r().log().committed(), 3u);
  ASSERT_TRUE(s.r()
                  .Step(Message{.type = MessageType::kAppend,
                                .from = 2,
                                .to = 1,
                                .term = 1,
                                .log_term = 1,
                                .index = 1,
                                .commit = 3})
                  .ok());
  EXPECT_EQ(s.r().log().committed(), 3u) << "commit never moves back";
}

// --- Figure 2, leaders ---------------------------------------------------------------------

TEST(RaftPaperTest, LeaderSendsEmptyAppendOnElectionAndHeartbeatsWhenIdle) {
  TestCluster c({1, 2, 3});
  c.Elect(1);
  c.delivered.clear();
  c.TickAll(1);  // heartbeat_tick = 1
  int beats = 0;
  for (const Message& m : c.delivered) beats += m.type == MessageType::kHeartbeat;
  EXPECT_EQ(beats, 2);
}

TEST(RaftPaperTest, LeaderAppendsClientCommandAndRepliesAfterItIsApplied) {
  TestCluster c({1, 2, 3});
  c.Elect(1);
  c.Propose(1, "x");
  for (NodeId id : {1, 2, 3}) {
    EXPECT_EQ(c.member(id).applied, std::vector<std::string>{"x"}) << id;
  }
}

TEST(RaftPaperTest, LeaderRetriesAppendWithDecrementedNextIndexAfterRejection) {
  // Follower 2 has a diverging log from an old term; the leader must find the match point.
  TestCluster c({1, 2, 3});
  c.Elect(1);
  c.Isolate(2);
  for (int i = 0; i < 5; ++i) c.Propose(1, "a" + std::to_string(i));
  c.Heal();
  c.TickAll(3);
  EXPECT_EQ(c.member(2).applied, c.member(1).applied);
  EXPECT_EQ(c.raft(2).log().LastIndex(), c.raft(1).log().LastIndex());
}

TEST(RaftPaperTest, LeaderCommitsEntryOnceAMajorityPersistedIt) {
  TestCluster c({1, 2, 3, 4, 5});
  c.Elect(1);
  c.Isolate(3);
  c.Isolate(4);
  c.Propose(1, "x");
  EXPECT_EQ(c.raft(1).log().committed(), 2u) << "3 of 5 have it";
  c.Isolate(2);
  c.Propose(1, "y");
  EXPECT_EQ(c.raft(1).log().committed(), 2u) << "2 of 5 do not commit";
}

TEST(RaftPaperTest, LeaderCountsItsOwnEntryOnlyAfterItIsPersisted) {
  Solo s = MakeSolo(1, {1});
  ASSERT_TRUE(s.node->Campaign().ok());
  ASSERT_EQ(s.r().role(), StateRole::kLeader);
  EXPECT_EQ(s.r().log().committed(), 0u) << "the empty entry is not durable yet";
  Ready rd = s.node->GetReady();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_TRUE(rd.committed_entries.empty());
  ASSERT_TRUE(s.storage->Append(rd.entries).ok());
  s.node->Advance();
  EXPECT_EQ(s.r().log().committed(), 1u);
}

// --- Figure 3, properties ------------------------------------------------------------------

TEST(RaftPaperTest, ElectionSafetyAtMostOneLeaderPerTerm) {
  TestCluster c({1, 2, 3, 4, 5});
  // Both 1 and 2 campaign in the same term; votes split but at most one can win.
  ASSERT_TRUE(c.node(1).Campaign().ok());
  ASSERT_TRUE(c.node(2).Campaign().ok());
  c.Stabilize();
  int leaders = 0;
  for (NodeId id = 1; id <= 5; ++id) {
    leaders += c.raft(id).role() == StateRole::kLeader && c.raft(id).term() == 1;
  }
  EXPECT_LE(leaders, 1);
}

TEST(RaftPaperTest, LeaderAppendOnlyLeaderNeverOverwritesItsLog) {
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 3}, HardState{3, 0, 1});
  s.r().BecomeCandidate();
  s.r().BecomeLeader();  // term 4, log [1, 3, 4]
  // An append from the leader of term 3 that would replace entry 2 is refused.
  ASSERT_TRUE(s.r()
                  .Step(Message{.type = MessageType::kAppend,
                                .from = 2,
                                .to = 1,
                                .term = 3,
                                .log_term = 1,
                                .index = 1,
                                .entries = {Entry{2, 2}}})
                  .ok());
  EXPECT_EQ(s.r().role(), StateRole::kLeader);
  EXPECT_EQ(s.r().log().LastIndex(), 3u);
  EXPECT_EQ(*s.r().log().Term(2), 3u);
  EXPECT_EQ(*s.r().log().Term(3), 4u);
}

TEST(RaftPaperTest, LogMatchingFollowersEndWithTheLeadersLog) {
  TestCluster c({1, 2, 3});
  c.Elect(1);
  c.Isolate(3);
  c.Propose(1, "a");
  c.Heal();
  c.Isolate(1);
  c.TickAll(40);  // 2 or 3 takes over
  NodeId leader = c.Leader();
  ASSERT_NE(leader, 1u);
  c.Propose(leader, "b");
  c.Heal();
  c.TickAll(5);
  for (NodeId id : {1, 2, 3}) {
    for (uint64_t i = 1; i <= c.raft(leader).log().LastIndex(); ++i) {
      EXPECT_EQ(*c.raft(id).log().Term(i), *c.raft(leader).log().Term(i)) << id << "@" << i;
    }
  }
}

TEST(RaftPaperTest, LeaderCompletenessCandidateMissingCommittedEntryCannotWin) {
  TestCluster c({1, 2, 3});
  c.Elect(1);
  c.Isolate(3);
  c.Propose(1, "committed");
  ASSERT_EQ(c.raft(1).log().committed(), 2u);
  c.Heal();
  // 3 lacks the committed entry; 1 and 2 refuse it.
  c.Isolate(1);
  ASSERT_TRUE(c.node(3).Campaign().ok());
  c.Stabilize();
  EXPECT_NE(c.raft(3).role(), StateRole::kLeader);
}

TEST(RaftPaperTest, StateMachineSafetyLeaderDoesNotCommitOldTermEntriesByCounting) {
  // Figure 8: leader 1 (term 3) holds an entry of term 2 replicated on a majority; it must
  // not count it as committed until an entry of term 3 is replicated.
  Solo s = MakeSolo(1, {1, 2, 3}, {1, 2}, HardState{2, 0, 1});
  s.r().BecomeCandidate();  // term 3
  s.r().BecomeLeader();     // appends an empty entry at 3, term 3
  s.r().TakeMessages();
  ASSERT_TRUE(s.storage->Append(s.r().log().UnstableEntries()).ok());
  s.r().log().StableTo(3, 3);
  // Follower 2 acknowledges only index 2 (term 2).
  ASSERT_TRUE(
      s.r()
          .Step(Message{
              .type = MessageType::kAppendResponse, .from = 2, .to = 1, .term = 3, .index = 2})
          .ok());
  EXPECT_EQ(s.r().log().committed(), 1u) << "index 2 is of an older term";
  s.r().OnPersisted(3, 3);
  ASSERT_TRUE(
      s.r()
          .Step(Message{
              .type = MessageType::kAppendResponse, .from = 2, .to = 1, .term = 3, .index = 3})
          .ok());
  EXPECT_EQ(s.r().log().committed(), 3u) << "committing 3 commits 2 with it";
}

}  // namespace
}  // namespace cairn::raft
