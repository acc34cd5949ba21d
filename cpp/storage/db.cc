// Opening the database: connection configuration, the schema, and the session pool.
#include "storage/db.h"

#include <string>

namespace cairn::storage {

namespace {

struct TableSpec {
  const char* uri;
  bool journaled;
};

constexpr TableSpec kTables[] = {
    {kRaftLogTable, true},    {kRaftStateTable, true},    {kMvccRevTable, false},
    {kMvccIndexTable, false}, {kMvccCurrentTable, false}, {kMetaTable, false},
};

}  // namespace

PooledSession::~PooledSession() {
  if (session_ != nullptr) db_->Release(std::move(session_));
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& dir, const DbOptions& options) {
  // The journal is on for the connection and off per table for the state; archive removes
  // journal files a checkpoint made unnecessary. Commits sync only when asked ("sync=on"),
  // which the raft log store does once per batch.
  //
  // Eviction writes dirty pages from 20% of the cache on and makes writers help from 50%.
  // WiredTiger's defaults (5%, 20%) had its threads write each page that random puts touch
  // after a few changes, and writers read it back: twice the writer's own CPU per put
  // (bench_mvcc). Checkpoints write what stays dirty, once per page.
  std::string config = "create,cache_size=" + std::to_string(options.cache_size_mb) +
                       "MB,log=(enabled=true,archive=true,file_max=16MB),session_max=256,"
                       "transaction_sync=(enabled=false),"
                       "eviction_dirty_target=20,eviction_dirty_trigger=50";
  if (options.checkpoint_interval_s > 0) {
    config += ",checkpoint=(wait=" + std::to_string(options.checkpoint_interval_s) + ")";
  }
  if (!options.extra_config.empty()) config += "," + options.extra_config;
  CAIRN_ASSIGN_OR_RETURN(auto conn, Connection::Open(dir, config));
  std::unique_ptr<Db> db(new Db(std::move(conn)));
  CAIRN_ASSIGN_OR_RETURN(auto session, db->OpenSession());
  for (const TableSpec& t : kTables) {
    std::string table_config = "key_format=u,value_format=u,log=(enabled=";
    table_config += t.journaled ? "true)" : "false)";
    int ret = session->get()->create(session->get(), t.uri, table_config.c_str());
    if (ret != 0) return WtError(ret, std::string("create ") + t.uri);
  }
  return db;
}

Db::~Db() {
  idle_.clear();  // sessions close before their connection
  conn_.reset();
}

Result<PooledSession> Db::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Session> s = std::move(idle_.back());
      idle_.pop_back();
      return PooledSession(this, std::move(s));
    }
  }
  CAIRN_ASSIGN_OR_RETURN(auto session, OpenSession());
  return PooledSession(this, std::move(session));
}

Result<std::unique_ptr<Session>> Db::OpenSession() {
  return conn_->OpenSession("isolation=snapshot");
}

void Db::Release(std::unique_ptr<Session> session) {
  if (session->in_transaction()) session->Rollback().IgnoreError();
  session->get()->reset(session->get());
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(session));
}

Status Db::Checkpoint() {
  CAIRN_ASSIGN_OR_RETURN(auto session, Acquire());
  int ret = session->get()->checkpoint(session->get(), nullptr);
  if (ret != 0) return WtError(ret, "checkpoint");
  return Status::Ok();
}

Status Db::Defragment() {
  CAIRN_ASSIGN_OR_RETURN(auto session, Acquire());
  for (const TableSpec& t : kTables) {
    int ret = session->get()->compact(session->get(), t.uri, nullptr);
    if (ret != 0) return WtError(ret, std::string("compact ") + t.uri);
  }
  return Status::Ok();
}

}  // namespace cairn::storage
