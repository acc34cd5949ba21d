// Order-preserving byte encodings for WiredTiger keys: big-endian integers and escaped
// strings, so that memcmp order of the encoded bytes is the order of the values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::storage {

inline void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline std::string BigEndian64(uint64_t v) {
  std::string s;
  AppendBigEndian64(&s, v);
  return s;
}

// Reads 8 bytes at `bytes`; the caller checks the length.
inline uint64_t ReadBigEndian64(std::string_view bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

// Appends `s` so that a string compares before every string it is a prefix of and before
// anything appended after it: 0x00 becomes 0x00 0xFF and the end is 0x00 0x01.
inline void AppendEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
  out->push_back('\0');
  out->push_back('\x01');
}

// Decodes an escaped string at the start of `in`; returns the bytes consumed, 0 if
// malformed.
inline size_t ReadEscaped(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i + 1 < in.size(); ++i) {
    if (in[i] != '\0') {
      out->push_back(in[i]);
      continue;
    }
    if (in[i + 1] == '\x01') return i + 2;
    if (in[i + 1] != '\xff') return 0;
    out->push_back('\0');
    ++i;
  }
  return 0;
}

}  // namespace cairn::storage
