// The lessor's two WiredTiger tables: leases by id, and which keys are attached to each.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/db.h"

namespace cairn::lease {

// Checkpointed like the other state tables (log=(enabled=false)): the server's checkpoints
// between applied entries make them durable at the same point as the MVCC tables.
inline constexpr const char* kLeaseTable = "table:lease";           // id -> ttl, remaining
inline constexpr const char* kLeaseKeysTable = "table:lease_keys";  // id + key -> ""

// One lease as stored: what every member agrees on through raft (no expiry: that is the
// leader's own clock).
struct StoredLease {
  int64_t id = 0;
  int64_t ttl = 0;            // seconds, as granted (after raising to the minimum)
  int64_t remaining_ttl = 0;  // seconds at the last checkpoint; 0 when none
};

// Each call is one WiredTiger transaction on a pooled session.
// Thread safety: any thread; concurrent writers to one lease are the caller's concern.
class LeaseStore {
 public:
  // Creates the tables if absent. `db` must outlive the store.
  static Result<LeaseStore> Open(storage::Db* db);

  // Every lease, ordered by id.
  Result<std::vector<StoredLease>> LoadAll() const;
  // Inserts or overwrites the lease's record.
  Status PutLease(const StoredLease& lease) const;
  // Deletes the lease and all its attachments in one transaction; returns the keys that
  // were attached, in byte order.
  Result<std::vector<std::string>> DeleteLease(int64_t id) const;
  Status Attach(int64_t id, std::string_view key) const;
  // Detaching a key that is not attached is not an error.
  Status Detach(int64_t id, std::string_view key) const;
  // The keys attached to `id`, in byte order, read by prefix from the attachments table.
  Result<std::vector<std::string>> Keys(int64_t id) const;

 private:
  explicit LeaseStore(storage::Db* db) : db_(db) {}
  storage::Db* db_;
};

// The 8-byte key of a lease id: big-endian with the sign bit flipped, so byte order is
// numeric order for negative ids too (a client may choose any non-zero id).
std::string EncodeLeaseId(int64_t id);

}  // namespace cairn::lease
