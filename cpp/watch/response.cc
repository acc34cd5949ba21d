// Key ranges, response sizes and etcd's fragmenting of large watch responses.
#include "watch/response.h"

#include <utility>

namespace cairn::watch {

KeyRange::KeyRange(std::string key, std::string range_end)
    : key_(std::move(key)), end_(std::move(range_end)) {
  // etcd's v3rpc: an empty key is "\0", the smallest key.
  if (key_.empty()) key_.assign(1, '\0');
  if (end_.empty()) {
    kind_ = Kind::kOne;
  } else if (end_.size() == 1 && end_[0] == '\0') {
    kind_ = Kind::kToEnd;
  } else {
    kind_ = Kind::kBounded;
  }
}

bool KeyRange::Contains(std::string_view k) const {
  switch (kind_) {
    case Kind::kOne: return k == key_;
    case Kind::kToEnd: return k >= key_;
    case Kind::kBounded: return k >= key_ && k < end_;
  }
  return false;
}

namespace {

// Per field: a tag and a length or varint; ints are counted at their widest.
constexpr size_t kIntField = 11;
constexpr size_t kBytesFieldOverhead = 6;
constexpr size_t kHeaderBytes = 4 * kIntField + kBytesFieldOverhead;

size_t KeyValueSize(const mvcc::KeyValue& kv) {
  return 2 * kBytesFieldOverhead + kv.key.size() + kv.value.size() + 4 * kIntField;
}

size_t EventSize(const mvcc::Event& e) {
  size_t n = kBytesFieldOverhead + 2 + kBytesFieldOverhead + KeyValueSize(e.kv);
  if (e.prev_kv.has_value()) n += kBytesFieldOverhead + KeyValueSize(*e.prev_kv);
  return n;
}

size_t BaseSize(const Response& r) {
  return kHeaderBytes + 3 * kIntField + 3 * 2 + kBytesFieldOverhead + r.cancel_reason.size();
}

}  // namespace

size_t EstimateSize(const Response& r) {
  size_t n = BaseSize(r);
  for (const mvcc::Event& e : r.events) n += EventSize(e);
  return n;
}

std::vector<Response> Fragment(Response r, size_t max_request_bytes) {
  std::vector<Response> out;
  if (r.events.size() < 2 || EstimateSize(r) < max_request_bytes) {
    out.push_back(std::move(r));
    return out;
  }
  std::vector<mvcc::Event> events = std::move(r.events);
  r.events.clear();
  const size_t base = BaseSize(r);
  size_t i = 0;
  while (i < events.size()) {
    Response part = r;
    part.fragment = true;
    size_t size = base;
    // As etcd: take events while the part stays under the limit, but always at least one.
    while (i < events.size()) {
      size_t s = EventSize(events[i]);
      if (!part.events.empty() && size + s >= max_request_bytes) break;
      size += s;
      part.events.push_back(std::move(events[i]));
      ++i;
    }
    if (i == events.size()) part.fragment = false;
    out.push_back(std::move(part));
  }
  return out;
}

}  // namespace cairn::watch
