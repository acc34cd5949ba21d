// Translation between etcd's wire messages and the MVCC engine's plain structs.
#pragma once

#include "etcd/etcdserverpb/rpc.pb.h"
#include "etcd/mvccpb/kv.pb.h"
#include "mvcc/types.h"
#include "watch/response.h"

namespace cairn::server {

mvcc::RangeRequest FromProto(const etcdserverpb::RangeRequest& req);
mvcc::PutRequest FromProto(const etcdserverpb::PutRequest& req);
mvcc::DeleteRangeRequest FromProto(const etcdserverpb::DeleteRangeRequest& req);
mvcc::TxnRequest FromProto(const etcdserverpb::TxnRequest& req);
watch::CreateRequest FromProto(const etcdserverpb::WatchCreateRequest& req);

void ToProto(const mvcc::KeyValue& kv, mvccpb::KeyValue* out);
// The responses' headers are left to the caller; nested txn responses carry none, as etcd's.
void ToProto(const mvcc::RangeResponse& resp, etcdserverpb::RangeResponse* out);
void ToProto(const mvcc::PutResponse& resp, etcdserverpb::PutResponse* out);
void ToProto(const mvcc::DeleteRangeResponse& resp, etcdserverpb::DeleteRangeResponse* out);
void ToProto(const mvcc::TxnResponse& resp, etcdserverpb::TxnResponse* out);
void ToProto(const mvcc::Event& event, mvccpb::Event* out);
// Everything of a watch response but the header's cluster, member and term (the revision
// is the response's own): the caller fills those first (Member::FillHeader).
void ToProto(const watch::Response& resp, etcdserverpb::WatchResponse* out);

// Whether every op of both branches is a range with serializable set (etcd's
// isTxnSerializable: a nested txn makes it not; a txn without ops is).
bool IsSerializable(const etcdserverpb::TxnRequest& req);

}  // namespace cairn::server
