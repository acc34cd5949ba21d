// Log lines are single JSON objects with etcd's field names, escaped correctly.
#include "base/log.h"

#include <gtest/gtest.h>

namespace cairn::log {
namespace {

TEST(LogTest, LineIsOneJsonObjectWithLevelTimestampAndMessage) {
  std::string line = Format(Level::kWarn, "disk \"slow\"\n", {{"member", "a"}, {"ms", 12}});
  EXPECT_EQ(line.rfind("{\"level\":\"warn\",\"ts\":\"", 0), 0u) << line;
  EXPECT_NE(line.find("\"msg\":\"disk \\\"slow\\\"\\n\""), std::string::npos) << line;
  EXPECT_NE(line.find(",\"member\":\"a\",\"ms\":12}"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogTest, ControlCharactersAreEscaped) {
  std::string line = Format(Level::kInfo, std::string("a\x01z", 3), {{"ok", true}});
  EXPECT_NE(line.find("a\\u0001z"), std::string::npos) << line;
  EXPECT_NE(line.find("\"ok\":true"), std::string::npos) << line;
}

TEST(LogTest, EtcdLevelNamesParseAndFilter) {
  Level l;
  ASSERT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  ASSERT_TRUE(ParseLevel("fatal", &l));
  EXPECT_EQ(l, Level::kError);
  EXPECT_FALSE(ParseLevel("verbose", &l));
  SetLevel(Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  SetLevel(Level::kInfo);
}

}  // namespace
}  // namespace cairn::log
