// CRC-32C (Castagnoli), the checksum etcd's Hash and HashKV use.
#pragma once

#include <cstdint>
#include <string_view>

namespace cairn::mvcc {

// Extends `crc` (0 to start) with `data`; Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b).
uint32_t Crc32c(uint32_t crc, std::string_view data);

}  // namespace cairn::mvcc
