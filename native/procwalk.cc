// scanProcSockets: one walk of /proc/<pid>/fd (or /proc/<pid>/task/<tid>/fd), on a pool
// thread, keeping the descriptors that are sockets, with each owner's command name and,
// when asked, its SELinux contexts. Only syscalls and the "socket:[N]" test here; the
// inode map is built in TypeScript (lib/proc/processes.ts).

#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include <string>
#include <vector>

namespace {

bool IsNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// A security label as the kernel hands it: drop the trailing NUL and newline, as libselinux does.
std::string TrimLabel(std::string s) {
  while (!s.empty() && (s.back() == '\0' || s.back() == '\n')) s.pop_back();
  return s;
}

// Opens a directory relative to `dirFd` for readdir; null when it cannot be opened.
DIR* OpenDirAt(int dirFd, const char* name) {
  Fd fd(openat(dirFd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return nullptr;
  DIR* d = fdopendir(fd.Get());
  if (d != nullptr) fd.Release();  // the DIR owns it now
  return d;
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
      failure_ = Failure::Errno("opendir");
      return;
    }
    int rootFd = dirfd(d);
    while (struct dirent* e = readdir(d)) {
      if (!IsNumber(e->d_name)) continue;
      int32_t pid = atoi(e->d_name);
      // Everything below is read through this fd: if the process ends and its pid is
      // reused meanwhile, reads fail (ESRCH/ENOENT) instead of reaching the newcomer.
      Fd pidFd(openat(rootFd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!pidFd) continue;  // ended since readdir
      if (!threads_) {
        WalkTask(pidFd.Get(), contexts_ ? root_ + "/" + e->d_name : std::string(), pid, 0);
        continue;
      }
      DIR* t = OpenDirAt(pidFd.Get(), "task");
      if (t == nullptr) continue;
      while (struct dirent* te = readdir(t)) {
        if (!IsNumber(te->d_name)) continue;
        Fd tidFd(openat(dirfd(t), te->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!tidFd) continue;
        WalkTask(tidFd.Get(), contexts_ ? root_ + "/" + e->d_name + "/task/" + te->d_name : std::string(), pid, atoi(te->d_name));
      }
      closedir(t);
    }
    closedir(d);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_) {
      deferred_.Reject(SystemError(env, failure_, root_).Value());
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
    DIR* d = OpenDirAt(taskFd, "fd");
    if (d == nullptr) return;  // the process ended, or we may not look
    int32_t task = -1;
    char link[64];
    while (struct dirent* e = readdir(d)) {
      if (!IsNumber(e->d_name)) continue;
      // readlinkat on the directory fd spares a path walk per descriptor.
      ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
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
    if (ReadFileAt(taskFd, "stat", stat)) {
      size_t open = stat.find('(');
      size_t close = stat.rfind(')');
      if (open != std::string::npos && close != std::string::npos && close > open) t.command = stat.substr(open + 1, close - open - 1);
    }
    std::string label;
    if (contexts_ && ReadFileAt(taskFd, "attr/current", label)) t.context = TrimLabel(label);
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
  Failure failure_;
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

}  // namespace

void InitProcWalk(Napi::Env env, Napi::Object exports) {
  exports.Set("scanProcSockets", Napi::Function::New(env, ScanProcSockets, "scanProcSockets"));
}
