// cairn._native: the pybind11 layer over Cairn's C ABI (cairn.h only). It copies results into
// Python objects, releases the GIL around every call that may block, and takes the GIL back in
// the callbacks the library runs on its own threads. The idiomatic API is in the Python package.
#include <cairn/cairn.h>
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace {

// Taking the GIL while the interpreter finalizes would hang the library's thread.
bool Finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// ---------------------------------------------------------------------------------------------
// Errors

// cairn._make_error(code, grpc_code, message, retryable) -> Error; set by the package on import.
py::object& ErrorFactory() {
  static py::object* factory = new py::object();  // never destroyed: outlives the interpreter
  return *factory;
}

[[noreturn]] void RaiseError(int code, int grpc_code, const std::string& message, bool retryable) {
  py::object& factory = ErrorFactory();
  if (!factory) throw std::runtime_error(message);
  py::object exc = factory(code, grpc_code, message, retryable);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

// Raises the Python exception for a failed C call (GIL held). Frees `err`.
[[noreturn]] void Raise(int rc, cairn_error* err) {
  int code = rc;
  int grpc_code = 2;  // Unknown
  std::string message = cairn_strerror(rc);
  bool retryable = false;
  if (err != nullptr) {
    code = cairn_error_code(err);
    grpc_code = cairn_error_grpc_code(err);
    message = cairn_error_message(err);
    retryable = cairn_error_retryable(err) != 0;
    cairn_error_free(err);
  }
  RaiseError(code, grpc_code, message, retryable);
}

// An error object for Python without raising it (for watch and observe ends). GIL held.
py::object MakeError(int code, const std::string& message) {
  py::object& factory = ErrorFactory();
  if (!factory) return py::none();
  bool retryable = code == CAIRN_EUNAVAILABLE || code == CAIRN_ENOLEADER || code == CAIRN_ESTOPPED;
  return factory(code, 2, message, retryable);
}

void Check(int rc, cairn_error* err) {
  if (rc != CAIRN_OK) Raise(rc, err);
}

[[noreturn]] void RaiseClosed(const char* what) {
  py::module_ errors = py::module_::import("cairn._errors");
  PyErr_SetString(errors.attr("ClosedError").ptr(), what);
  throw py::error_already_set();
}

// ---------------------------------------------------------------------------------------------
// Bytes in and out

struct ByteView {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// Keys, values and names: bytes only (the package converts str first). Borrowed from the
// Python object, which the caller keeps alive across the call.
ByteView View(const py::bytes& b) {
  char* data = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(b.ptr(), &data, &size) != 0) throw py::error_already_set();
  return {reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(size)};
}

py::bytes Bytes(const uint8_t* data, size_t len) {
  return py::bytes(reinterpret_cast<const char*>(data), len);
}

// ---------------------------------------------------------------------------------------------
// Results, copied out of the C handles (which are freed right after)

struct Header {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  int64_t revision = 0;
  uint64_t raft_term = 0;
};

Header ToHeader(const cairn_header* h) {
  Header out;
  if (h == nullptr) return out;
  out.cluster_id = cairn_header_cluster_id(h);
  out.member_id = cairn_header_member_id(h);
  out.revision = cairn_header_revision(h);
  out.raft_term = cairn_header_raft_term(h);
  return out;
}

struct KeyValue {
  py::bytes key;
  py::bytes value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

py::object ToKv(const cairn_kv* kv) {
  if (kv == nullptr) return py::none();
  KeyValue out;
  size_t len = 0;
  const uint8_t* data = cairn_kv_key(kv, &len);
  out.key = Bytes(data, len);
  data = cairn_kv_value(kv, &len);
  out.value = Bytes(data, len);
  out.create_revision = cairn_kv_create_revision(kv);
  out.mod_revision = cairn_kv_mod_revision(kv);
  out.version = cairn_kv_version(kv);
  out.lease = cairn_kv_lease(kv);
  return py::cast(std::move(out));
}

struct RangeResult {
  Header header;
  py::list kvs;
  bool more = false;
  int64_t count = 0;
};

RangeResult ToRange(const cairn_range_result* r) {
  RangeResult out;
  out.header = ToHeader(cairn_range_result_header(r));
  size_t n = cairn_range_result_kv_count(r);
  for (size_t i = 0; i < n; ++i) out.kvs.append(ToKv(cairn_range_result_kv(r, i)));
  out.more = cairn_range_result_more(r) != 0;
  out.count = cairn_range_result_count(r);
  return out;
}

struct PutResult {
  Header header;
  py::object prev_kv = py::none();
};

PutResult ToPut(const cairn_put_result* r) {
  PutResult out;
  out.header = ToHeader(cairn_put_result_header(r));
  out.prev_kv = ToKv(cairn_put_result_prev_kv(r));
  return out;
}

struct DeleteResult {
  Header header;
  int64_t deleted = 0;
  py::list prev_kvs;
};

DeleteResult ToDelete(const cairn_delete_result* r) {
  DeleteResult out;
  out.header = ToHeader(cairn_delete_result_header(r));
  out.deleted = cairn_delete_result_deleted(r);
  size_t n = cairn_delete_result_prev_kv_count(r);
  for (size_t i = 0; i < n; ++i) out.prev_kvs.append(ToKv(cairn_delete_result_prev_kv(r, i)));
  return out;
}

struct TxnResult {
  Header header;
  bool succeeded = false;
  py::list responses;
};

TxnResult ToTxn(const cairn_txn_result* r) {
  TxnResult out;
  out.header = ToHeader(cairn_txn_result_header(r));
  out.succeeded = cairn_txn_result_succeeded(r) != 0;
  size_t n = cairn_txn_result_op_count(r);
  for (size_t i = 0; i < n; ++i) {
    switch (cairn_txn_result_op_type(r, i)) {
      case CAIRN_OP_RANGE:
        out.responses.append(py::cast(ToRange(cairn_txn_result_op_range(r, i))));
        break;
      case CAIRN_OP_PUT:
        out.responses.append(py::cast(ToPut(cairn_txn_result_op_put(r, i))));
        break;
      case CAIRN_OP_DELETE:
        out.responses.append(py::cast(ToDelete(cairn_txn_result_op_delete(r, i))));
        break;
      case CAIRN_OP_TXN:
        out.responses.append(py::cast(ToTxn(cairn_txn_result_op_txn(r, i))));
        break;
      default: out.responses.append(py::none()); break;
    }
  }
  return out;
}

struct Event {
  int type = CAIRN_EVENT_PUT;
  py::object kv = py::none();
  py::object prev_kv = py::none();
};

struct WatchResponse {
  Header header;
  py::list events;
};

struct LeaseInfo {
  Header header;
  int64_t id = 0;
  int64_t ttl = 0;
  int64_t granted_ttl = 0;
  py::list keys;
};

struct Member {
  uint64_t id = 0;
  std::string name;
  bool is_learner = false;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
};

struct Status {
  Header header;
  std::string version;
  int64_t db_size = 0;
  int64_t db_size_in_use = 0;
  uint64_t leader = 0;
  uint64_t raft_index = 0;
  uint64_t raft_term = 0;
  uint64_t raft_applied_index = 0;
  bool is_learner = false;
  std::vector<std::string> errors;
};

Status ToStatus(const cairn_status* s) {
  Status out;
  out.header = ToHeader(cairn_status_header(s));
  const char* version = cairn_status_version(s);
  out.version = version != nullptr ? version : "";
  out.db_size = cairn_status_db_size(s);
  out.db_size_in_use = cairn_status_db_size_in_use(s);
  out.leader = cairn_status_leader(s);
  out.raft_index = cairn_status_raft_index(s);
  out.raft_term = cairn_status_raft_term(s);
  out.raft_applied_index = cairn_status_raft_applied_index(s);
  out.is_learner = cairn_status_is_learner(s) != 0;
  size_t n = cairn_status_error_count(s);
  for (size_t i = 0; i < n; ++i) {
    const char* e = cairn_status_error(s, i);
    out.errors.emplace_back(e != nullptr ? e : "");
  }
  return out;
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

using RangeOwned = Owned<cairn_range_result, cairn_range_result_free>;
using PutOwned = Owned<cairn_put_result, cairn_put_result_free>;
using DeleteOwned = Owned<cairn_delete_result, cairn_delete_result_free>;
using TxnResultOwned = Owned<cairn_txn_result, cairn_txn_result_free>;
using TxnOwned = Owned<cairn_txn, cairn_txn_free>;
using StatusOwned = Owned<cairn_status, cairn_status_free>;
using CancelOwned = Owned<cairn_cancel, cairn_cancel_free>;

// ---------------------------------------------------------------------------------------------
// Cancellation with a deadline: a token triggered after `timeout` seconds (never when < 0) or
// when the client closes.

class Deadline {
 public:
  explicit Deadline(double timeout_s) {
    cairn_cancel* c = nullptr;
    cairn_error* err = nullptr;
    Check(cairn_cancel_new(&c, &err), err);
    token_.reset(c);
    if (timeout_s >= 0) {
      auto wait = std::chrono::duration<double>(timeout_s);
      timer_ = std::thread([this, wait] {
        std::unique_lock<std::mutex> lock(mu_);
        if (!cv_.wait_for(lock, wait, [this] { return done_; })) {
          expired_ = true;
          cairn_cancel_trigger(token_.get());
        }
      });
    }
  }
  ~Deadline() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (timer_.joinable()) timer_.join();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  cairn_cancel* token() const { return token_.get(); }
  bool expired() {
    std::lock_guard<std::mutex> lock(mu_);
    return expired_;
  }

 private:
  CancelOwned token_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool expired_ = false;
  std::thread timer_;
};

// ---------------------------------------------------------------------------------------------
// Ctrl-C for calls that may wait forever (lock, campaign)

// Python runs signal handlers on its main thread only, between bytecodes: a main thread
// blocked in the library would never see Ctrl-C. Set when the module is imported.
unsigned long main_thread_id = 0;

// Runs `call()`, a library call that waits watching `token`, without the GIL. On the main
// thread it runs on a helper thread while this one wakes every 100 ms to run the signal
// handlers (PyErr_CheckSignals). A handler that raises (KeyboardInterrupt) triggers the token;
// once the call has returned, `undo(rc)` gives back what it may have obtained meanwhile, and
// the handler's exception propagates. Elsewhere it is just the call without the GIL.
template <typename Call, typename Undo>
int Interruptible(cairn_cancel* token, Call call, Undo undo) {
  if (PyThread_get_thread_ident() != main_thread_id) {
    py::gil_scoped_release nogil;
    return call();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rc = CAIRN_OK;
  bool interrupted = false;
  {
    py::gil_scoped_release nogil;
    std::thread worker([&] {
      int r = call();
      std::lock_guard<std::mutex> lock(mu);
      rc = r;
      done = true;
      cv.notify_all();
    });
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        if (cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) break;
      }
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {  // the exception stays set in this thread's state
        interrupted = true;
        break;
      }
    }
    if (interrupted) cairn_cancel_trigger(token);
    worker.join();
    if (interrupted) undo(rc);
  }
  if (interrupted) throw py::error_already_set();
  return rc;
}

// ---------------------------------------------------------------------------------------------
// Callbacks from the library's threads

// A Python callable kept for the library; released with the GIL held, or leaked when the
// interpreter is already finalizing (taking the GIL then would hang the library's thread).
struct PyCallbacks {
  py::object on_item;  // called with each batch (watch) or leader (observe)
  py::object on_end;   // called once with None or an Error when it ends
  bool ended = false;
};

void FreeCallbacks(void* user_data) {
  auto* cbs = static_cast<PyCallbacks*>(user_data);
  if (Finalizing()) {
    cbs->on_item.release();
    cbs->on_end.release();
    delete cbs;
    return;
  }
  py::gil_scoped_acquire gil;
  delete cbs;
}

// Calls on_end once (GIL held).
void EndOnce(PyCallbacks* cbs, py::object error) {
  if (cbs->ended) return;
  cbs->ended = true;
  try {
    cbs->on_end(std::move(error));
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("cairn: watch end handler");
  }
}

int WatchCallback(const cairn_watch_batch* batch, void* user_data) {
  if (Finalizing()) return 1;
  auto* cbs = static_cast<PyCallbacks*>(user_data);
  py::gil_scoped_acquire gil;
  if (cairn_watch_batch_final(batch) != 0) {
    int code = cairn_watch_batch_error(batch);
    py::object error = py::none();
    if (code != CAIRN_OK && code != CAIRN_ECANCELLED) {
      std::string message = cairn_strerror(code);
      if (code == CAIRN_ECOMPACTED) {
        message = "etcdserver: mvcc: required revision has been compacted";
      }
      error = MakeError(code, message);
      if (code == CAIRN_ECOMPACTED && !error.is_none()) {
        error.attr("compact_revision") = cairn_watch_batch_compact_revision(batch);
      }
    }
    EndOnce(cbs, std::move(error));
    return 1;
  }
  try {
    WatchResponse response;
    response.header = ToHeader(cairn_watch_batch_header(batch));
    size_t n = cairn_watch_batch_event_count(batch);
    for (size_t i = 0; i < n; ++i) {
      const cairn_event* e = cairn_watch_batch_event(batch, i);
      Event event;
      event.type = cairn_event_type(e);
      event.kv = ToKv(cairn_event_kv(e));
      event.prev_kv = ToKv(cairn_event_prev_kv(e));
      response.events.append(py::cast(std::move(event)));
    }
    cbs->on_item(py::cast(std::move(response)));
    return 0;
  } catch (py::error_already_set& e) {
    // The callback's exception stops the watch: the library delivers nothing more.
    py::object value = e.value();
    e.discard_as_unraisable("cairn: watch callback");
    EndOnce(cbs, value);
    return 1;
  }
}

int ObserveCallback(const cairn_kv* leader, int error, void* user_data) {
  if (Finalizing()) return 1;
  auto* cbs = static_cast<PyCallbacks*>(user_data);
  py::gil_scoped_acquire gil;
  if (leader == nullptr) {
    py::object e = py::none();
    if (error != CAIRN_OK && error != CAIRN_ECANCELLED) e = MakeError(error, cairn_strerror(error));
    EndOnce(cbs, std::move(e));
    return 1;
  }
  try {
    cbs->on_item(ToKv(leader));
    return 0;
  } catch (py::error_already_set& e) {
    py::object value = e.value();
    e.discard_as_unraisable("cairn: observe callback");
    EndOnce(cbs, value);
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Handles

class Watch {
 public:
  explicit Watch(cairn_watch* w) : w_(w) {}
  ~Watch() {
    py::gil_scoped_release nogil;
    cairn_watch_free(w_);
  }
  int64_t id() const { return cairn_watch_id(w_); }
  void cancel() {
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      cairn_error* err = nullptr;
      cairn_watch_cancel(w_, &err);  // waits for a running callback: hence without the GIL
      cairn_error_free(err);
    }
    // The library ran free_user_data; the end handler may not have run (cancel delivers no
    // final batch), which the package's Watch takes care of.
  }
  void request_progress() {
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_watch_request_progress(w_, &err);
    }
    Check(rc, err);
  }

 private:
  cairn_watch* w_;
  std::mutex mu_;
  bool cancelled_ = false;
};

class KeepAlive {
 public:
  explicit KeepAlive(cairn_keepalive* k) : k_(k) {}
  ~KeepAlive() { cancel(); }
  int64_t ttl() const { return k_ != nullptr ? cairn_keepalive_ttl(k_) : 0; }
  void cancel() {
    cairn_keepalive* k = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::swap(k, k_);
    }
    if (k == nullptr) return;
    py::gil_scoped_release nogil;
    cairn_keepalive_free(k);
  }

 private:
  std::mutex mu_;
  cairn_keepalive* k_;
};

class Observe {
 public:
  explicit Observe(cairn_observe* o) : o_(o) {}
  ~Observe() { cancel(); }
  void cancel() {
    cairn_observe* o = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::swap(o, o_);
    }
    if (o == nullptr) return;
    py::gil_scoped_release nogil;
    cairn_observe_free(o);
  }

 private:
  std::mutex mu_;
  cairn_observe* o_;
};

class LeaderKey {
 public:
  explicit LeaderKey(cairn_leader_key* l) : l_(l) {}
  ~LeaderKey() { cairn_leader_key_free(l_); }
  LeaderKey(const LeaderKey&) = delete;
  LeaderKey& operator=(const LeaderKey&) = delete;
  const cairn_leader_key* get() const { return l_; }
  py::bytes name() const {
    size_t len = 0;
    const uint8_t* d = cairn_leader_key_name(l_, &len);
    return Bytes(d, len);
  }
  py::bytes key() const {
    size_t len = 0;
    const uint8_t* d = cairn_leader_key_key(l_, &len);
    return Bytes(d, len);
  }
  int64_t revision() const { return cairn_leader_key_revision(l_); }
  int64_t lease() const { return cairn_leader_key_lease(l_); }

 private:
  cairn_leader_key* l_;
};

// Keeps a C client alive while calls are in flight. close() cancels blocking calls (the shared
// token, and each deadline token), waits for the calls to return, then frees the client.
class Client {
 public:
  explicit Client(cairn_client* c) : c_(c) {
    cairn_cancel* token = nullptr;
    cairn_error* err = nullptr;
    Check(cairn_cancel_new(&token, &err), err);
    closing_.reset(token);
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  static std::unique_ptr<Client> Connect(const std::vector<std::string>& endpoints,
                                         double dial_timeout_s, double request_timeout_s,
                                         bool require_leader) {
    std::vector<const char*> eps;
    eps.reserve(endpoints.size());
    for (const auto& e : endpoints) eps.push_back(e.c_str());
    cairn_client_options opts = CAIRN_CLIENT_OPTIONS_INIT;
    opts.dial_timeout_ms = static_cast<int64_t>(dial_timeout_s * 1000);
    opts.request_timeout_ms = static_cast<int64_t>(request_timeout_s * 1000);
    opts.require_leader = require_leader ? 1 : 0;
    cairn_client* c = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_client_connect(&c, eps.data(), eps.size(), &opts, nullptr, &err);
    }
    Check(rc, err);
    return std::make_unique<Client>(c);
  }

  // One call in flight: holds the client open.
  class Use {
   public:
    explicit Use(Client* c) : c_(c) {
      std::lock_guard<std::mutex> lock(c_->mu_);
      if (c_->closed_) RaiseClosed("the client is closed");
      ++c_->inflight_;
    }
    ~Use() {
      std::lock_guard<std::mutex> lock(c_->mu_);
      if (--c_->inflight_ == 0) c_->drained_.notify_all();
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    cairn_client* get() const { return c_->c_; }
    cairn_cancel* token() const { return c_->closing_.get(); }

   private:
    Client* c_;
  };

  // A deadline token registered with the client, so that close() triggers it too.
  class UseWithDeadline : public Use {
   public:
    UseWithDeadline(Client* c, double timeout_s) : Use(c), c_(c), deadline_(timeout_s) {
      std::lock_guard<std::mutex> lock(c_->mu_);
      c_->deadlines_.insert(deadline_.token());
    }
    ~UseWithDeadline() {
      std::lock_guard<std::mutex> lock(c_->mu_);
      c_->deadlines_.erase(deadline_.token());
    }
    cairn_cancel* token() const { return deadline_.token(); }
    bool expired() { return deadline_.expired(); }

   private:
    Client* c_;
    Deadline deadline_;
  };

  void close() {
    cairn_client* c = nullptr;
    {
      py::gil_scoped_release nogil;
      std::unique_lock<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      cairn_cancel_trigger(closing_.get());
      for (cairn_cancel* t : deadlines_) cairn_cancel_trigger(t);
      drained_.wait(lock, [this] { return inflight_ == 0; });
      std::swap(c, c_);
      lock.unlock();
      cairn_client_free(c);  // ends watches and keep-alives: their callbacks take the GIL
    }
  }

  // KV

  py::object get(const py::bytes& key) {
    Use use(this);
    ByteView k = View(key);
    cairn_range_result* r = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_kv_get(&r, use.get(), k.data, k.size, use.token(), &err);
    }
    Check(rc, err);
    RangeOwned owned(r);
    if (cairn_range_result_kv_count(r) == 0) return py::none();
    return ToKv(cairn_range_result_kv(r, 0));
  }

  RangeResult range(const py::bytes& key, const py::bytes& range_end, int64_t revision,
                    int64_t limit, bool keys_only, bool count_only, bool serializable,
                    int sort_order, int sort_target, int64_t min_mod, int64_t max_mod,
                    int64_t min_create, int64_t max_create) {
    Use use(this);
    ByteView k = View(key);
    ByteView end = View(range_end);
    cairn_range_options opts = CAIRN_RANGE_OPTIONS_INIT;
    if (end.size > 0) {
      opts.range_end = end.data;
      opts.range_end_len = end.size;
    }
    opts.revision = revision;
    opts.limit = limit;
    opts.keys_only = keys_only;
    opts.count_only = count_only;
    opts.serializable = serializable;
    opts.sort_order = sort_order;
    opts.sort_target = sort_target;
    opts.min_mod_revision = min_mod;
    opts.max_mod_revision = max_mod;
    opts.min_create_revision = min_create;
    opts.max_create_revision = max_create;
    cairn_range_result* r = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_kv_range(&r, use.get(), k.data, k.size, &opts, use.token(), &err);
    }
    Check(rc, err);
    RangeOwned owned(r);
    return ToRange(r);
  }

  PutResult put(const py::bytes& key, const py::bytes& value, int64_t lease, bool prev_kv,
                bool ignore_value, bool ignore_lease) {
    Use use(this);
    ByteView k = View(key);
    ByteView v = View(value);
    cairn_put_options opts = CAIRN_PUT_OPTIONS_INIT;
    opts.lease = lease;
    opts.prev_kv = prev_kv;
    opts.ignore_value = ignore_value;
    opts.ignore_lease = ignore_lease;
    cairn_put_result* r = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_kv_put(&r, use.get(), k.data, k.size, v.data, v.size, &opts, use.token(), &err);
    }
    Check(rc, err);
    PutOwned owned(r);
    return ToPut(r);
  }

  DeleteResult del(const py::bytes& key, const py::bytes& range_end, bool prev_kv) {
    Use use(this);
    ByteView k = View(key);
    ByteView end = View(range_end);
    cairn_delete_options opts = CAIRN_DELETE_OPTIONS_INIT;
    if (end.size > 0) {
      opts.range_end = end.data;
      opts.range_end_len = end.size;
    }
    opts.prev_kv = prev_kv;
    cairn_delete_result* r = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_kv_delete(&r, use.get(), k.data, k.size, &opts, use.token(), &err);
    }
    Check(rc, err);
    DeleteOwned owned(r);
    return ToDelete(r);
  }

  void compact(int64_t revision, bool physical) {
    Use use(this);
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_kv_compact(use.get(), revision, physical, use.token(), &err);
    }
    Check(rc, err);
  }

  TxnResult txn(const py::sequence& compares, const py::sequence& success,
                const py::sequence& failure) {
    TxnOwned t = BuildTxn(compares, success, failure);
    Use use(this);
    cairn_txn_result* r = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_txn_commit(&r, use.get(), t.get(), use.token(), &err);
    }
    Check(rc, err);
    TxnResultOwned owned(r);
    return ToTxn(r);
  }

  // Watch

  std::unique_ptr<Watch> watch(const py::bytes& key, const py::bytes& range_end,
                               int64_t start_revision, bool prev_kv, bool no_put, bool no_delete,
                               bool progress_notify, py::object on_batch, py::object on_end) {
    Use use(this);
    ByteView k = View(key);
    ByteView end = View(range_end);
    cairn_watch_options opts = CAIRN_WATCH_OPTIONS_INIT;
    if (end.size > 0) {
      opts.range_end = end.data;
      opts.range_end_len = end.size;
    }
    opts.start_revision = start_revision;
    opts.prev_kv = prev_kv;
    opts.filter_put = no_put;
    opts.filter_delete = no_delete;
    opts.progress_notify = progress_notify;
    auto* cbs = new PyCallbacks{std::move(on_batch), std::move(on_end)};
    cairn_watch* w = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_watch_start(&w, use.get(), k.data, k.size, &opts, WatchCallback, cbs,
                             FreeCallbacks, use.token(), &err);
    }
    Check(rc, err);  // on failure the library already ran FreeCallbacks
    return std::make_unique<Watch>(w);
  }

  // Leases

  std::pair<int64_t, int64_t> lease_grant(int64_t ttl, int64_t id) {
    Use use(this);
    int64_t id_out = 0;
    int64_t ttl_out = 0;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_lease_grant(&id_out, &ttl_out, use.get(), ttl, id, use.token(), &err);
    }
    Check(rc, err);
    return {id_out, ttl_out};
  }

  void lease_revoke(int64_t id) {
    Use use(this);
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_lease_revoke(use.get(), id, use.token(), &err);
    }
    Check(rc, err);
  }

  LeaseInfo lease_time_to_live(int64_t id, bool keys) {
    Use use(this);
    cairn_lease_info* l = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_lease_time_to_live(&l, use.get(), id, keys, use.token(), &err);
    }
    Check(rc, err);
    Owned<cairn_lease_info, cairn_lease_info_free> owned(l);
    LeaseInfo out;
    out.header = ToHeader(cairn_lease_info_header(l));
    out.id = cairn_lease_info_id(l);
    out.ttl = cairn_lease_info_ttl(l);
    out.granted_ttl = cairn_lease_info_granted_ttl(l);
    size_t n = cairn_lease_info_key_count(l);
    for (size_t i = 0; i < n; ++i) {
      size_t len = 0;
      const uint8_t* d = cairn_lease_info_key(l, i, &len);
      out.keys.append(Bytes(d, len));
    }
    return out;
  }

  std::vector<int64_t> leases() {
    Use use(this);
    cairn_lease_list* l = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_lease_leases(&l, use.get(), use.token(), &err);
    }
    Check(rc, err);
    Owned<cairn_lease_list, cairn_lease_list_free> owned(l);
    std::vector<int64_t> out(cairn_lease_list_count(l));
    for (size_t i = 0; i < out.size(); ++i) out[i] = cairn_lease_list_id(l, i);
    return out;
  }

  std::unique_ptr<KeepAlive> lease_keep_alive(int64_t id) {
    Use use(this);
    cairn_keepalive* k = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_lease_keepalive_start(&k, use.get(), id, nullptr, nullptr, nullptr, use.token(),
                                       &err);
    }
    Check(rc, err);
    return std::make_unique<KeepAlive>(k);
  }

  // Lock and election. A timeout that passes gives None.

  py::object lock(const py::bytes& name, int64_t lease, double timeout_s) {
    UseWithDeadline use(this, timeout_s);
    ByteView n = View(name);
    cairn_bytes* key = nullptr;
    cairn_error* err = nullptr;
    int rc = Interruptible(
        use.token(),
        [&] {
          return cairn_lock_acquire(&key, use.get(), n.data, n.size, lease, use.token(), &err);
        },
        [&](int got) {  // acquired as Ctrl-C came: released, the caller never saw it
          if (got == CAIRN_OK) {
            size_t len = 0;
            const uint8_t* d = cairn_bytes_data(key, &len);
            cairn_lock_release(use.get(), d, len, nullptr, nullptr);
          }
          cairn_bytes_free(key);
          cairn_error_free(err);
        });
    if (rc == CAIRN_ECANCELLED && use.expired()) {
      cairn_error_free(err);
      return py::none();
    }
    Check(rc, err);
    Owned<cairn_bytes, cairn_bytes_free> owned(key);
    size_t len = 0;
    const uint8_t* d = cairn_bytes_data(key, &len);
    return Bytes(d, len);
  }

  void unlock(const py::bytes& key) {
    Use use(this);
    ByteView k = View(key);
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_lock_release(use.get(), k.data, k.size, use.token(), &err);
    }
    Check(rc, err);
  }

  py::object campaign(const py::bytes& name, int64_t lease, const py::bytes& value,
                      double timeout_s) {
    UseWithDeadline use(this, timeout_s);
    ByteView n = View(name);
    ByteView v = View(value);
    cairn_leader_key* l = nullptr;
    cairn_error* err = nullptr;
    int rc = Interruptible(
        use.token(),
        [&] {
          return cairn_election_campaign(&l, use.get(), n.data, n.size, lease, v.data, v.size,
                                         use.token(), &err);
        },
        [&](int got) {  // elected as Ctrl-C came: resigned, the caller never saw it
          if (got == CAIRN_OK) cairn_election_resign(use.get(), l, nullptr, nullptr);
          cairn_leader_key_free(l);
          cairn_error_free(err);
        });
    if (rc == CAIRN_ECANCELLED && use.expired()) {
      cairn_error_free(err);
      return py::none();
    }
    Check(rc, err);
    return py::cast(std::make_unique<LeaderKey>(l));
  }

  void proclaim(const LeaderKey& leader, const py::bytes& value) {
    Use use(this);
    ByteView v = View(value);
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_election_proclaim(use.get(), leader.get(), v.data, v.size, use.token(), &err);
    }
    Check(rc, err);
  }

  void resign(const LeaderKey& leader) {
    Use use(this);
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_election_resign(use.get(), leader.get(), use.token(), &err);
    }
    Check(rc, err);
  }

  py::object leader(const py::bytes& name) {
    Use use(this);
    ByteView n = View(name);
    cairn_leader* l = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_election_leader(&l, use.get(), n.data, n.size, use.token(), &err);
    }
    if (rc == CAIRN_EELECTIONNOLEADER) {
      cairn_error_free(err);
      return py::none();
    }
    Check(rc, err);
    Owned<cairn_leader, cairn_leader_free> owned(l);
    return ToKv(cairn_leader_kv(l));
  }

  std::unique_ptr<Observe> observe(const py::bytes& name, py::object on_leader, py::object on_end) {
    Use use(this);
    ByteView n = View(name);
    auto* cbs = new PyCallbacks{std::move(on_leader), std::move(on_end)};
    cairn_observe* o = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_election_observe(&o, use.get(), n.data, n.size, ObserveCallback, cbs,
                                  FreeCallbacks, &err);
    }
    Check(rc, err);
    return std::make_unique<Observe>(o);
  }

  // Cluster and maintenance

  std::vector<Member> member_list() {
    Use use(this);
    cairn_member_list* l = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_cluster_member_list(&l, use.get(), use.token(), &err);
    }
    Check(rc, err);
    Owned<cairn_member_list, cairn_member_list_free> owned(l);
    std::vector<Member> out(cairn_member_list_count(l));
    for (size_t i = 0; i < out.size(); ++i) {
      Member& m = out[i];
      m.id = cairn_member_list_id(l, i);
      const char* name = cairn_member_list_name(l, i);
      m.name = name != nullptr ? name : "";
      m.is_learner = cairn_member_list_is_learner(l, i) != 0;
      for (size_t j = 0, n = cairn_member_list_peer_url_count(l, i); j < n; ++j) {
        m.peer_urls.emplace_back(cairn_member_list_peer_url(l, i, j));
      }
      for (size_t j = 0, n = cairn_member_list_client_url_count(l, i); j < n; ++j) {
        m.client_urls.emplace_back(cairn_member_list_client_url(l, i, j));
      }
    }
    return out;
  }

  Status status() {
    Use use(this);
    cairn_status* s = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_maintenance_status(&s, use.get(), use.token(), &err);
    }
    Check(rc, err);
    StatusOwned owned(s);
    return ToStatus(s);
  }

 private:
  // Translates the package's Compare and Op values (see cairn/_txn.py) into a C txn.
  static TxnOwned BuildTxn(const py::sequence& compares, const py::sequence& success,
                           const py::sequence& failure) {
    cairn_txn* raw = nullptr;
    cairn_error* err = nullptr;
    Check(cairn_txn_new(&raw, &err), err);
    TxnOwned t(raw);
    for (const py::handle c : compares) {
      py::bytes key = c.attr("key");
      ByteView k = View(key);
      int target = c.attr("target").cast<int>();
      int result = c.attr("result").cast<int>();
      py::object operand = c.attr("operand");
      py::bytes range_end = c.attr("range_end");
      ByteView end = View(range_end);
      if (target == CAIRN_CMP_VALUE) {
        py::bytes value = operand;
        ByteView v = View(value);
        Check(cairn_txn_compare_range_value(t.get(), k.data, k.size, end.data, end.size, result,
                                            v.data, v.size, &err),
              err);
      } else {
        Check(cairn_txn_compare_range_number(t.get(), k.data, k.size, end.data, end.size, target,
                                             result, operand.cast<int64_t>(), &err),
              err);
      }
    }
    AddOps(t.get(), CAIRN_TXN_THEN, success);
    AddOps(t.get(), CAIRN_TXN_ELSE, failure);
    return t;
  }

  static void AddOps(cairn_txn* t, int branch, const py::sequence& ops) {
    cairn_error* err = nullptr;
    for (const py::handle op : ops) {
      int kind = op.attr("kind").cast<int>();
      if (kind == 3) {  // a nested txn
        TxnOwned nested = BuildTxn(op.attr("compares"), op.attr("success"), op.attr("failure"));
        Check(cairn_txn_txn(t, branch, nested.get(), &err), err);
        continue;
      }
      py::bytes key = op.attr("key");
      ByteView k = View(key);
      py::bytes range_end = op.attr("range_end");
      ByteView end = View(range_end);
      if (kind == 0) {
        cairn_range_options opts = CAIRN_RANGE_OPTIONS_INIT;
        if (end.size > 0) {
          opts.range_end = end.data;
          opts.range_end_len = end.size;
        }
        opts.limit = op.attr("limit").cast<int64_t>();
        opts.revision = op.attr("revision").cast<int64_t>();
        opts.keys_only = op.attr("keys_only").cast<bool>();
        opts.count_only = op.attr("count_only").cast<bool>();
        Check(cairn_txn_range(t, branch, k.data, k.size, &opts, &err), err);
      } else if (kind == 1) {
        py::bytes value = op.attr("value");
        ByteView v = View(value);
        cairn_put_options opts = CAIRN_PUT_OPTIONS_INIT;
        opts.lease = op.attr("lease").cast<int64_t>();
        opts.prev_kv = op.attr("prev_kv").cast<bool>();
        Check(cairn_txn_put(t, branch, k.data, k.size, v.data, v.size, &opts, &err), err);
      } else if (kind == 2) {
        cairn_delete_options opts = CAIRN_DELETE_OPTIONS_INIT;
        if (end.size > 0) {
          opts.range_end = end.data;
          opts.range_end_len = end.size;
        }
        opts.prev_kv = op.attr("prev_kv").cast<bool>();
        Check(cairn_txn_delete(t, branch, k.data, k.size, &opts, &err), err);
      } else {
        throw py::value_error("unknown txn operation kind");
      }
    }
  }

  std::mutex mu_;
  std::condition_variable drained_;
  bool closed_ = false;
  int inflight_ = 0;
  std::set<cairn_cancel*> deadlines_;
  cairn_client* c_;
  CancelOwned closing_;
};

// A member in this process. stop() is graceful and idempotent; the handle is freed once
// stopped and no call is in flight.
class Node {
 public:
  explicit Node(cairn_node* n) : n_(n) {}
  ~Node() { stop(); }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  static std::unique_ptr<Node> Start(
      const std::vector<std::pair<std::string, std::string>>& flags) {
    cairn_node_config* raw = nullptr;
    cairn_error* err = nullptr;
    Check(cairn_node_config_new(&raw, &err), err);
    Owned<cairn_node_config, cairn_node_config_free> config(raw);
    for (const auto& [flag, value] : flags) {
      Check(cairn_node_config_set(config.get(), flag.c_str(), value.c_str(), &err), err);
    }
    cairn_node* n = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_node_start(&n, config.get(), &err);
    }
    Check(rc, err);
    return std::make_unique<Node>(n);
  }

  class Use {
   public:
    explicit Use(Node* n) : n_(n) {
      std::lock_guard<std::mutex> lock(n_->mu_);
      if (n_->stopped_) RaiseClosed("the node is stopped");
      ++n_->inflight_;
    }
    ~Use() {
      std::lock_guard<std::mutex> lock(n_->mu_);
      if (--n_->inflight_ == 0) n_->drained_.notify_all();
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    cairn_node* get() const { return n_->n_; }

   private:
    Node* n_;
  };

  void wait_ready(double timeout_s) {
    Use use(this);
    Deadline closing(-1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      waits_.insert(closing.token());
    }
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_node_wait_ready(use.get(), static_cast<int64_t>(timeout_s * 1000), closing.token(),
                                 &err);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      waits_.erase(closing.token());
    }
    Check(rc, err);
  }

  std::vector<std::string> client_urls() {
    Use use(this);
    std::vector<std::string> out;
    for (size_t i = 0, n = cairn_node_client_url_count(use.get()); i < n; ++i) {
      const char* url = cairn_node_client_url(use.get(), i);
      if (url != nullptr) out.emplace_back(url);
    }
    return out;
  }

  uint64_t id() {
    Use use(this);
    return cairn_node_id(use.get());
  }
  uint64_t cluster_id() {
    Use use(this);
    return cairn_node_cluster_id(use.get());
  }

  Status status() {
    Use use(this);
    cairn_status* s = nullptr;
    cairn_error* err = nullptr;
    int rc;
    {
      py::gil_scoped_release nogil;
      rc = cairn_node_status(&s, use.get(), &err);
    }
    Check(rc, err);
    StatusOwned owned(s);
    return ToStatus(s);
  }

  std::unique_ptr<Client> client() {
    Use use(this);
    cairn_client* c = nullptr;
    cairn_error* err = nullptr;
    Check(cairn_node_client(&c, use.get(), nullptr, &err), err);
    return std::make_unique<Client>(c);
  }

  void stop() {
    py::gil_scoped_release nogil;
    cairn_node* n = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (cairn_cancel* t : waits_) cairn_cancel_trigger(t);
      n = n_;
    }
    // Stopping first ends the calls in flight (their callers get "server stopped"), so that
    // waiting for them below cannot hang; the callbacks it ends take the GIL, hence nogil.
    cairn_error* err = nullptr;
    cairn_node_stop(n, &err);
    cairn_error_free(err);
    std::unique_lock<std::mutex> lock(mu_);
    drained_.wait(lock, [this] { return inflight_ == 0; });
    n_ = nullptr;
    lock.unlock();
    cairn_node_free(n);
  }

 private:
  std::mutex mu_;
  std::condition_variable drained_;
  bool stopped_ = false;
  int inflight_ = 0;
  std::set<cairn_cancel*> waits_;
  cairn_node* n_;
};

py::dict ErrorCodes() {
  py::dict d;
#define CAIRN_CODE(name) d[#name] = static_cast<int>(CAIRN_##name)
  CAIRN_CODE(ECANCELLED);
  CAIRN_CODE(EUNKNOWN);
  CAIRN_CODE(EINVAL);
  CAIRN_CODE(ETIMEDOUT);
  CAIRN_CODE(ENOTFOUND);
  CAIRN_CODE(EEXISTS);
  CAIRN_CODE(EPERM);
  CAIRN_CODE(ERESOURCE);
  CAIRN_CODE(EPRECONDITION);
  CAIRN_CODE(EABORTED);
  CAIRN_CODE(EOUTOFRANGE);
  CAIRN_CODE(EUNIMPLEMENTED);
  CAIRN_CODE(EINTERNAL);
  CAIRN_CODE(EUNAVAILABLE);
  CAIRN_CODE(EDATALOSS);
  CAIRN_CODE(EUNAUTHENTICATED);
  CAIRN_CODE(ECOMPACTED);
  CAIRN_CODE(EFUTUREREV);
  CAIRN_CODE(ENOSPACE);
  CAIRN_CODE(ELEASENOTFOUND);
  CAIRN_CODE(EKEYNOTFOUND);
  CAIRN_CODE(EDUPLICATEKEY);
  CAIRN_CODE(ETOOMANYOPS);
  CAIRN_CODE(ETOOLARGE);
  CAIRN_CODE(EEMPTYKEY);
  CAIRN_CODE(ENOLEADER);
  CAIRN_CODE(ENOTLEADER);
  CAIRN_CODE(ESTOPPED);
  CAIRN_CODE(ELEASEEXISTS);
  CAIRN_CODE(ETTLTOOLARGE);
  CAIRN_CODE(EELECTIONNOTLEADER);
  CAIRN_CODE(EELECTIONNOLEADER);
  CAIRN_CODE(ESESSIONEXPIRED);
  CAIRN_CODE(EVERSION);
#undef CAIRN_CODE
  return d;
}

std::string KvRepr(const KeyValue& kv) {
  return "KeyValue(key=" + py::repr(kv.key).cast<std::string>() +
         ", value=" + py::repr(kv.value).cast<std::string>() +
         ", create_revision=" + std::to_string(kv.create_revision) +
         ", mod_revision=" + std::to_string(kv.mod_revision) +
         ", version=" + std::to_string(kv.version) + ", lease=" + std::to_string(kv.lease) + ")";
}

bool KvEqual(const KeyValue& a, const KeyValue& b) {
  return a.key.equal(b.key) && a.value.equal(b.value) && a.create_revision == b.create_revision &&
         a.mod_revision == b.mod_revision && a.version == b.version && a.lease == b.lease;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "Cairn's C ABI for Python (internal: use the cairn package)";

  // A library older than the header this module was built with lacks functions it calls.
  if (cairn_version_number() < CAIRN_VERSION_NUMBER) {
    throw std::runtime_error(std::string("cairn: libcairn ") + cairn_version_string() +
                             " is older than the " CAIRN_VERSION_STRING " this module needs");
  }
  main_thread_id =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  m.def("version", [] { return std::string(cairn_version_string()); });
  m.def("version_number", [] { return cairn_version_number(); });
  m.def("header_version_number", [] { return CAIRN_VERSION_NUMBER; });
  m.def("error_codes", &ErrorCodes);
  m.def("strerror", [](int code) { return std::string(cairn_strerror(code)); });
  m.def("set_error_factory", [](py::object f) { ErrorFactory() = std::move(f); });

  py::class_<Header>(m, "Header")
      .def_readonly("cluster_id", &Header::cluster_id)
      .def_readonly("member_id", &Header::member_id)
      .def_readonly("revision", &Header::revision)
      .def_readonly("raft_term", &Header::raft_term)
      .def("__repr__", [](const Header& h) {
        return "Header(cluster_id=" + std::to_string(h.cluster_id) +
               ", member_id=" + std::to_string(h.member_id) +
               ", revision=" + std::to_string(h.revision) +
               ", raft_term=" + std::to_string(h.raft_term) + ")";
      });

  py::class_<KeyValue>(m, "KeyValue")
      .def_readonly("key", &KeyValue::key)
      .def_readonly("value", &KeyValue::value)
      .def_readonly("create_revision", &KeyValue::create_revision)
      .def_readonly("mod_revision", &KeyValue::mod_revision)
      .def_readonly("version", &KeyValue::version)
      .def_readonly("lease", &KeyValue::lease)
      .def("__repr__", &KvRepr)
      .def("__eq__",
           [](const KeyValue& a, py::object b) {
             return py::isinstance<KeyValue>(b) && KvEqual(a, b.cast<const KeyValue&>());
           })
      .def("__hash__", [](const KeyValue& kv) {
        return py::hash(py::make_tuple(kv.key, kv.value, kv.mod_revision));
      });

  py::class_<RangeResult>(m, "RangeResult")
      .def_readonly("header", &RangeResult::header)
      .def_property_readonly("revision", [](const RangeResult& r) { return r.header.revision; })
      .def_readonly("kvs", &RangeResult::kvs)
      .def_readonly("more", &RangeResult::more)
      .def_readonly("count", &RangeResult::count)
      .def("__len__", [](const RangeResult& r) { return py::len(r.kvs); })
      .def("__iter__", [](const RangeResult& r) { return r.kvs.attr("__iter__")(); })
      .def("__repr__", [](const RangeResult& r) {
        return "RangeResult(revision=" + std::to_string(r.header.revision) +
               ", count=" + std::to_string(r.count) + ", more=" + (r.more ? "True" : "False") +
               ", kvs=" + py::repr(r.kvs).cast<std::string>() + ")";
      });

  py::class_<PutResult>(m, "PutResult")
      .def_readonly("header", &PutResult::header)
      .def_property_readonly("revision", [](const PutResult& r) { return r.header.revision; })
      .def_readonly("prev_kv", &PutResult::prev_kv)
      .def("__repr__", [](const PutResult& r) {
        return "PutResult(revision=" + std::to_string(r.header.revision) +
               ", prev_kv=" + py::repr(r.prev_kv).cast<std::string>() + ")";
      });

  py::class_<DeleteResult>(m, "DeleteResult")
      .def_readonly("header", &DeleteResult::header)
      .def_property_readonly("revision", [](const DeleteResult& r) { return r.header.revision; })
      .def_readonly("deleted", &DeleteResult::deleted)
      .def_readonly("prev_kvs", &DeleteResult::prev_kvs)
      .def("__repr__", [](const DeleteResult& r) {
        return "DeleteResult(revision=" + std::to_string(r.header.revision) +
               ", deleted=" + std::to_string(r.deleted) +
               ", prev_kvs=" + py::repr(r.prev_kvs).cast<std::string>() + ")";
      });

  py::class_<TxnResult>(m, "TxnResult")
      .def_readonly("header", &TxnResult::header)
      .def_property_readonly("revision", [](const TxnResult& r) { return r.header.revision; })
      .def_readonly("succeeded", &TxnResult::succeeded)
      .def_readonly("responses", &TxnResult::responses)
      .def("__repr__", [](const TxnResult& r) {
        return std::string("TxnResult(succeeded=") + (r.succeeded ? "True" : "False") +
               ", revision=" + std::to_string(r.header.revision) +
               ", responses=" + py::repr(r.responses).cast<std::string>() + ")";
      });

  py::class_<Event>(m, "Event")
      .def_readonly("type", &Event::type)
      .def_readonly("kv", &Event::kv)
      .def_readonly("prev_kv", &Event::prev_kv)
      .def_property_readonly("is_put", [](const Event& e) { return e.type == CAIRN_EVENT_PUT; })
      .def_property_readonly("is_delete",
                             [](const Event& e) { return e.type == CAIRN_EVENT_DELETE; })
      .def_readonly_static("PUT", new int(CAIRN_EVENT_PUT))
      .def_readonly_static("DELETE", new int(CAIRN_EVENT_DELETE))
      .def("__repr__", [](const Event& e) {
        return std::string("Event(") + (e.type == CAIRN_EVENT_PUT ? "PUT" : "DELETE") + ", " +
               py::repr(e.kv).cast<std::string>() + ")";
      });

  py::class_<WatchResponse>(m, "WatchResponse")
      .def_readonly("header", &WatchResponse::header)
      .def_property_readonly("revision", [](const WatchResponse& r) { return r.header.revision; })
      .def_readonly("events", &WatchResponse::events)
      .def_property_readonly("is_progress_notify",
                             [](const WatchResponse& r) { return py::len(r.events) == 0; })
      .def("__repr__", [](const WatchResponse& r) {
        return "WatchResponse(revision=" + std::to_string(r.header.revision) +
               ", events=" + py::repr(r.events).cast<std::string>() + ")";
      });

  py::class_<LeaseInfo>(m, "LeaseInfo")
      .def_readonly("header", &LeaseInfo::header)
      .def_readonly("id", &LeaseInfo::id)
      .def_readonly("ttl", &LeaseInfo::ttl)
      .def_readonly("granted_ttl", &LeaseInfo::granted_ttl)
      .def_readonly("keys", &LeaseInfo::keys)
      .def("__repr__", [](const LeaseInfo& l) {
        return "LeaseInfo(id=" + std::to_string(l.id) + ", ttl=" + std::to_string(l.ttl) +
               ", granted_ttl=" + std::to_string(l.granted_ttl) + ")";
      });

  py::class_<Member>(m, "Member")
      .def_readonly("id", &Member::id)
      .def_readonly("name", &Member::name)
      .def_readonly("is_learner", &Member::is_learner)
      .def_readonly("peer_urls", &Member::peer_urls)
      .def_readonly("client_urls", &Member::client_urls)
      .def("__repr__", [](const Member& mb) {
        return "Member(id=" + std::to_string(mb.id) + ", name='" + mb.name + "')";
      });

  py::class_<Status>(m, "Status")
      .def_readonly("header", &Status::header)
      .def_readonly("version", &Status::version)
      .def_readonly("db_size", &Status::db_size)
      .def_readonly("db_size_in_use", &Status::db_size_in_use)
      .def_readonly("leader", &Status::leader)
      .def_readonly("raft_index", &Status::raft_index)
      .def_readonly("raft_term", &Status::raft_term)
      .def_readonly("raft_applied_index", &Status::raft_applied_index)
      .def_readonly("is_learner", &Status::is_learner)
      .def_readonly("errors", &Status::errors)
      .def("__repr__", [](const Status& s) {
        return "Status(version='" + s.version + "', leader=" + std::to_string(s.leader) +
               ", raft_term=" + std::to_string(s.raft_term) +
               ", raft_index=" + std::to_string(s.raft_index) + ")";
      });

  py::class_<LeaderKey>(m, "LeaderKey")
      .def_property_readonly("name", &LeaderKey::name)
      .def_property_readonly("key", &LeaderKey::key)
      .def_property_readonly("revision", &LeaderKey::revision)
      .def_property_readonly("lease", &LeaderKey::lease);

  py::class_<Watch>(m, "Watch")
      .def_property_readonly("id", &Watch::id)
      .def("cancel", &Watch::cancel)
      .def("request_progress", &Watch::request_progress);

  py::class_<KeepAlive>(m, "KeepAlive")
      .def_property_readonly("ttl", &KeepAlive::ttl)
      .def("cancel", &KeepAlive::cancel);

  py::class_<Observe>(m, "Observe").def("cancel", &Observe::cancel);

  py::class_<Client>(m, "Client")
      .def_static("connect", &Client::Connect, py::arg("endpoints"), py::arg("dial_timeout"),
                  py::arg("request_timeout") = 0.0, py::arg("require_leader") = false)
      .def("close", &Client::close)
      .def("get", &Client::get)
      .def("range", &Client::range)
      .def("put", &Client::put)
      .def("delete", &Client::del)
      .def("compact", &Client::compact)
      .def("txn", &Client::txn)
      .def("watch", &Client::watch)
      .def("lease_grant", &Client::lease_grant)
      .def("lease_revoke", &Client::lease_revoke)
      .def("lease_time_to_live", &Client::lease_time_to_live)
      .def("leases", &Client::leases)
      .def("lease_keep_alive", &Client::lease_keep_alive)
      .def("lock", &Client::lock)
      .def("unlock", &Client::unlock)
      .def("campaign", &Client::campaign)
      .def("proclaim", &Client::proclaim)
      .def("resign", &Client::resign)
      .def("leader", &Client::leader)
      .def("observe", &Client::observe)
      .def("member_list", &Client::member_list)
      .def("status", &Client::status);

  py::class_<Node>(m, "Node")
      .def_static("start", &Node::Start)
      .def("wait_ready", &Node::wait_ready)
      .def("client_urls", &Node::client_urls)
      .def_property_readonly("id", &Node::id)
      .def_property_readonly("cluster_id", &Node::cluster_id)
      .def("status", &Node::status)
      .def("client", &Node::client)
      .def("stop", &Node::stop);
}
