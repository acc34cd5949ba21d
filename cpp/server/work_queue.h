// A few threads that run queued tasks. With one thread, tasks run in the order queued.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cairn::server {

// Names the calling thread (as top and perf show it): 15 characters at most.
void NameThisThread(const char* name);

// Thread safety: Push and Stop may be called from any thread.
class WorkQueue {
 public:
  // `name` names the threads (see NameThisThread).
  WorkQueue(const char* name, int threads);
  // Stops as Stop() does.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `task`. After Stop, runs it on the caller's thread: nothing queued is dropped.
  void Push(std::function<void()> task);
  // Runs every task queued so far, then joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                        // guarded by mu_
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace cairn::server
