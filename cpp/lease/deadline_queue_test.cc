// Tests of the indexed deadline heap against a sorted model.
#include "lease/deadline_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace cairn::lease {
namespace {

std::vector<std::pair<int64_t, int64_t>> Drain(DeadlineQueue* q) {
  std::vector<std::pair<int64_t, int64_t>> out;  // (deadline, id)
  while (!q->empty()) {
    out.emplace_back(q->Top().deadline_ms, q->Top().id);
    q->Pop();
  }
  return out;
}

TEST(DeadlineQueueTest, PopsByDeadlineThenIdAndKeepsOneEntryPerId) {
  DeadlineQueue q;
  q.Upsert(7, 300);
  q.Upsert(3, 100);
  q.Upsert(5, 100);
  q.Upsert(7, 50);   // moved earlier, not added twice
  q.Upsert(3, 400);  // moved later
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.DeadlineOf(3), 400);
  EXPECT_EQ(q.DeadlineOf(9), std::nullopt);
  q.Remove(9);  // absent: ignored
  std::vector<std::pair<int64_t, int64_t>> want = {{50, 7}, {100, 5}, {400, 3}};
  EXPECT_EQ(Drain(&q), want);
}

TEST(DeadlineQueueTest, RandomUpsertsAndRemovesMatchASortedModel) {
  const uint32_t seed = 20261124;
  std::mt19937 rng(seed);
  DeadlineQueue q;
  std::map<int64_t, int64_t> model;  // id -> deadline
  for (int step = 0; step < 20000; ++step) {
    int64_t id = static_cast<int64_t>(rng() % 200) - 100;
    switch (rng() % 4) {
      case 0:
        q.Remove(id);
        model.erase(id);
        break;
      case 1:
        if (!q.empty()) {
          int64_t top = q.Top().id;
          q.Pop();
          model.erase(top);
        }
        break;
      default: {
        int64_t deadline = static_cast<int64_t>(rng() % 1000);
        q.Upsert(id, deadline);
        model[id] = deadline;
      }
    }
    ASSERT_EQ(q.size(), model.size()) << "seed " << seed << " step " << step;
    if (!model.empty()) {
      std::pair<int64_t, int64_t> least{INT64_MAX, INT64_MAX};
      for (const auto& [mid, d] : model) least = std::min(least, std::make_pair(d, mid));
      ASSERT_EQ(q.Top().deadline_ms, least.first) << "seed " << seed << " step " << step;
      ASSERT_EQ(q.Top().id, least.second) << "seed " << seed << " step " << step;
    }
  }
  std::vector<std::pair<int64_t, int64_t>> want;
  for (const auto& [id, d] : model) want.emplace_back(d, id);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Drain(&q), want);
}

}  // namespace
}  // namespace cairn::lease
