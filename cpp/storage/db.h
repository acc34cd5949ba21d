// One member's WiredTiger database: the schema of every table and a pool of sessions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/wt.h"

namespace cairn::storage {

// Journaled tables (log=(enabled=true)): durable at commit when committed with sync.
inline constexpr const char* kRaftLogTable = "table:raft_log";      // index -> entry
inline constexpr const char* kRaftStateTable = "table:raft_state";  // name -> record
// Checkpointed tables (log=(enabled=false)): after a crash they are as of the last
// checkpoint, and the applied index in kMetaTable says where raft replay must start.
inline constexpr const char* kMvccRevTable = "table:mvcc_rev";          // revision -> kv
inline constexpr const char* kMvccIndexTable = "table:mvcc_index";      // key+rev -> kind
inline constexpr const char* kMvccCurrentTable = "table:mvcc_current";  // key -> latest kv
inline constexpr const char* kMetaTable = "table:meta";                 // name -> value

struct DbOptions {
  // WiredTiger's cache: the bound on the memory the data takes.
  uint64_t cache_size_mb = 256;
  // Seconds between background checkpoints; 0 leaves checkpoints to the caller.
  int checkpoint_interval_s = 60;
  // More wiredtiger_open settings, appended last so they win (e.g. eviction tuning).
  std::string extra_config;
};

class Db;

// A session borrowed from the pool; returned (reset) when this goes out of scope.
class PooledSession {
 public:
  PooledSession(Db* db, std::unique_ptr<Session> session) : db_(db), session_(std::move(session)) {}
  PooledSession(PooledSession&&) = default;
  PooledSession& operator=(PooledSession&&) = delete;
  PooledSession(const PooledSession&) = delete;
  ~PooledSession();

  Session* operator->() const { return session_.get(); }
  Session* get() const { return session_.get(); }

 private:
  Db* db_;
  std::unique_ptr<Session> session_;
};

// Thread safety: Open/close from one thread; Acquire and Checkpoint from any thread.
class Db {
 public:
  // Opens (creating if absent) the database in directory `dir`, which must exist, and
  // creates any missing table. Reads no data.
  static Result<std::unique_ptr<Db>> Open(const std::string& dir, const DbOptions& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // A session for the calling thread until the PooledSession is dropped.
  Result<PooledSession> Acquire();
  // A session owned by the caller (for a long-lived thread such as the writer).
  Result<std::unique_ptr<Session>> OpenSession();
  // Makes every committed change to the checkpointed tables durable.
  Status Checkpoint();
  // Returns free space inside the table files to the file system (etcd's Defragment),
  // online: WiredTiger compacts while reads and writes go on.
  Status Defragment();

  Connection* connection() const { return conn_.get(); }

 private:
  friend class PooledSession;
  explicit Db(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
  void Release(std::unique_ptr<Session> session);

  std::unique_ptr<Connection> conn_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Session>> idle_;  // guarded by mu_
};

}  // namespace cairn::storage
