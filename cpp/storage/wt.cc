// RAII handles over WiredTiger's C API: error mapping and the thin calls.
#include "storage/wt.h"

#include <string>

namespace cairn::storage {

Status WtError(int ret, std::string_view what) {
  std::string message = "wiredtiger: " + std::string(what) + ": " + wiredtiger_strerror(ret);
  switch (ret) {
    case WT_NOTFOUND: return NotFound(std::move(message));
    case WT_ROLLBACK: return Aborted(std::move(message));
    case ENOSPC: return ResourceExhausted(std::move(message));
    case WT_PANIC: return DataLoss(std::move(message));
    default: return Internal(std::move(message));
  }
}

namespace {
WT_ITEM Item(std::string_view bytes) {
  WT_ITEM item{};
  item.data = bytes.data();
  item.size = bytes.size();
  return item;
}
}  // namespace

Cursor& Cursor::operator=(Cursor&& other) noexcept {
  if (this != &other) {
    Close();
    cursor_ = other.cursor_;
    other.cursor_ = nullptr;
  }
  return *this;
}

void Cursor::Close() {
  if (cursor_ != nullptr) {
    cursor_->close(cursor_);
    cursor_ = nullptr;
  }
}

// WiredTiger keeps a pointer to the item's bytes, not a copy, until the next operation,
// so the WT_ITEM itself may be a temporary but the bytes must outlive the call.
void Cursor::SetKey(std::string_view key) {
  WT_ITEM item = Item(key);
  cursor_->set_key(cursor_, &item);
}

Result<bool> Cursor::Find(std::string_view key) {
  SetKey(key);
  int ret = cursor_->search(cursor_);
  if (ret == 0) return true;
  if (ret == WT_NOTFOUND) return false;
  return WtError(ret, "search");
}

Result<bool> Cursor::SeekGE(std::string_view key) {
  SetKey(key);
  int exact = 0;
  int ret = cursor_->search_near(cursor_, &exact);
  if (ret == WT_NOTFOUND) return false;
  if (ret != 0) return WtError(ret, "search_near");
  if (exact >= 0) return true;
  return Next();
}

Result<bool> Cursor::SeekLE(std::string_view key) {
  SetKey(key);
  int exact = 0;
  int ret = cursor_->search_near(cursor_, &exact);
  if (ret == WT_NOTFOUND) return false;
  if (ret != 0) return WtError(ret, "search_near");
  if (exact <= 0) return true;
  return Prev();
}

Result<bool> Cursor::Next() {
  int ret = cursor_->next(cursor_);
  if (ret == 0) return true;
  if (ret == WT_NOTFOUND) return false;
  return WtError(ret, "next");
}

Result<bool> Cursor::Prev() {
  int ret = cursor_->prev(cursor_);
  if (ret == 0) return true;
  if (ret == WT_NOTFOUND) return false;
  return WtError(ret, "prev");
}

std::string_view Cursor::key() const {
  WT_ITEM item{};
  if (cursor_->get_key(cursor_, &item) != 0) return {};
  return {static_cast<const char*>(item.data), item.size};
}

std::string_view Cursor::value() const {
  WT_ITEM item{};
  if (cursor_->get_value(cursor_, &item) != 0) return {};
  return {static_cast<const char*>(item.data), item.size};
}

Status Cursor::Put(std::string_view key, std::string_view value) {
  SetKey(key);
  WT_ITEM v = Item(value);
  cursor_->set_value(cursor_, &v);
  int ret = cursor_->insert(cursor_);
  if (ret != 0) return WtError(ret, "insert");
  return Status::Ok();
}

Status Cursor::Delete(std::string_view key) {
  SetKey(key);
  int ret = cursor_->remove(cursor_);
  if (ret != 0 && ret != WT_NOTFOUND) return WtError(ret, "remove");
  return Status::Ok();
}

void Cursor::Reset() {
  if (cursor_ != nullptr) cursor_->reset(cursor_);
}

Session::~Session() {
  if (session_ != nullptr) session_->close(session_, nullptr);
}

Result<Cursor> Session::OpenCursor(const char* uri, const char* config) {
  WT_CURSOR* cursor = nullptr;
  int ret = session_->open_cursor(session_, uri, nullptr, config, &cursor);
  if (ret != 0) return WtError(ret, std::string("open_cursor ") + uri);
  return Cursor(cursor);
}

Status Session::Begin(const char* config) {
  int ret = session_->begin_transaction(session_, config);
  if (ret != 0) return WtError(ret, "begin_transaction");
  in_txn_ = true;
  return Status::Ok();
}

Status Session::Commit(const char* config) {
  in_txn_ = false;
  int ret = session_->commit_transaction(session_, config);
  if (ret != 0) return WtError(ret, "commit_transaction");
  return Status::Ok();
}

Status Session::Rollback() {
  in_txn_ = false;
  int ret = session_->rollback_transaction(session_, nullptr);
  if (ret != 0) return WtError(ret, "rollback_transaction");
  return Status::Ok();
}

Result<Transaction> Transaction::Begin(Session* session, const char* config) {
  CAIRN_RETURN_IF_ERROR(session->Begin(config != nullptr ? config : "isolation=snapshot"));
  return Transaction(session);
}

Transaction::~Transaction() {
  if (session_ != nullptr && session_->in_transaction()) session_->Rollback().IgnoreError();
}

Status Transaction::Commit(const char* config) {
  Session* session = session_;
  session_ = nullptr;
  return session->Commit(config);
}

Status Transaction::Rollback() {
  Session* session = session_;
  session_ = nullptr;
  return session->Rollback();
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& home,
                                                     const std::string& config) {
  WT_CONNECTION* conn = nullptr;
  int ret = wiredtiger_open(home.c_str(), nullptr, config.c_str(), &conn);
  if (ret != 0) return WtError(ret, "wiredtiger_open " + home);
  return std::unique_ptr<Connection>(new Connection(conn));
}

Connection::~Connection() {
  if (conn_ != nullptr) conn_->close(conn_, nullptr);
}

Result<std::unique_ptr<Session>> Connection::OpenSession(const char* config) {
  WT_SESSION* session = nullptr;
  int ret = conn_->open_session(conn_, nullptr, config, &session);
  if (ret != 0) return WtError(ret, "open_session");
  return std::make_unique<Session>(session);
}

}  // namespace cairn::storage
