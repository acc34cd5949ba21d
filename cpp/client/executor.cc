// The client's executor thread.
#include "client/executor.h"

#include <utility>

namespace cairn::client {

Executor::Executor() : thread_([this] { Loop(); }) {}

Executor::~Executor() {
  Stop();
}

void Executor::PostAt(Clock::time_point when, std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    tasks_.emplace(std::make_pair(when, seq_++), std::move(fn));
  }
  cv_.notify_one();
}

void Executor::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    tasks_.clear();
  }
  cv_.notify_one();
  if (!thread_.joinable()) return;
  if (OnExecutorThread()) {
    thread_.detach();  // Stopped from one of its own tasks: the loop ends when it returns.
  } else {
    thread_.join();
  }
}

void Executor::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = tasks_.begin();
    const Clock::time_point when = first->first.first;  // Stop may erase the entry meanwhile
    if (when > Clock::now()) {
      cv_.wait_until(lock, when);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    tasks_.erase(first);
    lock.unlock();
    fn();
    fn = nullptr;  // destroy what it captured without the lock
    lock.lock();
  }
}

}  // namespace cairn::client
