// The history reader: a scan of mvcc_rev for events and a seek in mvcc_index for prev_kv,
// both in one WiredTiger snapshot (layout in mvcc/codec.h).
#include "watch/history.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "base/etcd_errors.h"
#include "mvcc/codec.h"
#include "storage/encoding.h"

namespace cairn::watch {

namespace {

// mvcc/store.cc keeps the scheduled compaction revision under this meta name; codec.h does
// not export it, so it is repeated here. Should it ever change, the reader falls back to
// Store::compact_revision() (see Init).
constexpr std::string_view kCompactRevMetaKey = "compact_rev";
// mvcc_index values (codec.h): "p" for a put, "t" for a tombstone.
constexpr std::string_view kIndexTombstone = "t";

}  // namespace

struct HistorySnapshot::Impl {
  explicit Impl(storage::PooledSession s) : session(std::move(s)) {}
  // Declared in destruction order: cursors close, then the transaction ends, then the
  // session goes back to the pool.
  storage::PooledSession session;
  std::optional<storage::Transaction> txn;
  storage::Cursor revs;
  storage::Cursor index;
};

HistorySnapshot::HistorySnapshot(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HistorySnapshot::~HistorySnapshot() = default;

Result<std::unique_ptr<HistorySnapshot>> HistorySnapshot::Open(storage::Db* db,
                                                               const mvcc::Store& store) {
  CAIRN_ASSIGN_OR_RETURN(storage::PooledSession session, db->Acquire());
  auto impl = std::make_unique<Impl>(std::move(session));
  std::unique_ptr<HistorySnapshot> snap(new HistorySnapshot(std::move(impl)));
  CAIRN_RETURN_IF_ERROR(snap->Init(store));
  return snap;
}

Status HistorySnapshot::Init(const mvcc::Store& store) {
  Impl& s = *impl_;
  CAIRN_ASSIGN_OR_RETURN(storage::Transaction txn, storage::Transaction::Begin(s.session.get()));
  s.txn.emplace(std::move(txn));
  CAIRN_ASSIGN_OR_RETURN(s.revs, s.session->OpenCursor(storage::kMvccRevTable));
  CAIRN_ASSIGN_OR_RETURN(s.index, s.session->OpenCursor(storage::kMvccIndexTable));
  CAIRN_ASSIGN_OR_RETURN(storage::Cursor meta, s.session->OpenCursor(storage::kMetaTable));
  // The first read pins the snapshot. A compaction committed before it shows in the meta
  // record; Store's counter, read after it, covers one committed since (or a renamed
  // record). Taking the larger never lets a physically compacted revision pass as present.
  CAIRN_ASSIGN_OR_RETURN(bool found, meta.Find(kCompactRevMetaKey));
  int64_t compact = -1;
  if (found && meta.value().size() == 8) {
    compact = static_cast<int64_t>(storage::ReadBigEndian64(meta.value()));
  }
  compact_revision_ = std::max(compact, store.compact_revision());
  return Status::Ok();
}

Result<HistoryBatch> HistorySnapshot::Read(const KeyRange& range, int64_t from, int64_t to,
                                           const HistoryLimits& limits) {
  HistoryBatch batch;
  batch.last_revision = to;
  from = std::max<int64_t>(from, 1);
  if (from > to) return batch;
  storage::Cursor& revs = impl_->revs;
  CAIRN_ASSIGN_OR_RETURN(bool ok, revs.SeekGE(mvcc::RevisionKey({from, 0}, false)));
  int64_t current_main = 0;
  size_t revisions = 0;
  size_t bytes = 0;
  while (ok) {
    mvcc::Revision rev;
    bool tombstone = false;
    if (!mvcc::ParseRevisionKey(revs.key(), &rev, &tombstone)) {
      return DataLoss("watch: malformed revision key in mvcc_rev");
    }
    if (rev.main > to) break;
    if (rev.main != current_main) {
      // A new revision starts: stop here if the previous ones used up the budget.
      if (revisions > 0 && (revisions >= limits.max_revisions || bytes >= limits.max_bytes)) {
        batch.last_revision = current_main;
        break;
      }
      current_main = rev.main;
      ++revisions;
    }
    std::string_view value = revs.value();
    bytes += value.size();
    mvcc::Event event;
    CAIRN_RETURN_IF_ERROR(mvcc::DecodeKeyValue(value, &event.kv));
    if (range.Contains(event.kv.key)) {
      if (tombstone) {
        event.type = mvcc::Event::Type::kDelete;
        // A tombstone stores only the key; watchers see the deleting revision, as etcd.
        event.kv.mod_revision = rev.main;
      }
      batch.events.push_back(std::move(event));
    }
    CAIRN_ASSIGN_OR_RETURN(ok, revs.Next());
  }
  revs.Reset();
  return batch;
}

Result<std::optional<mvcc::KeyValue>> HistorySnapshot::ValueAt(std::string_view key, int64_t rev) {
  std::optional<mvcc::KeyValue> out;
  if (rev <= 0) return out;
  storage::Cursor& index = impl_->index;
  std::string prefix = mvcc::IndexKeyPrefix(key);
  CAIRN_ASSIGN_OR_RETURN(
      bool ok, index.SeekLE(mvcc::IndexKey(key, {rev, std::numeric_limits<int64_t>::max()})));
  std::string_view p;
  mvcc::Revision r;
  bool put = ok && mvcc::SplitIndexKey(index.key(), &p, &r) && p == prefix && r.main <= rev &&
             index.value() != kIndexTombstone;
  index.Reset();
  if (!put) return out;
  storage::Cursor& revs = impl_->revs;
  CAIRN_ASSIGN_OR_RETURN(bool found, revs.Find(mvcc::RevisionKey(r, false)));
  if (found) {
    mvcc::KeyValue kv;
    CAIRN_RETURN_IF_ERROR(mvcc::DecodeKeyValue(revs.value(), &kv));
    out = std::move(kv);
  }
  revs.Reset();
  return out;
}

Status HistorySnapshot::FillPrevKv(mvcc::Event* event) {
  const mvcc::KeyValue& kv = event->kv;
  // etcd's IsCreateEvent: nothing came before.
  if (event->type == mvcc::Event::Type::kPut && kv.create_revision == kv.mod_revision) {
    return Status::Ok();
  }
  CAIRN_ASSIGN_OR_RETURN(event->prev_kv, ValueAt(kv.key, kv.mod_revision - 1));
  return Status::Ok();
}

Result<std::vector<mvcc::Event>> ReadHistory(storage::Db* db, const mvcc::Store& store,
                                             const KeyRange& range, int64_t from, int64_t to,
                                             bool prev_kv) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<HistorySnapshot> snap, HistorySnapshot::Open(db, store));
  if (from < snap->compact_revision()) return etcd::Compacted();
  HistoryLimits unlimited;
  unlimited.max_revisions = std::numeric_limits<size_t>::max();
  unlimited.max_bytes = std::numeric_limits<size_t>::max();
  CAIRN_ASSIGN_OR_RETURN(HistoryBatch batch, snap->Read(range, from, to, unlimited));
  if (prev_kv) {
    for (mvcc::Event& e : batch.events) CAIRN_RETURN_IF_ERROR(snap->FillPrevKv(&e));
  }
  return std::move(batch.events);
}

}  // namespace cairn::watch
