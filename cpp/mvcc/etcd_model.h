// A plain in-memory model of etcd's MVCC semantics and a generator of random requests,
// for the property and crash tests (test code: never linked into the engine).
//
// The model keeps a full copy of the key space after every revision, so it is obviously
// right about old revisions, compaction and txns, and too slow for anything but tests.
// It shares with the store only the request checks of mvcc/check.h (pure functions,
// tested on their own in store_test.cc).
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/etcd_errors.h"
#include "mvcc/check.h"
#include "mvcc/types.h"

namespace cairn::mvcc::model {

using namespace std::string_literals;
using State = std::map<std::string, KeyValue>;

inline bool InSpan(const std::string& k, const std::string& key, const std::string& end) {
  if (end.empty()) return k == key;
  if (end == "\0"s) return k >= key;
  return k >= key && k < end;
}

class Model {
 public:
  Model() { snaps_[1] = State{}; }
  int64_t current() const { return cur_; }
  int64_t compacted() const { return compact_; }

  Result<RangeResponse> Range(const RangeRequest& req) {
    Tx tx(this);
    return tx.Range(req);
  }
  Result<PutResponse> Put(const PutRequest& req, std::vector<Event>* events) {
    CAIRN_RETURN_IF_ERROR(CheckPut(req));
    Tx tx(this);
    CAIRN_ASSIGN_OR_RETURN(PutResponse r, tx.Put(req));
    tx.Commit(events);
    return r;
  }
  Result<DeleteRangeResponse> DeleteRange(const DeleteRangeRequest& req,
                                          std::vector<Event>* events) {
    CAIRN_RETURN_IF_ERROR(CheckDeleteRange(req));
    Tx tx(this);
    DeleteRangeResponse r = tx.Delete(req);
    tx.Commit(events);
    return r;
  }
  Result<TxnResponse> Txn(const TxnRequest& req, std::vector<Event>* events) {
    CAIRN_RETURN_IF_ERROR(CheckTxn(req, kNoTxnOpsLimit));
    Tx tx(this);
    std::vector<bool> path;
    tx.Path(req, &path);
    size_t i = 0;
    CAIRN_RETURN_IF_ERROR(tx.Check(req, path, &i));
    i = 0;
    CAIRN_ASSIGN_OR_RETURN(TxnResponse r, tx.Apply(req, path, &i));
    r.revision = tx.view_rev();
    tx.Commit(events);
    return r;
  }
  Result<CompactResponse> Compact(int64_t rev) {
    if (rev <= compact_) return etcd::Compacted();
    if (rev > cur_) return etcd::FutureRev();
    compact_ = rev;
    snaps_.erase(snaps_.begin(), snaps_.lower_bound(rev));
    return CompactResponse{cur_};
  }

 private:
  // One write transaction: the state before, the state being written, the new revision.
  class Tx {
   public:
    explicit Tx(Model* m) : m_(m), begin_(m->cur_), work_(m->snaps_.at(m->cur_)) {}
    int64_t view_rev() const { return sub_ > 0 ? begin_ + 1 : begin_; }

    void Commit(std::vector<Event>* events) {
      if (sub_ == 0) return;
      m_->cur_ = begin_ + 1;
      m_->snaps_[m_->cur_] = work_;
      for (auto& e : events_) events->push_back(std::move(e));
    }

    Result<RangeResponse> Range(const RangeRequest& req) {
      CAIRN_RETURN_IF_ERROR(CheckRange(req));
      int64_t rev = req.revision;
      if (rev > view_rev()) return etcd::FutureRev();
      if (rev <= 0) rev = view_rev();
      if (rev < m_->compact_) return etcd::Compacted();
      const State& state = rev == view_rev() ? work_ : m_->snaps_.at(rev);
      std::vector<KeyValue> all;
      for (const auto& [k, kv] : state) {
        if (InSpan(k, req.key, req.range_end)) all.push_back(kv);
      }
      RangeResponse resp;
      resp.revision = view_rev();
      resp.count = static_cast<int64_t>(all.size());
      if (req.count_only) return resp;
      bool filtered = req.min_mod_revision || req.max_mod_revision || req.min_create_revision ||
                      req.max_create_revision;
      if (req.limit > 0 && req.sort_order == SortOrder::kNone && !filtered &&
          all.size() > static_cast<size_t>(req.limit) + 1) {
        all.resize(static_cast<size_t>(req.limit) + 1);
      }
      std::vector<KeyValue> kvs;
      for (const KeyValue& kv : all) {
        if (req.max_mod_revision && kv.mod_revision > req.max_mod_revision) continue;
        if (req.min_mod_revision && kv.mod_revision < req.min_mod_revision) continue;
        if (req.max_create_revision && kv.create_revision > req.max_create_revision) continue;
        if (req.min_create_revision && kv.create_revision < req.min_create_revision) continue;
        kvs.push_back(kv);
      }
      auto field = [&](const KeyValue& kv) -> std::pair<int64_t, std::string> {
        switch (req.sort_target) {
          case SortTarget::kKey: return {0, kv.key};
          case SortTarget::kVersion: return {kv.version, ""};
          case SortTarget::kCreate: return {kv.create_revision, ""};
          case SortTarget::kMod: return {kv.mod_revision, ""};
          case SortTarget::kValue: return {0, kv.value};
        }
        return {0, ""};
      };
      bool descend = req.sort_order == SortOrder::kDescend;
      if (req.sort_order != SortOrder::kNone || req.sort_target != SortTarget::kKey) {
        std::stable_sort(kvs.begin(), kvs.end(), [&](const KeyValue& a, const KeyValue& b) {
          return descend ? field(b) < field(a) : field(a) < field(b);
        });
      }
      if (req.limit > 0 && kvs.size() > static_cast<size_t>(req.limit)) {
        kvs.resize(static_cast<size_t>(req.limit));
        resp.more = true;
      }
      if (req.keys_only) {
        for (KeyValue& kv : kvs) kv.value.clear();
      }
      resp.kvs = std::move(kvs);
      return resp;
    }

    Result<PutResponse> Put(const PutRequest& req) {
      auto it = work_.find(req.key);
      std::optional<KeyValue> prev;
      if (it != work_.end()) prev = it->second;
      if ((req.ignore_value || req.ignore_lease) && !prev) return etcd::KeyNotFound();
      int64_t rev = begin_ + 1;
      KeyValue kv{req.key,
                  prev ? prev->create_revision : rev,
                  rev,
                  prev ? prev->version + 1 : 1,
                  req.ignore_value ? prev->value : req.value,
                  req.ignore_lease ? prev->lease : req.lease};
      work_[req.key] = kv;
      ++sub_;
      events_.push_back({Event::Type::kPut, kv, prev});
      PutResponse resp;
      resp.revision = view_rev();
      if (req.prev_kv) resp.prev_kv = prev;
      return resp;
    }

    DeleteRangeResponse Delete(const DeleteRangeRequest& req) {
      DeleteRangeResponse resp;
      for (auto it = work_.begin(); it != work_.end();) {
        if (!InSpan(it->first, req.key, req.range_end)) {
          ++it;
          continue;
        }
        KeyValue tomb;
        tomb.key = it->first;
        tomb.mod_revision = begin_ + 1;
        events_.push_back({Event::Type::kDelete, tomb, it->second});
        if (req.prev_kv) resp.prev_kvs.push_back(it->second);
        ++resp.deleted;
        ++sub_;
        it = work_.erase(it);
      }
      resp.revision = view_rev();
      return resp;
    }

    bool Holds(const Compare& c) {
      std::vector<KeyValue> kvs;
      for (const auto& [k, kv] : work_) {
        if (InSpan(k, c.key, c.range_end)) kvs.push_back(kv);
      }
      if (kvs.empty()) {
        if (c.target == CompareTarget::kValue) return false;
        kvs.push_back(KeyValue{});
      }
      for (const KeyValue& kv : kvs) {
        int r = 0;
        auto cmp = [](auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); };
        switch (c.target) {
          case CompareTarget::kValue: r = cmp(kv.value, c.value); break;
          case CompareTarget::kVersion: r = cmp(kv.version, c.number); break;
          case CompareTarget::kCreate: r = cmp(kv.create_revision, c.number); break;
          case CompareTarget::kMod: r = cmp(kv.mod_revision, c.number); break;
          case CompareTarget::kLease: r = cmp(kv.lease, c.number); break;
        }
        bool ok = (c.result == CompareResult::kEqual && r == 0) ||
                  (c.result == CompareResult::kNotEqual && r != 0) ||
                  (c.result == CompareResult::kGreater && r > 0) ||
                  (c.result == CompareResult::kLess && r < 0);
        if (!ok) return false;
      }
      return true;
    }

    // Before any write: work_ is still the state before the txn.
    void Path(const TxnRequest& req, std::vector<bool>* path) {
      bool ok = std::all_of(req.compare.begin(), req.compare.end(),
                            [&](const Compare& c) { return Holds(c); });
      path->push_back(ok);
      for (const RequestOp& op : ok ? req.success : req.failure) {
        if (const auto* t = std::get_if<TxnRequest>(&op.op)) Path(*t, path);
      }
    }

    Status Check(const TxnRequest& req, const std::vector<bool>& path, size_t* i) {
      bool ok = path[(*i)++];
      for (const RequestOp& op : ok ? req.success : req.failure) {
        if (const auto* p = std::get_if<PutRequest>(&op.op)) {
          if ((p->ignore_value || p->ignore_lease) && work_.count(p->key) == 0) {
            return etcd::KeyNotFound();
          }
        } else if (const auto* r = std::get_if<RangeRequest>(&op.op)) {
          if (r->revision != 0 && r->revision > begin_) return etcd::FutureRev();
          if (r->revision != 0 && r->revision < m_->compact_) return etcd::Compacted();
        } else if (const auto* t = std::get_if<TxnRequest>(&op.op)) {
          CAIRN_RETURN_IF_ERROR(Check(*t, path, i));
        }
      }
      return Status::Ok();
    }

    Result<TxnResponse> Apply(const TxnRequest& req, const std::vector<bool>& path, size_t* i) {
      TxnResponse resp;
      resp.succeeded = path[(*i)++];
      for (const RequestOp& op : resp.succeeded ? req.success : req.failure) {
        ResponseOp out;
        if (const auto* r = std::get_if<RangeRequest>(&op.op)) {
          CAIRN_ASSIGN_OR_RETURN(out.response, Range(*r));
        } else if (const auto* p = std::get_if<PutRequest>(&op.op)) {
          CAIRN_ASSIGN_OR_RETURN(out.response, Put(*p));
        } else if (const auto* d = std::get_if<DeleteRangeRequest>(&op.op)) {
          out.response = Delete(*d);
        } else if (const auto* t = std::get_if<TxnRequest>(&op.op)) {
          CAIRN_ASSIGN_OR_RETURN(out.response, Apply(*t, path, i));
        }
        resp.responses.push_back(std::move(out));
      }
      return resp;
    }

   private:
    Model* m_;
    int64_t begin_;
    State work_;
    int64_t sub_ = 0;
    std::vector<Event> events_;
  };

  std::map<int64_t, State> snaps_;  // the state after each revision not compacted away
  int64_t cur_ = 1;
  int64_t compact_ = -1;
};

// Random requests over a small key space, so that keys collide and histories grow.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  std::string Key() {
    static const std::string kKeys[] = {"a", "a\0"s, "ab", "b", "b/1", "b/2", "c", "d"};
    return kKeys[Int(0, 7)];
  }
  std::string End(const std::string& key) {
    int r = Int(0, 9);
    if (r < 5) return "";
    if (r < 7) return "\0"s;
    if (r < 9) return key + "\xff";
    return Key();
  }
  std::string Value() {
    return Chance(20) ? "" : std::string(1, static_cast<char>('p' + Int(0, 5)));
  }

  PutRequest Put() {
    PutRequest p;
    p.key = Chance(2) ? "" : Key();
    p.value = Value();
    p.lease = Chance(30) ? Int(1, 3) : 0;
    p.prev_kv = Chance(50);
    p.ignore_value = Chance(10);
    p.ignore_lease = Chance(10);
    if (p.ignore_value && Chance(70)) p.value.clear();
    if (p.ignore_lease && Chance(70)) p.lease = 0;
    return p;
  }
  DeleteRangeRequest Delete() {
    DeleteRangeRequest d;
    d.key = Key();
    d.range_end = End(d.key);
    d.prev_kv = Chance(50);
    return d;
  }
  RangeRequest Range(int64_t cur, int64_t compact) {
    RangeRequest r;
    r.key = Key();
    r.range_end = End(r.key);
    if (Chance(50))
      r.revision =
          Int(static_cast<int>(std::max<int64_t>(compact - 2, -1)), static_cast<int>(cur + 2));
    if (Chance(40)) r.limit = Int(-1, 4);
    if (Chance(40)) r.sort_order = static_cast<SortOrder>(Int(0, 2));
    if (Chance(40)) r.sort_target = static_cast<SortTarget>(Int(0, 4));
    r.keys_only = Chance(15);
    r.count_only = Chance(10);
    if (Chance(10)) r.min_mod_revision = Int(0, static_cast<int>(cur));
    if (Chance(10)) r.max_mod_revision = Int(0, static_cast<int>(cur));
    if (Chance(10)) r.min_create_revision = Int(0, static_cast<int>(cur));
    if (Chance(10)) r.max_create_revision = Int(0, static_cast<int>(cur));
    return r;
  }
  Compare Cmp(int64_t cur) {
    Compare c;
    c.key = Key();
    if (Chance(20)) c.range_end = End(c.key);
    c.target = static_cast<CompareTarget>(Int(0, 4));
    c.result = static_cast<CompareResult>(Int(0, 3));
    c.number = c.target == CompareTarget::kLease     ? Int(0, 3)
               : c.target == CompareTarget::kVersion ? Int(0, 4)
                                                     : Int(0, static_cast<int>(cur));
    c.value = Value();
    return c;
  }
  TxnRequest Txn(int64_t cur, int64_t compact, int depth) {
    TxnRequest t;
    for (int i = Int(0, 2); i > 0; --i) t.compare.push_back(Cmp(cur));
    for (auto* ops : {&t.success, &t.failure}) {
      for (int i = Int(0, 3); i > 0; --i) {
        int kind = Int(0, depth > 0 ? 3 : 2);
        RequestOp op;
        if (kind == 0) op.op = Range(cur, compact);
        if (kind == 1) op.op = Put();
        if (kind == 2) op.op = Delete();
        if (kind == 3) op.op = Txn(cur, compact, depth - 1);
        ops->push_back(std::move(op));
      }
    }
    return t;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace cairn::mvcc::model
