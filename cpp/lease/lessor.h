// The lessor: etcd's leases (grant, revoke, keys attached, keepalive, leader-only expiry,
// checkpoints of the remaining TTL), deterministic and clock-free, kept on WiredTiger.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "lease/deadline_queue.h"
#include "lease/lease_store.h"
#include "storage/db.h"

namespace cairn::lease {

// etcd's MaxLeaseTTL, in seconds.
inline constexpr int64_t kMaxLeaseTTL = 9'000'000'000;

// etcd's minimum TTL: ceil(((3 * election_ticks) / 2) * heartbeat_ms / 1000) seconds, so
// a lease outlives the election that a leader change may take (integer halving as etcd).
int64_t MinLeaseTTL(int64_t election_ticks, int64_t heartbeat_ms);

struct LessorOptions {
  // Shorter TTLs are raised to this (also for leases loaded from disk, as etcd); >= 1.
  int64_t min_ttl_s = 1;
  // Lease checkpointing (etcd's --experimental-enable-lease-checkpoint, with persist).
  bool checkpointing = true;
  // How often the leader checkpoints each lease's remaining TTL (etcd: 5 min).
  int64_t checkpoint_interval_ms = 5 * 60 * 1000;
  // How long before an expired lease that is still not revoked is handed out again
  // (etcd's expiredLeaseRetryInterval: 3 s). At least 1 ms.
  int64_t expired_retry_interval_ms = 3000;
  // etcd's leaseRevokeRate: Promote spreads leases that would expire in one pile so that
  // at most 3/4 of this many expire per second. 0 turns the spreading off.
  int64_t revoke_rate_per_s = 1000;
};

// Renew's answer.
struct RenewResult {
  int64_t ttl = 0;  // the granted TTL, as etcd's keepalive answers
  // The lease had a checkpointed remaining TTL: propose ApplyCheckpoint(id, 0) through
  // raft so that every member forgets it, or a later leader would cut the renewed lease
  // short. Set once per lease until that checkpoint is applied or leadership changes.
  bool reset_checkpoint = false;
};

struct TimeToLiveResult {
  int64_t granted_ttl = 0;  // seconds
  // Seconds left, truncated as etcd's int64(Remaining().Seconds()) and never below 0 (an
  // expired lease waiting for its revoke reads 0, not -1, which clients read as missing).
  // Off the leader no expiry runs: this is the checkpointed remaining TTL, else the TTL,
  // an estimate; the server forwards TimeToLive to the leader as etcd does.
  int64_t ttl = 0;
  std::vector<std::string> keys;  // byte order; only when asked for
};

struct LeaseCheckpoint {
  int64_t id = 0;
  int64_t remaining_ttl = 0;  // seconds, rounded up
};

// Renew of a lease whose expiry has passed while its revoke is still on its way through
// raft. etcd's keepalive waits for the revoke (then answers "lease not found") or for a
// leader change (then retries on the new leader); the server does the waiting. Unavailable
// so that a client that sees it anyway retries.
Status LeaseExpiredNotRevoked();

// Time: every call that depends on it takes `now_ms`, milliseconds on one monotonic clock
// chosen by the caller (std::chrono::steady_clock in the server, a counter in tests); the
// lessor never reads a clock. Expiry runs only between Promote and Demote.
//
// Replicated state (on every member, changed only by the apply thread as entries apply):
// Grant, Revoke, Attach, Detach, ApplyCheckpoint. Each writes through to the lease tables
// in its own WiredTiger transaction before it changes memory, so an error leaves both as
// they were. Memory holds one record per lease; attached keys stay on disk.
//
// Leader state (this member only): Promote, Demote, Renew, ExpiredLeases, Checkpoints.
// They touch no table: a renewal reaches the other members only through the checkpoint
// Renew asks for, and an expiry only through the revoke the server proposes.
//
// Thread safety: every method may be called from any thread. One mutex guards the
// in-memory state and is never held across WiredTiger I/O; a second mutex serializes the
// replicated-state writers (Grant, Revoke, Attach, Detach, ApplyCheckpoint) across their
// I/O, so the reads (Renew, TimeToLive, Leases, ExpiredLeases, Checkpoints) never wait on
// a disk. The Db must outlive the Lessor.
class Lessor {
 public:
  // Creates the lease tables if absent and loads every lease (not the attached keys).
  // A loaded lease keeps its checkpointed remaining TTL and starts without expiry.
  static Result<std::unique_ptr<Lessor>> Open(storage::Db* db, const LessorOptions& options);

  Lessor(const Lessor&) = delete;
  Lessor& operator=(const Lessor&) = delete;

  // --- Replicated state: the apply thread, in log order. ---

  // Grants lease `id` (never 0: the server picks the id before proposing) with
  // `ttl_s` raised to the minimum. LeaseTTLTooLarge above kMaxLeaseTTL, LeaseExist for an
  // id in use. On the leader its expiry is now_ms + TTL.
  Status Grant(int64_t id, int64_t ttl_s, int64_t now_ms);
  // Forgets the lease and its attachments; returns the keys that were attached, in byte
  // order, for the server to delete in one revision. LeaseNotFound if absent.
  Result<std::vector<std::string>> Revoke(int64_t id);
  // Records that `key` is put with lease `id` (idempotent). LeaseNotFound if absent.
  Status Attach(int64_t id, std::string_view key);
  // Records that `key` left lease `id` (deleted, or put with another lease).
  // LeaseNotFound if the lease is absent; a key not attached is not an error.
  Status Detach(int64_t id, std::string_view key);
  // Records a checkpointed remaining TTL (0: none, the full TTL counts again). A lease
  // that is gone is ignored, as etcd does, since a revoke may overtake a checkpoint.
  Status ApplyCheckpoint(int64_t id, int64_t remaining_ttl_s, int64_t now_ms);

  // --- Leader state. ---

  // This member leads from now on: every lease expires at now_ms + extend_ms + its
  // checkpointed remaining TTL (its TTL if none), spread as etcd does when many would
  // expire at once, and checkpoints are scheduled. etcd calls it on the apply thread when
  // it applies the empty entry that opens its term as leader, so that every earlier grant
  // and checkpoint has applied, with extend = the election timeout.
  void Promote(int64_t now_ms, int64_t extend_ms);
  // This member no longer leads: no lease expires, nothing is handed out.
  void Demote();
  bool is_leader() const;

  // Keepalive: the lease expires at now_ms + TTL; returns the TTL. etcd::NotLeader() off
  // the leader (the server forwards), LeaseNotFound if absent, LeaseExpiredNotRevoked()
  // once its expiry has passed.
  Result<RenewResult> Renew(int64_t id, int64_t now_ms);
  // Up to `limit` leases whose expiry is <= now_ms, earliest first, for the server to
  // revoke through raft. A lease handed out is not handed out again for
  // expired_retry_interval_ms, and then again each interval until revoked or renewed.
  // Empty off the leader.
  std::vector<int64_t> ExpiredLeases(int64_t now_ms, size_t limit);
  // Up to `limit` (id, remaining TTL) pairs whose checkpoint is due, for the server to
  // propose in one entry. Each lease is due checkpoint_interval_ms after it was granted,
  // promoted or last checkpointed, if its remaining TTL is longer than that interval.
  // Empty off the leader or with checkpointing off.
  std::vector<LeaseCheckpoint> Checkpoints(int64_t now_ms, size_t limit);

  // --- Reads. ---

  // LeaseNotFound if absent: the server answers etcd's TTL -1 (etcd does it in its gRPC
  // layer too, so the lessor keeps the error an error).
  Result<TimeToLiveResult> TimeToLive(int64_t id, int64_t now_ms, bool with_keys) const;
  // Every lease id, ascending.
  std::vector<int64_t> Leases() const;
  // Whether lease `id` exists: the apply thread checks it before a put with a lease.
  bool Exists(int64_t id) const;

 private:
  struct LeaseState {
    int64_t ttl_s = 0;
    int64_t remaining_ttl_s = 0;  // checkpointed; 0 when none
    // Leader only: when it expires. Meaningless while not leading.
    int64_t expiry_ms = 0;
    // Leader only: Renew asked for a reset checkpoint that has not been applied yet.
    bool reset_pending = false;
  };

  Lessor(LeaseStore store, const LessorOptions& options);

  // The TTL a lease restarts from on Promote: the checkpointed one, else the full one.
  static int64_t RestartTTL(const LeaseState& l) {
    return l.remaining_ttl_s > 0 ? l.remaining_ttl_s : l.ttl_s;
  }
  // Files the lease's next checkpoint if its remaining TTL (in seconds) is longer than
  // the interval, else takes it off the checkpoint queue. Requires mu_ and leading.
  void ScheduleCheckpointLocked(int64_t id, int64_t remaining_ttl_s, int64_t now_ms);
  // Spreads piled-up expiries after Promote. Requires mu_.
  void SpreadExpiriesLocked(int64_t now_ms);

  const LessorOptions options_;
  const LeaseStore store_;

  // Serializes the writers of replicated state across their I/O; taken before mu_.
  std::mutex write_mu_;

  mutable std::mutex mu_;
  std::unordered_map<int64_t, LeaseState> leases_;  // guarded by mu_
  bool leading_ = false;                            // guarded by mu_
  DeadlineQueue expiry_queue_;                      // guarded by mu_; leader only
  DeadlineQueue checkpoint_queue_;                  // guarded by mu_; leader only
};

}  // namespace cairn::lease
