// Tests of key ranges and of etcd's fragmenting rule.
#include "watch/response.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cairn::watch {
namespace {

using namespace std::string_literals;

TEST(KeyRangeTest, EmptyEndIsOneKey) {
  KeyRange r("a", "");
  EXPECT_TRUE(r.single());
  EXPECT_TRUE(r.Contains("a"));
  EXPECT_FALSE(r.Contains("ab"));
  EXPECT_FALSE(r.Contains(""));
}

TEST(KeyRangeTest, NulEndIsEveryKeyFromKey) {
  KeyRange r("b", "\0"s);
  EXPECT_FALSE(r.single());
  EXPECT_FALSE(r.Contains("a"));
  EXPECT_TRUE(r.Contains("b"));
  EXPECT_TRUE(r.Contains("zzz"));
}

TEST(KeyRangeTest, BoundedIsHalfOpen) {
  KeyRange r("a", "c");
  EXPECT_TRUE(r.Contains("a"));
  EXPECT_TRUE(r.Contains("bzz"));
  EXPECT_FALSE(r.Contains("c"));
  EXPECT_FALSE(r.empty());
  EXPECT_TRUE(KeyRange("c", "a").empty());
  EXPECT_TRUE(KeyRange("a", "a").empty());
}

TEST(KeyRangeTest, EmptyKeyIsTheSmallestKeyAsEtcd) {
  KeyRange all("", "\0"s);
  EXPECT_EQ(all.key(), "\0"s);
  EXPECT_TRUE(all.Contains("\0"s));
  EXPECT_TRUE(all.Contains("a"));
  EXPECT_TRUE(KeyRange::All().Contains("\x01"));
}

mvcc::Event Ev(const std::string& key, size_t value_size) {
  mvcc::Event e;
  e.kv.key = key;
  e.kv.value.assign(value_size, 'v');
  e.kv.mod_revision = 5;
  return e;
}

TEST(FragmentTest, SmallResponseIsNotSplit) {
  Response r;
  r.watch_id = 3;
  r.events = {Ev("a", 10), Ev("b", 10)};
  std::vector<Response> parts = Fragment(r, 100000);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0], r);
}

TEST(FragmentTest, OneEventIsNeverSplitEvenWhenLarge) {
  Response r;
  r.events = {Ev("a", 5000)};
  std::vector<Response> parts = Fragment(r, 100);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_FALSE(parts[0].fragment);
}

TEST(FragmentTest, LargeResponseSplitsWithFragmentOnAllButLast) {
  Response r;
  r.watch_id = 9;
  r.revision = 42;
  for (int i = 0; i < 10; ++i) r.events.push_back(Ev("k" + std::to_string(i), 300));
  const size_t max = 1000;
  std::vector<Response> parts = Fragment(r, max);
  ASSERT_GT(parts.size(), 1u);
  std::vector<mvcc::Event> joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].fragment, i + 1 < parts.size()) << "part " << i;
    EXPECT_EQ(parts[i].watch_id, 9);
    EXPECT_EQ(parts[i].revision, 42);
    ASSERT_FALSE(parts[i].events.empty());
    // Each part is under the limit unless it holds a single event.
    if (parts[i].events.size() > 1) {
      EXPECT_LT(EstimateSize(parts[i]), max);
    }
    for (const auto& e : parts[i].events) joined.push_back(e);
  }
  EXPECT_EQ(joined, r.events);
}

}  // namespace
}  // namespace cairn::watch
