// grpc-timeout and grpc-message encoding.
#include "rpc/h2/wire.h"

#include <cstdint>

namespace cairn::rpc::h2 {

std::optional<std::chrono::nanoseconds> ParseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  using std::chrono::nanoseconds;
  // 8 digits of hours overflow nothing in 64-bit nanoseconds only up to ~2562047 hours.
  constexpr int64_t kMaxHours = 2'000'000;
  switch (value.back()) {
    case 'H': return nanoseconds(std::chrono::hours(n > kMaxHours ? kMaxHours : n));
    case 'M': return nanoseconds(std::chrono::minutes(n));
    case 'S': return nanoseconds(std::chrono::seconds(n));
    case 'm': return nanoseconds(std::chrono::milliseconds(n));
    case 'u': return nanoseconds(std::chrono::microseconds(n));
    case 'n': return nanoseconds(n);
    default: return std::nullopt;
  }
}

std::string PercentEncode(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace cairn::rpc::h2
