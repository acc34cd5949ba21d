// Field-by-field translation between etcdserverpb and mvcc structs.
#include "server/convert.h"

namespace cairn::server {

mvcc::RangeRequest FromProto(const etcdserverpb::RangeRequest& req) {
  mvcc::RangeRequest out;
  out.key = req.key();
  out.range_end = req.range_end();
  out.limit = req.limit();
  out.revision = req.revision();
  out.sort_order = static_cast<mvcc::SortOrder>(req.sort_order());
  out.sort_target = static_cast<mvcc::SortTarget>(req.sort_target());
  out.keys_only = req.keys_only();
  out.count_only = req.count_only();
  out.min_mod_revision = req.min_mod_revision();
  out.max_mod_revision = req.max_mod_revision();
  out.min_create_revision = req.min_create_revision();
  out.max_create_revision = req.max_create_revision();
  return out;
}

mvcc::PutRequest FromProto(const etcdserverpb::PutRequest& req) {
  mvcc::PutRequest out;
  out.key = req.key();
  out.value = req.value();
  out.lease = req.lease();
  out.prev_kv = req.prev_kv();
  out.ignore_value = req.ignore_value();
  out.ignore_lease = req.ignore_lease();
  return out;
}

mvcc::DeleteRangeRequest FromProto(const etcdserverpb::DeleteRangeRequest& req) {
  mvcc::DeleteRangeRequest out;
  out.key = req.key();
  out.range_end = req.range_end();
  out.prev_kv = req.prev_kv();
  return out;
}

namespace {

mvcc::Compare CompareFromProto(const etcdserverpb::Compare& c) {
  mvcc::Compare out;
  out.result = static_cast<mvcc::CompareResult>(c.result());
  out.target = static_cast<mvcc::CompareTarget>(c.target());
  out.key = c.key();
  out.range_end = c.range_end();
  switch (c.target_union_case()) {
    case etcdserverpb::Compare::kVersion: out.number = c.version(); break;
    case etcdserverpb::Compare::kCreateRevision: out.number = c.create_revision(); break;
    case etcdserverpb::Compare::kModRevision: out.number = c.mod_revision(); break;
    case etcdserverpb::Compare::kLease: out.number = c.lease(); break;
    case etcdserverpb::Compare::kValue: out.value = c.value(); break;
    case etcdserverpb::Compare::TARGET_UNION_NOT_SET: break;
  }
  return out;
}

void OpsFromProto(const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops,
                  std::vector<mvcc::RequestOp>* out) {
  out->reserve(ops.size());
  for (const auto& op : ops) {
    switch (op.request_case()) {
      case etcdserverpb::RequestOp::kRequestRange:
        out->push_back({FromProto(op.request_range())});
        break;
      case etcdserverpb::RequestOp::kRequestPut:
        out->push_back({FromProto(op.request_put())});
        break;
      case etcdserverpb::RequestOp::kRequestDeleteRange:
        out->push_back({FromProto(op.request_delete_range())});
        break;
      case etcdserverpb::RequestOp::kRequestTxn:
        out->push_back({FromProto(op.request_txn())});
        break;
      case etcdserverpb::RequestOp::REQUEST_NOT_SET:
        // etcd treats an empty op as an empty range; keep the position so responses align.
        out->push_back({mvcc::RangeRequest{}});
        break;
    }
  }
}

}  // namespace

mvcc::TxnRequest FromProto(const etcdserverpb::TxnRequest& req) {
  mvcc::TxnRequest out;
  out.compare.reserve(req.compare_size());
  for (const auto& c : req.compare()) out.compare.push_back(CompareFromProto(c));
  OpsFromProto(req.success(), &out.success);
  OpsFromProto(req.failure(), &out.failure);
  return out;
}

watch::CreateRequest FromProto(const etcdserverpb::WatchCreateRequest& req) {
  watch::CreateRequest out;
  out.key = req.key();
  out.range_end = req.range_end();
  out.start_revision = req.start_revision();
  out.progress_notify = req.progress_notify();
  for (int f : req.filters()) {
    if (f == etcdserverpb::WatchCreateRequest::NOPUT) out.no_put = true;
    if (f == etcdserverpb::WatchCreateRequest::NODELETE) out.no_delete = true;
  }
  out.prev_kv = req.prev_kv();
  out.fragment = req.fragment();
  out.watch_id = req.watch_id();
  return out;
}

bool IsSerializable(const etcdserverpb::TxnRequest& req) {
  for (const auto* branch : {&req.success(), &req.failure()}) {
    for (const auto& op : *branch) {
      if (!op.has_request_range() || !op.request_range().serializable()) return false;
    }
  }
  return true;
}

void ToProto(const mvcc::KeyValue& kv, mvccpb::KeyValue* out) {
  out->set_key(kv.key);
  out->set_create_revision(kv.create_revision);
  out->set_mod_revision(kv.mod_revision);
  out->set_version(kv.version);
  out->set_value(kv.value);
  out->set_lease(kv.lease);
}

void ToProto(const mvcc::RangeResponse& resp, etcdserverpb::RangeResponse* out) {
  out->mutable_kvs()->Reserve(static_cast<int>(resp.kvs.size()));
  for (const auto& kv : resp.kvs) ToProto(kv, out->add_kvs());
  out->set_more(resp.more);
  out->set_count(resp.count);
}

void ToProto(const mvcc::PutResponse& resp, etcdserverpb::PutResponse* out) {
  if (resp.prev_kv) ToProto(*resp.prev_kv, out->mutable_prev_kv());
}

void ToProto(const mvcc::DeleteRangeResponse& resp, etcdserverpb::DeleteRangeResponse* out) {
  out->set_deleted(resp.deleted);
  for (const auto& kv : resp.prev_kvs) ToProto(kv, out->add_prev_kvs());
}

void ToProto(const mvcc::TxnResponse& resp, etcdserverpb::TxnResponse* out) {
  out->set_succeeded(resp.succeeded);
  for (const auto& r : resp.responses) {
    auto* op = out->add_responses();
    std::visit(
        // etcd gives each nested response a header holding only its revision (zero for a
        // nested txn); clients print it.
        [op](const auto& inner) {
          using T = std::decay_t<decltype(inner)>;
          if constexpr (std::is_same_v<T, mvcc::RangeResponse>) {
            auto* sub = op->mutable_response_range();
            sub->mutable_header()->set_revision(inner.revision);
            ToProto(inner, sub);
          } else if constexpr (std::is_same_v<T, mvcc::PutResponse>) {
            auto* sub = op->mutable_response_put();
            sub->mutable_header()->set_revision(inner.revision);
            ToProto(inner, sub);
          } else if constexpr (std::is_same_v<T, mvcc::DeleteRangeResponse>) {
            auto* sub = op->mutable_response_delete_range();
            sub->mutable_header()->set_revision(inner.revision);
            ToProto(inner, sub);
          } else {
            auto* sub = op->mutable_response_txn();
            sub->mutable_header()->set_revision(inner.revision);
            ToProto(inner, sub);
          }
        },
        r.response);
  }
}

void ToProto(const mvcc::Event& event, mvccpb::Event* out) {
  out->set_type(event.type == mvcc::Event::Type::kPut ? mvccpb::Event::PUT : mvccpb::Event::DELETE);
  ToProto(event.kv, out->mutable_kv());
  if (event.prev_kv) ToProto(*event.prev_kv, out->mutable_prev_kv());
}

void ToProto(const watch::Response& resp, etcdserverpb::WatchResponse* out) {
  out->mutable_header()->set_revision(resp.revision);
  out->set_watch_id(resp.watch_id);
  out->set_created(resp.created);
  out->set_canceled(resp.canceled);
  out->set_cancel_reason(resp.cancel_reason);
  out->set_compact_revision(resp.compact_revision);
  out->set_fragment(resp.fragment);
  for (const mvcc::Event& e : resp.events) ToProto(e, out->add_events());
}

}  // namespace cairn::server
