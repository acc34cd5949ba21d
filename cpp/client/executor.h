// One thread per client that runs callbacks and timers (keep-alive renewals, in-process
// watch deliveries), so no stream holds a thread of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace cairn::client {

// Thread safety: Post and PostAt from any thread; Stop from any thread but the executor's.
class Executor {
 public:
  using Clock = std::chrono::steady_clock;
  Executor();
  ~Executor();  // Stop()
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `fn` on the executor's thread, in order of posting; dropped after Stop.
  void Post(std::function<void()> fn) { PostAt(Clock::time_point::min(), std::move(fn)); }
  void PostAt(Clock::time_point when, std::function<void()> fn);
  // Drops what is pending, waits for the running task and joins the thread. Idempotent.
  void Stop();
  bool OnExecutorThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                                              // guarded by mu_
  uint64_t seq_ = 0;                                                               // guarded by mu_
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> tasks_;  // by mu_
  std::thread thread_;
};

}  // namespace cairn::client
