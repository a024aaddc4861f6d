// A NETLINK socket that sends the bytes it is given and hands whole reply datagrams back
// to JavaScript. One reader thread per Node environment (the main thread's, or a Worker's)
// receives for all its open channels through epoll. It decodes nothing: framing and
// parsing live in lib/netlink and lib/diag.

#include "common.h"

#include <linux/netlink.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

namespace {

// Dump datagrams are capped at 32 KiB by the kernel; twice that leaves room.
constexpr size_t kDefaultRecvSize = 64 * 1024;
constexpr size_t kBatchBytes = 512 * 1024;
constexpr size_t kBatchDatagrams = 64;

// Datagrams received together, back to back in `data`, each at an 8-byte boundary.
struct Batch {
  uint8_t* data = nullptr;  // malloc'd; handed to the ArrayBuffer that JavaScript gets
  size_t used = 0;
  std::vector<uint32_t> offsets, lengths, senders, groups;
  Failure failure;  // a failed recvmsg, after the datagrams
  bool truncated = false;
  ~Batch() { free(data); }
};

class Channel;

// One open socket as the reader thread sees it.
struct Port {
  Port(uint64_t id, Fd socket, size_t recvSize) : id(id), recvSize(recvSize), fd(std::move(socket)) {}

  const uint64_t id;  // its epoll key: never reused, so a late event for a closed port finds nothing
  const size_t recvSize;
  // sendto and recvmsg never overlap. The kernel runs a dump's first part inside sendto; a
  // recvmsg that reads that part before sendto has finished sees the dump still running,
  // tries to continue it, finds it done and leaves EINVAL on the socket, which the next
  // read (often of the next dump) then returns. A single-threaded reader such as ss cannot
  // hit this; our reader thread can. The fd is closed under this mutex, so never while the
  // reader thread uses it.
  std::mutex io;
  Fd fd;  // closed under both io and Reader::mu_; read under either

  // Guarded by Reader::mu_.
  bool closed = false;
  bool wanted = false;      // JavaScript has a read pending
  bool delivered = false;   // a first batch went out: read ahead from now on
  bool busy = false;        // armed in epoll, or being received by the reader thread
  bool registered = false;  // added to the epoll set
  std::unique_ptr<Batch> ready;  // a batch received ahead, waiting for read()

  // Main thread only: the channel to deliver to; cleared when it is collected.
  Channel* owner = nullptr;
};

// A batch on its way to the main thread.
struct Delivery {
  std::shared_ptr<Port> port;
  std::unique_ptr<Batch> batch;
};

void DeliverBatch(Napi::Env env, Delivery& d);  // defined after Channel

// The reader thread of one Node environment, and the open ports it serves. It runs while
// a channel of the environment has been read from and is still open; each port is armed
// (EPOLLONESHOT) when a read wants a batch, or when none is held ahead, and never more than
// one batch is held: that is the backpressure. Its methods run on the environment's thread.
class Reader {
 public:
  explicit Reader(napi_env env) : env_(env) {}

  std::shared_ptr<Port> Add(Fd fd, size_t recvSize) {
    std::lock_guard<std::mutex> lock(mu_);
    auto port = std::make_shared<Port>(++lastId_, std::move(fd), recvSize);
    ports_[port->id] = port;
    return port;
  }

  // The next batch for a read(): one received ahead, or null once the port is armed for one
  // (the read is then pending). Throws when the thread cannot start or epoll refuses.
  std::unique_ptr<Batch> Want(Port& port) {
    Start();
    Failure failure;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (port.ready) {
        std::unique_ptr<Batch> ready = std::move(port.ready);
        Arm(port);  // read ahead again (never armed while a batch is held); a failure shows on the next read
        return ready;
      }
      port.wanted = true;
      if (!port.busy && !Arm(port)) {
        port.wanted = false;
        failure = Failure::Errno("epoll_ctl");
      }
    }
    if (failure) throw SystemError(env_, failure);
    return nullptr;
  }

  // Closes the port's socket once the reader thread no longer uses it; stops the thread
  // when it was the last open port.
  void Remove(Port& port) {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (port.closed) return;
      Forget(port);
      ports_.erase(port.id);
      last = ports_.empty();
    }
    if (last) Stop();
  }

  // A pending read keeps the event loop alive, as a pending fs read does.
  void Pending(bool more) {
    pending_ += more ? 1 : -1;
    if (tsfn_ == nullptr) return;
    if (more && pending_ == 1) napi_ref_threadsafe_function(env_, tsfn_);
    if (!more && pending_ == 0) napi_unref_threadsafe_function(env_, tsfn_);
  }

  // The environment is going away (process end, Worker terminated): closes every port
  // and stops the thread. Pending reads stay unsettled; no JavaScript runs any more.
  static void Cleanup(void* arg) {
    Reader* self = static_cast<Reader*>(arg);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      for (auto& entry : self->ports_) self->Forget(*entry.second);
      self->ports_.clear();
    }
    self->Stop();
  }

 private:
  // Marks the port closed and closes its socket (mu_ held). Its epoll registration goes
  // first, so the fd number can never be armed again once another file gets it.
  void Forget(Port& port) {
    port.closed = true;
    port.ready.reset();
    if (port.registered) epoll_ctl(epoll_.Get(), EPOLL_CTL_DEL, port.fd.Get(), nullptr);
    std::lock_guard<std::mutex> io(port.io);
    port.fd.Reset();
  }

  // Arms the port for one batch (mu_ held); false with errno set when epoll refuses.
  bool Arm(Port& port) {
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = port.id;
    if (epoll_ctl(epoll_.Get(), port.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, port.fd.Get(), &ev) != 0) return false;
    port.registered = true;
    port.busy = true;
    return true;
  }

  void Start() {
    if (thread_.joinable()) return;
    Fd epoll(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll) throw SystemError(env_, Failure::Errno("epoll_create1"));
    Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake) throw SystemError(env_, Failure::Errno("eventfd"));
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;  // port ids start at 1
    if (epoll_ctl(epoll.Get(), EPOLL_CTL_ADD, wake.Get(), &ev) != 0) throw SystemError(env_, Failure::Errno("epoll_ctl"));
    napi_value name;
    napi_create_string_utf8(env_, "sockdiag.read", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env_, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, CallJs, &tsfn_) != napi_ok) {
      tsfn_ = nullptr;
      throw Napi::Error::New(Napi::Env(env_));
    }
    if (pending_ == 0) napi_unref_threadsafe_function(env_, tsfn_);
    epoll_ = std::move(epoll);
    wake_ = std::move(wake);
    stopping_ = false;
    Failure started = StartThread(thread_, "sockdiag-reader", [this] { Loop(); });
    if (started) {
      napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
      tsfn_ = nullptr;
      epoll_.Reset();
      wake_.Reset();
      throw SystemError(env_, started);
    }
  }

  // Wakes the thread through the eventfd (closing a netlink fd does not wake epoll_wait),
  // joins it, and only then lets the thread-safe function and the fds go.
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    uint64_t one = 1;
    ssize_t ignored = write(wake_.Get(), &one, sizeof(one));
    (void)ignored;
    thread_.join();
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);  // batches already queued still arrive
    tsfn_ = nullptr;
    epoll_.Reset();
    wake_.Reset();
  }

  void Loop() {
    struct epoll_event events[64];
    for (;;) {
      int n = epoll_wait(epoll_.Get(), events, 64, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;  // only a broken epoll fd gets here
      for (int i = 0; i < n; i++) {
        std::shared_ptr<Port> port;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopping_) return;
          auto it = ports_.find(events[i].data.u64);
          if (it == ports_.end()) continue;  // the wake-up, or a port closed since
          port = it->second;
        }
        Serve(port);
      }
    }
  }

  // Receives one batch for an armed port, then hands it to the pending read or holds it
  // ahead, and re-arms the port while no batch is held (so the kernel's dump work goes on
  // while JavaScript decodes the last batch).
  void Serve(const std::shared_ptr<Port>& port) {
    std::unique_ptr<Batch> batch = Receive(*port);
    bool empty = batch->offsets.empty() && !batch->failure && !batch->truncated;
    std::unique_ptr<Delivery> delivery;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (port->closed) return;
      port->busy = false;
      if (!empty) {
        if (port->wanted) {
          port->wanted = false;
          delivery.reset(new Delivery{port, std::move(batch)});
        } else {
          port->ready = std::move(batch);
        }
        port->delivered = true;
      }
      if (!port->ready && (port->wanted || port->delivered)) Arm(*port);  // a failure shows on the next read
    }
    if (delivery && napi_call_threadsafe_function(tsfn_, delivery.get(), napi_tsfn_nonblocking) == napi_ok) {
      delivery.release();  // CallJs owns it now
    }
  }

  // Takes the datagrams already queued on the socket, up to a batch's worth.
  static std::unique_ptr<Batch> Receive(Port& port) {
    std::unique_ptr<Batch> b(new Batch());
    size_t cap = port.recvSize > kBatchBytes ? port.recvSize : kBatchBytes;
    b->data = static_cast<uint8_t*>(malloc(cap));
    if (b->data == nullptr) {
      b->failure = {ENOMEM, "malloc"};
      return b;
    }
    while (cap - b->used >= port.recvSize && b->offsets.size() < kBatchDatagrams) {
      struct sockaddr_nl from = {};
      struct iovec iov = {b->data + b->used, port.recvSize};
      struct msghdr msg = {};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof(from);
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      ssize_t n;
      int err;
      {
        std::lock_guard<std::mutex> io(port.io);
        if (!port.fd) break;  // closed meanwhile
        n = recvmsg(port.fd.Get(), &msg, MSG_DONTWAIT);
        err = errno;
      }
      if (n < 0) {
        if (err == EINTR) continue;
        if (err != EAGAIN && err != EWOULDBLOCK) b->failure = {err, "recvmsg"};
        break;
      }
      if (msg.msg_flags & MSG_TRUNC) {
        b->truncated = true;
        break;
      }
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

  // On the main thread. At teardown (env null) the delivery is only freed.
  static void CallJs(napi_env env, napi_value, void*, void* data) {
    std::unique_ptr<Delivery> d(static_cast<Delivery*>(data));
    if (env == nullptr) return;
    try {
      DeliverBatch(Napi::Env(env), *d);
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
  }

  napi_env env_;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Port>> ports_;  // every open port (guarded by mu_)
  uint64_t lastId_ = 0;                                        // guarded by mu_
  bool stopping_ = false;                                      // guarded by mu_
  Fd epoll_, wake_;
  std::thread thread_;
  napi_threadsafe_function tsfn_ = nullptr;
  int pending_ = 0;  // reads pending in this environment
};

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
    size_t recvSize = kDefaultRecvSize;
    std::string nsPath;
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
      if (!v.IsUndefined()) recvSize = IntegerOption(env, v, "options.recvSize", 16, 16 * 1024 * 1024);
      v = o.Get("netns");
      if (v.IsString()) {
        nsPath = v.As<Napi::String>().Utf8Value();
        if (nsPath.empty() || nsPath.find('\0') != std::string::npos) {
          throw Napi::TypeError::New(env, "The \"options.netns\" path must be a non-empty string without NUL bytes");
        }
      } else if (!v.IsUndefined()) {
        if (!v.IsNumber()) {
          throw Napi::TypeError::New(env, "The \"options.netns\" argument must be a path string or a file descriptor");
        }
        nsFd = IntegerOption(env, v, "options.netns", 0, 0x7fffffffLL);
      }
    }

    Fd socket;
    auto open = [&]() -> Failure {
      socket.Reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
      if (!socket) return Failure::Errno("socket");
      int one = 1;
      setsockopt(socket.Get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
      if (rcvbuf > 0 && setsockopt(socket.Get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) return Failure::Errno("setsockopt");
      struct sockaddr_nl local = {};
      local.nl_family = AF_NETLINK;
      local.nl_groups = groups;
      if (bind(socket.Get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return Failure::Errno("bind");
      return {};
    };
    // The socket belongs to the namespace it was created in, whichever thread uses it later.
    Failure failure = nsPath.empty() && nsFd < 0 ? open() : InNetns(nsPath, nsFd, open);
    if (failure) throw SystemError(env, failure);
    struct sockaddr_nl local = {};
    socklen_t len = sizeof(local);
    if (getsockname(socket.Get(), reinterpret_cast<sockaddr*>(&local), &len) == 0) portId_ = local.nl_pid;
    reader_ = *env.GetInstanceData<std::shared_ptr<Reader>>();
    port_ = reader_->Add(std::move(socket), recvSize);
    port_->owner = this;
  }

  ~Channel() override {
    port_->owner = nullptr;  // a batch still queued on its way must not reach this object
    if (!closed_) reader_->Remove(*port_);
    if (pending_) reader_->Pending(false);
  }

  // Hands a batch the reader received to the pending read (or drops it: closed meanwhile).
  void Deliver(Napi::Env env, std::unique_ptr<Batch> b) {
    if (!pending_ || closed_) return;
    pending_ = false;
    reader_->Pending(false);
    std::unique_ptr<Napi::Promise::Deferred> d = std::move(deferred_);
    Settle(env, std::move(b), *d);
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

  // Why a batch ended early: MSG_TRUNC, or the failed recvmsg.
  Napi::Value BatchError(Napi::Env env, const Batch& b) {
    if (!b.truncated) return SystemError(env, b.failure).Value();
    return LibraryError(env, "ERR_SOCKDIAG_TRUNCATED",
                        "A datagram was larger than the receive buffer (" + std::to_string(port_->recvSize) +
                            " bytes); the rest of it was lost (MSG_TRUNC)")
        .Value();
  }

  void ThrowIfClosed(Napi::Env env) {
    if (closed_) throw LibraryError(env, "ERR_SOCKDIAG_CLOSED", "The channel is closed");
  }

  Napi::Value PortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), portId_); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

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
    int err;
    {
      std::lock_guard<std::mutex> io(port_->io);
      do {
        n = sendto(port_->fd.Get(), data, length, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
      } while (n < 0 && errno == EINTR);
      err = errno;
    }
    if (n < 0) throw SystemError(env, {err, "sendmsg"});
    return env.Undefined();
  }

  // Resolves with the next batch { data, offsets, lengths, senders, groups } or null once
  // closed. One read may be pending at a time.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    if (pending_) throw LibraryError(env, "ERR_SOCKDIAG_READ_PENDING", "A read is already pending on this channel");
    if (leftover_ != nullptr) {
      std::unique_ptr<Batch> b = std::move(leftover_);
      Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
      d.Reject(BatchError(env, *b));
      return d.Promise();
    }
    std::unique_ptr<Batch> ready = reader_->Want(*port_);
    if (ready) {  // received ahead of time: settles this read at once
      Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
      Settle(env, std::move(ready), d);
      return d.Promise();
    }
    deferred_ = std::make_unique<Napi::Promise::Deferred>(env);
    pending_ = true;
    reader_->Pending(true);
    return deferred_->Promise();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      closed_ = true;
      reader_->Remove(*port_);
      leftover_.reset();
    }
    if (pending_) {
      pending_ = false;
      reader_->Pending(false);
      deferred_->Resolve(info.Env().Null());
      deferred_.reset();
    }
    return info.Env().Undefined();
  }

  // Resolves `d` with the batch's datagrams (or rejects it with the batch's error); an
  // error that came after some datagrams is kept for the next read.
  void Settle(Napi::Env env, std::unique_ptr<Batch> b, Napi::Promise::Deferred& d) {
    if (b->offsets.empty()) {
      d.Reject(BatchError(env, *b));
      return;
    }
    size_t count = b->offsets.size();
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, b->data, b->used, [](Napi::Env, void* data) { free(data); });
    b->data = nullptr;  // the ArrayBuffer owns it now
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
    Napi::Object out = Napi::Object::New(env);
    out.Set("data", ab);
    out.Set("offsets", offsets);
    out.Set("lengths", lengths);
    out.Set("senders", senders);
    out.Set("groups", groups);
    if (b->truncated || b->failure) leftover_ = std::move(b);
    d.Resolve(out);
  }

  std::shared_ptr<Reader> reader_;
  std::shared_ptr<Port> port_;
  uint32_t portId_ = 0;
  bool closed_ = false;
  bool pending_ = false;
  std::unique_ptr<Batch> leftover_;  // an error that came after a batch's datagrams, for the next read
  std::unique_ptr<Napi::Promise::Deferred> deferred_;
};

void DeliverBatch(Napi::Env env, Delivery& d) {
  if (d.port->owner != nullptr) d.port->owner->Deliver(env, std::move(d.batch));
}

}  // namespace

void InitChannel(Napi::Env env, Napi::Object exports) {
  auto* reader = new std::shared_ptr<Reader>(std::make_shared<Reader>(env));
  env.SetInstanceData(reader);  // deleted with the environment; channels keep the Reader itself
  napi_add_env_cleanup_hook(env, Reader::Cleanup, reader->get());
  exports.Set("Channel", Channel::Init(env));
}
