// GoogleTest printers for events and responses, so a failed comparison reads as data.
#pragma once

#include <ostream>

#include "mvcc/types.h"
#include "watch/response.h"

namespace cairn::mvcc {

inline void PrintTo(const KeyValue& kv, std::ostream* os) {
  *os << "{" << kv.key << "=" << kv.value << " c" << kv.create_revision << " m" << kv.mod_revision
      << " v" << kv.version << "}";
}

inline void PrintTo(const Event& e, std::ostream* os) {
  *os << (e.type == Event::Type::kPut ? "PUT" : "DEL");
  PrintTo(e.kv, os);
  if (e.prev_kv.has_value()) {
    *os << " prev";
    PrintTo(*e.prev_kv, os);
  }
}

}  // namespace cairn::mvcc

namespace cairn::watch {

inline void PrintTo(const Response& r, std::ostream* os) {
  *os << "{id " << r.watch_id << " rev " << r.revision;
  if (r.created) *os << " created";
  if (r.canceled) *os << " canceled(" << r.cancel_reason << ")";
  if (r.compact_revision != 0) *os << " compact " << r.compact_revision;
  if (r.fragment) *os << " fragment";
  for (const mvcc::Event& e : r.events) {
    *os << " ";
    mvcc::PrintTo(e, os);
  }
  *os << "}";
}

}  // namespace cairn::watch
