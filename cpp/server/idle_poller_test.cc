// The idle poller spins only at SCHED_IDLE priority, only while a write is in flight (and
// its linger), and sleeps otherwise.
#include "server/idle_poller.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cairn::server {
namespace {

using Clock = std::chrono::steady_clock;

// The poller's thread id, found by its name.
pid_t PollerTid() {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name == "cairn-idlepoll") return std::stoi(task.path().filename().string());
  }
  return 0;
}

struct TaskStat {
  char state = '?';
  long cpu_ticks = 0;  // user + system
};

TaskStat ReadStat(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The fields after the name, which is in parentheses: state is the first, utime and
  // stime the 12th and 13th.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  TaskStat st;
  std::string field;
  rest >> st.state;
  for (int i = 2; i <= 13 && rest >> field; ++i) {
    if (i >= 12) st.cpu_ticks += std::stol(field);
  }
  return st;
}

// Polls `cond` until it holds or a generous deadline passes.
template <typename Fn>
bool Eventually(Fn cond) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(IdlePollerTest, SpinsAtIdlePriorityWhileAWriteIsInFlightAndSleepsAfter) {
  IdlePoller poller(std::chrono::milliseconds(1));
  pid_t tid = 0;
  ASSERT_TRUE(Eventually([&] {
    tid = PollerTid();
    return tid != 0 && sched_getscheduler(tid) == SCHED_IDLE;
  })) << "no poller thread at SCHED_IDLE";
  // Nothing in flight: it sleeps.
  ASSERT_TRUE(Eventually([&] { return ReadStat(tid).state == 'S'; }));

  poller.Begin();
  const long before = ReadStat(tid).cpu_ticks;
  EXPECT_TRUE(Eventually([&] { return ReadStat(tid).cpu_ticks >= before + 2; }))
      << "the poller does not run while a write is in flight";
  poller.End();

  // After its linger it sleeps: the same ticks, asleep, twice 100 ms apart.
  EXPECT_TRUE(Eventually([&] {
    TaskStat a = ReadStat(tid);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    TaskStat b = ReadStat(tid);
    return a.state == 'S' && b.state == 'S' && a.cpu_ticks == b.cpu_ticks;
  })) << "the poller goes on spinning with nothing in flight";
}

TEST(IdlePollerTest, NestedScopesKeepItAwakeUntilTheLastEnds) {
  IdlePoller poller(std::chrono::milliseconds(0));
  {
    IdlePollScope a(&poller);
    IdlePollScope b(&poller);
  }
  IdlePollScope none(nullptr);  // no poller: nothing to do
  // Destruction joins the thread: it must not hang whatever state the poller is in.
}

}  // namespace
}  // namespace cairn::server
