// The lessor's rules: grant and revoke as entries apply, expiry and checkpoints on the
// leader, on two deadline queues so that no call scans every lease except Promote.
#include "lease/lessor.h"

#include <algorithm>
#include <utility>

#include "base/etcd_errors.h"

namespace cairn::lease {

namespace {

constexpr int64_t kMsPerSecond = 1000;

// A positive number of milliseconds in whole seconds, rounded up as etcd rounds the
// remaining TTL it checkpoints.
int64_t CeilSeconds(int64_t ms) {
  return (ms + kMsPerSecond - 1) / kMsPerSecond;
}

LessorOptions Sanitize(LessorOptions o) {
  o.min_ttl_s = std::max<int64_t>(o.min_ttl_s, 1);
  // Both intervals must be positive: the queues re-file an item at now + interval, which
  // must be later than now for the scans to end.
  o.checkpoint_interval_ms = std::max<int64_t>(o.checkpoint_interval_ms, 1);
  o.expired_retry_interval_ms = std::max<int64_t>(o.expired_retry_interval_ms, 1);
  o.revoke_rate_per_s = std::max<int64_t>(o.revoke_rate_per_s, 0);
  return o;
}

}  // namespace

int64_t MinLeaseTTL(int64_t election_ticks, int64_t heartbeat_ms) {
  return CeilSeconds((3 * election_ticks) / 2 * heartbeat_ms);
}

Status LeaseExpiredNotRevoked() {
  return Unavailable("lease: expired, its revoke is in progress");
}

Lessor::Lessor(LeaseStore store, const LessorOptions& options)
    : options_(Sanitize(options)), store_(std::move(store)) {}

Result<std::unique_ptr<Lessor>> Lessor::Open(storage::Db* db, const LessorOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(LeaseStore store, LeaseStore::Open(db));
  CAIRN_ASSIGN_OR_RETURN(std::vector<StoredLease> stored, store.LoadAll());
  std::unique_ptr<Lessor> lessor(new Lessor(std::move(store), options));
  std::lock_guard<std::mutex> lock(lessor->mu_);
  for (const StoredLease& s : stored) {
    LeaseState& l = lessor->leases_[s.id];
    // A minimum raised since the lease was granted applies to it too, as in etcd.
    l.ttl_s = std::max(s.ttl, lessor->options_.min_ttl_s);
    l.remaining_ttl_s = std::max<int64_t>(s.remaining_ttl, 0);
  }
  return lessor;
}

Status Lessor::Grant(int64_t id, int64_t ttl_s, int64_t now_ms) {
  // etcd's lessor refuses id 0 too; here it means the server forgot to choose one.
  if (id == 0) return InvalidArgument("lease: id 0 must be replaced by a chosen id");
  if (ttl_s > kMaxLeaseTTL) return etcd::LeaseTTLTooLarge();
  const int64_t ttl = std::max(ttl_s, options_.min_ttl_s);

  std::lock_guard<std::mutex> write(write_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (leases_.contains(id)) return etcd::LeaseExist();
  }
  CAIRN_RETURN_IF_ERROR(store_.PutLease({.id = id, .ttl = ttl, .remaining_ttl = 0}));
  std::lock_guard<std::mutex> lock(mu_);
  LeaseState& l = leases_[id];
  l.ttl_s = ttl;
  if (leading_) {
    l.expiry_ms = now_ms + ttl * kMsPerSecond;
    expiry_queue_.Upsert(id, l.expiry_ms);
    ScheduleCheckpointLocked(id, ttl, now_ms);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> Lessor::Revoke(int64_t id) {
  std::lock_guard<std::mutex> write(write_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!leases_.contains(id)) return etcd::LeaseNotFound();
  }
  CAIRN_ASSIGN_OR_RETURN(std::vector<std::string> keys, store_.DeleteLease(id));
  std::lock_guard<std::mutex> lock(mu_);
  leases_.erase(id);
  expiry_queue_.Remove(id);
  checkpoint_queue_.Remove(id);
  return keys;
}

Status Lessor::Attach(int64_t id, std::string_view key) {
  std::lock_guard<std::mutex> write(write_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!leases_.contains(id)) return etcd::LeaseNotFound();
  }
  // Only writers remove leases, and write_mu_ keeps them out until this returns.
  return store_.Attach(id, key);
}

Status Lessor::Detach(int64_t id, std::string_view key) {
  std::lock_guard<std::mutex> write(write_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!leases_.contains(id)) return etcd::LeaseNotFound();
  }
  return store_.Detach(id, key);
}

Status Lessor::ApplyCheckpoint(int64_t id, int64_t remaining_ttl_s, int64_t now_ms) {
  std::lock_guard<std::mutex> write(write_mu_);
  StoredLease record{.id = id, .ttl = 0, .remaining_ttl = std::max<int64_t>(remaining_ttl_s, 0)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leases_.find(id);
    if (it == leases_.end()) return Status::Ok();
    record.ttl = it->second.ttl_s;
  }
  CAIRN_RETURN_IF_ERROR(store_.PutLease(record));
  std::lock_guard<std::mutex> lock(mu_);
  LeaseState& l = leases_[id];
  l.remaining_ttl_s = record.remaining_ttl;
  if (!leading_) return Status::Ok();
  // Whatever Renew asked for has been overtaken by a replicated value: decide afresh.
  l.reset_pending = false;
  const int64_t left_s = l.expiry_ms > now_ms ? CeilSeconds(l.expiry_ms - now_ms) : 0;
  if (record.remaining_ttl > 0 && left_s > record.remaining_ttl + 1) {
    // The lease was renewed after this checkpoint was taken (it was in flight when Renew
    // looked): the members now hold a remaining TTL shorter than the truth, which a
    // later leader would cut the lease short to. Correct it at the next Checkpoints call.
    checkpoint_queue_.Upsert(id, now_ms);
  } else {
    ScheduleCheckpointLocked(id, RestartTTL(l), now_ms);
  }
  return Status::Ok();
}

void Lessor::ScheduleCheckpointLocked(int64_t id, int64_t remaining_ttl_s, int64_t now_ms) {
  // A lease with less left than one interval would be revoked or renewed before its
  // checkpoint could matter (etcd's rule).
  if (options_.checkpointing && remaining_ttl_s * kMsPerSecond > options_.checkpoint_interval_ms) {
    checkpoint_queue_.Upsert(id, now_ms + options_.checkpoint_interval_ms);
  } else {
    checkpoint_queue_.Remove(id);
  }
}

void Lessor::Promote(int64_t now_ms, int64_t extend_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  leading_ = true;
  expiry_queue_.Clear();
  checkpoint_queue_.Clear();
  for (auto& [id, l] : leases_) {
    l.expiry_ms = now_ms + extend_ms + RestartTTL(l) * kMsPerSecond;
    l.reset_pending = false;
    ScheduleCheckpointLocked(id, RestartTTL(l), now_ms);
  }
  if (options_.revoke_rate_per_s > 0 &&
      leases_.size() >= static_cast<size_t>(options_.revoke_rate_per_s)) {
    SpreadExpiriesLocked(now_ms);
  }
  for (const auto& [id, l] : leases_) expiry_queue_.Upsert(id, l.expiry_ms);
}

void Lessor::SpreadExpiriesLocked(int64_t now_ms) {
  // etcd's pile-up rule: walking the leases by remaining time, open a one-second window at
  // the first; once more than 3/4 of the revoke rate fall in the current window, push each
  // further lease back by just enough that the window holds no more than that per second.
  // Leases only ever get later, never earlier.
  std::vector<std::pair<int64_t, int64_t>> by_remaining;  // (remaining ms, id)
  by_remaining.reserve(leases_.size());
  for (const auto& [id, l] : leases_) by_remaining.emplace_back(l.expiry_ms - now_ms, id);
  std::sort(by_remaining.begin(), by_remaining.end());
  const int64_t target = std::max<int64_t>(1, 3 * options_.revoke_rate_per_s / 4);
  int64_t base = by_remaining.front().first;
  int64_t next = base + kMsPerSecond;
  int64_t expires = 0;
  for (const auto& [remaining, id] : by_remaining) {
    if (remaining > next) {
      base = remaining;
      next = base + kMsPerSecond;
      expires = 1;
      continue;
    }
    ++expires;
    if (expires <= target) continue;
    const int64_t delay = kMsPerSecond * expires / target - (remaining - base);
    next = base + delay;
    leases_[id].expiry_ms = now_ms + remaining + delay;
  }
}

void Lessor::Demote() {
  std::lock_guard<std::mutex> lock(mu_);
  leading_ = false;
  expiry_queue_.Clear();
  checkpoint_queue_.Clear();
  for (auto& [id, l] : leases_) l.reset_pending = false;
}

bool Lessor::is_leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leading_;
}

Result<RenewResult> Lessor::Renew(int64_t id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!leading_) return etcd::NotLeader();
  auto it = leases_.find(id);
  if (it == leases_.end()) return etcd::LeaseNotFound();
  LeaseState& l = it->second;
  if (l.expiry_ms <= now_ms) return LeaseExpiredNotRevoked();
  l.expiry_ms = now_ms + l.ttl_s * kMsPerSecond;
  expiry_queue_.Upsert(id, l.expiry_ms);
  RenewResult result{.ttl = l.ttl_s, .reset_checkpoint = false};
  if (l.remaining_ttl_s > 0 && !l.reset_pending) {
    result.reset_checkpoint = true;
    l.reset_pending = true;
  }
  // Keep an existing schedule (postponing it on every renewal would starve it); add one
  // if the lease had none, so that a lost reset proposal is corrected by a checkpoint.
  if (!checkpoint_queue_.DeadlineOf(id).has_value()) ScheduleCheckpointLocked(id, l.ttl_s, now_ms);
  return result;
}

std::vector<int64_t> Lessor::ExpiredLeases(int64_t now_ms, size_t limit) {
  std::vector<int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  if (!leading_) return out;
  while (!expiry_queue_.empty() && out.size() < limit) {
    const DeadlineQueue::Item top = expiry_queue_.Top();
    if (top.deadline_ms > now_ms) break;
    auto it = leases_.find(top.id);
    if (it == leases_.end()) {
      expiry_queue_.Pop();
      continue;
    }
    // Look again after the retry interval in case the revoke never makes it (a lost
    // proposal); a revoke or a renewal takes it off or moves it before then.
    expiry_queue_.Upsert(top.id, now_ms + options_.expired_retry_interval_ms);
    if (it->second.expiry_ms <= now_ms) out.push_back(top.id);
  }
  return out;
}

std::vector<LeaseCheckpoint> Lessor::Checkpoints(int64_t now_ms, size_t limit) {
  std::vector<LeaseCheckpoint> out;
  std::lock_guard<std::mutex> lock(mu_);
  if (!leading_ || !options_.checkpointing) return out;
  while (!checkpoint_queue_.empty() && out.size() < limit) {
    const DeadlineQueue::Item top = checkpoint_queue_.Top();
    if (top.deadline_ms > now_ms) break;
    auto it = leases_.find(top.id);
    if (it == leases_.end() || it->second.expiry_ms <= now_ms) {
      // Gone, or expired with its revoke on the way: nothing worth recording.
      checkpoint_queue_.Pop();
      continue;
    }
    const LeaseState& l = it->second;
    const int64_t remaining = CeilSeconds(l.expiry_ms - now_ms);
    if (remaining >= l.ttl_s) {
      // Just renewed: the full TTL is what a new leader would give anyway, so only a
      // stale replicated remaining TTL needs replacing.
      if (l.remaining_ttl_s > 0) out.push_back({.id = top.id, .remaining_ttl = 0});
      ScheduleCheckpointLocked(top.id, l.ttl_s, now_ms);
      continue;
    }
    out.push_back({.id = top.id, .remaining_ttl = remaining});
    // Filed again now rather than when the checkpoint applies, so that a lost proposal
    // does not end this lease's checkpoints.
    ScheduleCheckpointLocked(top.id, remaining, now_ms);
  }
  return out;
}

Result<TimeToLiveResult> Lessor::TimeToLive(int64_t id, int64_t now_ms, bool with_keys) const {
  TimeToLiveResult result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leases_.find(id);
    if (it == leases_.end()) return etcd::LeaseNotFound();
    const LeaseState& l = it->second;
    result.granted_ttl = l.ttl_s;
    if (leading_) {
      result.ttl = std::max<int64_t>(0, (l.expiry_ms - now_ms) / kMsPerSecond);
    } else {
      result.ttl = RestartTTL(l);
    }
  }
  if (with_keys) {
    CAIRN_ASSIGN_OR_RETURN(result.keys, store_.Keys(id));
  }
  return result;
}

std::vector<int64_t> Lessor::Leases() const {
  std::vector<int64_t> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids.reserve(leases_.size());
    for (const auto& [id, l] : leases_) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool Lessor::Exists(int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return leases_.contains(id);
}

}  // namespace cairn::lease
