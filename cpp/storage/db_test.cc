// Tests of the WiredTiger wrappers and the schema: encodings, cursors, isolation.
#include "storage/db.h"

#include <gtest/gtest.h>

#include <string>

#include "storage/encoding.h"
#include "storage/test_dir.h"

namespace cairn::storage {
namespace {

TEST(EncodingTest, EscapedStringsSortLikeTheStringsThenBySuffix) {
  // Pairs (a, b) with a < b as byte strings; with any suffix, escaped(a)+x < escaped(b)+y.
  using namespace std::string_literals;
  const std::string cases[][2] = {{""s, "a"s},        {"a"s, "a\0"s}, {"a\0"s, "a\0\0"s},
                                  {"a\0"s, "a\x01"s}, {"ab"s, "b"s},  {"a"s, "ab"s}};
  for (const auto& c : cases) {
    std::string a, b;
    AppendEscaped(&a, c[0]);
    a += "\xff\xff";
    AppendEscaped(&b, c[1]);
    b += std::string(2, '\0');
    EXPECT_LT(a, b) << "'" << c[0] << "' vs '" << c[1] << "'";
    std::string decoded;
    EXPECT_EQ(ReadEscaped(b, &decoded), b.size() - 2);
    EXPECT_EQ(decoded, c[1]);
  }
  EXPECT_LT(BigEndian64(255), BigEndian64(256));
  EXPECT_EQ(ReadBigEndian64(BigEndian64(0x0102030405060708)), 0x0102030405060708u);
}

TEST(DbTest, ReopenKeepsCheckpointedAndJournaledData) {
  TempDir dir;
  DbOptions options;
  options.checkpoint_interval_s = 0;
  {
    auto db = Db::Open(dir.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto s = (*db)->Acquire();
    ASSERT_TRUE(s.ok());
    auto txn = Transaction::Begin(s->get());
    ASSERT_TRUE(txn.ok());
    auto meta = (*s)->OpenCursor(kMetaTable);
    ASSERT_TRUE(meta.ok());
    ASSERT_TRUE(meta->Put("k", "v").ok());
    ASSERT_TRUE(txn->Commit().ok());
    ASSERT_TRUE((*db)->Checkpoint().ok());
  }
  auto db = Db::Open(dir.path(), options);
  ASSERT_TRUE(db.ok());
  auto s = (*db)->Acquire();
  ASSERT_TRUE(s.ok());
  auto meta = (*s)->OpenCursor(kMetaTable);
  ASSERT_TRUE(meta.ok());
  auto found = meta->Find("k");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(*found);
  EXPECT_EQ(meta->value(), "v");
}

TEST(DbTest, ASnapshotReaderDoesNotSeeLaterCommits) {
  TempDir dir;
  auto db = Db::Open(dir.path(), DbOptions{});
  ASSERT_TRUE(db.ok());
  auto reader = (*db)->Acquire();
  auto writer = (*db)->Acquire();
  ASSERT_TRUE(reader.ok() && writer.ok());
  auto rtxn = Transaction::Begin(reader->get());
  ASSERT_TRUE(rtxn.ok());
  auto rc = (*reader)->OpenCursor(kMetaTable);
  ASSERT_TRUE(rc.ok());
  auto before = rc->Find("x");  // the snapshot is taken at the first read
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(*before);
  {
    auto wtxn = Transaction::Begin(writer->get());
    ASSERT_TRUE(wtxn.ok());
    auto wc = (*writer)->OpenCursor(kMetaTable);
    ASSERT_TRUE(wc.ok());
    ASSERT_TRUE(wc->Put("x", "1").ok());
    ASSERT_TRUE(wtxn->Commit().ok());
  }
  auto after = rc->Find("x");
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(*after);
  rc->Reset();
  ASSERT_TRUE(rtxn->Commit().ok());
  auto again = rc->Find("x");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again);
}

TEST(DbTest, DefragmentRunsOnEveryTableWhileSessionsAreOpen) {
  TempDir dir;
  auto db = Db::Open(dir.path(), DbOptions{});
  ASSERT_TRUE(db.ok());
  auto s = (*db)->Acquire();
  ASSERT_TRUE(s.ok());
  auto c = (*s)->OpenCursor(kMvccRevTable);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(c->Put(BigEndian64(i), std::string(100, 'x')).ok());
  for (int i = 0; i < 1000; i += 2) ASSERT_TRUE(c->Delete(BigEndian64(i)).ok());
  ASSERT_TRUE((*db)->Checkpoint().ok());
  EXPECT_TRUE((*db)->Defragment().ok());
  auto found = c->Find(BigEndian64(1));
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(*found);
}

TEST(DbTest, CursorSeeksFindNeighbours) {
  TempDir dir;
  auto db = Db::Open(dir.path(), DbOptions{});
  ASSERT_TRUE(db.ok());
  auto s = (*db)->Acquire();
  ASSERT_TRUE(s.ok());
  auto c = (*s)->OpenCursor(kMetaTable);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->Put("b", "1").ok());
  ASSERT_TRUE(c->Put("d", "2").ok());
  auto r = c->SeekGE("c");
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(c->key(), "d");
  r = c->SeekLE("c");
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(c->key(), "b");
  r = c->SeekGE("e");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  r = c->SeekLE("a");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

}  // namespace
}  // namespace cairn::storage
