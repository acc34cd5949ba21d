// Reads and writes of the lease and lease_keys tables.
#include "lease/lease_store.h"

#include <utility>

#include "storage/encoding.h"

namespace cairn::lease {

namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;
constexpr size_t kIdSize = 8;
constexpr size_t kLeaseValueSize = 16;

int64_t DecodeLeaseId(std::string_view bytes) {
  return static_cast<int64_t>(storage::ReadBigEndian64(bytes) ^ kSignBit);
}

std::string EncodeLeaseValue(const StoredLease& lease) {
  std::string v;
  v.reserve(kLeaseValueSize);
  storage::AppendBigEndian64(&v, static_cast<uint64_t>(lease.ttl));
  storage::AppendBigEndian64(&v, static_cast<uint64_t>(lease.remaining_ttl));
  return v;
}

std::string AttachmentKey(int64_t id, std::string_view key) {
  std::string k = EncodeLeaseId(id);
  k.append(key);
  return k;
}

// Appends the keys under `prefix` to `out`, leaving the cursor wherever it stops.
Status CollectKeys(storage::Cursor* cursor, const std::string& prefix,
                   std::vector<std::string>* out) {
  CAIRN_ASSIGN_OR_RETURN(bool more, cursor->SeekGE(prefix));
  while (more) {
    std::string_view k = cursor->key();
    if (k.substr(0, prefix.size()) != prefix) break;
    out->emplace_back(k.substr(prefix.size()));
    CAIRN_ASSIGN_OR_RETURN(more, cursor->Next());
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeLeaseId(int64_t id) {
  return storage::BigEndian64(static_cast<uint64_t>(id) ^ kSignBit);
}

Result<LeaseStore> LeaseStore::Open(storage::Db* db) {
  CAIRN_ASSIGN_OR_RETURN(auto session, db->Acquire());
  for (const char* uri : {kLeaseTable, kLeaseKeysTable}) {
    WT_SESSION* s = session->get();
    int ret = s->create(s, uri, "key_format=u,value_format=u,log=(enabled=false)");
    if (ret != 0) return storage::WtError(ret, std::string("create ") + uri);
  }
  return LeaseStore(db);
}

Result<std::vector<StoredLease>> LeaseStore::LoadAll() const {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor cursor, session->OpenCursor(kLeaseTable));
  std::vector<StoredLease> out;
  CAIRN_ASSIGN_OR_RETURN(bool more, cursor.Next());
  while (more) {
    std::string_view k = cursor.key();
    std::string_view v = cursor.value();
    if (k.size() != kIdSize || v.size() != kLeaseValueSize) {
      return DataLoss("lease: malformed record in " + std::string(kLeaseTable));
    }
    StoredLease lease;
    lease.id = DecodeLeaseId(k);
    lease.ttl = static_cast<int64_t>(storage::ReadBigEndian64(v));
    lease.remaining_ttl = static_cast<int64_t>(storage::ReadBigEndian64(v.substr(8)));
    out.push_back(lease);
    CAIRN_ASSIGN_OR_RETURN(more, cursor.Next());
  }
  return out;
}

Status LeaseStore::PutLease(const StoredLease& lease) const {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(session.get()));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor cursor, session->OpenCursor(kLeaseTable));
  CAIRN_RETURN_IF_ERROR(cursor.Put(EncodeLeaseId(lease.id), EncodeLeaseValue(lease)));
  return txn.Commit();
}

Result<std::vector<std::string>> LeaseStore::DeleteLease(int64_t id) const {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(session.get()));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor leases, session->OpenCursor(kLeaseTable));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor attached, session->OpenCursor(kLeaseKeysTable));
  const std::string prefix = EncodeLeaseId(id);
  std::vector<std::string> keys;
  CAIRN_RETURN_IF_ERROR(CollectKeys(&attached, prefix, &keys));
  attached.Reset();
  for (const std::string& key : keys) {
    CAIRN_RETURN_IF_ERROR(attached.Delete(AttachmentKey(id, key)));
  }
  CAIRN_RETURN_IF_ERROR(leases.Delete(prefix));
  CAIRN_RETURN_IF_ERROR(txn.Commit());
  return keys;
}

Status LeaseStore::Attach(int64_t id, std::string_view key) const {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(session.get()));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor cursor, session->OpenCursor(kLeaseKeysTable));
  CAIRN_RETURN_IF_ERROR(cursor.Put(AttachmentKey(id, key), ""));
  return txn.Commit();
}

Status LeaseStore::Detach(int64_t id, std::string_view key) const {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(session.get()));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor cursor, session->OpenCursor(kLeaseKeysTable));
  CAIRN_RETURN_IF_ERROR(cursor.Delete(AttachmentKey(id, key)));
  return txn.Commit();
}

Result<std::vector<std::string>> LeaseStore::Keys(int64_t id) const {
  CAIRN_ASSIGN_OR_RETURN(auto session, db_->Acquire());
  // A read-only snapshot: attachments committed after it began are not seen.
  CAIRN_ASSIGN_OR_RETURN(auto txn, storage::Transaction::Begin(session.get()));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor cursor, session->OpenCursor(kLeaseKeysTable));
  std::vector<std::string> keys;
  CAIRN_RETURN_IF_ERROR(CollectKeys(&cursor, EncodeLeaseId(id), &keys));
  cursor.Reset();
  CAIRN_RETURN_IF_ERROR(txn.Commit());
  return keys;
}

}  // namespace cairn::lease
