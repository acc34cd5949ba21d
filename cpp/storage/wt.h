// RAII handles over WiredTiger's C API (connection, session, cursor, transaction).
//
// WiredTiger's rules that shape these wrappers: a WT_SESSION and its cursors belong to one
// thread at a time; the bytes a cursor returns are borrowed and live only until the cursor
// moves, is reset or closed; keys and values set on a cursor must stay alive until the
// operation that uses them returns. All tables here use raw byte keys and values
// (key_format=u, value_format=u) with our own order-preserving encodings.
#pragma once

#include <wiredtiger.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cairn::storage {

// Maps a WiredTiger return code to a Status naming the operation.
Status WtError(int ret, std::string_view what);

// One open cursor. Thread safety: that of the session it came from.
class Cursor {
 public:
  Cursor() = default;
  explicit Cursor(WT_CURSOR* cursor) : cursor_(cursor) {}
  ~Cursor() { Close(); }
  Cursor(Cursor&& other) noexcept : cursor_(other.cursor_) { other.cursor_ = nullptr; }
  Cursor& operator=(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Positions on exactly `key`: true if found, false if absent.
  Result<bool> Find(std::string_view key);
  // Positions on the smallest key >= `key`: false if there is none.
  Result<bool> SeekGE(std::string_view key);
  // Positions on the largest key <= `key`: false if there is none.
  Result<bool> SeekLE(std::string_view key);
  // Moves on; false at the end. A reset cursor starts at the first (last) record.
  Result<bool> Next();
  Result<bool> Prev();
  // Borrowed views of the record under the cursor, valid until the cursor moves.
  std::string_view key() const;
  std::string_view value() const;

  Status Put(std::string_view key, std::string_view value);
  // Removes `key`; removing an absent key is not an error.
  Status Delete(std::string_view key);
  // Releases the position (and the page it pins).
  void Reset();

  WT_CURSOR* get() const { return cursor_; }

 private:
  void Close();
  void SetKey(std::string_view key);

  WT_CURSOR* cursor_ = nullptr;
};

// One WiredTiger session. Thread safety: one thread at a time, with its cursors.
class Session {
 public:
  explicit Session(WT_SESSION* session) : session_(session) {}
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Result<Cursor> OpenCursor(const char* uri, const char* config = nullptr);
  Status Begin(const char* config = nullptr);
  Status Commit(const char* config = nullptr);
  Status Rollback();
  bool in_transaction() const { return in_txn_; }

  WT_SESSION* get() const { return session_; }

 private:
  WT_SESSION* session_;
  bool in_txn_ = false;
};

// A transaction on a session that rolls back unless committed.
class Transaction {
 public:
  // Begins with snapshot isolation; `config` adds WiredTiger begin_transaction options.
  static Result<Transaction> Begin(Session* session, const char* config = nullptr);
  Transaction(Transaction&& other) noexcept : session_(other.session_) { other.session_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  // `config` e.g. "sync=on" to wait for the journal to reach the disk.
  Status Commit(const char* config = nullptr);
  Status Rollback();

 private:
  explicit Transaction(Session* session) : session_(session) {}
  Session* session_;
};

// Owns a WT_CONNECTION; closing it flushes and closes every session opened from it.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::string& home,
                                                  const std::string& config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<std::unique_ptr<Session>> OpenSession(const char* config = nullptr);
  WT_CONNECTION* get() const { return conn_; }

 private:
  explicit Connection(WT_CONNECTION* conn) : conn_(conn) {}
  WT_CONNECTION* conn_;
};

}  // namespace cairn::storage
