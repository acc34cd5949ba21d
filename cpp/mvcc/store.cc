// The MVCC store on WiredTiger: etcd 3.5's semantics, ported rule by rule from its
// mvcc and applier packages (the comments name the etcd behaviour each rule keeps).
#include "mvcc/store.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "base/etcd_errors.h"
#include "mvcc/check.h"
#include "mvcc/codec.h"
#include "mvcc/crc32c.h"
#include "storage/encoding.h"

namespace cairn::mvcc {

using storage::Cursor;
using storage::Session;
using storage::Transaction;

namespace {

constexpr std::string_view kCurrentRevKey = "current_rev";
constexpr std::string_view kCompactRevKey = "compact_rev";  // scheduled: reads below fail
constexpr std::string_view kFinishedCompactRevKey = "finished_compact_rev";
constexpr std::string_view kAppliedIndexKey = "applied_index";
constexpr std::string_view kPut = "p";
constexpr std::string_view kTombstone = "t";

// etcd starts a store at revision 1 with nothing compacted (compactMainRev -1).
constexpr int64_t kInitialRevision = 1;
constexpr int64_t kNothingCompacted = -1;

// A key range as etcd reads one: [begin, end), with end "" meaning just `begin` and end
// "\0" meaning every key from `begin` on.
struct KeySpan {
  enum class Kind { kOne, kToEnd, kBounded };
  std::string_view begin;
  std::string_view end;
  Kind kind;

  static KeySpan Of(std::string_view key, std::string_view range_end) {
    if (range_end.empty()) return {key, {}, Kind::kOne};
    if (range_end.size() == 1 && range_end[0] == '\0') return {key, {}, Kind::kToEnd};
    return {key, range_end, Kind::kBounded};
  }
  // For a key >= begin met in ascending order: is it past the end?
  bool Past(std::string_view k) const {
    switch (kind) {
      case Kind::kOne: return k != begin;
      case Kind::kToEnd: return false;
      case Kind::kBounded: return k >= end;
    }
    return true;
  }
};

Result<int64_t> ReadMetaInt(Cursor* meta, std::string_view name, int64_t absent) {
  CAIRN_ASSIGN_OR_RETURN(bool found, meta->Find(name));
  if (!found) return absent;
  if (meta->value().size() != 8) return DataLoss("mvcc: malformed meta " + std::string(name));
  return static_cast<int64_t>(storage::ReadBigEndian64(meta->value()));
}

Status WriteMetaInt(Cursor* meta, std::string_view name, int64_t v) {
  return meta->Put(name, storage::BigEndian64(static_cast<uint64_t>(v)));
}

// Requests refused for what they ask (etcd's errors), as opposed to storage failures.
bool IsRequestError(const Status& s) {
  return s.code() == Code::kInvalidArgument || s.code() == Code::kOutOfRange;
}

int CompareInt(int64_t a, int64_t b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// etcd's compareKV.
bool CompareKeyValue(const Compare& c, const KeyValue& kv) {
  int result = 0;
  switch (c.target) {
    case CompareTarget::kValue: result = kv.value.compare(c.value); break;
    case CompareTarget::kCreate: result = CompareInt(kv.create_revision, c.number); break;
    case CompareTarget::kMod: result = CompareInt(kv.mod_revision, c.number); break;
    case CompareTarget::kVersion: result = CompareInt(kv.version, c.number); break;
    case CompareTarget::kLease: result = CompareInt(kv.lease, c.number); break;
  }
  switch (c.result) {
    case CompareResult::kEqual: return result == 0;
    case CompareResult::kNotEqual: return result != 0;
    case CompareResult::kGreater: return result > 0;
    case CompareResult::kLess: return result < 0;
  }
  return true;
}

// etcd's Range in the applier: filters, sort and limit after the mvcc read.
void FilterSortLimit(const RangeRequest& req, RangeResponse* resp) {
  auto& kvs = resp->kvs;
  auto prune = [&kvs](auto drop) { std::erase_if(kvs, drop); };
  if (req.max_mod_revision != 0) {
    prune([&](const KeyValue& kv) { return kv.mod_revision > req.max_mod_revision; });
  }
  if (req.min_mod_revision != 0) {
    prune([&](const KeyValue& kv) { return kv.mod_revision < req.min_mod_revision; });
  }
  if (req.max_create_revision != 0) {
    prune([&](const KeyValue& kv) { return kv.create_revision > req.max_create_revision; });
  }
  if (req.min_create_revision != 0) {
    prune([&](const KeyValue& kv) { return kv.create_revision < req.min_create_revision; });
  }
  SortOrder order = req.sort_order;
  // mvcc returns keys ascending: NONE with another target means ASCEND, and KEY ASCEND
  // needs no sort.
  if (req.sort_target != SortTarget::kKey && order == SortOrder::kNone) {
    order = SortOrder::kAscend;
  } else if (req.sort_target == SortTarget::kKey && order == SortOrder::kAscend) {
    order = SortOrder::kNone;
  }
  if (order != SortOrder::kNone) {
    auto less = [&req](const KeyValue& a, const KeyValue& b) {
      switch (req.sort_target) {
        case SortTarget::kKey: return a.key < b.key;
        case SortTarget::kVersion: return a.version < b.version;
        case SortTarget::kCreate: return a.create_revision < b.create_revision;
        case SortTarget::kMod: return a.mod_revision < b.mod_revision;
        case SortTarget::kValue: return a.value < b.value;
      }
      return false;
    };
    // Stable, so ties stay in key order (what Go's sort gives on etcd's small results).
    if (order == SortOrder::kAscend) {
      std::stable_sort(kvs.begin(), kvs.end(), less);
    } else {
      std::stable_sort(kvs.begin(), kvs.end(),
                       [&less](const KeyValue& a, const KeyValue& b) { return less(b, a); });
    }
  }
  if (req.limit > 0 && kvs.size() > static_cast<uint64_t>(req.limit)) {
    kvs.resize(static_cast<size_t>(req.limit));
    resp->more = true;
  }
  if (req.keys_only) {
    for (KeyValue& kv : kvs) kv.value.clear();
  }
}

}  // namespace

// The state as one WiredTiger transaction sees it.
class Store::View {
 public:
  explicit View(Session* session) : session_(session) {}
  virtual ~View() = default;

  Status Open() {
    CAIRN_ASSIGN_OR_RETURN(rev_, session_->OpenCursor(storage::kMvccRevTable));
    CAIRN_ASSIGN_OR_RETURN(index_, session_->OpenCursor(storage::kMvccIndexTable));
    CAIRN_ASSIGN_OR_RETURN(current_, session_->OpenCursor(storage::kMvccCurrentTable));
    CAIRN_ASSIGN_OR_RETURN(meta_, session_->OpenCursor(storage::kMetaTable));
    CAIRN_ASSIGN_OR_RETURN(current_rev_, ReadMetaInt(&meta_, kCurrentRevKey, kInitialRevision));
    CAIRN_ASSIGN_OR_RETURN(compact_rev_, ReadMetaInt(&meta_, kCompactRevKey, kNothingCompacted));
    return Status::Ok();
  }

  int64_t current_rev() const { return current_rev_; }
  int64_t compact_rev() const { return compact_rev_; }

  // The live kv of `key` at the current revision.
  Result<std::optional<KeyValue>> Latest(std::string_view key) {
    CAIRN_ASSIGN_OR_RETURN(bool found, current_.Find(key));
    if (!found) return std::optional<KeyValue>();
    KeyValue kv;
    kv.key.assign(key);
    CAIRN_RETURN_IF_ERROR(DecodeKeyValue(current_.value(), &kv));
    return std::optional<KeyValue>(std::move(kv));
  }

  // The latest revision of `key` at or below `rev`, and whether it is a tombstone.
  Result<std::optional<std::pair<Revision, bool>>> LatestAt(std::string_view key, int64_t rev) {
    std::string prefix = IndexKeyPrefix(key);
    CAIRN_ASSIGN_OR_RETURN(
        bool ok, index_.SeekLE(IndexKey(key, {rev, std::numeric_limits<int64_t>::max()})));
    std::optional<std::pair<Revision, bool>> out;
    std::string_view p;
    Revision r;
    if (ok && SplitIndexKey(index_.key(), &p, &r) && p == prefix && r.main <= rev) {
      out.emplace(r, index_.value() == kTombstone);
    }
    return out;
  }

  // Counts the keys of `span` live at `rev` and collects the first `fetch` of them, in key
  // order. Without `values` the kvs have empty values.
  Status Scan(const KeySpan& span, int64_t rev, size_t fetch, bool values,
              std::vector<KeyValue>* out, int64_t* count) {
    *count = 0;
    if (rev == current_rev_) return ScanCurrent(span, fetch, values, out, count);
    return ScanIndex(span, rev, fetch, values, out, count);
  }

  // etcd's Range: the mvcc read plus the applier's filters, sort and limit.
  Result<RangeResponse> Range(const RangeRequest& req) {
    CAIRN_RETURN_IF_ERROR(CheckRange(req));
    int64_t rev = req.revision;
    if (rev > current_rev_) return etcd::FutureRev();
    if (rev <= 0) rev = current_rev_;
    if (rev < compact_rev_) return etcd::Compacted();
    bool filtered = req.min_mod_revision != 0 || req.max_mod_revision != 0 ||
                    req.min_create_revision != 0 || req.max_create_revision != 0;
    // etcd fetches everything when it sorts or filters, and limit+1 otherwise (to know
    // `more`); with a target other than KEY and order NONE it sorts only what it fetched.
    bool fetch_all = req.sort_order != SortOrder::kNone || filtered;
    size_t fetch = std::numeric_limits<size_t>::max();
    if (req.count_only) {
      fetch = 0;
    } else if (req.limit > 0 && !fetch_all) {
      fetch = static_cast<size_t>(req.limit) + 1;
    }
    bool values = !req.keys_only || req.sort_target == SortTarget::kValue;
    RangeResponse resp;
    resp.revision = current_rev_;
    CAIRN_RETURN_IF_ERROR(
        Scan(KeySpan::Of(req.key, req.range_end), rev, fetch, values, &resp.kvs, &resp.count));
    if (req.count_only) return resp;
    FilterSortLimit(req, &resp);
    return resp;
  }

  // etcd's applyCompare: every key of the range must satisfy it; an empty range compares
  // a zero kv, except VALUE, which fails.
  Result<bool> Evaluate(const Compare& c) {
    std::vector<KeyValue> kvs;
    int64_t count = 0;
    CAIRN_RETURN_IF_ERROR(Scan(KeySpan::Of(c.key, c.range_end), current_rev_,
                               std::numeric_limits<size_t>::max(), true, &kvs, &count));
    if (kvs.empty()) {
      if (c.target == CompareTarget::kValue) return false;
      return CompareKeyValue(c, KeyValue{});
    }
    for (const KeyValue& kv : kvs) {
      if (!CompareKeyValue(c, kv)) return false;
    }
    return true;
  }

 protected:
  Session* session_;
  Cursor rev_, index_, current_, meta_;
  int64_t current_rev_ = kInitialRevision;
  int64_t compact_rev_ = kNothingCompacted;

 private:
  Status ScanCurrent(const KeySpan& span, size_t fetch, bool values, std::vector<KeyValue>* out,
                     int64_t* count) {
    CAIRN_ASSIGN_OR_RETURN(bool ok, current_.SeekGE(span.begin));
    while (ok) {
      std::string_view k = current_.key();
      if (span.Past(k)) break;
      ++*count;
      if (out->size() < fetch) {
        KeyValue kv;
        kv.key.assign(k);
        CAIRN_RETURN_IF_ERROR(DecodeKeyValue(current_.value(), &kv));
        if (!values) kv.value.clear();
        out->push_back(std::move(kv));
      }
      CAIRN_ASSIGN_OR_RETURN(ok, current_.Next());
    }
    current_.Reset();
    return Status::Ok();
  }

  // Walks the index key by key: a key's entries are adjacent and ascending, so its state
  // at `rev` is the entry found by seeking to (key, rev, max) and stepping back; then a
  // seek past all of its entries lands on the next key. Two seeks a key, whatever the
  // length of its history.
  Status ScanIndex(const KeySpan& span, int64_t rev, size_t fetch, bool values,
                   std::vector<KeyValue>* out, int64_t* count) {
    CAIRN_ASSIGN_OR_RETURN(bool ok, index_.SeekGE(IndexKeyPrefix(span.begin)));
    std::string prefix, key, target;
    while (ok) {
      std::string_view p;
      Revision r;
      if (!SplitIndexKey(index_.key(), &p, &r)) return DataLoss("mvcc: malformed index key");
      prefix.assign(p);
      if (storage::ReadEscaped(prefix, &key) != prefix.size()) {
        return DataLoss("mvcc: malformed index key");
      }
      if (span.Past(key)) break;
      std::optional<Revision> best;
      bool tombstone = false;
      if (r.main <= rev) {
        target = prefix;
        storage::AppendBigEndian64(&target, static_cast<uint64_t>(rev));
        storage::AppendBigEndian64(&target,
                                   static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
        CAIRN_ASSIGN_OR_RETURN(bool found, index_.SeekLE(target));
        // The key's first entry is at or below rev, so this finds one of its entries.
        if (!found || !SplitIndexKey(index_.key(), &p, &r) || p != prefix) {
          return DataLoss("mvcc: index changed under a snapshot");
        }
        best = r;
        tombstone = index_.value() == kTombstone;
      }
      CAIRN_ASSIGN_OR_RETURN(ok, index_.SeekGE(prefix + std::string(16, '\xff')));
      if (!best.has_value() || tombstone) continue;
      ++*count;
      if (out->size() >= fetch) continue;
      CAIRN_ASSIGN_OR_RETURN(bool found, rev_.Find(RevisionKey(*best, false)));
      if (!found) return DataLoss("mvcc: revision in index missing from revision table");
      KeyValue kv;
      CAIRN_RETURN_IF_ERROR(DecodeKeyValue(rev_.value(), &kv));
      if (!values) kv.value.clear();
      out->push_back(std::move(kv));
    }
    index_.Reset();
    rev_.Reset();
    return Status::Ok();
  }
};

// The writer's view: sees its own writes, numbers them (main, sub), records events.
class Store::Writer : public View {
 public:
  Writer(Session* session, std::vector<Event>* events) : View(session), events_(events) {}

  Status Open() {
    CAIRN_RETURN_IF_ERROR(View::Open());
    begin_rev_ = current_rev_;
    opened_rev_ = current_rev_;
    return Status::Ok();
  }

  // The next write of a batch: it gets the next revision, its events go to `events`.
  void BeginRequest(std::vector<Event>* events) {
    events_ = events;
    begin_rev_ = current_rev_;
    sub_ = 0;
  }

  // Whether the write in progress changed anything.
  bool changed() const { return sub_ > 0; }
  std::optional<int64_t> new_compact_rev() const { return new_compact_rev_; }

  Status SaveMeta(uint64_t applied_index) {
    if (current_rev_ != opened_rev_) {
      CAIRN_RETURN_IF_ERROR(WriteMetaInt(&meta_, kCurrentRevKey, current_rev_));
    }
    if (new_compact_rev_.has_value()) {
      CAIRN_RETURN_IF_ERROR(WriteMetaInt(&meta_, kCompactRevKey, *new_compact_rev_));
    }
    return WriteMetaInt(&meta_, kAppliedIndexKey, static_cast<int64_t>(applied_index));
  }

  // etcd's applier Put then storeTxnWrite.put.
  Result<PutResponse> Put(const PutRequest& req) {
    CAIRN_ASSIGN_OR_RETURN(std::optional<KeyValue> prev, Latest(req.key));
    if ((req.ignore_value || req.ignore_lease) && !prev.has_value()) return etcd::KeyNotFound();
    Revision rev{begin_rev_ + 1, sub_};
    KeyValue kv;
    kv.key = req.key;
    kv.value = req.ignore_value ? prev->value : req.value;
    kv.lease = req.ignore_lease ? prev->lease : req.lease;
    kv.create_revision = prev.has_value() ? prev->create_revision : rev.main;
    kv.mod_revision = rev.main;
    kv.version = prev.has_value() ? prev->version + 1 : 1;
    CAIRN_RETURN_IF_ERROR(rev_.Put(RevisionKey(rev, false), EncodeKeyValue(kv, true)));
    CAIRN_RETURN_IF_ERROR(index_.Put(IndexKey(kv.key, rev), kPut));
    CAIRN_RETURN_IF_ERROR(current_.Put(kv.key, EncodeKeyValue(kv, false)));
    Bump();
    PutResponse resp;
    resp.revision = current_rev_;
    if (req.prev_kv) resp.prev_kv = prev;
    if (events_ != nullptr) {
      events_->push_back(Event{Event::Type::kPut, std::move(kv), std::move(prev)});
    }
    return resp;
  }

  // etcd's applier DeleteRange then storeTxnWrite.deleteRange: keys in order, one sub
  // revision each; nothing deleted, nothing written.
  Result<DeleteRangeResponse> DeleteRange(const DeleteRangeRequest& req) {
    CAIRN_RETURN_IF_ERROR(CheckDeleteRange(req));
    std::vector<KeyValue> kvs;
    int64_t count = 0;
    CAIRN_RETURN_IF_ERROR(Scan(KeySpan::Of(req.key, req.range_end), current_rev_,
                               std::numeric_limits<size_t>::max(), true, &kvs, &count));
    for (const KeyValue& prev : kvs) {
      Revision rev{begin_rev_ + 1, sub_};
      KeyValue tombstone;
      tombstone.key = prev.key;
      CAIRN_RETURN_IF_ERROR(rev_.Put(RevisionKey(rev, true), EncodeKeyValue(tombstone, true)));
      CAIRN_RETURN_IF_ERROR(index_.Put(IndexKey(prev.key, rev), kTombstone));
      CAIRN_RETURN_IF_ERROR(current_.Delete(prev.key));
      Bump();
      if (events_ != nullptr) {
        tombstone.mod_revision = rev.main;
        events_->push_back(Event{Event::Type::kDelete, std::move(tombstone), prev});
      }
    }
    DeleteRangeResponse resp;
    resp.revision = current_rev_;
    resp.deleted = static_cast<int64_t>(kvs.size());
    if (req.prev_kv) resp.prev_kvs = std::move(kvs);
    return resp;
  }

  // etcd's applier Txn: decide every branch (nested ones too) on the state before the
  // txn, check the chosen ops, then run them.
  Result<TxnResponse> Txn(const TxnRequest& req) {
    std::vector<bool> path;
    CAIRN_RETURN_IF_ERROR(ComparePath(req, &path));
    size_t i = 0;
    CAIRN_RETURN_IF_ERROR(CheckPath(req, path, &i));
    i = 0;
    return Apply(req, path, &i, true);
  }

  Status Compact(int64_t rev) {
    if (rev <= compact_rev_) return etcd::Compacted();
    if (rev > current_rev_) return etcd::FutureRev();
    new_compact_rev_ = rev;
    compact_rev_ = rev;  // later writes of the batch read as after it
    return Status::Ok();
  }

 private:
  void Bump() {
    ++sub_;
    current_rev_ = begin_rev_ + 1;
  }

  Status ComparePath(const TxnRequest& req, std::vector<bool>* path) {
    bool ok = true;
    for (const Compare& c : req.compare) {
      CAIRN_ASSIGN_OR_RETURN(bool r, Evaluate(c));
      if (!r) {
        ok = false;
        break;
      }
    }
    path->push_back(ok);
    for (const RequestOp& op : ok ? req.success : req.failure) {
      if (const auto* t = std::get_if<TxnRequest>(&op.op)) {
        CAIRN_RETURN_IF_ERROR(ComparePath(*t, path));
      }
    }
    return Status::Ok();
  }

  // etcd's checkPut and checkRange over the chosen path, against the state before.
  Status CheckPath(const TxnRequest& req, const std::vector<bool>& path, size_t* i) {
    bool ok = path[(*i)++];
    for (const RequestOp& op : ok ? req.success : req.failure) {
      if (const auto* p = std::get_if<PutRequest>(&op.op)) {
        if (p->ignore_value || p->ignore_lease) {
          CAIRN_ASSIGN_OR_RETURN(std::optional<KeyValue> kv, Latest(p->key));
          if (!kv.has_value()) return etcd::KeyNotFound();
        }
      } else if (const auto* r = std::get_if<RangeRequest>(&op.op)) {
        if (r->revision == 0) continue;
        if (r->revision > current_rev_) return etcd::FutureRev();
        if (r->revision < compact_rev_) return etcd::Compacted();
      } else if (const auto* t = std::get_if<TxnRequest>(&op.op)) {
        CAIRN_RETURN_IF_ERROR(CheckPath(*t, path, i));
      }
    }
    return Status::Ok();
  }

  Result<TxnResponse> Apply(const TxnRequest& req, const std::vector<bool>& path, size_t* i,
                            bool top) {
    TxnResponse resp;
    resp.succeeded = path[(*i)++];
    const std::vector<RequestOp>& ops = resp.succeeded ? req.success : req.failure;
    resp.responses.reserve(ops.size());
    for (const RequestOp& op : ops) {
      ResponseOp out;
      if (const auto* r = std::get_if<RangeRequest>(&op.op)) {
        CAIRN_ASSIGN_OR_RETURN(out.response, Range(*r));
      } else if (const auto* p = std::get_if<PutRequest>(&op.op)) {
        CAIRN_ASSIGN_OR_RETURN(out.response, Put(*p));
      } else if (const auto* d = std::get_if<DeleteRangeRequest>(&op.op)) {
        CAIRN_ASSIGN_OR_RETURN(out.response, DeleteRange(*d));
      } else if (const auto* t = std::get_if<TxnRequest>(&op.op)) {
        CAIRN_ASSIGN_OR_RETURN(out.response, Apply(*t, path, i, false));
      }
      resp.responses.push_back(std::move(out));
    }
    if (top) resp.revision = current_rev_;
    return resp;
  }

  std::vector<Event>* events_;
  int64_t opened_rev_ = kInitialRevision;
  int64_t begin_rev_ = kInitialRevision;
  int64_t sub_ = 0;
  std::optional<int64_t> new_compact_rev_;
};

Result<std::unique_ptr<Store>> Store::Open(storage::Db* db) {
  std::unique_ptr<Store> store(new Store(db));
  CAIRN_RETURN_IF_ERROR(store->Load());
  return store;
}

Store::~Store() = default;

Status Store::Load() {
  CAIRN_ASSIGN_OR_RETURN(writer_session_, db_->OpenSession());
  CAIRN_ASSIGN_OR_RETURN(Cursor meta, writer_session_->OpenCursor(storage::kMetaTable));
  CAIRN_ASSIGN_OR_RETURN(int64_t current, ReadMetaInt(&meta, kCurrentRevKey, kInitialRevision));
  CAIRN_ASSIGN_OR_RETURN(int64_t compact, ReadMetaInt(&meta, kCompactRevKey, kNothingCompacted));
  CAIRN_ASSIGN_OR_RETURN(int64_t applied, ReadMetaInt(&meta, kAppliedIndexKey, 0));
  current_rev_ = current;
  compact_rev_ = compact;
  applied_index_ = static_cast<uint64_t>(applied);
  return Status::Ok();
}

Status Store::Reload() {
  std::lock_guard<std::mutex> lock(write_mu_);
  {
    // The run in progress walked the tables that were replaced.
    std::lock_guard<std::mutex> compact_lock(compact_mu_);
    compaction_.reset();
  }
  return Load();
}

Result<std::unique_ptr<Store::Batch>> Store::BeginBatch() {
  std::unique_ptr<Batch> batch(new Batch(this, std::unique_lock<std::mutex>(write_mu_)));
  CAIRN_RETURN_IF_ERROR(batch->Open());
  return batch;
}

Store::Batch::Batch(Store* store, std::unique_lock<std::mutex> lock)
    : store_(store), lock_(std::move(lock)) {}

Store::Batch::~Batch() = default;

Status Store::Batch::Open() {
  Session* session = store_->writer_session_.get();
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session));
  txn_.emplace(std::move(txn));
  writer_ = std::make_unique<Writer>(session, nullptr);
  return writer_->Open();
}

template <typename Fn>
auto Store::Batch::Run(std::vector<Event>* events, Fn fn) -> decltype(fn(std::declval<Writer*>())) {
  if (broken_ || writer_ == nullptr) {
    return Status(Code::kFailedPrecondition, "mvcc: the write batch was broken or committed");
  }
  const size_t events_before = events != nullptr ? events->size() : 0;
  writer_->BeginRequest(events);
  auto result = fn(writer_.get());
  if (!result.ok()) {
    if (events != nullptr) events->resize(events_before);
    // A refusal before any change leaves the batch as it was; anything else does not.
    if (writer_->changed() || !IsRequestError(result.status())) broken_ = true;
  }
  return result;
}

Result<PutResponse> Store::Batch::Put(const PutRequest& req, std::vector<Event>* events) {
  return Run(events, [&](Writer* w) -> Result<PutResponse> {
    CAIRN_RETURN_IF_ERROR(CheckPut(req));
    return w->Put(req);
  });
}

Result<DeleteRangeResponse> Store::Batch::DeleteRange(const DeleteRangeRequest& req,
                                                      std::vector<Event>* events) {
  return Run(events, [&](Writer* w) { return w->DeleteRange(req); });
}

Result<TxnResponse> Store::Batch::Txn(const TxnRequest& req, std::vector<Event>* events) {
  return Run(events, [&](Writer* w) -> Result<TxnResponse> {
    CAIRN_RETURN_IF_ERROR(CheckTxn(req, kNoTxnOpsLimit));
    return w->Txn(req);
  });
}

Result<CompactResponse> Store::Batch::Compact(int64_t revision) {
  return Run(nullptr, [&](Writer* w) -> Result<CompactResponse> {
    CAIRN_RETURN_IF_ERROR(w->Compact(revision));
    return CompactResponse{w->current_rev()};
  });
}

Status Store::Batch::Commit(uint64_t applied_index) {
  if (broken_ || writer_ == nullptr) {
    return Status(Code::kFailedPrecondition, "mvcc: the write batch was broken or committed");
  }
  Status s = writer_->SaveMeta(applied_index);
  if (s.ok()) s = txn_->Commit();
  if (!s.ok()) {
    broken_ = true;
    return s;
  }
  store_->current_rev_ = writer_->current_rev();
  if (writer_->new_compact_rev().has_value()) store_->compact_rev_ = *writer_->new_compact_rev();
  store_->applied_index_ = applied_index;
  writer_.reset();
  txn_.reset();
  lock_.unlock();
  return Status::Ok();
}

template <typename Fn>
auto Store::Write(uint64_t applied_index, Fn fn) -> decltype(fn(std::declval<Batch*>())) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Batch> batch, BeginBatch());
  auto result = fn(batch.get());
  if (!result.ok()) {
    if (!IsRequestError(result.status())) return result;
    // The entry is applied even though etcd refused it: replay must not redo it. What the
    // write changed before it was refused goes.
    if (batch->broken()) {
      batch.reset();
      CAIRN_ASSIGN_OR_RETURN(batch, BeginBatch());
    }
  }
  CAIRN_RETURN_IF_ERROR(batch->Commit(applied_index));
  return result;
}

Result<RangeResponse> Store::Range(const RangeRequest& req) const {
  CAIRN_ASSIGN_OR_RETURN(storage::PooledSession session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session.get()));
  View view(session.get());
  CAIRN_RETURN_IF_ERROR(view.Open());
  return view.Range(req);
}

Result<TxnResponse> Store::ReadTxn(const TxnRequest& req) const {
  if (!IsReadOnly(req)) return InvalidArgument("mvcc: a read-only txn may not write");
  CAIRN_ASSIGN_OR_RETURN(storage::PooledSession session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session.get()));
  // The writer's logic with nothing to write: it only compares and reads.
  Writer reader(session.get(), nullptr);
  CAIRN_RETURN_IF_ERROR(reader.Open());
  return reader.Txn(req);
}

Result<PutResponse> Store::Put(const PutRequest& req, uint64_t applied_index,
                               std::vector<Event>* events) {
  return Write(applied_index, [&](Batch* b) { return b->Put(req, events); });
}

Result<DeleteRangeResponse> Store::DeleteRange(const DeleteRangeRequest& req,
                                               uint64_t applied_index, std::vector<Event>* events) {
  return Write(applied_index, [&](Batch* b) { return b->DeleteRange(req, events); });
}

Result<TxnResponse> Store::Txn(const TxnRequest& req, uint64_t applied_index,
                               std::vector<Event>* events) {
  return Write(applied_index, [&](Batch* b) { return b->Txn(req, events); });
}

Result<CompactResponse> Store::Compact(int64_t revision, uint64_t applied_index) {
  return Write(applied_index, [&](Batch* b) { return b->Compact(revision); });
}

Status Store::SetAppliedIndex(uint64_t applied_index) {
  return Write(applied_index, [](Batch*) -> Result<bool> { return true; }).status();
}

Result<uint64_t> Store::Checkpoint() {
  // Every write that set this index committed before the checkpoint starts, so it is in it.
  uint64_t applied = applied_index_.load();
  CAIRN_RETURN_IF_ERROR(db_->Checkpoint());
  return applied;
}

Status Store::RunCompaction(size_t batch, std::chrono::microseconds pause) {
  while (true) {
    const auto start = std::chrono::steady_clock::now();
    Result<bool> done = CompactBatch(batch);
    if (!done.ok()) {
      if (done.status().code() != Code::kAborted) return done.status();
      // A WiredTiger conflict: retry the batch.
    } else if (*done) {
      return Status::Ok();
    }
    // At least as long a pause as the batch took: compaction takes at most half of one
    // core, however slow the machine, and writers keep the rest.
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    auto rest = std::max(pause, took);
    if (rest.count() > 0) std::this_thread::sleep_for(rest);
  }
}

Result<bool> Store::CompactBatch(size_t batch) {
  std::lock_guard<std::mutex> lock(compact_mu_);
  if (compact_session_ == nullptr) {
    CAIRN_ASSIGN_OR_RETURN(compact_session_, db_->OpenSession());
  }
  Session* s = compact_session_.get();
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(s));
  CAIRN_ASSIGN_OR_RETURN(Cursor meta, s->OpenCursor(storage::kMetaTable));
  CAIRN_ASSIGN_OR_RETURN(int64_t target, ReadMetaInt(&meta, kCompactRevKey, kNothingCompacted));
  CAIRN_ASSIGN_OR_RETURN(int64_t finished,
                         ReadMetaInt(&meta, kFinishedCompactRevKey, kNothingCompacted));
  if (!compaction_.has_value()) {
    if (finished >= target) return true;
    compaction_ = CompactionRun{target, finished, false, {}, Revision{finished + 1, 0}};
  }
  // The run's state moves on only once its batch committed: a failed batch is redone.
  CompactionRun run = *compaction_;
  size_t budget = std::max<size_t>(batch, 2);
  bool over = false;
  if (!run.index_done) {
    CAIRN_ASSIGN_OR_RETURN(run.index_done, CompactIndex(s, &run, budget));
  } else {
    CAIRN_ASSIGN_OR_RETURN(over, CompactRevisions(s, &run, budget));
  }
  if (over) CAIRN_RETURN_IF_ERROR(WriteMetaInt(&meta, kFinishedCompactRevKey, run.target));
  CAIRN_RETURN_IF_ERROR(txn.Commit());
  if (over) {
    compaction_.reset();
    return run.target >= target;  // else a later Compact wants another run
  }
  compaction_ = std::move(run);
  return false;
}

// Pass 1 of a compaction run: one batch of the walk over the index. True when the walk
// reached the end.
Result<bool> Store::CompactIndex(Session* s, CompactionRun* run, size_t batch) {
  CAIRN_ASSIGN_OR_RETURN(Cursor index, s->OpenCursor(storage::kMvccIndexTable));
  // Reading costs far less than deleting: a batch reads more entries than it deletes, but
  // not without bound, so that a batch stays short when little is to go.
  const size_t max_visited = 4 * batch;
  size_t visited = 0;
  std::vector<std::string> drop_index, drop_rev;
  // The key being walked, and its newest entry at or below the target so far: it goes
  // when an entry newer but still at or below the target follows, or when it is a
  // tombstone (a deleted key keeps nothing).
  std::string prefix, newest;
  bool newest_tomb = false;
  auto drop_newest = [&] {
    Revision r;
    std::string_view p;
    SplitIndexKey(newest, &p, &r);
    // A revision the last run kept is not in pass 2's range: it goes with its index entry.
    if (r.main <= run->finished) drop_rev.push_back(RevisionKey(r, newest_tomb));
    drop_index.push_back(std::move(newest));
    newest.clear();
  };
  bool ok = false;
  if (run->index_from.empty()) {
    CAIRN_ASSIGN_OR_RETURN(ok, index.Next());
  } else {
    CAIRN_ASSIGN_OR_RETURN(ok, index.SeekGE(run->index_from));
  }
  bool end = false;
  while (true) {
    if (!ok) {
      end = true;
      if (!newest.empty() && newest_tomb) drop_newest();
      break;
    }
    std::string_view p;
    Revision r;
    if (!SplitIndexKey(index.key(), &p, &r)) return DataLoss("mvcc: malformed index key");
    if (p != prefix) {
      if (!newest.empty() && newest_tomb) drop_newest();
      newest.clear();
      if (drop_index.size() >= batch || visited >= max_visited) {
        run->index_from.assign(index.key());
        break;
      }
      prefix.assign(p);
    }
    ++visited;
    if (r.main <= run->target) {
      if (!newest.empty()) drop_newest();
      newest.assign(index.key());
      newest_tomb = index.value() == kTombstone;
      if (drop_index.size() >= batch) {
        // A key with a long history: the next batch goes on from its newest entry so far.
        run->index_from = newest;
        break;
      }
    }
    CAIRN_ASSIGN_OR_RETURN(ok, index.Next());
  }
  index.Reset();
  // Oldest first within a key, so that a reader between two batches finds a key's
  // history with only a prefix gone: the entry it seeks is there.
  for (const std::string& k : drop_index) CAIRN_RETURN_IF_ERROR(index.Delete(k));
  if (!drop_rev.empty()) {
    CAIRN_ASSIGN_OR_RETURN(Cursor revs, s->OpenCursor(storage::kMvccRevTable));
    for (const std::string& k : drop_rev) CAIRN_RETURN_IF_ERROR(revs.Delete(k));
  }
  return end;
}

// Pass 2 of a compaction run: one batch of the walk over the revisions in (finished,
// target]; a revision whose index entry pass 1 dropped goes. True when the walk is over.
Result<bool> Store::CompactRevisions(Session* s, CompactionRun* run, size_t batch) {
  CAIRN_ASSIGN_OR_RETURN(Cursor revs, s->OpenCursor(storage::kMvccRevTable));
  CAIRN_ASSIGN_OR_RETURN(Cursor index, s->OpenCursor(storage::kMvccIndexTable));
  const size_t max_visited = 4 * batch;
  size_t visited = 0;
  std::vector<std::string> drop;
  bool end = false;
  CAIRN_ASSIGN_OR_RETURN(bool ok, revs.SeekGE(RevisionKey(run->rev_from, false)));
  while (true) {
    Revision r;
    bool tomb = false;
    if (ok && !ParseRevisionKey(revs.key(), &r, &tomb)) {
      return DataLoss("mvcc: malformed revision");
    }
    if (!ok || r.main > run->target) {
      end = true;
      break;
    }
    if (drop.size() >= batch || visited >= max_visited) {
      run->rev_from = r;
      break;
    }
    ++visited;
    KeyValue kv;
    CAIRN_RETURN_IF_ERROR(DecodeKeyValue(revs.value(), &kv));
    CAIRN_ASSIGN_OR_RETURN(bool kept, index.Find(IndexKey(kv.key, r)));
    if (!kept) drop.emplace_back(revs.key());
    CAIRN_ASSIGN_OR_RETURN(ok, revs.Next());
  }
  revs.Reset();
  index.Reset();
  for (const std::string& k : drop) CAIRN_RETURN_IF_ERROR(revs.Delete(k));
  return end;
}

Result<HashResult> Store::Hash() const {
  CAIRN_ASSIGN_OR_RETURN(storage::PooledSession session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session.get()));
  View view(session.get());
  CAIRN_RETURN_IF_ERROR(view.Open());
  CAIRN_ASSIGN_OR_RETURN(Cursor revs, session->OpenCursor(storage::kMvccRevTable));
  uint32_t crc = Crc32c(0, "key");
  CAIRN_ASSIGN_OR_RETURN(bool ok, revs.Next());
  while (ok) {
    crc = Crc32c(crc, revs.key());
    crc = Crc32c(crc, revs.value());
    CAIRN_ASSIGN_OR_RETURN(ok, revs.Next());
  }
  return HashResult{crc, view.current_rev(), view.compact_rev(), view.current_rev()};
}

Result<HashResult> Store::HashKV(int64_t revision) const {
  CAIRN_ASSIGN_OR_RETURN(storage::PooledSession session, db_->Acquire());
  CAIRN_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(session.get()));
  View view(session.get());
  CAIRN_RETURN_IF_ERROR(view.Open());
  int64_t compact = view.compact_rev();
  if (revision > 0 && revision <= compact) return etcd::Compacted();
  if (revision > 0 && revision > view.current_rev()) return etcd::FutureRev();
  if (revision == 0) revision = view.current_rev();
  CAIRN_ASSIGN_OR_RETURN(Cursor revs, session->OpenCursor(storage::kMvccRevTable));
  // etcd's hashByRev: the bucket name, then key and value of each revision it keeps.
  uint32_t crc = Crc32c(0, "key");
  CAIRN_ASSIGN_OR_RETURN(bool ok, revs.Next());
  while (ok) {
    Revision r;
    bool tomb = false;
    if (!ParseRevisionKey(revs.key(), &r, &tomb)) return DataLoss("mvcc: malformed revision");
    if (r.main > revision) break;
    bool keep = true;
    if (r.main <= compact) {
      // Below the compaction only what compaction keeps counts: a live key's latest.
      KeyValue kv;
      CAIRN_RETURN_IF_ERROR(DecodeKeyValue(revs.value(), &kv));
      CAIRN_ASSIGN_OR_RETURN(auto latest, view.LatestAt(kv.key, revision));
      keep = !tomb && latest.has_value() && latest->first == r && !latest->second;
    }
    if (keep) {
      crc = Crc32c(crc, revs.key());
      crc = Crc32c(crc, revs.value());
    }
    CAIRN_ASSIGN_OR_RETURN(ok, revs.Next());
  }
  return HashResult{crc, view.current_rev(), compact, revision};
}

}  // namespace cairn::mvcc
