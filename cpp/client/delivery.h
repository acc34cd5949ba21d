// What both clients' streams share: a callback that runs one call at a time and never
// after Stop, and the interface Close ends streams through.
#pragma once

#include <mutex>
#include <utility>

#include "base/status.h"

namespace cairn::client {

// A stream that Client::Close ends: its callback gets a last call with `why`.
class Closeable {
 public:
  virtual ~Closeable() = default;
  virtual void End(const Status& why) = 0;
};

// Thread safety: every method may be called from any thread; Stop waits for a running
// callback, so it must not be called from the callback.
template <typename Cb>
class Delivery {
 public:
  explicit Delivery(Cb cb) : cb_(std::move(cb)) {}
  // Runs `call(cb)` unless stopped; a false return stops later deliveries. Returns whether
  // deliveries go on.
  template <typename F>
  bool Deliver(F call) {
    std::lock_guard lock(mu_);
    if (stopped_) return false;
    if (!call(cb_)) stopped_ = true;
    return !stopped_;
  }
  void Stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cb_ = nullptr;
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  bool stopped_ = false;  // guarded by mu_
  Cb cb_;                 // guarded by mu_
};

}  // namespace cairn::client
