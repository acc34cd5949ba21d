// The indexed binary heap behind the lessor's expiry and checkpoint queues.
#include "lease/deadline_queue.h"

#include <utility>

namespace cairn::lease {

void DeadlineQueue::Place(size_t pos, const Item& item) {
  heap_[pos] = item;
  pos_[item.id] = pos;
}

void DeadlineQueue::SiftUp(size_t pos) {
  Item item = heap_[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!Before(item, heap_[parent])) break;
    Place(pos, heap_[parent]);
    pos = parent;
  }
  Place(pos, item);
}

void DeadlineQueue::SiftDown(size_t pos) {
  Item item = heap_[pos];
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap_[child + 1], heap_[child])) ++child;
    if (!Before(heap_[child], item)) break;
    Place(pos, heap_[child]);
    pos = child;
  }
  Place(pos, item);
}

void DeadlineQueue::Upsert(int64_t id, int64_t deadline_ms) {
  auto it = pos_.find(id);
  if (it == pos_.end()) {
    heap_.push_back({id, deadline_ms});
    pos_[id] = heap_.size() - 1;
    SiftUp(heap_.size() - 1);
    return;
  }
  size_t pos = it->second;
  int64_t old = heap_[pos].deadline_ms;
  heap_[pos].deadline_ms = deadline_ms;
  if (deadline_ms < old) {
    SiftUp(pos);
  } else {
    SiftDown(pos);
  }
}

void DeadlineQueue::Remove(int64_t id) {
  auto it = pos_.find(id);
  if (it == pos_.end()) return;
  size_t pos = it->second;
  pos_.erase(it);
  Item last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;  // it was the last slot
  // The last item fills the hole; it may belong above or below it.
  Place(pos, last);
  if (pos > 0 && Before(last, heap_[(pos - 1) / 2])) {
    SiftUp(pos);
  } else {
    SiftDown(pos);
  }
}

void DeadlineQueue::Clear() {
  heap_.clear();
  pos_.clear();
}

std::optional<int64_t> DeadlineQueue::DeadlineOf(int64_t id) const {
  auto it = pos_.find(id);
  if (it == pos_.end()) return std::nullopt;
  return heap_[it->second].deadline_ms;
}

}  // namespace cairn::lease
