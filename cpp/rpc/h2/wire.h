// The small text formats of gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md): grpc-timeout and
// the percent-encoding of grpc-message.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::rpc::h2 {

// "1S", "250m", "30000000u": at most 8 digits and one unit of H M S m u n. nullopt when the
// value is malformed.
std::optional<std::chrono::nanoseconds> ParseGrpcTimeout(std::string_view value);

// grpc-message's encoding: bytes outside printable ASCII, and '%', become %XX.
std::string PercentEncode(std::string_view message);

}  // namespace cairn::rpc::h2
