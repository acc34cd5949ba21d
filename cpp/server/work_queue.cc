#include "server/work_queue.h"

#include <pthread.h>

namespace cairn::server {

void NameThisThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

WorkQueue::WorkQueue(const char* name, int threads) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, name] {
      NameThisThread(name);
      Loop();
    });
  }
}

WorkQueue::~WorkQueue() {
  Stop();
}

void WorkQueue::Push(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!stop_) {
      tasks_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  task();
}

void WorkQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WorkQueue::Loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace cairn::server
