// etcd's request checks, ported from v3rpc/key.go so that the same requests are refused.
#include "mvcc/check.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/etcd_errors.h"

namespace cairn::mvcc {

Status CheckRange(const RangeRequest& req) {
  if (req.key.empty()) return etcd::EmptyKey();
  return Status::Ok();
}

Status CheckPut(const PutRequest& req) {
  if (req.key.empty()) return etcd::EmptyKey();
  if (req.ignore_value && !req.value.empty()) return etcd::ValueProvided();
  if (req.ignore_lease && req.lease != 0) return etcd::LeaseProvided();
  return Status::Ok();
}

Status CheckDeleteRange(const DeleteRangeRequest& req) {
  if (req.key.empty()) return etcd::EmptyKey();
  return Status::Ok();
}

namespace {

Status CheckTxnOps(const TxnRequest& req, int max_ops) {
  size_t opc = std::max({req.compare.size(), req.success.size(), req.failure.size()});
  if (opc > static_cast<size_t>(max_ops)) return etcd::TooManyOps();
  for (const Compare& c : req.compare) {
    if (c.key.empty()) return etcd::EmptyKey();
  }
  int left = max_ops - static_cast<int>(opc);
  for (const auto* ops : {&req.success, &req.failure}) {
    for (const RequestOp& op : *ops) {
      Status s;
      if (const auto* r = std::get_if<RangeRequest>(&op.op)) s = CheckRange(*r);
      if (const auto* p = std::get_if<PutRequest>(&op.op)) s = CheckPut(*p);
      if (const auto* d = std::get_if<DeleteRangeRequest>(&op.op)) s = CheckDeleteRange(*d);
      if (const auto* t = std::get_if<TxnRequest>(&op.op)) s = CheckTxnOps(*t, left);
      CAIRN_RETURN_IF_ERROR(s);
    }
  }
  return Status::Ok();
}

// A delete's interval [begin, end); a single-key delete is [key, key + "\0"). etcd keeps
// range_end "\0" as the literal string here (not "to the end"), so such a delete overlaps
// no put: we keep that quirk, because the check decides which requests etcd accepts.
struct Interval {
  std::string begin;
  std::string end;
  bool Contains(const std::string& k) const { return begin <= k && k < end; }
};

struct PutsAndDeletes {
  std::set<std::string> puts;
  std::vector<Interval> dels;
  bool Deletes(const std::string& k) const {
    return std::any_of(dels.begin(), dels.end(), [&](const Interval& i) { return i.Contains(k); });
  }
};

// checkIntervals: the puts and deletes of one list of ops, refusing overlaps.
Result<PutsAndDeletes> CheckIntervals(const std::vector<RequestOp>& ops) {
  PutsAndDeletes out;
  for (const RequestOp& op : ops) {
    if (const auto* d = std::get_if<DeleteRangeRequest>(&op.op)) {
      if (d->range_end.empty()) {
        out.dels.push_back({d->key, d->key + std::string(1, '\0')});
      } else {
        out.dels.push_back({d->key, d->range_end});
      }
    }
  }
  for (const RequestOp& op : ops) {
    const auto* t = std::get_if<TxnRequest>(&op.op);
    if (t == nullptr) continue;
    CAIRN_ASSIGN_OR_RETURN(PutsAndDeletes then_branch, CheckIntervals(t->success));
    CAIRN_ASSIGN_OR_RETURN(PutsAndDeletes else_branch, CheckIntervals(t->failure));
    for (const std::string& k : then_branch.puts) {
      if (out.puts.count(k) != 0 || out.Deletes(k)) return etcd::DuplicateKey();
      out.puts.insert(k);
    }
    for (const std::string& k : else_branch.puts) {
      // The same key in then and else is fine: only one of them runs.
      if (out.puts.count(k) != 0 && then_branch.puts.count(k) == 0) {
        return etcd::DuplicateKey();
      }
      if (out.Deletes(k)) return etcd::DuplicateKey();
      out.puts.insert(k);
    }
    for (auto& i : then_branch.dels) out.dels.push_back(std::move(i));
    for (auto& i : else_branch.dels) out.dels.push_back(std::move(i));
  }
  for (const RequestOp& op : ops) {
    const auto* p = std::get_if<PutRequest>(&op.op);
    if (p == nullptr) continue;
    if (out.puts.count(p->key) != 0 || out.Deletes(p->key)) return etcd::DuplicateKey();
    out.puts.insert(p->key);
  }
  return out;
}

}  // namespace

bool IsReadOnly(const TxnRequest& req) {
  for (const auto* branch : {&req.success, &req.failure}) {
    for (const RequestOp& op : *branch) {
      if (std::holds_alternative<PutRequest>(op.op) ||
          std::holds_alternative<DeleteRangeRequest>(op.op)) {
        return false;
      }
      if (const auto* t = std::get_if<TxnRequest>(&op.op); t != nullptr && !IsReadOnly(*t)) {
        return false;
      }
    }
  }
  return true;
}

Status CheckTxn(const TxnRequest& req, int max_ops) {
  CAIRN_RETURN_IF_ERROR(CheckTxnOps(req, max_ops));
  CAIRN_RETURN_IF_ERROR(CheckIntervals(req.success).status());
  return CheckIntervals(req.failure).status();
}

}  // namespace cairn::mvcc
