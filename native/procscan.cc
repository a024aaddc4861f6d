// What lives under /proc, read off the main thread:
// - scanProcSockets: one walk of /proc/<pid>/fd (or /proc/<pid>/task/<tid>/fd) keeping the
//   descriptors that are sockets, with each owner's command name and, when asked, its
//   SELinux contexts. Only syscalls and the "socket:[N]" test here; the inode map is
//   built in TypeScript (lib/proc).
// - runBpfIterator: loads a BPF iterator program built in TypeScript (lib/proc/bpf-owners.ts),
//   attaches it, and returns every byte it writes: the same walk done inside the kernel,
//   without a system call per descriptor. Only the bpf() calls and the read loop here.
// - readNetFiles: whole files of /proc/net (sockstat, snmp, ...) as another network
//   namespace sees them, read from a short-lived thread that enters it.

#include <napi.h>
#include <uv.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

Napi::Error SystemError(Napi::Env env, int err, const char* syscall, const std::string& hint) {
  std::string msg = std::string(syscall) + " " + uv_err_name(-err) + " (" + strerror(err) + ")";
  if (!hint.empty()) msg += ": " + hint;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, uv_err_name(-err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

bool IsNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// Reads a small file relative to a directory fd; false when it cannot be read.
bool ReadAt(int dirFd, const char* name, std::string& out) {
  int fd = openat(dirFd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  out.clear();
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      errno = err;
      return n == 0;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

// A security label as the kernel hands it: drop the trailing NUL and newline, as libselinux does.
std::string TrimLabel(std::string s) {
  while (!s.empty() && (s.back() == '\0' || s.back() == '\n')) s.pop_back();
  return s;
}

struct Entry {
  double inode;
  int32_t fd;
  int32_t task;  // index into ScanWorker::tasks_
};

// One fd table walked: the process (or thread) it belongs to.
struct Task {
  int32_t pid;
  int32_t tid;
  std::string command;
  std::string context;  // SELinux process context; empty when unavailable
};

class ScanWorker : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, std::string root, bool threads, bool contexts)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        root_(std::move(root)),
        threads_(threads),
        contexts_(contexts) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    DIR* d = opendir(root_.c_str());
    if (d == nullptr) {
      err_ = errno;
      return;
    }
    int rootFd = dirfd(d);
    while (struct dirent* e = readdir(d)) {
      if (!IsNumber(e->d_name)) continue;
      int32_t pid = atoi(e->d_name);
      // Everything below is read through this fd: if the process ends and its pid is
      // reused meanwhile, reads fail (ESRCH/ENOENT) instead of reaching the newcomer.
      int pidFd = openat(rootFd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (pidFd < 0) continue;  // ended since readdir
      if (!threads_) {
        WalkTask(pidFd, contexts_ ? root_ + "/" + e->d_name : std::string(), pid, 0);
      } else {
        int taskDirFd = openat(pidFd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR* t = taskDirFd < 0 ? nullptr : fdopendir(taskDirFd);
        if (t == nullptr) {
          if (taskDirFd >= 0) close(taskDirFd);
        } else {
          while (struct dirent* te = readdir(t)) {
            if (!IsNumber(te->d_name)) continue;
            int tidFd = openat(taskDirFd, te->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (tidFd < 0) continue;
            WalkTask(tidFd, contexts_ ? root_ + "/" + e->d_name + "/task/" + te->d_name : std::string(), pid, atoi(te->d_name));
            close(tidFd);
          }
          closedir(t);
        }
      }
      close(pidFd);
    }
    closedir(d);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      deferred_.Reject(SystemError(env, err_, "opendir", root_).Value());
      return;
    }
    size_t n = entries_.size();
    Napi::Float64Array inodes = Napi::Float64Array::New(env, n);
    Napi::Int32Array pids = Napi::Int32Array::New(env, n);
    Napi::Int32Array tids = Napi::Int32Array::New(env, n);
    Napi::Int32Array fds = Napi::Int32Array::New(env, n);
    Napi::Int32Array tasks = Napi::Int32Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      const Entry& en = entries_[i];
      inodes[i] = en.inode;
      pids[i] = tasks_[en.task].pid;
      tids[i] = tasks_[en.task].tid;
      fds[i] = en.fd;
      tasks[i] = en.task;
    }
    Napi::Array commands = Napi::Array::New(env, tasks_.size());
    for (size_t i = 0; i < tasks_.size(); i++) commands.Set(i, Napi::String::New(env, tasks_[i].command));
    Napi::Object out = Napi::Object::New(env);
    out.Set("inodes", inodes);
    out.Set("pids", pids);
    out.Set("tids", tids);
    out.Set("fds", fds);
    out.Set("tasks", tasks);
    out.Set("commands", commands);
    if (contexts_) {
      Napi::Array processContexts = Napi::Array::New(env, tasks_.size());
      for (size_t i = 0; i < tasks_.size(); i++) processContexts.Set(i, Napi::String::New(env, tasks_[i].context));
      Napi::Array socketContexts = Napi::Array::New(env, n);
      for (size_t i = 0; i < n; i++) socketContexts.Set(i, Napi::String::New(env, socketContexts_[i]));
      out.Set("processContexts", processContexts);
      out.Set("socketContexts", socketContexts);
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  // Appends the socket fds of one task directory (/proc/PID or /proc/PID/task/TID); its
  // path is needed (and given) only for the socket contexts, read by path through the fd link.
  void WalkTask(int taskFd, const std::string& taskPath, int32_t pid, int32_t tid) {
    int dfd = openat(taskFd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;  // the process ended, or we may not look
    DIR* d = fdopendir(dfd);
    if (d == nullptr) {
      close(dfd);
      return;
    }
    int32_t task = -1;
    char link[64];
    while (struct dirent* e = readdir(d)) {
      if (!IsNumber(e->d_name)) continue;
      // readlinkat on the directory fd spares a path walk per descriptor.
      ssize_t n = readlinkat(dfd, e->d_name, link, sizeof(link) - 1);
      if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']') continue;
      link[n - 1] = '\0';
      if (task < 0) task = AddTask(taskFd, pid, tid);
      entries_.push_back({strtod(link + 8, nullptr), static_cast<int32_t>(atoi(e->d_name)), task});
      if (contexts_) socketContexts_.push_back(SocketContext(taskPath + "/fd/" + e->d_name));
    }
    closedir(d);
  }

  // The task's command (comm: between the first '(' and the last ')' of its stat; '' once
  // it has ended) and, when asked, its SELinux context, read once per task that holds a socket.
  int32_t AddTask(int taskFd, int32_t pid, int32_t tid) {
    Task t{pid, tid, "", ""};
    std::string stat;
    if (ReadAt(taskFd, "stat", stat)) {
      size_t open = stat.find('(');
      size_t close = stat.rfind(')');
      if (open != std::string::npos && close != std::string::npos && close > open) t.command = stat.substr(open + 1, close - open - 1);
    }
    std::string label;
    if (contexts_ && ReadAt(taskFd, "attr/current", label)) t.context = TrimLabel(label);
    tasks_.push_back(std::move(t));
    return static_cast<int32_t>(tasks_.size() - 1);
  }

  // getfilecon() of the fd link: the security.selinux label of the socket inode it points to.
  static std::string SocketContext(const std::string& fdPath) {
    char buf[1024];
    ssize_t n = getxattr(fdPath.c_str(), "security.selinux", buf, sizeof(buf));
    if (n <= 0) return "";
    return TrimLabel(std::string(buf, static_cast<size_t>(n)));
  }

  Napi::Promise::Deferred deferred_;
  std::string root_;
  bool threads_;
  bool contexts_;
  int err_ = 0;
  std::vector<Entry> entries_;
  std::vector<Task> tasks_;
  std::vector<std::string> socketContexts_;
};

// scanProcSockets(procRoot: string, threads: boolean, contexts?: boolean)
Napi::Value ScanProcSockets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean() ||
      (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsBoolean())) {
    throw Napi::TypeError::New(env, "scanProcSockets(procRoot: string, threads: boolean, contexts?: boolean)");
  }
  std::string root = info[0].As<Napi::String>().Utf8Value();
  if (root.empty() || root.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, "The \"procRoot\" argument must be a non-empty path without NUL bytes");
  }
  bool contexts = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  ScanWorker* w = new ScanWorker(env, root, info[1].As<Napi::Boolean>().Value(), contexts);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// Reads /proc/net files as a network namespace sees them. /proc/net follows the reading
// thread's namespace only through /proc/thread-self/net, so a short-lived thread enters
// the namespace and reads there: no thread of the process ever stays in (or has to return
// from) another namespace, and a pool thread is never moved.
class NetFilesWorker : public Napi::AsyncWorker {
 public:
  NetFilesWorker(Napi::Env env, std::string nsPath, int nsFd, std::vector<std::string> names)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        nsPath_(std::move(nsPath)),
        nsFd_(nsFd),
        names_(std::move(names)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    bool inNamespace = !nsPath_.empty() || nsFd_ >= 0;
    if (!inNamespace) {
      ReadAll("/proc/self/net/");  // the process's own namespace, as ss reads /proc/net
      return;
    }
    auto enterAndRead = [this]() {
      int fd = nsFd_;
      if (!nsPath_.empty()) {
        fd = open(nsPath_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          err_ = errno;
          syscall_ = "open";
          return;
        }
      }
      int rc = setns(fd, CLONE_NEWNET);
      int setnsErr = errno;
      if (!nsPath_.empty()) close(fd);
      if (rc != 0) {
        err_ = setnsErr;
        syscall_ = "setns";
        return;
      }
      ReadAll("/proc/thread-self/net/");
    };
    // An exception must not escape a pool thread: a thread that cannot start is an error like any other.
    try {
      std::thread t(enterAndRead);
      t.join();
    } catch (const std::system_error& e) {
      err_ = e.code().value() != 0 ? e.code().value() : EAGAIN;
      syscall_ = "pthread_create";
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      std::string hint = err_ == EPERM && strcmp(syscall_, "setns") == 0 ? "entering another network namespace needs CAP_SYS_ADMIN" : "";
      deferred_.Reject(SystemError(env, err_, syscall_, hint).Value());
      return;
    }
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      if (errors_[i] != 0) {
        out.Set(i, Napi::Number::New(env, -errors_[i]));
      } else {
        out.Set(i, Napi::Buffer<char>::Copy(env, results_[i].data(), results_[i].size()));
      }
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  void ReadAll(const char* dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    results_.assign(names_.size(), std::string());
    errors_.assign(names_.size(), 0);
    if (dfd < 0) {
      err_ = errno;
      syscall_ = "open";
      return;
    }
    for (size_t i = 0; i < names_.size(); i++) {
      if (!ReadAt(dfd, names_[i].c_str(), results_[i])) errors_[i] = errno != 0 ? errno : EIO;
    }
    close(dfd);
  }

  Napi::Promise::Deferred deferred_;
  std::string nsPath_;
  int nsFd_;
  std::vector<std::string> names_;
  std::vector<std::string> results_;
  std::vector<int> errors_;
  int err_ = 0;
  const char* syscall_ = "";
};

// readNetFiles(netns: string | number | null, names: string[]): Promise<(Buffer | number)[]>
// Each result is the file's bytes, or the negative errno that reading it failed with.
Napi::Value ReadNetFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "readNetFiles(netns: string | number | null, names: string[])";
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, usage);
  std::string nsPath;
  int nsFd = -1;
  Napi::Value ns = info[0];
  if (ns.IsString()) {
    nsPath = ns.As<Napi::String>().Utf8Value();
    if (nsPath.empty() || nsPath.find('\0') != std::string::npos) {
      throw Napi::TypeError::New(env, "The \"netns\" path must be a non-empty string without NUL bytes");
    }
  } else if (ns.IsNumber()) {
    double d = ns.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 0x7fffffff) || d != static_cast<double>(static_cast<int>(d))) {
      throw Napi::RangeError::New(env, "The \"netns\" file descriptor must be an integer from 0 to 2147483647");
    }
    nsFd = static_cast<int>(d);
  } else if (!ns.IsNull() && !ns.IsUndefined()) {
    throw Napi::TypeError::New(env, usage);
  }
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<std::string> names;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(env, usage);
    std::string name = v.As<Napi::String>().Utf8Value();
    // A plain file name of /proc/net: nothing that could climb out of it.
    if (name.empty() || name.find('/') != std::string::npos || name.find('\0') != std::string::npos || name == "." || name == "..") {
      throw Napi::TypeError::New(env, "readNetFiles: each name must be a file name of /proc/net, got \"" + name + "\"");
    }
    names.push_back(std::move(name));
  }
  NetFilesWorker* w = new NetFilesWorker(env, nsPath, nsFd, std::move(names));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

long Bpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

class BpfIteratorWorker : public Napi::AsyncWorker {
 public:
  BpfIteratorWorker(Napi::Env env, std::vector<uint8_t> insns, uint32_t attachBtfId)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), insns_(std::move(insns)), attachBtfId_(attachBtfId) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    int prog = Load(false);
    // The verifier's reasons are only asked for when it refused: logging slows every load.
    if (prog < 0 && (err_ == EACCES || err_ == EINVAL)) prog = Load(true);
    if (prog < 0) return;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = prog;
    a.link_create.attach_type = BPF_TRACE_ITER;
    int link = static_cast<int>(Bpf(BPF_LINK_CREATE, &a));
    if (link < 0) {
      Fail("bpf(BPF_LINK_CREATE)");
      close(prog);
      return;
    }
    memset(&a, 0, sizeof a);
    a.iter_create.link_fd = link;
    int iter = static_cast<int>(Bpf(BPF_ITER_CREATE, &a));
    if (iter < 0) Fail("bpf(BPF_ITER_CREATE)");
    else {
      size_t used = 0;
      out_.resize(1 << 16);
      for (;;) {
        if (out_.size() - used < (1 << 15)) out_.resize(out_.size() * 2);
        ssize_t n = read(iter, out_.data() + used, out_.size() - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          Fail("read");
          break;
        }
        if (n == 0) break;
        used += static_cast<size_t>(n);
      }
      out_.resize(used);
      close(iter);
    }
    close(link);
    close(prog);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      deferred_.Reject(SystemError(env, err_, syscall_, log_).Value());
      return;
    }
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, out_.data(), out_.size()));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int Load(bool withLog) {
    static const char license[] = "Dual MIT/GPL";  // the helpers it calls are GPL-only
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_TRACING;
    a.expected_attach_type = BPF_TRACE_ITER;
    a.attach_btf_id = attachBtfId_;
    a.insns = reinterpret_cast<uint64_t>(insns_.data());
    a.insn_cnt = static_cast<uint32_t>(insns_.size() / sizeof(struct bpf_insn));
    a.license = reinterpret_cast<uint64_t>(license);
    std::vector<char> log;
    if (withLog) {
      log.assign(1 << 16, '\0');
      a.log_buf = reinterpret_cast<uint64_t>(log.data());
      a.log_size = static_cast<uint32_t>(log.size());
      a.log_level = 1;
    }
    int fd = static_cast<int>(Bpf(BPF_PROG_LOAD, &a));
    if (fd < 0) {
      Fail("bpf(BPF_PROG_LOAD)");
      // The verifier's last lines say why it refused.
      if (withLog) {
        std::string text(log.data());
        if (text.size() > 600) text = "..." + text.substr(text.size() - 600);
        log_ = text;
      }
    } else {
      err_ = 0;
      syscall_ = "";
    }
    return fd;
  }

  void Fail(const char* syscall) {
    err_ = errno;
    syscall_ = syscall;
  }

  Napi::Promise::Deferred deferred_;
  std::vector<uint8_t> insns_;
  uint32_t attachBtfId_;
  std::vector<uint8_t> out_;
  std::string log_;
  int err_ = 0;
  const char* syscall_ = "";
};

// runBpfIterator(insns: Buffer, attachBtfId: number): Promise<Buffer>
Napi::Value RunBpfIterator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "runBpfIterator(insns: Buffer, attachBtfId: number)";
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) throw Napi::TypeError::New(env, usage);
  Napi::Buffer<uint8_t> insns = info[0].As<Napi::Buffer<uint8_t>>();
  if (insns.Length() == 0 || insns.Length() % sizeof(struct bpf_insn) != 0) {
    throw Napi::RangeError::New(env, "runBpfIterator: insns must be a non-empty whole number of 8-byte instructions");
  }
  double id = info[1].As<Napi::Number>().DoubleValue();
  if (!(id > 0 && id <= 0xffffffff) || id != static_cast<double>(static_cast<uint32_t>(id))) {
    throw Napi::RangeError::New(env, "runBpfIterator: attachBtfId must be a BTF type id (a positive 32-bit integer)");
  }
  BpfIteratorWorker* w = new BpfIteratorWorker(env, std::vector<uint8_t>(insns.Data(), insns.Data() + insns.Length()), static_cast<uint32_t>(id));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

// Adds this file's functions to the addon's exports (called from the module's Init).
void InitProcScan(Napi::Env env, Napi::Object exports) {
  exports.Set("scanProcSockets", Napi::Function::New(env, ScanProcSockets, "scanProcSockets"));
  exports.Set("readNetFiles", Napi::Function::New(env, ReadNetFiles, "readNetFiles"));
  exports.Set("runBpfIterator", Napi::Function::New(env, RunBpfIterator, "runBpfIterator"));
}
