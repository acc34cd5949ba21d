// The loops, connections and calls of the HTTP/2 gRPC server.
//
// Each loop thread owns an epoll set, its connections and their nghttp2 sessions; nothing of
// a connection is touched by another thread. A call's Done, from whatever thread, posts the
// outcome to its loop's mailbox and wakes the loop through an eventfd (only when the mailbox
// was idle). The loop turns outcomes into frames, and at the end of each turn writes all
// that is pending on a connection in one send: responses completed together leave together.
#include "rpc/h2/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/log.h"
#include "rpc/h2/wire.h"

namespace cairn::rpc::h2 {

const std::string* CallInfo::metadata(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadBuffer = 64 * 1024;
// Frames are produced into a connection's output only up to this much unsent: a slow reader
// holds back its own responses (nghttp2 keeps them), not the loop's memory.
constexpr size_t kOutHighWater = 256 * 1024;
// Windows large enough that a request of a few MiB is not held up by round trips.
constexpr int32_t kStreamWindow = 4 << 20;
constexpr int32_t kConnectionWindow = 32 << 20;
// Reads per readable connection and turn, so one busy connection does not starve the rest.
constexpr int kReadsPerTurn = 4;

enum Phase : int { kRunning = 0, kDraining = 1, kStopping = 2 };

bool SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

nghttp2_nv Header(std::string_view name, std::string_view value, uint8_t flags) {
  // nghttp2 takes non-const pointers but does not write through them.
  return nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
                    const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())),
                    name.size(), value.size(), flags};
}

constexpr uint8_t kStatic = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
constexpr uint8_t kStaticName = NGHTTP2_NV_FLAG_NO_COPY_NAME;

bool IsGrpcContentType(std::string_view ct) {
  constexpr std::string_view kBase = "application/grpc";
  if (ct.substr(0, kBase.size()) != kBase) return false;
  return ct.size() == kBase.size() || ct[kBase.size()] == '+' || ct[kBase.size()] == ';';
}

class Loop;
struct Conn;
class Call;

struct Completion {
  Call* call;
  Status status;
};

// A streaming call's Write or Finish, on its way to the loop.
struct StreamOp {
  std::shared_ptr<internal::StreamCore> core;
  std::string bytes;
  bool finish = false;
  Status status;
};

// Where other threads leave work for a loop. Outlives the loop: a Done that runs after the
// loop ended finds it closed and frees its call itself.
struct Mailbox {
  std::mutex mu;
  std::vector<Completion> completions;  // guarded by mu
  std::vector<int> fds;                 // accepted connections handed over; guarded by mu
  std::vector<StreamOp> stream_ops;     // guarded by mu
  bool wake_pending = false;            // guarded by mu; the eventfd holds a wake not yet seen
  bool closed = false;                  // guarded by mu
  int efd = -1;

  ~Mailbox() {
    if (efd >= 0) ::close(efd);
  }
  // Wakes the loop unless a wake is already pending. `lock` is released first.
  void WakeLocked(std::unique_lock<std::mutex>& lock) {
    const bool wake = !wake_pending;
    wake_pending = true;
    lock.unlock();
    if (wake) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(efd, &one, sizeof(one));
    }
  }
  void Wake() {
    std::unique_lock lock(mu);
    WakeLocked(lock);
  }
};

struct Method {
  internal::UnaryFactory make;
  internal::StreamFactory stream;  // set for streaming methods instead of make
};

}  // namespace

namespace internal {

// What the server keeps of a streaming call; shared by the call, its handler and the
// Writes and Finish on their way. Everything but loop and mailbox is the loop thread's.
class StreamCore {
 public:
  Loop* loop = nullptr;
  std::shared_ptr<Mailbox> mailbox;
  Call* call = nullptr;                        // nullptr once the stream is gone
  std::shared_ptr<StreamHandlerBase> handler;  // dropped when the stream is gone
  std::deque<std::string> out;                 // framed messages not yet in DATA frames
  size_t out_off = 0;                          // of out.front()
  bool headers_sent = false;
  bool deferred = false;  // nghttp2 waits for data: resume it
  bool finished = false;
  Status status;
};

}  // namespace internal

class Server::Impl {
 public:
  explicit Impl(Options options) : options_(options) {}
  ~Impl();

  const Method* Find(const std::string& path) const {
    auto it = methods_.find(path);
    return it == methods_.end() ? nullptr : &it->second;
  }
  bool HasService(std::string_view service) const {
    return services_.count(std::string(service)) > 0;
  }
  size_t max_message() const { return options_.max_receive_message_bytes; }
  int phase() const { return phase_.load(std::memory_order_acquire); }
  Loop* PickLoop();
  void LoopExited();

  Options options_;
  std::unordered_map<std::string, Method> methods_;
  std::unordered_set<std::string> services_;
  std::vector<std::shared_ptr<void>> keep_;
  std::vector<int> listen_fds_;
  std::vector<std::string> unix_paths_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<int> phase_{kRunning};
  std::atomic<size_t> next_loop_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;  // guarded by mu_
  bool started_ = false;
  bool shut_down_ = false;
};

namespace {

thread_local Loop* tls_loop = nullptr;

struct Pollable {
  enum Kind { kWake, kListen, kConn } kind;
  int fd = -1;
};

// One request stream and the call it carries. Lives until both its stream is gone and its
// handler's Done has been seen by the loop (or by the completing thread, once the loop is
// gone). Everything but Complete runs on the loop thread.
class Call final : public CallInfo {
 public:
  Call(Loop* loop, Conn* conn, int32_t stream_id, std::shared_ptr<Mailbox> mailbox)
      : loop_(loop), conn_(conn), stream_id_(stream_id), mailbox_(std::move(mailbox)) {}

  // The handler's outcome, from any thread.
  void Complete(Status s);

  std::string& mutable_path() { return path_; }
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }
  void add_metadata(std::string_view key, std::string_view value) {
    metadata_.emplace_back(key, value);
  }

  Loop* loop_;
  Conn* conn_;  // nullptr once the stream is gone
  int32_t stream_id_;
  std::shared_ptr<Mailbox> mailbox_;
  const Method* method_ = nullptr;
  std::unique_ptr<internal::UnaryBody> body_;
  std::shared_ptr<internal::StreamCore> stream_;  // streaming methods only

  // What the request headers said.
  bool bad_method_ = true;  // until ":method: POST" comes
  bool saw_content_type_ = false;
  std::string content_type_;
  std::string encoding_;
  std::string bad_timeout_;  // the malformed grpc-timeout, if one was sent
  bool timed_ = false;

  // Request message framing: prefix_ collects the 5-byte prefix, buf_ the message.
  uint8_t prefix_[5] = {};
  size_t prefix_len_ = 0;
  int64_t message_len_ = -1;  // -1: reading a prefix
  std::string buf_;
  int messages_ = 0;

  bool stream_alive_ = true;
  bool handler_pending_ = false;
  bool responded_ = false;

  // The response message: its framed size, and how much of it went into DATA frames.
  size_t response_total_ = 0;
  size_t response_off_ = 0;
  std::string wire_;  // the framed message, when it does not fit one frame
};

struct Conn : Pollable {
  Loop* loop = nullptr;
  nghttp2_session* session = nullptr;
  std::string out;
  size_t out_off = 0;
  std::unordered_map<int32_t, Call*> calls;
  bool dirty = false;
  bool polling_out = false;
  bool closed = false;
};

class Loop {
 public:
  Loop(Server::Impl* server, size_t index) : server_(server), index_(index) {}
  ~Loop() {
    if (epfd_ >= 0) ::close(epfd_);
  }

  Status Init();
  void StartThread() {
    thread_ = std::thread([this] { Run(); });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  void AddListener(int fd) {
    auto p = std::make_unique<Pollable>();
    p->kind = Pollable::kListen;
    p->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = p.get();
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    listeners_.push_back(std::move(p));
  }
  // A connection accepted by another loop: adopted on this loop's thread.
  void HandOver(int fd) {
    std::unique_lock lock(mailbox_->mu);
    if (mailbox_->closed) {
      lock.unlock();
      ::close(fd);
      return;
    }
    mailbox_->fds.push_back(fd);
    mailbox_->WakeLocked(lock);
  }
  void Wake() { mailbox_->Wake(); }
  const std::shared_ptr<Mailbox>& mailbox() const { return mailbox_; }

  // A completion made on this loop's own thread (a handler that answered at once).
  void PostLocal(Call* call, Status s) { local_.push_back({call, std::move(s)}); }
  // Something was put in the mailbox from this thread without a wake: look before sleeping.
  void NoteLocalPost() { local_posts_ = true; }

  // nghttp2's callbacks, on this thread.
  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user);
  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static int OnDataChunk(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                         const uint8_t* data, size_t len, void* user);
  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user);
  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static ssize_t ReadResponse(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                              size_t length, uint32_t* data_flags, nghttp2_data_source* source,
                              void* user);
  static ssize_t ReadStream(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                            size_t length, uint32_t* data_flags, nghttp2_data_source* source,
                            void* user);

 private:
  void Run();
  void Accept(Pollable* listener);
  void Adopt(int fd);
  void OnReadable(Conn* conn);
  void DrainMailbox(bool woken);
  void ProcessStreamOps(std::vector<StreamOp>& ops);
  void StreamWrite(internal::StreamCore* core, std::string bytes);
  void StreamFinish(internal::StreamCore* core, const Status& status);
  void ProcessCompletions(std::vector<Completion>& completions);
  void ExpireDeadlines();
  int TimeoutMs() const;
  void MarkDirty(Conn* conn) {
    if (!conn->dirty && !conn->closed) {
      conn->dirty = true;
      dirty_.push_back(conn);
    }
  }
  void Flush(Conn* conn);
  void SetPollOut(Conn* conn, bool on);
  void CloseConn(Conn* conn);
  void StartDrain();
  void Teardown();

  // Calls.
  void OnRequestHeaders(Call* call);
  void OnRequestEnd(Call* call);
  void OnMessageBytes(Call* call, const uint8_t* data, size_t len);
  void OnMessage(Call* call, const uint8_t* data, size_t len);
  void Respond(Call* call, const Status& status);
  void RespondHttp(Call* call, const char* http_status, const Status& status);
  void DetachStream(Call* call);
  void ForgetDeadline(Call* call) {
    if (call->timed_) {
      deadlines_.erase({call->deadline(), call});
      call->timed_ = false;
    }
  }

  Server::Impl* server_;
  size_t index_;
  int epfd_ = -1;
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();
  Pollable wake_{Pollable::kWake, -1};
  std::vector<std::unique_ptr<Pollable>> listeners_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Conn>> graveyard_;
  std::vector<Conn*> dirty_;
  std::vector<Completion> local_;
  std::vector<Completion> remote_;
  std::vector<StreamOp> stream_ops_;
  std::vector<std::shared_ptr<internal::StreamCore>> drained_;  // to tell OnWritesDrained
  bool local_posts_ = false;
  std::set<std::pair<Clock::time_point, Call*>> deadlines_;
  bool draining_ = false;
  nghttp2_session_callbacks* callbacks_ = nullptr;
  nghttp2_option* option_ = nullptr;
  std::unique_ptr<uint8_t[]> read_buf_ = std::make_unique<uint8_t[]>(kReadBuffer);
  std::thread thread_;
};

void Call::Complete(Status s) {
  if (tls_loop == loop_) {
    loop_->PostLocal(this, std::move(s));
    return;
  }
  std::unique_lock lock(mailbox_->mu);
  if (mailbox_->closed) {
    // The loop is gone and with it the stream: nothing to answer.
    lock.unlock();
    delete this;
    return;
  }
  mailbox_->completions.push_back({this, std::move(s)});
  mailbox_->WakeLocked(lock);
}

Status Loop::Init() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return Internal(std::string("epoll_create1: ") + std::strerror(errno));
  mailbox_->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (mailbox_->efd < 0) return Internal(std::string("eventfd: ") + std::strerror(errno));
  wake_.fd = mailbox_->efd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, mailbox_->efd, &ev);
  return Status::Ok();
}

void Loop::Run() {
  tls_loop = this;
  nghttp2_session_callbacks_new(&callbacks_);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks_, &Loop::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks_, &Loop::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks_, &Loop::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks_, &Loop::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks_, &Loop::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks_, &Loop::OnFrameSend);
  nghttp2_option_new(&option_);
  // nghttp2's HTTP checks refuse what gRPC servers take: grpc-go sends ":authority:
  // http://host:port" for a "passthrough:///http://..." target (etcdctl --cluster does).
  // The checks gRPC needs (:method POST, :path, content-type) are made here.
  nghttp2_option_set_no_http_messaging(option_, 1);

  std::vector<epoll_event> events(256);
  for (;;) {
    const int phase = server_->phase();
    if (phase == kStopping) break;
    if (phase == kDraining && !draining_) StartDrain();
    if (draining_ && conns_.empty()) break;
    const int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), TimeoutMs());
    for (int i = 0; i < n; ++i) {
      auto* p = static_cast<Pollable*>(events[i].data.ptr);
      switch (p->kind) {
        case Pollable::kWake: DrainMailbox(true); break;
        case Pollable::kListen: Accept(p); break;
        case Pollable::kConn: {
          auto* conn = static_cast<Conn*>(p);
          if (conn->closed) break;
          if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) OnReadable(conn);
          if (!conn->closed && (events[i].events & EPOLLOUT)) MarkDirty(conn);
          break;
        }
      }
    }
    // Handlers that answered at once, possibly in several rounds.
    while (!local_.empty()) {
      std::vector<Completion> batch;
      batch.swap(local_);
      ProcessCompletions(batch);
    }
    // Writes and finishes posted from this thread meanwhile.
    if (local_posts_) {
      local_posts_ = false;
      DrainMailbox(false);
    }
    ExpireDeadlines();
    std::vector<Conn*> dirty;
    dirty.swap(dirty_);
    for (Conn* conn : dirty) {
      conn->dirty = false;
      if (!conn->closed) Flush(conn);
    }
    graveyard_.clear();
    // Streams whose writes all went into frames may write more (their Writes wait for the
    // next turn, which local_posts_ makes immediate).
    std::vector<std::shared_ptr<internal::StreamCore>> drained;
    drained.swap(drained_);
    for (auto& core : drained) {
      if (core->call && core->handler && core->out.empty()) core->handler->OnWritesDrained();
    }
  }
  Teardown();
  nghttp2_option_del(option_);
  nghttp2_session_callbacks_del(callbacks_);
  tls_loop = nullptr;
  server_->LoopExited();
}

int Loop::TimeoutMs() const {
  if (local_posts_ || !local_.empty()) return 0;
  if (deadlines_.empty()) return draining_ ? 50 : -1;
  const auto wait = deadlines_.begin()->first - Clock::now();
  if (wait <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1;
  return static_cast<int>(std::min<int64_t>(ms, draining_ ? 50 : 60'000));
}

void Loop::Accept(Pollable* listener) {
  for (;;) {
    int fd = ::accept4(listener->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log::Warn("accept failed", {{"error", std::strerror(errno)}});
      }
      return;
    }
    Loop* target = server_->PickLoop();
    if (target == this) {
      Adopt(fd);
    } else {
      target->HandOver(fd);
    }
  }
}

void Loop::Adopt(int fd) {
  if (draining_) {
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // fails harmlessly on unix
  SetNonBlocking(fd);
  auto owned = std::make_unique<Conn>();
  Conn* conn = owned.get();
  conn->kind = Pollable::kConn;
  conn->fd = fd;
  conn->loop = this;
  conn->out.reserve(kReadBuffer);
  if (nghttp2_session_server_new2(&conn->session, callbacks_, conn, option_) != 0) {
    ::close(fd);
    return;
  }
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
  };
  nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings, 1);
  nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = conn;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    nghttp2_session_del(conn->session);
    ::close(fd);
    return;
  }
  conns_.emplace(conn, std::move(owned));
  MarkDirty(conn);
}

void Loop::OnReadable(Conn* conn) {
  for (int i = 0; i < kReadsPerTurn; ++i) {
    ssize_t n = ::recv(conn->fd, read_buf_.get(), kReadBuffer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      CloseConn(conn);
      return;
    }
    if (n == 0) {  // the peer closed: nothing more can be answered
      CloseConn(conn);
      return;
    }
    ssize_t used = nghttp2_session_mem_recv(conn->session, read_buf_.get(), static_cast<size_t>(n));
    if (used < 0) {
      // A connection-level error nghttp2 could not answer with a GOAWAY of its own.
      CloseConn(conn);
      return;
    }
    if (conn->closed) return;
    MarkDirty(conn);
    if (static_cast<size_t>(n) < kReadBuffer) break;
  }
}

void Loop::DrainMailbox(bool woken) {
  // The eventfd is read before the mailbox is emptied: a wake that comes after is kept.
  if (woken) {
    uint64_t count;
    [[maybe_unused]] ssize_t r = ::read(mailbox_->efd, &count, sizeof(count));
  }
  std::vector<int> fds;
  {
    std::lock_guard lock(mailbox_->mu);
    remote_.swap(mailbox_->completions);
    stream_ops_.swap(mailbox_->stream_ops);
    fds.swap(mailbox_->fds);
    if (woken) mailbox_->wake_pending = false;
  }
  for (int fd : fds) Adopt(fd);
  ProcessCompletions(remote_);
  remote_.clear();
  ProcessStreamOps(stream_ops_);
  stream_ops_.clear();
}

void Loop::ProcessStreamOps(std::vector<StreamOp>& ops) {
  for (StreamOp& op : ops) {
    if (op.finish) {
      StreamFinish(op.core.get(), op.status);
    } else {
      StreamWrite(op.core.get(), std::move(op.bytes));
    }
  }
}

void Loop::StreamWrite(internal::StreamCore* core, std::string bytes) {
  Call* call = core->call;
  if (!call || core->finished) return;
  core->out.push_back(std::move(bytes));
  Conn* conn = call->conn_;
  if (!core->headers_sent) {
    core->headers_sent = true;
    const nghttp2_nv headers[] = {
        Header(":status", "200", kStatic),
        Header("content-type", "application/grpc", kStatic),
    };
    nghttp2_data_provider provider{};
    provider.source.ptr = core;
    provider.read_callback = &Loop::ReadStream;
    nghttp2_submit_response(conn->session, call->stream_id_, headers, 2, &provider);
  } else if (core->deferred) {
    core->deferred = false;
    nghttp2_session_resume_data(conn->session, call->stream_id_);
  }
  MarkDirty(conn);
}

void Loop::StreamFinish(internal::StreamCore* core, const Status& status) {
  Call* call = core->call;
  if (!call || core->finished) return;
  core->finished = true;
  core->status = status;
  ForgetDeadline(call);
  if (!core->headers_sent) {
    RespondHttp(call, "200", status);  // trailers-only
    return;
  }
  call->responded_ = true;
  if (core->deferred) {
    core->deferred = false;
    nghttp2_session_resume_data(call->conn_->session, call->stream_id_);
  }
  MarkDirty(call->conn_);
}

void Loop::ProcessCompletions(std::vector<Completion>& completions) {
  for (Completion& c : completions) {
    Call* call = c.call;
    call->handler_pending_ = false;
    if (!call->stream_alive_) {
      delete call;
      continue;
    }
    Respond(call, c.status);
  }
}

void Loop::ExpireDeadlines() {
  if (deadlines_.empty()) return;
  const auto now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    Call* call = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    call->timed_ = false;
    // gRPC's own words for a call whose deadline passed on the server.
    Respond(call, Status(Code::kDeadlineExceeded, "Deadline Exceeded"));
  }
}

void Loop::SetPollOut(Conn* conn, bool on) {
  if (conn->polling_out == on) return;
  conn->polling_out = on;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.ptr = conn;
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, conn->fd, &ev);
}

void Loop::Flush(Conn* conn) {
  for (;;) {
    while (conn->out.size() - conn->out_off < kOutHighWater) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(conn->session, &data);
      if (n < 0) {
        CloseConn(conn);
        return;
      }
      if (n == 0) break;
      conn->out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    const size_t pending = conn->out.size() - conn->out_off;
    if (pending == 0) break;
    ssize_t w = ::send(conn->fd, conn->out.data() + conn->out_off, pending, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SetPollOut(conn, true);
        return;
      }
      CloseConn(conn);
      return;
    }
    conn->out_off += static_cast<size_t>(w);
    if (conn->out_off == conn->out.size()) {
      conn->out.clear();
      conn->out_off = 0;
    } else {
      SetPollOut(conn, true);
      return;
    }
  }
  SetPollOut(conn, false);
  if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session)) {
    CloseConn(conn);  // after a GOAWAY, or a connection error nghttp2 answered
    return;
  }
  if (draining_ && conn->calls.empty()) CloseConn(conn);
}

void Loop::CloseConn(Conn* conn) {
  if (conn->closed) return;
  conn->closed = true;
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, conn->fd, nullptr);
  ::close(conn->fd);
  // nghttp2_session_del calls no stream-close callback: the calls are detached here.
  auto calls = std::move(conn->calls);
  for (auto& [id, call] : calls) DetachStream(call);
  nghttp2_session_del(conn->session);
  conn->session = nullptr;
  auto it = conns_.find(conn);
  graveyard_.push_back(std::move(it->second));
  conns_.erase(it);
}

void Loop::StartDrain() {
  draining_ = true;
  for (auto& l : listeners_) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, l->fd, nullptr);
  for (auto& [conn, owned] : conns_) {
    nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(conn->session), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    MarkDirty(conn);
  }
}

void Loop::Teardown() {
  std::vector<Conn*> all;
  for (auto& [conn, owned] : conns_) all.push_back(conn);
  for (Conn* conn : all) CloseConn(conn);
  graveyard_.clear();
  // Calls answered on this thread already have no stream.
  ProcessCompletions(local_);
  local_.clear();
  drained_.clear();
  std::vector<int> fds;
  {
    std::lock_guard lock(mailbox_->mu);
    mailbox_->closed = true;
    remote_.swap(mailbox_->completions);
    stream_ops_.swap(mailbox_->stream_ops);
    fds.swap(mailbox_->fds);
  }
  ProcessCompletions(remote_);
  remote_.clear();
  stream_ops_.clear();  // their streams are gone
  for (int fd : fds) ::close(fd);
}

// ---------------------------------------------------------------------------------------
// Calls

void Loop::DetachStream(Call* call) {
  ForgetDeadline(call);
  call->stream_alive_ = false;
  call->conn_ = nullptr;
  if (call->stream_) {
    std::shared_ptr<internal::StreamCore> core = std::move(call->stream_);
    core->call = nullptr;
    core->out.clear();
    // The handler goes with the stream, which also ends its reference to the core.
    std::shared_ptr<internal::StreamHandlerBase> handler = std::move(core->handler);
    if (handler) {
      if (!core->finished) handler->OnCancel();
      handler->OnDone();
    }
  }
  if (!call->handler_pending_) delete call;
}

int Loop::OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto* conn = static_cast<Conn*>(user);
  auto* call = new Call(conn->loop, conn, frame->hd.stream_id, conn->loop->mailbox_);
  conn->calls.emplace(frame->hd.stream_id, call);
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
  return 0;
}

int Loop::OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                   size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto* call =
      static_cast<Call*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (!call) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n.empty()) return 0;
  if (n[0] == ':') {
    if (n == ":path") {
      call->mutable_path().assign(v);
    } else if (n == ":method") {
      call->bad_method_ = v != "POST";
    }
    return 0;
  }
  if (n == "content-type") {
    call->saw_content_type_ = true;
    call->content_type_.assign(v);
  } else if (n == "grpc-timeout") {
    auto timeout = ParseGrpcTimeout(v);
    if (!timeout) {
      call->bad_timeout_.assign(v);
    } else {
      call->set_deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(*timeout));
    }
  } else if (n == "grpc-encoding") {
    call->encoding_.assign(v);
  } else if (n == "te" || n == "user-agent" || n == "grpc-accept-encoding" ||
             n == "content-length") {
    // Transport headers, not metadata.
  } else {
    call->add_metadata(n, v);
  }
  return 0;
}

int Loop::OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  auto* call =
      static_cast<Call*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (!call) return 0;
  Loop* loop = call->loop_;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    loop->OnRequestHeaders(call);
  }
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && call->stream_alive_) loop->OnRequestEnd(call);
  return 0;
}

void Loop::OnRequestHeaders(Call* call) {
  if (call->bad_method_) {
    nghttp2_submit_rst_stream(call->conn_->session, NGHTTP2_FLAG_NONE, call->stream_id_,
                              NGHTTP2_PROTOCOL_ERROR);
    call->responded_ = true;
    return;
  }
  if (!IsGrpcContentType(call->content_type_)) {
    // As grpc-go answers what is not gRPC: HTTP 415, with a gRPC status for gRPC clients.
    RespondHttp(call, "415",
                Status(Code::kInvalidArgument,
                       "invalid gRPC request content-type \"" + call->content_type_ + "\""));
    return;
  }
  if (!call->bad_timeout_.empty()) {
    Respond(call, Internal("malformed grpc-timeout: " + call->bad_timeout_));
    return;
  }
  if (!call->encoding_.empty() && call->encoding_ != "identity") {
    // Cairn takes no compressed requests; gRPC's answer to an encoding it lacks.
    Respond(call, Unimplemented("grpc: Decompressor is not installed for grpc-encoding \"" +
                                call->encoding_ + "\""));
    return;
  }
  const std::string& path = call->path();
  call->method_ = server_->Find(path);
  if (!call->method_) {
    // grpc-go's words, as etcd's clients see them.
    const size_t slash = path.rfind('/');
    if (path.empty() || path[0] != '/' || slash == 0 || slash == std::string::npos) {
      Respond(call, Unimplemented("malformed method name: \"" + path + "\""));
    } else {
      const std::string_view service(path.data() + 1, slash - 1);
      const std::string_view method(path.data() + slash + 1, path.size() - slash - 1);
      if (server_->HasService(service)) {
        Respond(call, Unimplemented("unknown method " + std::string(method) + " for service " +
                                    std::string(service)));
      } else {
        Respond(call, Unimplemented("unknown service " + std::string(service)));
      }
    }
    return;
  }
  if (call->deadline() != Clock::time_point::max()) {
    deadlines_.insert({call->deadline(), call});
    call->timed_ = true;
  }
  if (call->method_->stream) {
    auto core = std::make_shared<internal::StreamCore>();
    core->loop = this;
    core->mailbox = mailbox_;
    core->call = call;
    core->handler = call->method_->stream();
    core->handler->core_ = core;
    call->stream_ = core;
    core->handler->OnStart(*call);
    return;
  }
  call->body_ = call->method_->make();
}

int Loop::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                      size_t len, void*) {
  auto* call = static_cast<Call*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (!call || call->responded_ || call->handler_pending_ || (!call->body_ && !call->stream_)) {
    return 0;
  }
  call->loop_->OnMessageBytes(call, data, len);
  return 0;
}

void Loop::OnMessageBytes(Call* call, const uint8_t* data, size_t len) {
  while (len > 0 && !call->responded_) {
    if (call->message_len_ < 0) {
      const size_t take = std::min(len, sizeof(call->prefix_) - call->prefix_len_);
      std::memcpy(call->prefix_ + call->prefix_len_, data, take);
      call->prefix_len_ += take;
      data += take;
      len -= take;
      if (call->prefix_len_ < sizeof(call->prefix_)) return;
      call->prefix_len_ = 0;
      const uint8_t* p = call->prefix_;
      const uint32_t size =
          (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | uint32_t{p[4]};
      if (p[0] & 1) {
        Respond(call, Internal("grpc: compressed flag set with identity or empty encoding"));
        return;
      }
      if (size > server_->max_message()) {
        Respond(call, ResourceExhausted("grpc: received message larger than max (" +
                                        std::to_string(size) + " vs. " +
                                        std::to_string(server_->max_message()) + ")"));
        return;
      }
      if (call->messages_ > 0 && !call->stream_) {
        Respond(call, Unimplemented("grpc: more than one request message in a unary call"));
        return;
      }
      call->message_len_ = size;
      if (len >= size) {  // the whole message in this chunk: parsed where it lies
        OnMessage(call, data, size);
        data += size;
        len -= size;
        call->message_len_ = -1;
        continue;
      }
      call->buf_.reserve(size);
    }
    const size_t want = static_cast<size_t>(call->message_len_) - call->buf_.size();
    const size_t take = std::min(len, want);
    call->buf_.append(reinterpret_cast<const char*>(data), take);
    data += take;
    len -= take;
    if (call->buf_.size() == static_cast<size_t>(call->message_len_)) {
      OnMessage(call, reinterpret_cast<const uint8_t*>(call->buf_.data()), call->buf_.size());
      std::string().swap(call->buf_);
      call->message_len_ = -1;
    }
  }
}

void Loop::OnMessage(Call* call, const uint8_t* data, size_t len) {
  ++call->messages_;
  google::protobuf::MessageLite* request =
      call->stream_ ? call->stream_->handler->request() : call->body_->request();
  if (!request->ParseFromArray(data, static_cast<int>(len))) {
    Respond(call, Internal("grpc: error unmarshalling request: proto: cannot parse invalid "
                           "wire-format data"));
    return;
  }
  if (call->stream_) call->stream_->handler->Deliver();
}

void Loop::OnRequestEnd(Call* call) {
  if (call->stream_) {
    if (call->responded_ || !call->stream_->handler) return;
    if (call->message_len_ >= 0 || call->prefix_len_ > 0) {
      Respond(call, Internal("grpc: the request ended without a whole message"));
      return;
    }
    call->stream_->handler->OnReadsDone();
    return;
  }
  if (call->responded_ || call->handler_pending_ || !call->body_) return;
  if (call->message_len_ >= 0 || call->prefix_len_ > 0 || call->messages_ == 0) {
    Respond(call, Internal("grpc: the request ended without a whole message"));
    return;
  }
  call->handler_pending_ = true;
  call->body_->Invoke(*call, [call](Status s) { call->Complete(std::move(s)); });
}

void Loop::Respond(Call* call, const Status& status) {
  if (!call->stream_alive_ || call->responded_) return;
  if (call->stream_) {
    // The server ends the call (a bad message, the deadline): the handler hears a cancel.
    std::shared_ptr<internal::StreamCore> core = call->stream_;
    if (!core->finished && core->handler) core->handler->OnCancel();
    StreamFinish(core.get(), status);
    return;
  }
  call->responded_ = true;
  ForgetDeadline(call);
  Conn* conn = call->conn_;
  if (status.ok()) {
    const nghttp2_nv headers[] = {
        Header(":status", "200", kStatic),
        Header("content-type", "application/grpc", kStatic),
    };
    call->response_total_ = 5 + call->body_->response().ByteSizeLong();
    nghttp2_data_provider provider{};
    provider.source.ptr = call;
    provider.read_callback = &Loop::ReadResponse;
    nghttp2_submit_response(conn->session, call->stream_id_, headers, 2, &provider);
  } else {
    RespondHttp(call, "200", status);
    return;
  }
  MarkDirty(conn);
}

void Loop::RespondHttp(Call* call, const char* http_status, const Status& status) {
  call->responded_ = true;
  ForgetDeadline(call);
  // Trailers-only: one HEADERS frame that ends the stream.
  const std::string code = std::to_string(static_cast<int>(status.code()));
  const std::string message = PercentEncode(status.message());
  nghttp2_nv headers[] = {
      Header(":status", http_status, kStatic),
      Header("content-type", "application/grpc", kStatic),
      Header("grpc-status", code, kStaticName),
      Header("grpc-message", message, kStaticName),
  };
  nghttp2_submit_response(call->conn_->session, call->stream_id_, headers, message.empty() ? 3 : 4,
                          nullptr);
  MarkDirty(call->conn_);
}

ssize_t Loop::ReadResponse(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* call = static_cast<Call*>(source->ptr);
  const google::protobuf::MessageLite& response = call->body_->response();
  const size_t total = call->response_total_;
  const auto frame_prefix = [total](uint8_t* p) {
    const uint32_t size = static_cast<uint32_t>(total - 5);
    p[0] = 0;
    p[1] = static_cast<uint8_t>(size >> 24);
    p[2] = static_cast<uint8_t>(size >> 16);
    p[3] = static_cast<uint8_t>(size >> 8);
    p[4] = static_cast<uint8_t>(size);
  };
  size_t n;
  if (call->response_off_ == 0 && total <= length) {
    // The usual case: serialized straight into nghttp2's frame buffer.
    frame_prefix(buf);
    response.SerializeWithCachedSizesToArray(buf + 5);
    n = total;
  } else {
    if (call->wire_.empty()) {
      call->wire_.resize(total);
      auto* p = reinterpret_cast<uint8_t*>(call->wire_.data());
      frame_prefix(p);
      response.SerializeWithCachedSizesToArray(p + 5);
    }
    n = std::min(length, total - call->response_off_);
    std::memcpy(buf, call->wire_.data() + call->response_off_, n);
  }
  call->response_off_ += n;
  if (call->response_off_ == total) {
    std::string().swap(call->wire_);
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    const nghttp2_nv trailers[] = {Header("grpc-status", "0", kStatic)};
    nghttp2_submit_trailer(session, stream_id, trailers, 1);
  }
  return static_cast<ssize_t>(n);
}

ssize_t Loop::ReadStream(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                         uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* core = static_cast<internal::StreamCore*>(source->ptr);
  size_t n = 0;
  while (n < length && !core->out.empty()) {
    const std::string& front = core->out.front();
    const size_t k = std::min(length - n, front.size() - core->out_off);
    std::memcpy(buf + n, front.data() + core->out_off, k);
    n += k;
    core->out_off += k;
    if (core->out_off == front.size()) {
      core->out.pop_front();
      core->out_off = 0;
    }
  }
  if (!core->out.empty()) return static_cast<ssize_t>(n);
  if (core->finished) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    const std::string code = std::to_string(static_cast<int>(core->status.code()));
    const std::string message = PercentEncode(core->status.message());
    const nghttp2_nv trailers[] = {Header("grpc-status", code, kStaticName),
                                   Header("grpc-message", message, kStaticName)};
    nghttp2_submit_trailer(session, stream_id, trailers, message.empty() ? 1 : 2);
    return static_cast<ssize_t>(n);
  }
  if (n == 0) {
    core->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (core->handler) core->loop->drained_.push_back(core->handler->core_);
  return static_cast<ssize_t>(n);
}

int Loop::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
      nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
    // Answered before the request ended (an early error): the client can stop sending.
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int Loop::OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t, void* user) {
  auto* call = static_cast<Call*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (!call) return 0;
  auto* conn = static_cast<Conn*>(user);
  conn->calls.erase(stream_id);
  call->loop_->DetachStream(call);
  return 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Streaming handlers

namespace internal {

namespace {

void Post(StreamOp op) {
  internal::StreamCore* core = op.core.get();
  Mailbox& mailbox = *core->mailbox;
  std::unique_lock lock(mailbox.mu);
  if (mailbox.closed) return;  // the loop is gone, and the stream with it
  mailbox.stream_ops.push_back(std::move(op));
  if (tls_loop == core->loop) {
    // The loop looks at its mailbox again before it sleeps.
    core->loop->NoteLocalPost();
    return;
  }
  mailbox.WakeLocked(lock);
}

}  // namespace

void StreamHandlerBase::WriteFramed(std::string framed) {
  if (!core_) return;
  Post(StreamOp{core_, std::move(framed), false, Status::Ok()});
}

void StreamHandlerBase::FinishWith(Status status) {
  if (!core_) return;
  Post(StreamOp{core_, std::string(), true, std::move(status)});
}

std::string StreamHandlerBase::Frame(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  std::string out(5 + size, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p[1] = static_cast<uint8_t>(size >> 24);
  p[2] = static_cast<uint8_t>(size >> 16);
  p[3] = static_cast<uint8_t>(size >> 8);
  p[4] = static_cast<uint8_t>(size);
  message.SerializeWithCachedSizesToArray(p + 5);
  return out;
}

}  // namespace internal

// ---------------------------------------------------------------------------------------
// Server

Loop* Server::Impl::PickLoop() {
  return loops_[next_loop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()].get();
}

void Server::Impl::LoopExited() {
  std::lock_guard lock(mu_);
  --running_;
  cv_.notify_all();
}

Server::Impl::~Impl() {
  for (int fd : listen_fds_) ::close(fd);
  for (const std::string& path : unix_paths_) ::unlink(path.c_str());
}

Server::Server(Options options) : impl_(std::make_unique<Impl>(options)) {}

Server::~Server() {
  Shutdown(std::chrono::milliseconds(0));
}

void Server::AddStreamMethod(std::string path, internal::StreamFactory make) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 1) impl_->services_.insert(path.substr(1, slash - 1));
  Method method;
  method.stream = std::move(make);
  impl_->methods_[std::move(path)] = std::move(method);
}

void Server::AddUnaryMethod(std::string path, std::shared_ptr<void> keep,
                            internal::UnaryFactory make) {
  impl_->keep_.push_back(std::move(keep));
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 1) impl_->services_.insert(path.substr(1, slash - 1));
  impl_->methods_[std::move(path)] = Method{std::move(make), nullptr};
}

Result<int> Server::ListenTcp(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) return Unavailable("cannot resolve " + host + ": " + ::gai_strerror(rc));
  int bound = 0;
  Status last = Unavailable("no address for " + host);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    // Every address of a name shares the port the first one got.
    if (bound != 0) {
      if (ai->ai_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_port = htons(static_cast<uint16_t>(bound));
      } else if (ai->ai_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_port =
            htons(static_cast<uint16_t>(bound));
      }
    }
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
      last = Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                         std::strerror(errno));
      ::close(fd);
      continue;
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    bound = addr.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                                      : ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    impl_->listen_fds_.push_back(fd);
  }
  ::freeaddrinfo(res);
  if (bound == 0) return last;
  return bound;
}

Status Server::ListenUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return InvalidArgument("unix path too long: " + path);
  std::memcpy(addr.sun_path, path.data(), path.size());
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 1024) != 0) {
    Status s = Unavailable("cannot listen on unix:" + path + ": " + std::strerror(errno));
    ::close(fd);
    return s;
  }
  impl_->listen_fds_.push_back(fd);
  impl_->unix_paths_.push_back(path);
  return Status::Ok();
}

Status Server::Start() {
  if (impl_->started_) return FailedPrecondition("server already started");
  int threads = impl_->options_.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<Loop>(impl_.get(), static_cast<size_t>(i));
    CAIRN_RETURN_IF_ERROR(loop->Init());
    impl_->loops_.push_back(std::move(loop));
  }
  for (int fd : impl_->listen_fds_) impl_->loops_[0]->AddListener(fd);
  impl_->started_ = true;
  {
    std::lock_guard lock(impl_->mu_);
    impl_->running_ = threads;
  }
  for (auto& loop : impl_->loops_) loop->StartThread();
  return Status::Ok();
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  if (!impl_->started_ || impl_->shut_down_) return;
  impl_->shut_down_ = true;
  impl_->phase_.store(kDraining, std::memory_order_release);
  for (auto& loop : impl_->loops_) loop->Wake();
  {
    std::unique_lock lock(impl_->mu_);
    impl_->cv_.wait_for(lock, grace, [&] { return impl_->running_ == 0; });
  }
  impl_->phase_.store(kStopping, std::memory_order_release);
  for (auto& loop : impl_->loops_) loop->Wake();
  for (auto& loop : impl_->loops_) loop->Join();
  for (int fd : impl_->listen_fds_) ::close(fd);
  impl_->listen_fds_.clear();
}

}  // namespace cairn::rpc::h2
