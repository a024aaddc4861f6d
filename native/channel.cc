// A NETLINK socket that sends the bytes it is given and hands whole reply
// datagrams back to JavaScript, received on a thread of its own.
// It decodes nothing: framing and parsing live in lib/netlink and lib/diag.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

void InitProcScan(Napi::Env env, Napi::Object exports);  // procscan.cc: scanProcSockets, readNetFiles

namespace {

// Dump datagrams are capped at 32 KiB by the kernel; twice that leaves room.
constexpr size_t kDefaultRecvSize = 64 * 1024;
constexpr size_t kBatchBytes = 512 * 1024;
constexpr size_t kBatchDatagrams = 64;

Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const char* hint = nullptr) {
  const char* code = uv_err_name(-err);
  std::string msg = std::string(syscall) + " " + code + " (" + strerror(err) + ")";
  if (hint != nullptr) msg += std::string(": ") + hint;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Error LibraryError(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

struct Batch {
  uint8_t* data = nullptr;  // datagrams back to back, each at a 4-byte boundary
  size_t used = 0;
  std::vector<uint32_t> offsets, lengths, senders, groups;
  int err = 0;              // errno of a failed recvmsg, after the datagrams
  const char* errSyscall = nullptr;
  bool truncated = false;
};

// Opens the socket on a short-lived thread when a namespace is named, so that
// no thread of the process ever stays in (or has to return from) another netns.
struct OpenResult {
  int fd = -1;
  int err = 0;
  const char* syscall = nullptr;
};

OpenResult OpenSocket(int protocol, const std::string* nsPath, int nsFd, uint32_t groups, int rcvbuf) {
  OpenResult r;
  auto open = [&]() {
    if (nsPath != nullptr || nsFd >= 0) {
      int fd = nsFd;
      if (nsPath != nullptr) {
        fd = ::open(nsPath->c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) { r.err = errno; r.syscall = "open"; return; }
      }
      int rc = setns(fd, CLONE_NEWNET);
      int setnsErr = errno;
      if (nsPath != nullptr) ::close(fd);
      if (rc != 0) { r.err = setnsErr; r.syscall = "setns"; return; }
    }
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (s < 0) { r.err = errno; r.syscall = "socket"; return; }
    int one = 1;
    setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    if (rcvbuf > 0 && setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) {
      r.err = errno; r.syscall = "setsockopt"; ::close(s); return;
    }
    struct sockaddr_nl local = {};
    local.nl_family = AF_NETLINK;
    local.nl_groups = groups;
    if (bind(s, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
      r.err = errno; r.syscall = "bind"; ::close(s); return;
    }
    r.fd = s;
  };
  if (nsPath != nullptr || nsFd >= 0) {
    std::thread t(open);
    t.join();
  } else {
    open();
  }
  return r;
}

class Channel : public Napi::ObjectWrap<Channel> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Channel", {
      InstanceMethod<&Channel::Send>("send"),
      InstanceMethod<&Channel::Read>("read"),
      InstanceMethod<&Channel::Close>("close"),
      InstanceAccessor<&Channel::PortId>("portId"),
      InstanceAccessor<&Channel::Closed>("closed"),
    });
  }

  explicit Channel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Channel>(info) {
    Napi::Env env = info.Env();
    int protocol = 4;  // NETLINK_SOCK_DIAG
    uint32_t groups = 0;
    int rcvbuf = 0;
    std::string nsPath;
    bool haveNsPath = false;
    int nsFd = -1;

    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsObject() || info[0].IsArray() || info[0].IsFunction()) {
        throw Napi::TypeError::New(env, "The \"options\" argument must be an object");
      }
      Napi::Object o = info[0].As<Napi::Object>();
      Napi::Value v = o.Get("protocol");
      if (!v.IsUndefined()) protocol = IntegerOption(env, v, "options.protocol", 0, 31);
      v = o.Get("groups");
      if (!v.IsUndefined()) groups = static_cast<uint32_t>(IntegerOption(env, v, "options.groups", 0, 0xffffffffLL));
      v = o.Get("rcvbuf");
      if (!v.IsUndefined()) rcvbuf = IntegerOption(env, v, "options.rcvbuf", 1, 0x7fffffffLL);
      v = o.Get("recvSize");
      if (!v.IsUndefined()) recvSize_ = IntegerOption(env, v, "options.recvSize", 16, 16 * 1024 * 1024);
      v = o.Get("netns");
      if (v.IsString()) {
        nsPath = v.As<Napi::String>().Utf8Value();
        if (nsPath.empty() || nsPath.find('\0') != std::string::npos) {
          throw Napi::TypeError::New(env, "The \"options.netns\" path must be a non-empty string without NUL bytes");
        }
        haveNsPath = true;
      } else if (!v.IsUndefined()) {
        if (!v.IsNumber()) {
          throw Napi::TypeError::New(env, "The \"options.netns\" argument must be a path string or a file descriptor");
        }
        nsFd = IntegerOption(env, v, "options.netns", 0, 0x7fffffffLL);
      }
    }

    OpenResult r = OpenSocket(protocol, haveNsPath ? &nsPath : nullptr, nsFd, groups, rcvbuf);
    if (r.fd < 0) {
      bool setnsPerm = r.err == EPERM && strcmp(r.syscall, "setns") == 0;
      throw SystemError(env, r.err, r.syscall,
                        setnsPerm ? "entering another network namespace needs CAP_SYS_ADMIN" : nullptr);
    }
    fd_ = r.fd;
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeFd_ < 0) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw SystemError(env, err, "eventfd");
    }
    struct sockaddr_nl local = {};
    socklen_t len = sizeof(local);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len) == 0) portId_ = local.nl_pid;
    env_ = env;
    napi_add_env_cleanup_hook(env, CleanupHook, this);
  }

  ~Channel() override {
    if (fd_ >= 0) {
      napi_remove_env_cleanup_hook(env_, CleanupHook, this);
      Shutdown();
    }
    *self_ = nullptr;  // a batch still queued on the tsfn must not reach this object
  }

 private:
  static int IntegerOption(Napi::Env env, Napi::Value v, const char* name, int64_t min, int64_t max) {
    if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be an integer");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != static_cast<double>(static_cast<int64_t>(d))) {
      throw Napi::RangeError::New(env, std::string("The \"") + name + "\" argument must be an integer from " +
                                           std::to_string(min) + " to " + std::to_string(max));
    }
    return static_cast<int>(static_cast<int64_t>(d));
  }

  static void CleanupHook(void* arg) {
    Channel* self = static_cast<Channel*>(arg);
    self->Shutdown();
  }

  Napi::Error TruncatedError(Napi::Env env) {
    return LibraryError(env, "ERR_SOCKDIAG_TRUNCATED",
                        "A datagram was larger than the receive buffer (" + std::to_string(recvSize_) +
                            " bytes); the rest of it was lost (MSG_TRUNC)");
  }

  void ThrowIfClosed(Napi::Env env) {
    if (fd_ < 0) throw LibraryError(env, "ERR_SOCKDIAG_CLOSED", "The channel is closed");
  }

  Napi::Value PortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), portId_); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    // Raw napi calls: Napi::TypedArray::ArrayBuffer() throws a plain Error for a view
    // on a SharedArrayBuffer, and a detached view must be a TypeError, not "too short".
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer = nullptr;
    size_t offset = 0;
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        napi_get_typedarray_info(env, info[0], &type, &length, &data, &buffer, &offset) != napi_ok ||
        type != napi_uint8_array) {
      throw Napi::TypeError::New(env, "The \"request\" argument must be a Buffer or Uint8Array");
    }
    bool detached = false;  // always false for a SharedArrayBuffer, which is fine to send from
    if (napi_is_detached_arraybuffer(env, buffer, &detached) != napi_ok || detached) {
      throw Napi::TypeError::New(env, "The \"request\" argument's buffer is detached");
    }
    if (length < 16 || data == nullptr) {
      throw Napi::RangeError::New(env, "The \"request\" argument must hold at least one netlink header (16 bytes)");
    }
    struct sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    ssize_t n;
    {
      std::lock_guard<std::mutex> io(io_);
      do {
        n = sendto(fd_, data, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
      } while (n < 0 && errno == EINTR);
    }
    if (n < 0) throw SystemError(env, errno, "sendmsg");
    return env.Undefined();
  }

  // Resolves with the next batch { data, offsets, lengths, senders, groups, error? }
  // or null once closed. One read may be pending at a time: that is the backpressure.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    if (pending_) throw LibraryError(env, "ERR_SOCKDIAG_READ_PENDING", "A read is already pending on this channel");
    if (leftoverErr_ != 0) {
      Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
      if (leftoverErr_ < 0) {
        d.Reject(TruncatedError(env).Value());
      } else {
        d.Reject(SystemError(env, leftoverErr_, leftoverSyscall_).Value());
      }
      leftoverErr_ = 0;
      return d.Promise();
    }
    // A batch received ahead of time settles this read at once.
    Batch* ready = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready = ready_;
      ready_ = nullptr;
      if (ready == nullptr) wanted_ = true;
    }
    if (ready != nullptr) {
      cv_.notify_one();
      Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
      Settle(env, ready, d);
      return d.Promise();
    }
    deferred_ = std::make_unique<Napi::Promise::Deferred>(env);
    pending_ = true;
    if (!thread_.joinable()) {
      tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "sockdiag.read", 0, 1);
      thread_ = std::thread(&Channel::ReceiveLoop, this);
    }
    tsfn_.Ref(env);
    cv_.notify_one();
    return deferred_->Promise();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      napi_remove_env_cleanup_hook(env_, CleanupHook, this);
      Shutdown();
    }
    if (pending_) {
      pending_ = false;
      deferred_->Resolve(info.Env().Null());
      deferred_.reset();
    }
    return info.Env().Undefined();
  }

  // Stops the receiver (waking it through the eventfd, since closing a netlink fd
  // does not wake a blocked recv), and only then closes the fds.
  void Shutdown() {
    if (fd_ < 0) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    uint64_t one = 1;
    ssize_t ignored = write(wakeFd_, &one, sizeof(one));
    (void)ignored;
    if (thread_.joinable()) {
      thread_.join();
      tsfn_.Release();
    }
    if (ready_ != nullptr) {
      free(ready_->data);
      delete ready_;
      ready_ = nullptr;
    }
    ::close(fd_);
    ::close(wakeFd_);
    fd_ = -1;
    wakeFd_ = -1;
  }

  // Receives one batch when JS asks, then one more ahead while JS decodes the last
  // (so the kernel's dump work overlaps ours); never more than one batch is held.
  void ReceiveLoop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || (ready_ == nullptr && (wanted_ || delivered_)); });
        if (stopping_) return;
      }
      Batch* batch = ReceiveBatch();
      if (batch == nullptr) return;  // stopping
      bool deliverNow = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (wanted_) {
          wanted_ = false;
          deliverNow = true;
        } else {
          ready_ = batch;
        }
        delivered_ = true;
      }
      if (!deliverNow) continue;
      // The tsfn may dispatch this after close() and after the object is collected (the
      // destructor runs from a finalizer): go through self_, which it clears.
      std::shared_ptr<Channel*> self = self_;
      napi_status st = tsfn_.NonBlockingCall(batch, [self](Napi::Env env, Napi::Function, Batch* b) {
        if (*self != nullptr) {
          (*self)->Deliver(env, b);
        } else {
          free(b->data);
          delete b;
        }
      });
      if (st != napi_ok) {
        free(batch->data);
        delete batch;
        return;
      }
    }
  }

  // Waits for at least one datagram, then takes whatever else is already queued.
  Batch* ReceiveBatch() {
    Batch* b = new Batch();
    size_t cap = recvSize_ > kBatchBytes ? recvSize_ : kBatchBytes;
    b->data = static_cast<uint8_t*>(malloc(cap));
    if (b->data == nullptr) { b->err = ENOMEM; b->errSyscall = "malloc"; return b; }
    for (;;) {
      bool haveSome = !b->offsets.empty();
      if (!haveSome) {
        struct pollfd fds[2] = {{fd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
        int rc = poll(fds, 2, -1);
        if (rc < 0) {
          if (errno == EINTR) continue;
          b->err = errno; b->errSyscall = "poll"; break;
        }
        if (fds[1].revents != 0) { free(b->data); delete b; return nullptr; }
      }
      if (cap - b->used < recvSize_ || b->offsets.size() >= kBatchDatagrams) break;
      struct sockaddr_nl from = {};
      struct iovec iov = {b->data + b->used, recvSize_};
      struct msghdr msg = {};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof(from);
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      ssize_t n;
      {
        std::lock_guard<std::mutex> io(io_);
        n = recvmsg(fd_, &msg, MSG_DONTWAIT);
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (haveSome) break;
          continue;
        }
        b->err = errno; b->errSyscall = "recvmsg";
        break;
      }
      if (msg.msg_flags & MSG_TRUNC) { b->truncated = true; break; }
      b->offsets.push_back(static_cast<uint32_t>(b->used));
      b->lengths.push_back(static_cast<uint32_t>(n));
      b->senders.push_back(from.nl_pid);
      b->groups.push_back(from.nl_groups);
      b->used += (static_cast<size_t>(n) + 7) & ~static_cast<size_t>(7);
    }
    if (b->used == 0) {
      free(b->data);
      b->data = nullptr;
    } else if (b->used < cap / 2) {
      void* smaller = realloc(b->data, b->used);
      if (smaller != nullptr) b->data = static_cast<uint8_t*>(smaller);
    }
    return b;
  }

  void Deliver(Napi::Env env, Batch* b) {
    if (!pending_ || fd_ < 0) {  // closed while the batch was on its way
      free(b->data);
      delete b;
      return;
    }
    pending_ = false;
    tsfn_.Unref(env);
    std::unique_ptr<Napi::Promise::Deferred> d = std::move(deferred_);
    Settle(env, b, *d);
  }

  // Resolves `d` with the batch's datagrams (or rejects it with the batch's error);
  // an error that came after some datagrams is kept for the next read. Frees `b`.
  void Settle(Napi::Env env, Batch* b, Napi::Promise::Deferred& d) {
    std::unique_ptr<Batch> owner(b);
    if (b->truncated && b->offsets.empty()) {
      free(b->data);
      d.Reject(TruncatedError(env).Value());
      return;
    }
    if (b->err != 0 && b->offsets.empty()) {
      free(b->data);
      d.Reject(SystemError(env, b->err, b->errSyscall).Value());
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    size_t count = b->offsets.size();
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, b->data, b->used,
                                                  [](Napi::Env, void* data) { free(data); });
    Napi::Array offsets = Napi::Array::New(env, count);
    Napi::Array lengths = Napi::Array::New(env, count);
    Napi::Array senders = Napi::Array::New(env, count);
    Napi::Array groups = Napi::Array::New(env, count);
    for (size_t i = 0; i < count; i++) {
      offsets.Set(i, Napi::Number::New(env, b->offsets[i]));
      lengths.Set(i, Napi::Number::New(env, b->lengths[i]));
      senders.Set(i, Napi::Number::New(env, b->senders[i]));
      groups.Set(i, Napi::Number::New(env, b->groups[i]));
    }
    out.Set("data", ab);
    out.Set("offsets", offsets);
    out.Set("lengths", lengths);
    out.Set("senders", senders);
    out.Set("groups", groups);
    if (b->truncated || b->err != 0) {
      leftoverErr_ = b->truncated ? -1 : b->err;
      leftoverSyscall_ = b->errSyscall;
    }
    d.Resolve(out);
  }

  int fd_ = -1;
  int wakeFd_ = -1;
  uint32_t portId_ = 0;
  size_t recvSize_ = kDefaultRecvSize;
  napi_env env_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  // sendto and recvmsg never overlap. The kernel runs a dump's first part inside sendto; a
  // recvmsg that reads that part before sendto has finished sees the dump still running,
  // tries to continue it, finds it done and leaves EINVAL on the socket, which the next
  // read (often of the next dump) then returns. A single-threaded reader such as ss cannot
  // hit this; our receive thread can.
  std::mutex io_;
  std::condition_variable cv_;
  bool wanted_ = false;     // JS has a read pending (guarded by mu_)
  bool delivered_ = false;  // a first batch went out: read ahead from now on (guarded by mu_)
  Batch* ready_ = nullptr;  // a batch received ahead, waiting for read() (guarded by mu_)
  bool stopping_ = false;
  bool pending_ = false;
  int leftoverErr_ = 0;
  const char* leftoverSyscall_ = nullptr;
  std::unique_ptr<Napi::Promise::Deferred> deferred_;
  Napi::ThreadSafeFunction tsfn_;
  // Written only on the main thread, after the reader thread has been joined.
  std::shared_ptr<Channel*> self_ = std::make_shared<Channel*>(this);
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Channel", Channel::Init(env));
  InitProcScan(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(sockdiag, Init)
