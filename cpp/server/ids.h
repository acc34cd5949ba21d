// Member and cluster ids derived as etcd derives them, so a cluster bootstrapped from the
// same --initial-cluster and --initial-cluster-token gets the same ids under Cairn and etcd.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/config.h"

namespace cairn::server {

// etcd's member id: the first 8 bytes (big-endian) of SHA-1 over the member's peer URLs,
// sorted and concatenated, followed by the cluster token.
uint64_t ComputeMemberId(const std::vector<Url>& peer_urls, const std::string& token);
// etcd's cluster id: the first 8 bytes of SHA-1 over the sorted member ids, each 8 bytes
// big-endian.
uint64_t ComputeClusterId(std::vector<uint64_t> member_ids);
// Lower-case hex without leading zeros, as etcd prints ids.
std::string IdToHex(uint64_t id);

}  // namespace cairn::server
