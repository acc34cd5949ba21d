// Ids match etcd's for the same configuration.
#include "server/ids.h"

#include <gtest/gtest.h>

namespace cairn::server {
namespace {

TEST(IdsTest, DefaultMemberAndClusterIdsAreEtcds) {
  // A default etcd (name default, peer http://localhost:2380, token etcd-cluster) reports
  // member 8e9e05c52164694d in cluster cdf818194e3a8c32.
  Config config;
  uint64_t member = ComputeMemberId(config.initial_advertise_peer_urls, "etcd-cluster");
  EXPECT_EQ(IdToHex(member), "8e9e05c52164694d");
  EXPECT_EQ(IdToHex(ComputeClusterId({member})), "cdf818194e3a8c32");
}

TEST(IdsTest, PeerUrlOrderDoesNotMatterButTheTokenDoes) {
  auto a = *ParseUrls("http://10.0.0.1:2380,http://10.0.0.2:2380");
  auto b = *ParseUrls("http://10.0.0.2:2380,http://10.0.0.1:2380");
  EXPECT_EQ(ComputeMemberId(a, "t"), ComputeMemberId(b, "t"));
  EXPECT_NE(ComputeMemberId(a, "t"), ComputeMemberId(a, "u"));
  EXPECT_EQ(ComputeClusterId({1, 2, 3}), ComputeClusterId({3, 1, 2}));
}

}  // namespace
}  // namespace cairn::server
