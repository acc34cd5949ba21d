// An indexed min-heap of lease ids by deadline: the lessor's expiry and checkpoint queues.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace cairn::lease {

// Holds at most one deadline per id. Moving an id's deadline or removing it costs
// O(log n), so a renewal re-files its lease instead of leaving a stale entry behind, and
// the queue stays proportional to the number of leases however often they are renewed.
// Ties are broken by id, so every member that files the same deadlines pops the same order.
// Thread safety: none; the Lessor guards it with its mutex.
class DeadlineQueue {
 public:
  struct Item {
    int64_t id;
    int64_t deadline_ms;
  };

  // Files `id` at `deadline_ms`, moving it if it is already queued.
  void Upsert(int64_t id, int64_t deadline_ms);
  // Takes `id` out; absent ids are ignored.
  void Remove(int64_t id);
  // The item with the earliest deadline; the queue must not be empty.
  const Item& Top() const { return heap_.front(); }
  void Pop() { Remove(heap_.front().id); }
  void Clear();

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  std::optional<int64_t> DeadlineOf(int64_t id) const;

 private:
  static bool Before(const Item& a, const Item& b) {
    return a.deadline_ms != b.deadline_ms ? a.deadline_ms < b.deadline_ms : a.id < b.id;
  }
  void Place(size_t pos, const Item& item);
  // Moves the item at `pos` towards the root or the leaves until the heap order holds.
  void SiftUp(size_t pos);
  void SiftDown(size_t pos);

  std::vector<Item> heap_;
  std::unordered_map<int64_t, size_t> pos_;  // id -> its index in heap_
};

}  // namespace cairn::lease
