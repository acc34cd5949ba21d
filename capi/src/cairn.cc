// The C ABI over cpp/client and rpc::Node. Every entry point catches everything and
// returns a code; result handles are the protobuf responses themselves, so accessors hand
// out views into them without copying.
#include "cairn/cairn.h"

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/log.h"
#include "client/client.h"
#include "rpc/node.h"
#include "server/config.h"

namespace {

using cairn::Code;
using cairn::Status;
namespace cl = cairn::client;
namespace pb = etcdserverpb;

// ---- Errors -----------------------------------------------------------------------------

// etcd's errors by their exact text: clients tell them apart by it.
int CodeOf(const Status& s) {
  static const std::map<std::string_view, int> kByText = {
      {"etcdserver: mvcc: required revision has been compacted", CAIRN_ECOMPACTED},
      {"mvcc: required revision has been compacted", CAIRN_ECOMPACTED},
      {"etcdserver: mvcc: required revision is a future revision", CAIRN_EFUTUREREV},
      {"mvcc: required revision is a future revision", CAIRN_EFUTUREREV},
      {"etcdserver: mvcc: database space exceeded", CAIRN_ENOSPACE},
      {"etcdserver: requested lease not found", CAIRN_ELEASENOTFOUND},
      {"etcdserver: key not found", CAIRN_EKEYNOTFOUND},
      {"etcdserver: duplicate key given in txn request", CAIRN_EDUPLICATEKEY},
      {"etcdserver: too many operations in txn request", CAIRN_ETOOMANYOPS},
      {"etcdserver: request is too large", CAIRN_ETOOLARGE},
      {"etcdserver: key is not provided", CAIRN_EEMPTYKEY},
      {"etcdserver: no leader", CAIRN_ENOLEADER},
      {"etcdserver: not leader", CAIRN_ENOTLEADER},
      {"etcdserver: server stopped", CAIRN_ESTOPPED},
      {"etcdserver: lease already exists", CAIRN_ELEASEEXISTS},
      {"etcdserver: too large lease TTL", CAIRN_ETTLTOOLARGE},
      {"election: not leader", CAIRN_EELECTIONNOTLEADER},
      {"election: no leader", CAIRN_EELECTIONNOLEADER},
      {"mutex: session is expired", CAIRN_ESESSIONEXPIRED},
  };
  if (s.ok()) return CAIRN_OK;
  auto it = kByText.find(s.message());
  if (it != kByText.end()) return it->second;
  return -static_cast<int>(s.code());
}

int GrpcCodeOf(int code) {
  switch (code) {
    case CAIRN_ECOMPACTED:
    case CAIRN_EFUTUREREV:
    case CAIRN_ETTLTOOLARGE: return static_cast<int>(Code::kOutOfRange);
    case CAIRN_ENOSPACE: return static_cast<int>(Code::kResourceExhausted);
    case CAIRN_ELEASENOTFOUND: return static_cast<int>(Code::kNotFound);
    case CAIRN_EKEYNOTFOUND:
    case CAIRN_EDUPLICATEKEY:
    case CAIRN_ETOOMANYOPS:
    case CAIRN_ETOOLARGE:
    case CAIRN_EEMPTYKEY:
    case CAIRN_EVERSION: return static_cast<int>(Code::kInvalidArgument);
    case CAIRN_ENOLEADER:
    case CAIRN_ESTOPPED: return static_cast<int>(Code::kUnavailable);
    case CAIRN_ENOTLEADER:
    case CAIRN_ELEASEEXISTS: return static_cast<int>(Code::kFailedPrecondition);
    case CAIRN_EELECTIONNOTLEADER:
    case CAIRN_EELECTIONNOLEADER:
    case CAIRN_ESESSIONEXPIRED: return static_cast<int>(Code::kUnknown);
    default: return code <= 0 && code >= -16 ? -code : static_cast<int>(Code::kUnknown);
  }
}

bool Retryable(int code) {
  switch (code) {
    case CAIRN_EUNAVAILABLE:
    case CAIRN_ENOLEADER:
    case CAIRN_ENOTLEADER:
    case CAIRN_ETIMEDOUT:
    case CAIRN_EABORTED: return true;
    default: return false;
  }
}

}  // namespace

struct cairn_error {
  int code;
  int grpc_code;
  std::string message;
};

namespace {

int Fail(cairn_error** err, int code, std::string message) {
  if (err != nullptr) {
    *err = new (std::nothrow) cairn_error{code, GrpcCodeOf(code), std::move(message)};
  }
  return code;
}

int Done(cairn_error** err, const Status& s) {
  if (s.ok()) {
    if (err != nullptr) *err = nullptr;
    return CAIRN_OK;
  }
  return Fail(err, CodeOf(s), s.message());
}

int Invalid(cairn_error** err, const std::string& what) {
  return Fail(err, CAIRN_EINVAL, what);
}

// Runs `body` (which returns a code) and turns any exception into a code.
template <typename Body>
int Guard(cairn_error** err, Body body) noexcept {
  try {
    if (err != nullptr) *err = nullptr;
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(err, CAIRN_ERESOURCE, "out of memory");
  } catch (const std::exception& e) {
    return Fail(err, CAIRN_EINTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return Fail(err, CAIRN_EINTERNAL, "internal error");
  }
}

template <typename Opts>
int CheckVersion(const Opts* opts, int known, const char* name, cairn_error** err) {
  if (opts == nullptr || opts->version == known) return CAIRN_OK;
  return Fail(err, CAIRN_EVERSION,
              std::string(name) + " version " + std::to_string(opts->version) +
                  " is not supported (this library knows " + std::to_string(known) + ")");
}

bool BadBytes(const uint8_t* p, size_t len) {
  return p == nullptr && len > 0;
}

std::string Bytes(const uint8_t* p, size_t len) {
  return len == 0 ? std::string() : std::string(reinterpret_cast<const char*>(p), len);
}

const uint8_t* View(const std::string& s, size_t* len) {
  if (len != nullptr) *len = s.size();
  return reinterpret_cast<const uint8_t*>(s.data());
}

// A byte view of `field` of the message behind handle `h`; NULL (and length 0) for NULL.
template <typename T, typename H, typename Field>
const uint8_t* ViewOf(const H* h, size_t* len, Field field) {
  if (h == nullptr) {
    if (len != nullptr) *len = 0;
    return nullptr;
  }
  return View((reinterpret_cast<const T*>(h)->*field)(), len);
}

// etcd's GetPrefixRangeEnd: the key after every key with this prefix.
std::string PrefixEnd(const std::string& key) {
  std::string end = key;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // no upper bound: every key from `key` on
}

// Which keys besides `key`: range_end, prefix or from_key, at most one.
int RangeEnd(const std::string& key, const uint8_t* range_end, size_t range_end_len, int prefix,
             int from_key, std::string* out, cairn_error** err) {
  if (BadBytes(range_end, range_end_len)) return Invalid(err, "range_end is NULL");
  int given = (range_end != nullptr ? 1 : 0) + (prefix ? 1 : 0) + (from_key ? 1 : 0);
  if (given > 1) return Invalid(err, "range_end, prefix and from_key exclude each other");
  if (range_end != nullptr) *out = Bytes(range_end, range_end_len);
  if (prefix) *out = PrefixEnd(key);
  if (from_key) *out = std::string(1, '\0');
  return CAIRN_OK;
}

int FillRange(pb::RangeRequest* req, const uint8_t* key, size_t key_len,
              const cairn_range_options* opts, cairn_error** err) {
  if (int rc = CheckVersion(opts, CAIRN_RANGE_OPTIONS_VERSION, "cairn_range_options", err)) {
    return rc;
  }
  if (BadBytes(key, key_len)) return Invalid(err, "key is NULL");
  req->set_key(Bytes(key, key_len));
  if (opts == nullptr) return CAIRN_OK;
  std::string end;
  if (int rc = RangeEnd(req->key(), opts->range_end, opts->range_end_len, opts->prefix,
                        opts->from_key, &end, err)) {
    return rc;
  }
  req->set_range_end(end);
  req->set_revision(opts->revision);
  req->set_limit(opts->limit);
  req->set_sort_order(static_cast<pb::RangeRequest::SortOrder>(opts->sort_order));
  req->set_sort_target(static_cast<pb::RangeRequest::SortTarget>(opts->sort_target));
  req->set_serializable(opts->serializable != 0);
  req->set_keys_only(opts->keys_only != 0);
  req->set_count_only(opts->count_only != 0);
  req->set_min_mod_revision(opts->min_mod_revision);
  req->set_max_mod_revision(opts->max_mod_revision);
  req->set_min_create_revision(opts->min_create_revision);
  req->set_max_create_revision(opts->max_create_revision);
  return CAIRN_OK;
}

int FillPut(pb::PutRequest* req, const uint8_t* key, size_t key_len, const uint8_t* value,
            size_t value_len, const cairn_put_options* opts, cairn_error** err) {
  if (int rc = CheckVersion(opts, CAIRN_PUT_OPTIONS_VERSION, "cairn_put_options", err)) return rc;
  if (BadBytes(key, key_len)) return Invalid(err, "key is NULL");
  if (BadBytes(value, value_len)) return Invalid(err, "value is NULL");
  req->set_key(Bytes(key, key_len));
  req->set_value(Bytes(value, value_len));
  if (opts == nullptr) return CAIRN_OK;
  req->set_lease(opts->lease);
  req->set_prev_kv(opts->prev_kv != 0);
  req->set_ignore_value(opts->ignore_value != 0);
  req->set_ignore_lease(opts->ignore_lease != 0);
  return CAIRN_OK;
}

int FillDelete(pb::DeleteRangeRequest* req, const uint8_t* key, size_t key_len,
               const cairn_delete_options* opts, cairn_error** err) {
  if (int rc = CheckVersion(opts, CAIRN_DELETE_OPTIONS_VERSION, "cairn_delete_options", err)) {
    return rc;
  }
  if (BadBytes(key, key_len)) return Invalid(err, "key is NULL");
  req->set_key(Bytes(key, key_len));
  if (opts == nullptr) return CAIRN_OK;
  std::string end;
  if (int rc = RangeEnd(req->key(), opts->range_end, opts->range_end_len, opts->prefix,
                        opts->from_key, &end, err)) {
    return rc;
  }
  req->set_range_end(end);
  req->set_prev_kv(opts->prev_kv != 0);
  return CAIRN_OK;
}

// Handle <-> implementation: result handles are the protobuf messages.
template <typename T, typename H>
const T* As(const H* h) {
  return reinterpret_cast<const T*>(h);
}
template <typename T, typename H>
T* AsMut(H* h) {
  return reinterpret_cast<T*>(h);
}
template <typename H, typename T>
H* Handle(T* t) {
  return reinterpret_cast<H*>(t);
}
template <typename H, typename T>
const H* ConstHandle(const T* t) {
  return reinterpret_cast<const H*>(t);
}

}  // namespace

// ---- Handles ----------------------------------------------------------------------------

struct cairn_cancel {
  cl::CancelToken token;
};

struct cairn_bytes {
  std::string data;
};

struct cairn_node_config {
  std::map<std::string, std::string> flags;
};

// A node and the in-process clients it must close before its member stops.
struct NodeCore {
  std::unique_ptr<cairn::rpc::Node> node;
  std::mutex mu;
  bool stopped = false;                            // guarded by mu
  std::vector<std::weak_ptr<cl::Client>> clients;  // guarded by mu
};

struct cairn_node {
  std::shared_ptr<NodeCore> core;
};

struct cairn_client {
  std::shared_ptr<cl::Client> impl;
};

// A watch batch: the response and, on the last one, why the watch ended.
struct cairn_watch_batch {
  const pb::WatchResponse* resp;
  Status end;
};

struct cairn_watch {
  std::unique_ptr<cl::Watch> impl;
  void* user_data = nullptr;
  cairn_free_fn free_user_data = nullptr;
  std::once_flag freed;
  void Release() {
    if (impl) impl->Stop();
    std::call_once(freed, [this] {
      if (free_user_data != nullptr) free_user_data(user_data);
    });
  }
};

struct cairn_keepalive {
  std::unique_ptr<cl::KeepAlive> impl;
  void* user_data = nullptr;
  cairn_free_fn free_user_data = nullptr;
};

struct cairn_observe {
  std::unique_ptr<cl::Stream> impl;
  void* user_data = nullptr;
  cairn_free_fn free_user_data = nullptr;
};

namespace {

cl::CallOptions Call(cairn_cancel* cancel) {
  cl::CallOptions o;
  o.cancel = cancel != nullptr ? &cancel->token : nullptr;
  return o;
}

void FreeUserData(cairn_free_fn fn, void* user_data) {
  if (fn != nullptr) fn(user_data);
}

}  // namespace

extern "C" {

// ---- Versions and errors ----------------------------------------------------------------

int cairn_version_number(void) {
  return CAIRN_VERSION_NUMBER;
}
const char* cairn_version_string(void) {
  return CAIRN_VERSION_STRING;
}

const char* cairn_strerror(int code) {
  switch (code) {
    case CAIRN_OK: return "ok";
    case CAIRN_ECANCELLED: return "cancelled";
    case CAIRN_EUNKNOWN: return "unknown error";
    case CAIRN_EINVAL: return "invalid argument";
    case CAIRN_ETIMEDOUT: return "deadline exceeded";
    case CAIRN_ENOTFOUND: return "not found";
    case CAIRN_EEXISTS: return "already exists";
    case CAIRN_EPERM: return "permission denied";
    case CAIRN_ERESOURCE: return "resource exhausted";
    case CAIRN_EPRECONDITION: return "failed precondition";
    case CAIRN_EABORTED: return "aborted";
    case CAIRN_EOUTOFRANGE: return "out of range";
    case CAIRN_EUNIMPLEMENTED: return "unimplemented";
    case CAIRN_EINTERNAL: return "internal error";
    case CAIRN_EUNAVAILABLE: return "unavailable";
    case CAIRN_EDATALOSS: return "data loss";
    case CAIRN_EUNAUTHENTICATED: return "unauthenticated";
    case CAIRN_ECOMPACTED: return "required revision has been compacted";
    case CAIRN_EFUTUREREV: return "required revision is a future revision";
    case CAIRN_ENOSPACE: return "database space exceeded";
    case CAIRN_ELEASENOTFOUND: return "requested lease not found";
    case CAIRN_EKEYNOTFOUND: return "key not found";
    case CAIRN_EDUPLICATEKEY: return "duplicate key given in txn request";
    case CAIRN_ETOOMANYOPS: return "too many operations in txn request";
    case CAIRN_ETOOLARGE: return "request is too large";
    case CAIRN_EEMPTYKEY: return "key is not provided";
    case CAIRN_ENOLEADER: return "no leader";
    case CAIRN_ENOTLEADER: return "not leader";
    case CAIRN_ESTOPPED: return "server stopped";
    case CAIRN_ELEASEEXISTS: return "lease already exists";
    case CAIRN_ETTLTOOLARGE: return "too large lease TTL";
    case CAIRN_EELECTIONNOTLEADER: return "election: not leader";
    case CAIRN_EELECTIONNOLEADER: return "election: no leader";
    case CAIRN_ESESSIONEXPIRED: return "session is expired";
    case CAIRN_EVERSION: return "option struct version not supported";
    default: return "unknown error code";
  }
}

int cairn_error_code(const cairn_error* err) {
  return err != nullptr ? err->code : CAIRN_OK;
}
int cairn_error_grpc_code(const cairn_error* err) {
  return err != nullptr ? err->grpc_code : 0;
}
const char* cairn_error_message(const cairn_error* err) {
  return err != nullptr ? err->message.c_str() : "";
}
int cairn_error_retryable(const cairn_error* err) {
  return err != nullptr && Retryable(err->code) ? 1 : 0;
}
void cairn_error_free(cairn_error* err) {
  delete err;
}

// ---- Cancellation -----------------------------------------------------------------------

int cairn_cancel_new(cairn_cancel** out, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr) return Invalid(err, "out is NULL");
    *out = new cairn_cancel();
    return CAIRN_OK;
  });
}
void cairn_cancel_trigger(cairn_cancel* cancel) {
  if (cancel == nullptr) return;
  try {
    cancel->token.Cancel();
  } catch (...) {
  }
}
int cairn_cancel_is_triggered(const cairn_cancel* cancel) {
  return cancel != nullptr && cancel->token.cancelled() ? 1 : 0;
}
void cairn_cancel_free(cairn_cancel* cancel) {
  delete cancel;
}

// ---- Shared results ---------------------------------------------------------------------

uint64_t cairn_header_cluster_id(const cairn_header* h) {
  return h != nullptr ? As<pb::ResponseHeader>(h)->cluster_id() : 0;
}
uint64_t cairn_header_member_id(const cairn_header* h) {
  return h != nullptr ? As<pb::ResponseHeader>(h)->member_id() : 0;
}
int64_t cairn_header_revision(const cairn_header* h) {
  return h != nullptr ? As<pb::ResponseHeader>(h)->revision() : 0;
}
uint64_t cairn_header_raft_term(const cairn_header* h) {
  return h != nullptr ? As<pb::ResponseHeader>(h)->raft_term() : 0;
}

const uint8_t* cairn_kv_key(const cairn_kv* kv, size_t* len) {
  return ViewOf<mvccpb::KeyValue>(kv, len, &mvccpb::KeyValue::key);
}
const uint8_t* cairn_kv_value(const cairn_kv* kv, size_t* len) {
  return ViewOf<mvccpb::KeyValue>(kv, len, &mvccpb::KeyValue::value);
}
int64_t cairn_kv_create_revision(const cairn_kv* kv) {
  return kv != nullptr ? As<mvccpb::KeyValue>(kv)->create_revision() : 0;
}
int64_t cairn_kv_mod_revision(const cairn_kv* kv) {
  return kv != nullptr ? As<mvccpb::KeyValue>(kv)->mod_revision() : 0;
}
int64_t cairn_kv_version(const cairn_kv* kv) {
  return kv != nullptr ? As<mvccpb::KeyValue>(kv)->version() : 0;
}
int64_t cairn_kv_lease(const cairn_kv* kv) {
  return kv != nullptr ? As<mvccpb::KeyValue>(kv)->lease() : 0;
}

const uint8_t* cairn_bytes_data(const cairn_bytes* b, size_t* len) {
  if (b == nullptr) {
    if (len != nullptr) *len = 0;
    return nullptr;
  }
  return View(b->data, len);
}
void cairn_bytes_free(cairn_bytes* b) {
  delete b;
}

// ---- Node -------------------------------------------------------------------------------

int cairn_node_config_new(cairn_node_config** out, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr) return Invalid(err, "out is NULL");
    *out = new cairn_node_config();
    return CAIRN_OK;
  });
}

int cairn_node_config_set(cairn_node_config* config, const char* flag, const char* value,
                          cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (config == nullptr || flag == nullptr || value == nullptr) {
      return Invalid(err, "config, flag and value must not be NULL");
    }
    std::string name = flag;
    while (!name.empty() && name.front() == '-') name.erase(0, 1);
    if (name.empty() || name.find('=') != std::string::npos) {
      return Invalid(err, "invalid flag name \"" + std::string(flag) + "\"");
    }
    config->flags[name] = value;
    return CAIRN_OK;
  });
}

void cairn_node_config_free(cairn_node_config* config) {
  delete config;
}

int cairn_node_start(cairn_node** out, const cairn_node_config* config, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || config == nullptr) return Invalid(err, "out and config must not be NULL");
    *out = nullptr;
    std::vector<std::string> args;
    for (const auto& [flag, value] : config->flags) args.push_back("--" + flag + "=" + value);
    // Environment variables are not read: the embedding program decides everything.
    auto parsed = cairn::server::ParseCommandLine(args, {});
    if (!parsed.ok()) return Invalid(err, parsed.status().message());
    if (parsed->show_help || parsed->show_version) {
      return Invalid(err, "help and version are not node options");
    }
    cairn::log::Level level;
    if (cairn::log::ParseLevel(parsed->config.log_level, &level)) cairn::log::SetLevel(level);
    for (const std::string& w : parsed->warnings) cairn::log::Warn(w);
    auto node = cairn::rpc::Node::Start(parsed->config);
    if (!node.ok()) return Done(err, node.status());
    auto handle = std::make_unique<cairn_node>();
    handle->core = std::make_shared<NodeCore>();
    handle->core->node = std::move(*node);
    *out = handle.release();
    return CAIRN_OK;
  });
}

int cairn_node_wait_ready(cairn_node* node, int64_t timeout_ms, cairn_cancel* cancel,
                          cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (node == nullptr) return Invalid(err, "node is NULL");
    {
      std::lock_guard lock(node->core->mu);
      if (node->core->stopped) return Fail(err, CAIRN_ESTOPPED, "etcdserver: server stopped");
    }
    Status s = node->core->node->WaitReady(
        std::chrono::milliseconds(timeout_ms < 0 ? -1 : timeout_ms),
        [cancel] { return cancel != nullptr && cancel->token.cancelled(); });
    return Done(err, s);
  });
}

uint64_t cairn_node_id(const cairn_node* node) {
  return node != nullptr ? node->core->node->member()->id() : 0;
}
uint64_t cairn_node_cluster_id(const cairn_node* node) {
  return node != nullptr ? node->core->node->member()->cluster_id() : 0;
}
size_t cairn_node_client_url_count(const cairn_node* node) {
  return node != nullptr ? node->core->node->client_urls().size() : 0;
}
const char* cairn_node_client_url(const cairn_node* node, size_t i) {
  if (node == nullptr || i >= node->core->node->client_urls().size()) return nullptr;
  return node->core->node->client_urls()[i].c_str();
}

int cairn_node_stop(cairn_node* node, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (node == nullptr) return Invalid(err, "node is NULL");
    std::vector<std::weak_ptr<cl::Client>> clients;
    {
      std::lock_guard lock(node->core->mu);
      if (node->core->stopped) return CAIRN_OK;
      node->core->stopped = true;
      clients.swap(node->core->clients);
    }
    // In-process clients hold watch streams and waits of the member: they end first.
    for (auto& weak : clients) {
      if (auto c = weak.lock()) c->Close(Status(Code::kUnavailable, "etcdserver: server stopped"));
    }
    node->core->node->Stop();
    return CAIRN_OK;
  });
}

void cairn_node_free(cairn_node* node) {
  if (node == nullptr) return;
  cairn_node_stop(node, nullptr);
  try {
    delete node;
  } catch (...) {
  }
}

int cairn_node_status(cairn_status** out, cairn_node* node, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || node == nullptr) return Invalid(err, "out and node must not be NULL");
    *out = nullptr;
    {
      std::lock_guard lock(node->core->mu);
      if (node->core->stopped) return Fail(err, CAIRN_ESTOPPED, "etcdserver: server stopped");
    }
    auto resp = std::make_unique<pb::StatusResponse>();
    if (int rc = Done(err, node->core->node->member()->GetStatus(resp.get()))) return rc;
    *out = Handle<cairn_status>(resp.release());
    return CAIRN_OK;
  });
}

// ---- Client -----------------------------------------------------------------------------

int cairn_client_options_init(cairn_client_options* opts, int version) {
  if (opts == nullptr) return CAIRN_EINVAL;
  if (version != CAIRN_CLIENT_OPTIONS_VERSION) return CAIRN_EVERSION;
  *opts = cairn_client_options CAIRN_CLIENT_OPTIONS_INIT;
  return CAIRN_OK;
}

namespace {

int ToOptions(const cairn_client_options* opts, cl::Options* out, cairn_error** err) {
  if (int rc = CheckVersion(opts, CAIRN_CLIENT_OPTIONS_VERSION, "cairn_client_options", err)) {
    return rc;
  }
  cairn_client_options o = CAIRN_CLIENT_OPTIONS_INIT;
  if (opts != nullptr) o = *opts;
  if (o.dial_timeout_ms < 0 || o.request_timeout_ms < 0) {
    return Invalid(err, "timeouts must not be negative");
  }
  out->dial_timeout = std::chrono::milliseconds(o.dial_timeout_ms);
  out->request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
  out->require_leader = o.require_leader != 0;
  return CAIRN_OK;
}

}  // namespace

int cairn_client_connect(cairn_client** out, const char* const* endpoints, size_t count,
                         const cairn_client_options* opts, cairn_cancel* cancel,
                         cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr) return Invalid(err, "out is NULL");
    *out = nullptr;
    if (endpoints == nullptr || count == 0) return Invalid(err, "no endpoints given");
    std::vector<std::string> list;
    for (size_t i = 0; i < count; ++i) {
      if (endpoints[i] == nullptr) return Invalid(err, "an endpoint is NULL");
      list.emplace_back(endpoints[i]);
    }
    cl::Options o;
    if (int rc = ToOptions(opts, &o, err)) return rc;
    auto c = cl::Connect(list, o, cancel != nullptr ? &cancel->token : nullptr);
    if (!c.ok()) return Done(err, c.status());
    *out = new cairn_client{std::shared_ptr<cl::Client>(std::move(*c))};
    return CAIRN_OK;
  });
}

int cairn_node_client(cairn_client** out, cairn_node* node, const cairn_client_options* opts,
                      cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || node == nullptr) return Invalid(err, "out and node must not be NULL");
    *out = nullptr;
    cl::Options o;
    if (int rc = ToOptions(opts, &o, err)) return rc;
    std::lock_guard lock(node->core->mu);
    if (node->core->stopped) return Fail(err, CAIRN_ESTOPPED, "etcdserver: server stopped");
    std::shared_ptr<cl::Client> c = cl::InProcess(node->core->node->member(), o);
    // Forget clients already freed, so a long-lived node does not collect them.
    auto& list = node->core->clients;
    list.erase(std::remove_if(list.begin(), list.end(), [](auto& w) { return w.expired(); }),
               list.end());
    list.push_back(c);
    *out = new cairn_client{std::move(c)};
    return CAIRN_OK;
  });
}

void cairn_client_free(cairn_client* client) {
  if (client == nullptr) return;
  try {
    client->impl->Close(cairn::Cancelled("client closed"));
    delete client;
  } catch (...) {
  }
}

// ---- KV ---------------------------------------------------------------------------------

int cairn_range_options_init(cairn_range_options* opts, int version) {
  if (opts == nullptr) return CAIRN_EINVAL;
  if (version != CAIRN_RANGE_OPTIONS_VERSION) return CAIRN_EVERSION;
  *opts = cairn_range_options CAIRN_RANGE_OPTIONS_INIT;
  return CAIRN_OK;
}
int cairn_put_options_init(cairn_put_options* opts, int version) {
  if (opts == nullptr) return CAIRN_EINVAL;
  if (version != CAIRN_PUT_OPTIONS_VERSION) return CAIRN_EVERSION;
  *opts = cairn_put_options CAIRN_PUT_OPTIONS_INIT;
  return CAIRN_OK;
}
int cairn_delete_options_init(cairn_delete_options* opts, int version) {
  if (opts == nullptr) return CAIRN_EINVAL;
  if (version != CAIRN_DELETE_OPTIONS_VERSION) return CAIRN_EVERSION;
  *opts = cairn_delete_options CAIRN_DELETE_OPTIONS_INIT;
  return CAIRN_OK;
}
int cairn_watch_options_init(cairn_watch_options* opts, int version) {
  if (opts == nullptr) return CAIRN_EINVAL;
  if (version != CAIRN_WATCH_OPTIONS_VERSION) return CAIRN_EVERSION;
  *opts = cairn_watch_options CAIRN_WATCH_OPTIONS_INIT;
  return CAIRN_OK;
}

const cairn_header* cairn_range_result_header(const cairn_range_result* r) {
  return r != nullptr ? ConstHandle<cairn_header>(&As<pb::RangeResponse>(r)->header()) : nullptr;
}
size_t cairn_range_result_kv_count(const cairn_range_result* r) {
  return r != nullptr ? static_cast<size_t>(As<pb::RangeResponse>(r)->kvs_size()) : 0;
}
const cairn_kv* cairn_range_result_kv(const cairn_range_result* r, size_t i) {
  if (r == nullptr || i >= cairn_range_result_kv_count(r)) return nullptr;
  return ConstHandle<cairn_kv>(&As<pb::RangeResponse>(r)->kvs(static_cast<int>(i)));
}
int cairn_range_result_more(const cairn_range_result* r) {
  return r != nullptr && As<pb::RangeResponse>(r)->more() ? 1 : 0;
}
int64_t cairn_range_result_count(const cairn_range_result* r) {
  return r != nullptr ? As<pb::RangeResponse>(r)->count() : 0;
}
void cairn_range_result_free(cairn_range_result* r) {
  delete AsMut<pb::RangeResponse>(r);
}

namespace {

int DoRange(cairn_range_result** out, cairn_client* client, const uint8_t* key, size_t key_len,
            const cairn_range_options* opts, cairn_cancel* cancel, cairn_error** err) {
  if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
  *out = nullptr;
  pb::RangeRequest req;
  if (int rc = FillRange(&req, key, key_len, opts, err)) return rc;
  auto resp = std::make_unique<pb::RangeResponse>();
  if (int rc = Done(err, client->impl->Range(req, resp.get(), Call(cancel)))) return rc;
  *out = Handle<cairn_range_result>(resp.release());
  return CAIRN_OK;
}

}  // namespace

int cairn_kv_get(cairn_range_result** out, cairn_client* client, const uint8_t* key, size_t key_len,
                 cairn_cancel* cancel, cairn_error** err) {
  return Guard(err,
               [&]() -> int { return DoRange(out, client, key, key_len, nullptr, cancel, err); });
}

int cairn_kv_range(cairn_range_result** out, cairn_client* client, const uint8_t* key,
                   size_t key_len, const cairn_range_options* opts, cairn_cancel* cancel,
                   cairn_error** err) {
  return Guard(err, [&]() -> int { return DoRange(out, client, key, key_len, opts, cancel, err); });
}

const cairn_header* cairn_put_result_header(const cairn_put_result* r) {
  return r != nullptr ? ConstHandle<cairn_header>(&As<pb::PutResponse>(r)->header()) : nullptr;
}
const cairn_kv* cairn_put_result_prev_kv(const cairn_put_result* r) {
  if (r == nullptr || !As<pb::PutResponse>(r)->has_prev_kv()) return nullptr;
  return ConstHandle<cairn_kv>(&As<pb::PutResponse>(r)->prev_kv());
}
void cairn_put_result_free(cairn_put_result* r) {
  delete AsMut<pb::PutResponse>(r);
}

int cairn_kv_put(cairn_put_result** out, cairn_client* client, const uint8_t* key, size_t key_len,
                 const uint8_t* value, size_t value_len, const cairn_put_options* opts,
                 cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out != nullptr) *out = nullptr;
    if (client == nullptr) return Invalid(err, "client is NULL");
    pb::PutRequest req;
    if (int rc = FillPut(&req, key, key_len, value, value_len, opts, err)) return rc;
    auto resp = std::make_unique<pb::PutResponse>();
    if (int rc = Done(err, client->impl->Put(req, resp.get(), Call(cancel)))) return rc;
    if (out != nullptr) *out = Handle<cairn_put_result>(resp.release());
    return CAIRN_OK;
  });
}

const cairn_header* cairn_delete_result_header(const cairn_delete_result* r) {
  return r != nullptr ? ConstHandle<cairn_header>(&As<pb::DeleteRangeResponse>(r)->header())
                      : nullptr;
}
int64_t cairn_delete_result_deleted(const cairn_delete_result* r) {
  return r != nullptr ? As<pb::DeleteRangeResponse>(r)->deleted() : 0;
}
size_t cairn_delete_result_prev_kv_count(const cairn_delete_result* r) {
  return r != nullptr ? static_cast<size_t>(As<pb::DeleteRangeResponse>(r)->prev_kvs_size()) : 0;
}
const cairn_kv* cairn_delete_result_prev_kv(const cairn_delete_result* r, size_t i) {
  if (r == nullptr || i >= cairn_delete_result_prev_kv_count(r)) return nullptr;
  return ConstHandle<cairn_kv>(&As<pb::DeleteRangeResponse>(r)->prev_kvs(static_cast<int>(i)));
}
void cairn_delete_result_free(cairn_delete_result* r) {
  delete AsMut<pb::DeleteRangeResponse>(r);
}

int cairn_kv_delete(cairn_delete_result** out, cairn_client* client, const uint8_t* key,
                    size_t key_len, const cairn_delete_options* opts, cairn_cancel* cancel,
                    cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out != nullptr) *out = nullptr;
    if (client == nullptr) return Invalid(err, "client is NULL");
    pb::DeleteRangeRequest req;
    if (int rc = FillDelete(&req, key, key_len, opts, err)) return rc;
    auto resp = std::make_unique<pb::DeleteRangeResponse>();
    if (int rc = Done(err, client->impl->DeleteRange(req, resp.get(), Call(cancel)))) return rc;
    if (out != nullptr) *out = Handle<cairn_delete_result>(resp.release());
    return CAIRN_OK;
  });
}

int cairn_kv_compact(cairn_client* client, int64_t revision, int physical, cairn_cancel* cancel,
                     cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (client == nullptr) return Invalid(err, "client is NULL");
    pb::CompactionRequest req;
    req.set_revision(revision);
    req.set_physical(physical != 0);
    pb::CompactionResponse resp;
    return Done(err, client->impl->Compact(req, &resp, Call(cancel)));
  });
}

// ---- Transactions -----------------------------------------------------------------------

int cairn_txn_new(cairn_txn** out, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr) return Invalid(err, "out is NULL");
    *out = Handle<cairn_txn>(new pb::TxnRequest());
    return CAIRN_OK;
  });
}
void cairn_txn_free(cairn_txn* txn) {
  delete AsMut<pb::TxnRequest>(txn);
}

namespace {

int Compare(cairn_txn* txn, const uint8_t* key, size_t key_len, int op, cairn_error** err,
            pb::Compare** out) {
  if (txn == nullptr) return Invalid(err, "txn is NULL");
  if (BadBytes(key, key_len)) return Invalid(err, "key is NULL");
  if (op < CAIRN_CMP_EQUAL || op > CAIRN_CMP_NOT_EQUAL) return Invalid(err, "invalid compare op");
  pb::Compare* c = AsMut<pb::TxnRequest>(txn)->add_compare();
  c->set_key(Bytes(key, key_len));
  c->set_result(static_cast<pb::Compare::CompareResult>(op));
  *out = c;
  return CAIRN_OK;
}

int Branch(cairn_txn* txn, int branch, cairn_error** err, pb::RequestOp** out) {
  if (txn == nullptr) return Invalid(err, "txn is NULL");
  if (branch != CAIRN_TXN_THEN && branch != CAIRN_TXN_ELSE) return Invalid(err, "invalid branch");
  auto* t = AsMut<pb::TxnRequest>(txn);
  *out = branch == CAIRN_TXN_THEN ? t->add_success() : t->add_failure();
  return CAIRN_OK;
}

// Removes the op just added when filling it failed: a failed builder call changes nothing.
void DropLast(cairn_txn* txn, int branch) {
  auto* t = AsMut<pb::TxnRequest>(txn);
  if (branch == CAIRN_TXN_THEN) {
    t->mutable_success()->RemoveLast();
  } else {
    t->mutable_failure()->RemoveLast();
  }
}

}  // namespace

int cairn_txn_compare_range_number(cairn_txn* txn, const uint8_t* key, size_t key_len,
                                   const uint8_t* range_end, size_t range_end_len, int target,
                                   int op, int64_t number, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (target != CAIRN_CMP_VERSION && target != CAIRN_CMP_CREATE && target != CAIRN_CMP_MOD &&
        target != CAIRN_CMP_LEASE) {
      return Invalid(err, "invalid compare target for a number");
    }
    if (BadBytes(range_end, range_end_len)) return Invalid(err, "range_end is NULL");
    pb::Compare* c = nullptr;
    if (int rc = Compare(txn, key, key_len, op, err, &c)) return rc;
    c->set_range_end(Bytes(range_end, range_end_len));
    c->set_target(static_cast<pb::Compare::CompareTarget>(target));
    switch (target) {
      case CAIRN_CMP_VERSION: c->set_version(number); break;
      case CAIRN_CMP_CREATE: c->set_create_revision(number); break;
      case CAIRN_CMP_MOD: c->set_mod_revision(number); break;
      default: c->set_lease(number); break;
    }
    return CAIRN_OK;
  });
}

int cairn_txn_compare_number(cairn_txn* txn, const uint8_t* key, size_t key_len, int target, int op,
                             int64_t number, cairn_error** err) {
  return cairn_txn_compare_range_number(txn, key, key_len, nullptr, 0, target, op, number, err);
}

int cairn_txn_compare_range_value(cairn_txn* txn, const uint8_t* key, size_t key_len,
                                  const uint8_t* range_end, size_t range_end_len, int op,
                                  const uint8_t* value, size_t value_len, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (BadBytes(value, value_len)) return Invalid(err, "value is NULL");
    if (BadBytes(range_end, range_end_len)) return Invalid(err, "range_end is NULL");
    pb::Compare* c = nullptr;
    if (int rc = Compare(txn, key, key_len, op, err, &c)) return rc;
    c->set_range_end(Bytes(range_end, range_end_len));
    c->set_target(pb::Compare::VALUE);
    c->set_value(Bytes(value, value_len));
    return CAIRN_OK;
  });
}

int cairn_txn_compare_value(cairn_txn* txn, const uint8_t* key, size_t key_len, int op,
                            const uint8_t* value, size_t value_len, cairn_error** err) {
  return cairn_txn_compare_range_value(txn, key, key_len, nullptr, 0, op, value, value_len, err);
}

int cairn_txn_range(cairn_txn* txn, int branch, const uint8_t* key, size_t key_len,
                    const cairn_range_options* opts, cairn_error** err) {
  return Guard(err, [&]() -> int {
    pb::RequestOp* op = nullptr;
    if (int rc = Branch(txn, branch, err, &op)) return rc;
    if (int rc = FillRange(op->mutable_request_range(), key, key_len, opts, err)) {
      DropLast(txn, branch);
      return rc;
    }
    return CAIRN_OK;
  });
}

int cairn_txn_put(cairn_txn* txn, int branch, const uint8_t* key, size_t key_len,
                  const uint8_t* value, size_t value_len, const cairn_put_options* opts,
                  cairn_error** err) {
  return Guard(err, [&]() -> int {
    pb::RequestOp* op = nullptr;
    if (int rc = Branch(txn, branch, err, &op)) return rc;
    if (int rc = FillPut(op->mutable_request_put(), key, key_len, value, value_len, opts, err)) {
      DropLast(txn, branch);
      return rc;
    }
    return CAIRN_OK;
  });
}

int cairn_txn_delete(cairn_txn* txn, int branch, const uint8_t* key, size_t key_len,
                     const cairn_delete_options* opts, cairn_error** err) {
  return Guard(err, [&]() -> int {
    pb::RequestOp* op = nullptr;
    if (int rc = Branch(txn, branch, err, &op)) return rc;
    if (int rc = FillDelete(op->mutable_request_delete_range(), key, key_len, opts, err)) {
      DropLast(txn, branch);
      return rc;
    }
    return CAIRN_OK;
  });
}

int cairn_txn_txn(cairn_txn* txn, int branch, const cairn_txn* nested, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (nested == nullptr) return Invalid(err, "nested is NULL");
    if (nested == txn) {
      pb::TxnRequest copy = *As<pb::TxnRequest>(nested);
      pb::RequestOp* op = nullptr;
      if (int rc = Branch(txn, branch, err, &op)) return rc;
      *op->mutable_request_txn() = std::move(copy);
      return CAIRN_OK;
    }
    pb::RequestOp* op = nullptr;
    if (int rc = Branch(txn, branch, err, &op)) return rc;
    *op->mutable_request_txn() = *As<pb::TxnRequest>(nested);
    return CAIRN_OK;
  });
}

const cairn_header* cairn_txn_result_header(const cairn_txn_result* r) {
  return r != nullptr ? ConstHandle<cairn_header>(&As<pb::TxnResponse>(r)->header()) : nullptr;
}
int cairn_txn_result_succeeded(const cairn_txn_result* r) {
  return r != nullptr && As<pb::TxnResponse>(r)->succeeded() ? 1 : 0;
}
size_t cairn_txn_result_op_count(const cairn_txn_result* r) {
  return r != nullptr ? static_cast<size_t>(As<pb::TxnResponse>(r)->responses_size()) : 0;
}

namespace {

const pb::ResponseOp* Op(const cairn_txn_result* r, size_t i) {
  if (r == nullptr || i >= cairn_txn_result_op_count(r)) return nullptr;
  return &As<pb::TxnResponse>(r)->responses(static_cast<int>(i));
}

}  // namespace

int cairn_txn_result_op_type(const cairn_txn_result* r, size_t i) {
  const pb::ResponseOp* op = Op(r, i);
  if (op == nullptr) return 0;
  switch (op->response_case()) {
    case pb::ResponseOp::kResponseRange: return CAIRN_OP_RANGE;
    case pb::ResponseOp::kResponsePut: return CAIRN_OP_PUT;
    case pb::ResponseOp::kResponseDeleteRange: return CAIRN_OP_DELETE;
    case pb::ResponseOp::kResponseTxn: return CAIRN_OP_TXN;
    default: return 0;
  }
}
const cairn_range_result* cairn_txn_result_op_range(const cairn_txn_result* r, size_t i) {
  const pb::ResponseOp* op = Op(r, i);
  if (op == nullptr || !op->has_response_range()) return nullptr;
  return ConstHandle<cairn_range_result>(&op->response_range());
}
const cairn_put_result* cairn_txn_result_op_put(const cairn_txn_result* r, size_t i) {
  const pb::ResponseOp* op = Op(r, i);
  if (op == nullptr || !op->has_response_put()) return nullptr;
  return ConstHandle<cairn_put_result>(&op->response_put());
}
const cairn_delete_result* cairn_txn_result_op_delete(const cairn_txn_result* r, size_t i) {
  const pb::ResponseOp* op = Op(r, i);
  if (op == nullptr || !op->has_response_delete_range()) return nullptr;
  return ConstHandle<cairn_delete_result>(&op->response_delete_range());
}
const cairn_txn_result* cairn_txn_result_op_txn(const cairn_txn_result* r, size_t i) {
  const pb::ResponseOp* op = Op(r, i);
  if (op == nullptr || !op->has_response_txn()) return nullptr;
  return ConstHandle<cairn_txn_result>(&op->response_txn());
}
void cairn_txn_result_free(cairn_txn_result* r) {
  delete AsMut<pb::TxnResponse>(r);
}

int cairn_txn_commit(cairn_txn_result** out, cairn_client* client, const cairn_txn* txn,
                     cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr || txn == nullptr) {
      return Invalid(err, "out, client and txn must not be NULL");
    }
    *out = nullptr;
    auto resp = std::make_unique<pb::TxnResponse>();
    if (int rc = Done(err, client->impl->Txn(*As<pb::TxnRequest>(txn), resp.get(), Call(cancel)))) {
      return rc;
    }
    *out = Handle<cairn_txn_result>(resp.release());
    return CAIRN_OK;
  });
}

// ---- Watch ------------------------------------------------------------------------------

int cairn_event_type(const cairn_event* e) {
  return e != nullptr && As<mvccpb::Event>(e)->type() == mvccpb::Event::DELETE ? CAIRN_EVENT_DELETE
                                                                               : CAIRN_EVENT_PUT;
}
const cairn_kv* cairn_event_kv(const cairn_event* e) {
  return e != nullptr ? ConstHandle<cairn_kv>(&As<mvccpb::Event>(e)->kv()) : nullptr;
}
const cairn_kv* cairn_event_prev_kv(const cairn_event* e) {
  if (e == nullptr || !As<mvccpb::Event>(e)->has_prev_kv()) return nullptr;
  return ConstHandle<cairn_kv>(&As<mvccpb::Event>(e)->prev_kv());
}

const cairn_header* cairn_watch_batch_header(const cairn_watch_batch* b) {
  return b != nullptr ? ConstHandle<cairn_header>(&b->resp->header()) : nullptr;
}
size_t cairn_watch_batch_event_count(const cairn_watch_batch* b) {
  return b != nullptr ? static_cast<size_t>(b->resp->events_size()) : 0;
}
const cairn_event* cairn_watch_batch_event(const cairn_watch_batch* b, size_t i) {
  if (b == nullptr || i >= cairn_watch_batch_event_count(b)) return nullptr;
  return ConstHandle<cairn_event>(&b->resp->events(static_cast<int>(i)));
}
int cairn_watch_batch_final(const cairn_watch_batch* b) {
  return b != nullptr && b->resp->canceled() ? 1 : 0;
}
int cairn_watch_batch_error(const cairn_watch_batch* b) {
  if (b == nullptr || !b->resp->canceled()) return CAIRN_OK;
  if (!b->end.ok()) return CodeOf(b->end);
  if (b->resp->compact_revision() > 0) return CAIRN_ECOMPACTED;
  return CAIRN_ECANCELLED;
}
int64_t cairn_watch_batch_compact_revision(const cairn_watch_batch* b) {
  return b != nullptr ? b->resp->compact_revision() : 0;
}

int cairn_watch_start(cairn_watch** out, cairn_client* client, const uint8_t* key, size_t key_len,
                      const cairn_watch_options* opts, cairn_watch_cb cb, void* user_data,
                      cairn_free_fn free_user_data, cairn_cancel* cancel, cairn_error** err) {
  int rc = Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr || cb == nullptr) {
      return Invalid(err, "out, client and cb must not be NULL");
    }
    *out = nullptr;
    if (int r = CheckVersion(opts, CAIRN_WATCH_OPTIONS_VERSION, "cairn_watch_options", err)) {
      return r;
    }
    if (BadBytes(key, key_len)) return Invalid(err, "key is NULL");
    pb::WatchCreateRequest req;
    req.set_key(Bytes(key, key_len));
    if (opts != nullptr) {
      std::string end;
      if (int r = RangeEnd(req.key(), opts->range_end, opts->range_end_len, opts->prefix,
                           opts->from_key, &end, err)) {
        return r;
      }
      req.set_range_end(end);
      req.set_start_revision(opts->start_revision);
      req.set_prev_kv(opts->prev_kv != 0);
      req.set_progress_notify(opts->progress_notify != 0);
      req.set_fragment(opts->fragment != 0);
      if (opts->filter_put) req.add_filters(pb::WatchCreateRequest::NOPUT);
      if (opts->filter_delete) req.add_filters(pb::WatchCreateRequest::NODELETE);
    }
    auto w = std::make_unique<cairn_watch>();
    cl::WatchCallback adapter = [cb, user_data](const pb::WatchResponse& resp, const Status& end) {
      cairn_watch_batch batch{&resp, end};
      return cb(&batch, user_data) == 0;
    };
    auto started = client->impl->StartWatch(req, std::move(adapter), Call(cancel));
    if (!started.ok()) return Done(err, started.status());
    w->impl = std::move(*started);
    w->user_data = user_data;
    w->free_user_data = free_user_data;
    *out = w.release();
    return CAIRN_OK;
  });
  if (rc != CAIRN_OK) FreeUserData(free_user_data, user_data);
  return rc;
}

int64_t cairn_watch_id(const cairn_watch* w) {
  return w != nullptr ? w->impl->id() : -1;
}

int cairn_watch_request_progress(cairn_watch* w, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (w == nullptr) return Invalid(err, "watch is NULL");
    return Done(err, w->impl->RequestProgress());
  });
}

int cairn_watch_cancel(cairn_watch* w, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (w == nullptr) return Invalid(err, "watch is NULL");
    w->Release();
    return CAIRN_OK;
  });
}

void cairn_watch_free(cairn_watch* w) {
  if (w == nullptr) return;
  try {
    w->Release();
    delete w;
  } catch (...) {
  }
}

// ---- Leases -----------------------------------------------------------------------------

int cairn_lease_grant(int64_t* id_out, int64_t* ttl_out, cairn_client* client, int64_t ttl,
                      int64_t id, cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (client == nullptr) return Invalid(err, "client is NULL");
    pb::LeaseGrantRequest req;
    req.set_ttl(ttl);
    req.set_id(id);
    pb::LeaseGrantResponse resp;
    if (int rc = Done(err, client->impl->LeaseGrant(req, &resp, Call(cancel)))) return rc;
    if (!resp.error().empty()) return Fail(err, CAIRN_EUNKNOWN, resp.error());
    if (id_out != nullptr) *id_out = resp.id();
    if (ttl_out != nullptr) *ttl_out = resp.ttl();
    return CAIRN_OK;
  });
}

int cairn_lease_revoke(cairn_client* client, int64_t id, cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (client == nullptr) return Invalid(err, "client is NULL");
    pb::LeaseRevokeRequest req;
    req.set_id(id);
    pb::LeaseRevokeResponse resp;
    return Done(err, client->impl->LeaseRevoke(req, &resp, Call(cancel)));
  });
}

const cairn_header* cairn_lease_info_header(const cairn_lease_info* l) {
  return l != nullptr ? ConstHandle<cairn_header>(&As<pb::LeaseTimeToLiveResponse>(l)->header())
                      : nullptr;
}
int64_t cairn_lease_info_id(const cairn_lease_info* l) {
  return l != nullptr ? As<pb::LeaseTimeToLiveResponse>(l)->id() : 0;
}
int64_t cairn_lease_info_ttl(const cairn_lease_info* l) {
  return l != nullptr ? As<pb::LeaseTimeToLiveResponse>(l)->ttl() : -1;
}
int64_t cairn_lease_info_granted_ttl(const cairn_lease_info* l) {
  return l != nullptr ? As<pb::LeaseTimeToLiveResponse>(l)->grantedttl() : 0;
}
size_t cairn_lease_info_key_count(const cairn_lease_info* l) {
  return l != nullptr ? static_cast<size_t>(As<pb::LeaseTimeToLiveResponse>(l)->keys_size()) : 0;
}
const uint8_t* cairn_lease_info_key(const cairn_lease_info* l, size_t i, size_t* len) {
  if (l == nullptr || i >= cairn_lease_info_key_count(l)) {
    if (len != nullptr) *len = 0;
    return nullptr;
  }
  return View(As<pb::LeaseTimeToLiveResponse>(l)->keys(static_cast<int>(i)), len);
}
void cairn_lease_info_free(cairn_lease_info* l) {
  delete AsMut<pb::LeaseTimeToLiveResponse>(l);
}

int cairn_lease_time_to_live(cairn_lease_info** out, cairn_client* client, int64_t id,
                             int with_keys, cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
    *out = nullptr;
    pb::LeaseTimeToLiveRequest req;
    req.set_id(id);
    req.set_keys(with_keys != 0);
    auto resp = std::make_unique<pb::LeaseTimeToLiveResponse>();
    if (int rc = Done(err, client->impl->LeaseTimeToLive(req, resp.get(), Call(cancel)))) {
      return rc;
    }
    *out = Handle<cairn_lease_info>(resp.release());
    return CAIRN_OK;
  });
}

size_t cairn_lease_list_count(const cairn_lease_list* l) {
  return l != nullptr ? static_cast<size_t>(As<pb::LeaseLeasesResponse>(l)->leases_size()) : 0;
}
int64_t cairn_lease_list_id(const cairn_lease_list* l, size_t i) {
  if (l == nullptr || i >= cairn_lease_list_count(l)) return 0;
  return As<pb::LeaseLeasesResponse>(l)->leases(static_cast<int>(i)).id();
}
void cairn_lease_list_free(cairn_lease_list* l) {
  delete AsMut<pb::LeaseLeasesResponse>(l);
}

int cairn_lease_leases(cairn_lease_list** out, cairn_client* client, cairn_cancel* cancel,
                       cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
    *out = nullptr;
    auto resp = std::make_unique<pb::LeaseLeasesResponse>();
    if (int rc = Done(err, client->impl->LeaseLeases(resp.get(), Call(cancel)))) return rc;
    *out = Handle<cairn_lease_list>(resp.release());
    return CAIRN_OK;
  });
}

int cairn_lease_keepalive_start(cairn_keepalive** out, cairn_client* client, int64_t id,
                                cairn_keepalive_cb cb, void* user_data,
                                cairn_free_fn free_user_data, cairn_cancel* cancel,
                                cairn_error** err) {
  int rc = Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
    *out = nullptr;
    cl::KeepAliveCallback adapter = [cb, user_data, id](int64_t ttl) {
      return cb == nullptr || cb(id, ttl, user_data) == 0;
    };
    auto started = client->impl->StartKeepAlive(id, std::move(adapter), Call(cancel));
    if (!started.ok()) return Done(err, started.status());
    *out = new cairn_keepalive{std::move(*started), user_data, free_user_data};
    return CAIRN_OK;
  });
  if (rc != CAIRN_OK) FreeUserData(free_user_data, user_data);
  return rc;
}

int64_t cairn_keepalive_ttl(const cairn_keepalive* k) {
  return k != nullptr ? k->impl->ttl() : 0;
}

void cairn_keepalive_free(cairn_keepalive* k) {
  if (k == nullptr) return;
  try {
    k->impl->Stop();
    FreeUserData(k->free_user_data, k->user_data);
    delete k;
  } catch (...) {
  }
}

// ---- Lock -------------------------------------------------------------------------------

int cairn_lock_acquire(cairn_bytes** key_out, cairn_client* client, const uint8_t* name,
                       size_t name_len, int64_t lease, cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (key_out == nullptr || client == nullptr) {
      return Invalid(err, "key_out and client must not be NULL");
    }
    *key_out = nullptr;
    if (BadBytes(name, name_len)) return Invalid(err, "name is NULL");
    v3lockpb::LockRequest req;
    req.set_name(Bytes(name, name_len));
    req.set_lease(lease);
    v3lockpb::LockResponse resp;
    if (int rc = Done(err, client->impl->Lock(req, &resp, Call(cancel)))) return rc;
    *key_out = new cairn_bytes{resp.key()};
    return CAIRN_OK;
  });
}

int cairn_lock_release(cairn_client* client, const uint8_t* key, size_t key_len,
                       cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (client == nullptr) return Invalid(err, "client is NULL");
    if (BadBytes(key, key_len)) return Invalid(err, "key is NULL");
    v3lockpb::UnlockRequest req;
    req.set_key(Bytes(key, key_len));
    v3lockpb::UnlockResponse resp;
    return Done(err, client->impl->Unlock(req, &resp, Call(cancel)));
  });
}

// ---- Election ---------------------------------------------------------------------------

const uint8_t* cairn_leader_key_name(const cairn_leader_key* l, size_t* len) {
  return ViewOf<v3electionpb::LeaderKey>(l, len, &v3electionpb::LeaderKey::name);
}
const uint8_t* cairn_leader_key_key(const cairn_leader_key* l, size_t* len) {
  return ViewOf<v3electionpb::LeaderKey>(l, len, &v3electionpb::LeaderKey::key);
}
int64_t cairn_leader_key_revision(const cairn_leader_key* l) {
  return l != nullptr ? As<v3electionpb::LeaderKey>(l)->rev() : 0;
}
int64_t cairn_leader_key_lease(const cairn_leader_key* l) {
  return l != nullptr ? As<v3electionpb::LeaderKey>(l)->lease() : 0;
}
void cairn_leader_key_free(cairn_leader_key* l) {
  delete AsMut<v3electionpb::LeaderKey>(l);
}

int cairn_election_campaign(cairn_leader_key** out, cairn_client* client, const uint8_t* name,
                            size_t name_len, int64_t lease, const uint8_t* value, size_t value_len,
                            cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
    *out = nullptr;
    if (BadBytes(name, name_len) || BadBytes(value, value_len)) {
      return Invalid(err, "name or value is NULL");
    }
    v3electionpb::CampaignRequest req;
    req.set_name(Bytes(name, name_len));
    req.set_lease(lease);
    req.set_value(Bytes(value, value_len));
    v3electionpb::CampaignResponse resp;
    if (int rc = Done(err, client->impl->Campaign(req, &resp, Call(cancel)))) return rc;
    *out = Handle<cairn_leader_key>(new v3electionpb::LeaderKey(resp.leader()));
    return CAIRN_OK;
  });
}

int cairn_election_proclaim(cairn_client* client, const cairn_leader_key* leader,
                            const uint8_t* value, size_t value_len, cairn_cancel* cancel,
                            cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (client == nullptr || leader == nullptr) {
      return Invalid(err, "client and leader must not be NULL");
    }
    if (BadBytes(value, value_len)) return Invalid(err, "value is NULL");
    v3electionpb::ProclaimRequest req;
    *req.mutable_leader() = *As<v3electionpb::LeaderKey>(leader);
    req.set_value(Bytes(value, value_len));
    v3electionpb::ProclaimResponse resp;
    return Done(err, client->impl->Proclaim(req, &resp, Call(cancel)));
  });
}

int cairn_election_resign(cairn_client* client, const cairn_leader_key* leader,
                          cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (client == nullptr || leader == nullptr) {
      return Invalid(err, "client and leader must not be NULL");
    }
    v3electionpb::ResignRequest req;
    *req.mutable_leader() = *As<v3electionpb::LeaderKey>(leader);
    v3electionpb::ResignResponse resp;
    return Done(err, client->impl->Resign(req, &resp, Call(cancel)));
  });
}

const cairn_header* cairn_leader_header(const cairn_leader* l) {
  return l != nullptr ? ConstHandle<cairn_header>(&As<v3electionpb::LeaderResponse>(l)->header())
                      : nullptr;
}
const cairn_kv* cairn_leader_kv(const cairn_leader* l) {
  if (l == nullptr || !As<v3electionpb::LeaderResponse>(l)->has_kv()) return nullptr;
  return ConstHandle<cairn_kv>(&As<v3electionpb::LeaderResponse>(l)->kv());
}
void cairn_leader_free(cairn_leader* l) {
  delete AsMut<v3electionpb::LeaderResponse>(l);
}

int cairn_election_leader(cairn_leader** out, cairn_client* client, const uint8_t* name,
                          size_t name_len, cairn_cancel* cancel, cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
    *out = nullptr;
    if (BadBytes(name, name_len)) return Invalid(err, "name is NULL");
    v3electionpb::LeaderRequest req;
    req.set_name(Bytes(name, name_len));
    auto resp = std::make_unique<v3electionpb::LeaderResponse>();
    if (int rc = Done(err, client->impl->Leader(req, resp.get(), Call(cancel)))) return rc;
    *out = Handle<cairn_leader>(resp.release());
    return CAIRN_OK;
  });
}

int cairn_election_observe(cairn_observe** out, cairn_client* client, const uint8_t* name,
                           size_t name_len, cairn_observe_cb cb, void* user_data,
                           cairn_free_fn free_user_data, cairn_error** err) {
  int rc = Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr || cb == nullptr) {
      return Invalid(err, "out, client and cb must not be NULL");
    }
    *out = nullptr;
    if (BadBytes(name, name_len)) return Invalid(err, "name is NULL");
    v3electionpb::LeaderRequest req;
    req.set_name(Bytes(name, name_len));
    cl::ObserveCallback adapter = [cb, user_data](const v3electionpb::LeaderResponse* resp,
                                                  const Status& end) {
      if (resp != nullptr) {
        return cb(ConstHandle<cairn_kv>(&resp->kv()), CAIRN_OK, user_data) == 0;
      }
      cb(nullptr, CodeOf(end), user_data);
      return false;
    };
    auto started = client->impl->Observe(req, std::move(adapter));
    if (!started.ok()) return Done(err, started.status());
    *out = new cairn_observe{std::move(*started), user_data, free_user_data};
    return CAIRN_OK;
  });
  if (rc != CAIRN_OK) FreeUserData(free_user_data, user_data);
  return rc;
}

void cairn_observe_free(cairn_observe* o) {
  if (o == nullptr) return;
  try {
    o->impl->Stop();
    FreeUserData(o->free_user_data, o->user_data);
    delete o;
  } catch (...) {
  }
}

// ---- Cluster and maintenance ------------------------------------------------------------

const cairn_header* cairn_member_list_header(const cairn_member_list* l) {
  return l != nullptr ? ConstHandle<cairn_header>(&As<pb::MemberListResponse>(l)->header())
                      : nullptr;
}
size_t cairn_member_list_count(const cairn_member_list* l) {
  return l != nullptr ? static_cast<size_t>(As<pb::MemberListResponse>(l)->members_size()) : 0;
}

namespace {

const etcdserverpb::Member* MemberAt(const cairn_member_list* l, size_t i) {
  if (l == nullptr || i >= cairn_member_list_count(l)) return nullptr;
  return &As<pb::MemberListResponse>(l)->members(static_cast<int>(i));
}

}  // namespace

uint64_t cairn_member_list_id(const cairn_member_list* l, size_t i) {
  const auto* m = MemberAt(l, i);
  return m != nullptr ? m->id() : 0;
}
const char* cairn_member_list_name(const cairn_member_list* l, size_t i) {
  const auto* m = MemberAt(l, i);
  return m != nullptr ? m->name().c_str() : nullptr;
}
int cairn_member_list_is_learner(const cairn_member_list* l, size_t i) {
  const auto* m = MemberAt(l, i);
  return m != nullptr && m->islearner() ? 1 : 0;
}
size_t cairn_member_list_peer_url_count(const cairn_member_list* l, size_t i) {
  const auto* m = MemberAt(l, i);
  return m != nullptr ? static_cast<size_t>(m->peerurls_size()) : 0;
}
const char* cairn_member_list_peer_url(const cairn_member_list* l, size_t i, size_t j) {
  const auto* m = MemberAt(l, i);
  if (m == nullptr || j >= static_cast<size_t>(m->peerurls_size())) return nullptr;
  return m->peerurls(static_cast<int>(j)).c_str();
}
size_t cairn_member_list_client_url_count(const cairn_member_list* l, size_t i) {
  const auto* m = MemberAt(l, i);
  return m != nullptr ? static_cast<size_t>(m->clienturls_size()) : 0;
}
const char* cairn_member_list_client_url(const cairn_member_list* l, size_t i, size_t j) {
  const auto* m = MemberAt(l, i);
  if (m == nullptr || j >= static_cast<size_t>(m->clienturls_size())) return nullptr;
  return m->clienturls(static_cast<int>(j)).c_str();
}
void cairn_member_list_free(cairn_member_list* l) {
  delete AsMut<pb::MemberListResponse>(l);
}

int cairn_cluster_member_list(cairn_member_list** out, cairn_client* client, cairn_cancel* cancel,
                              cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
    *out = nullptr;
    auto resp = std::make_unique<pb::MemberListResponse>();
    if (int rc = Done(err, client->impl->MemberList(resp.get(), Call(cancel)))) return rc;
    *out = Handle<cairn_member_list>(resp.release());
    return CAIRN_OK;
  });
}

const cairn_header* cairn_status_header(const cairn_status* s) {
  return s != nullptr ? ConstHandle<cairn_header>(&As<pb::StatusResponse>(s)->header()) : nullptr;
}
const char* cairn_status_version(const cairn_status* s) {
  return s != nullptr ? As<pb::StatusResponse>(s)->version().c_str() : nullptr;
}
int64_t cairn_status_db_size(const cairn_status* s) {
  return s != nullptr ? As<pb::StatusResponse>(s)->dbsize() : 0;
}
int64_t cairn_status_db_size_in_use(const cairn_status* s) {
  return s != nullptr ? As<pb::StatusResponse>(s)->dbsizeinuse() : 0;
}
uint64_t cairn_status_leader(const cairn_status* s) {
  return s != nullptr ? As<pb::StatusResponse>(s)->leader() : 0;
}
uint64_t cairn_status_raft_index(const cairn_status* s) {
  return s != nullptr ? As<pb::StatusResponse>(s)->raftindex() : 0;
}
uint64_t cairn_status_raft_term(const cairn_status* s) {
  return s != nullptr ? As<pb::StatusResponse>(s)->raftterm() : 0;
}
uint64_t cairn_status_raft_applied_index(const cairn_status* s) {
  return s != nullptr ? As<pb::StatusResponse>(s)->raftappliedindex() : 0;
}
int cairn_status_is_learner(const cairn_status* s) {
  return s != nullptr && As<pb::StatusResponse>(s)->islearner() ? 1 : 0;
}
size_t cairn_status_error_count(const cairn_status* s) {
  return s != nullptr ? static_cast<size_t>(As<pb::StatusResponse>(s)->errors_size()) : 0;
}
const char* cairn_status_error(const cairn_status* s, size_t i) {
  if (s == nullptr || i >= cairn_status_error_count(s)) return nullptr;
  return As<pb::StatusResponse>(s)->errors(static_cast<int>(i)).c_str();
}
void cairn_status_free(cairn_status* s) {
  delete AsMut<pb::StatusResponse>(s);
}

int cairn_maintenance_status(cairn_status** out, cairn_client* client, cairn_cancel* cancel,
                             cairn_error** err) {
  return Guard(err, [&]() -> int {
    if (out == nullptr || client == nullptr) return Invalid(err, "out and client must not be NULL");
    *out = nullptr;
    auto resp = std::make_unique<pb::StatusResponse>();
    if (int rc = Done(err, client->impl->GetStatus(resp.get(), Call(cancel)))) return rc;
    *out = Handle<cairn_status>(resp.release());
    return CAIRN_OK;
  });
}

}  // extern "C"
