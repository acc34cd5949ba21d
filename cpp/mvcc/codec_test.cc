// Tests of the MVCC encodings and checksum against known values.
#include "mvcc/codec.h"

#include <gtest/gtest.h>

#include "mvcc/crc32c.h"

namespace cairn::mvcc {
namespace {

TEST(Crc32cTest, MatchesTheCastagnoliCheckValue) {
  EXPECT_EQ(Crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(Crc32c(0, "1234"), "56789"), 0xE3069283u);
}

TEST(CodecTest, KeyValueIsProtobufWireFormat) {
  KeyValue kv{"k", 2, 3, 1, "v", 0};
  // field 1 "k", 2: 2, 3: 3, 4: 1, 5 "v"; lease 0 omitted.
  EXPECT_EQ(EncodeKeyValue(kv, true), std::string("\x0a\x01k\x10\x02\x18\x03\x20\x01\x2a\x01v"));
  KeyValue back;
  ASSERT_TRUE(DecodeKeyValue(EncodeKeyValue(kv, true), &back).ok());
  EXPECT_EQ(back, kv);
  KeyValue big{"key", 1LL << 40, 300, 7, std::string(1000, 'x'), -5};
  KeyValue back2;
  ASSERT_TRUE(DecodeKeyValue(EncodeKeyValue(big, true), &back2).ok());
  EXPECT_EQ(back2, big);
  EXPECT_FALSE(DecodeKeyValue("\x0a\x05k", &back2).ok());
}

TEST(CodecTest, RevisionKeysAreEtcdsAndSortByRevision) {
  std::string a = RevisionKey({2, 0}, false);
  std::string b = RevisionKey({2, 1}, true);
  std::string c = RevisionKey({10, 0}, false);
  EXPECT_EQ(a.size(), 17u);
  EXPECT_EQ(a[8], '_');
  EXPECT_EQ(b.back(), 't');
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  Revision r;
  bool tomb = false;
  ASSERT_TRUE(ParseRevisionKey(b, &r, &tomb));
  EXPECT_EQ(r, (Revision{2, 1}));
  EXPECT_TRUE(tomb);
}

TEST(CodecTest, IndexKeysGroupAKeysRevisionsInOrder) {
  std::string a1 = IndexKey("a", {5, 0});
  std::string a2 = IndexKey("a", {6, 0});
  std::string a0 = IndexKey(std::string("a\0", 2), {1, 0});
  std::string ab = IndexKey("ab", {1, 0});
  EXPECT_LT(a1, a2);
  EXPECT_LT(a2, a0);
  EXPECT_LT(a0, ab);
  std::string_view prefix;
  Revision r;
  ASSERT_TRUE(SplitIndexKey(a2, &prefix, &r));
  EXPECT_EQ(prefix, IndexKeyPrefix("a"));
  EXPECT_EQ(r, (Revision{6, 0}));
}

}  // namespace
}  // namespace cairn::mvcc
