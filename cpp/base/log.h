// Structured logging: one JSON object a line on stderr, with etcd's field names (level, ts,
// msg), so the tools that read etcd's logs read Cairn's.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace cairn::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses etcd's level names (debug, info, warn, error; panic and fatal log as error).
bool ParseLevel(std::string_view name, Level* out);
void SetLevel(Level level);
bool Enabled(Level level);

struct Field {
  std::string_view key;
  std::variant<std::string_view, int64_t, uint64_t, bool, double> value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  Field(std::string_view k, long v) : key(k), value(int64_t{v}) {}       // NOLINT
  Field(std::string_view k, long long v) : key(k), value(int64_t{v}) {}  // NOLINT
  Field(std::string_view k, unsigned v) : key(k), value(uint64_t{v}) {}
  Field(std::string_view k, unsigned long v) : key(k), value(uint64_t{v}) {}  // NOLINT
  Field(std::string_view k, unsigned long long v)                             // NOLINT
      : key(k), value(uint64_t{v}) {}
};

// Formats one line (without the trailing newline); exposed for tests.
std::string Format(Level level, std::string_view msg, std::initializer_list<Field> fields);
// Writes one line to stderr with a single write, so lines from threads never interleave.
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields);

inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, msg, fields);
}

}  // namespace cairn::log
