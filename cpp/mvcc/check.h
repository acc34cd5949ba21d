// Request checks etcd makes before proposing (v3rpc's checkXRequest and checkIntervals).
// The rpc layer calls them with --max-txn-ops; the engine calls them again on apply.
#pragma once

#include <limits>

#include "base/status.h"
#include "mvcc/types.h"

namespace cairn::mvcc {

inline constexpr int kNoTxnOpsLimit = std::numeric_limits<int>::max();

Status CheckRange(const RangeRequest& req);              // EmptyKey
Status CheckPut(const PutRequest& req);                  // EmptyKey, ValueProvided, LeaseProvided
Status CheckDeleteRange(const DeleteRangeRequest& req);  // EmptyKey
// TooManyOps when compare, success or failure of any level exceeds max_ops (nested txns
// get what their parent left, as etcd counts), the checks above on every op, then
// DuplicateKey when a branch puts a key twice or puts a key it also deletes, nested txns
// included (a put in `success` and the same put in `failure` is fine: only one runs).
Status CheckTxn(const TxnRequest& req, int max_ops);
// Whether no branch of `req` (nested txns included) puts or deletes: etcd's isTxnReadonly.
bool IsReadOnly(const TxnRequest& req);

}  // namespace cairn::mvcc
