// Round trips and rejection of malformed input for the Raft data encodings.
#include "raft/types.h"

#include <gtest/gtest.h>

namespace cairn::raft {
namespace {

TEST(TypesTest, EntryRoundTripsThroughItsEncoding) {
  Entry e{7, 42, EntryType::kConfChange, std::string("a\0b", 3)};
  auto decoded = DecodeEntry(EncodeEntry(e));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, e);
}

TEST(TypesTest, ConfChangeRoundTripsThroughItsEncoding) {
  ConfChange c{ConfChangeType::kAddLearner, 1ull << 60, "http://peer:2380"};
  auto decoded = DecodeConfChange(EncodeConfChange(c));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, c);
}

TEST(TypesTest, MessageRoundTripsThroughItsEncoding) {
  Message m;
  m.type = MessageType::kSnapshot;
  m.from = 1;
  m.to = 2;
  m.term = 3;
  m.log_term = 4;
  m.index = 5;
  m.entries = {Entry{1, 6, EntryType::kNormal, "x"}, Entry{1, 7, EntryType::kNormal, ""}};
  m.commit = 6;
  m.reject = true;
  m.reject_hint = 9;
  m.snapshot.metadata = {10, 2, ConfState{{1, 2, 3}, {4}}};
  m.snapshot.data = "state";
  m.context = "ctx";
  auto decoded = DecodeMessage(EncodeMessage(m));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, m);
}

TEST(TypesTest, HardStateAndConfStateRoundTrip) {
  HardState h{5, 2, 100};
  EXPECT_EQ(*DecodeHardState(EncodeHardState(h)), h);
  ConfState c{{1, 2}, {3}};
  EXPECT_EQ(*DecodeConfState(EncodeConfState(c)), c);
  SnapshotMetadata md{9, 3, c};
  EXPECT_EQ(*DecodeSnapshotMetadata(EncodeSnapshotMetadata(md)), md);
}

TEST(TypesTest, DecodeRejectsTruncatedAndTrailingBytes) {
  std::string bytes = EncodeEntry(Entry{1, 2, EntryType::kNormal, "payload"});
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeEntry(bytes.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(DecodeEntry(bytes + "x").ok());
  std::string msg = EncodeMessage(Message{});
  EXPECT_FALSE(DecodeMessage(msg.substr(0, msg.size() - 1)).ok());
}

TEST(TypesTest, DecodeRejectsUnknownConfChangeType) {
  std::string bytes = EncodeConfChange(ConfChange{});
  bytes[0] = 9;
  EXPECT_FALSE(DecodeConfChange(bytes).ok());
}

}  // namespace
}  // namespace cairn::raft
