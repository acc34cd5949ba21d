#include "server/idle_poller.h"

#include <sched.h>

#include "server/work_queue.h"

namespace cairn::server {
namespace {

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

IdlePoller::IdlePoller(std::chrono::microseconds linger) : linger_(linger) {
  thread_ = std::thread([this] {
    NameThisThread("cairn-idlepoll");
    sched_param param{};
    // Lowering one's own priority needs no privilege; if it fails anyway, spinning at
    // normal priority would compete with real work, so the poller does nothing.
    if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) return;
    Loop();
  });
}

IdlePoller::~IdlePoller() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void IdlePoller::Begin() {
  if (active_.fetch_add(1, std::memory_order_acq_rel) == 0) {
    std::lock_guard lock(mu_);
    if (sleeping_) cv_.notify_one();
  }
}

void IdlePoller::End() {
  last_end_ns_.store(NowNs(), std::memory_order_relaxed);
  active_.fetch_sub(1, std::memory_order_acq_rel);
}

void IdlePoller::Loop() {
  const int64_t linger_ns = std::chrono::nanoseconds(linger_).count();
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    while (active_.load(std::memory_order_acquire) > 0 ||
           NowNs() - last_end_ns_.load(std::memory_order_relaxed) < linger_ns) {
      // A normal thread that wakes on this core preempts the poller at once (SCHED_IDLE);
      // pause spares the core's hyperthread sibling, which a busy loop would slow.
      for (int i = 0; i < 64; ++i) CpuRelax();
    }
    lock.lock();
    sleeping_ = true;
    cv_.wait(lock, [&] { return stop_ || active_.load(std::memory_order_acquire) > 0; });
    sleeping_ = false;
  }
}

}  // namespace cairn::server
