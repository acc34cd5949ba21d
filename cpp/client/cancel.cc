// Cancellation tokens.
#include <utility>
#include <vector>

#include "client/client.h"

namespace cairn::client {

Status CancelledStatus() {
  return Cancelled("context canceled");
}

void CancelToken::Cancel() {
  std::lock_guard run(run_mu_);
  std::map<uint64_t, std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    hooks = hooks_;
  }
  for (auto& [id, fn] : hooks) fn();
}

bool CancelToken::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

uint64_t CancelToken::Add(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (!cancelled_) {
      hooks_.emplace(++next_id_, std::move(fn));
      return next_id_;
    }
  }
  fn();
  return 0;
}

void CancelToken::Remove(uint64_t id) {
  if (id == 0) return;
  {
    std::lock_guard lock(mu_);
    hooks_.erase(id);
  }
  // Cancel holds run_mu_ while hooks run: taking it waits for a running hook to return.
  std::lock_guard run(run_mu_);
}

CancelScope::CancelScope(CancelToken* token, std::function<void()> fn) : token_(token) {
  if (token_ != nullptr) id_ = token_->Add(std::move(fn));
}

CancelScope::~CancelScope() {
  if (token_ != nullptr) token_->Remove(id_);
}

}  // namespace cairn::client
