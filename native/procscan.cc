// One walk of /proc/<pid>/fd (or /proc/<pid>/task/<tid>/fd) on a pool thread: readlink
// each fd and keep those that are sockets. Only syscalls and the "socket:[N]" test here;
// command names and the inode map are built in TypeScript (lib/proc).

#include <napi.h>
#include <uv.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

struct Entry {
  double inode;
  int32_t pid;
  int32_t tid;
  int32_t fd;
};

bool IsNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// Appends the socket fds of one fd directory.
void WalkFds(const std::string& dir, int32_t pid, int32_t tid, std::vector<Entry>& out) {
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;  // the process ended, or we may not look
  DIR* d = fdopendir(dfd);
  if (d == nullptr) {
    close(dfd);
    return;
  }
  char link[64];
  while (struct dirent* e = readdir(d)) {
    if (!IsNumber(e->d_name)) continue;
    // readlinkat on the directory fd spares a path walk per descriptor.
    ssize_t n = readlinkat(dfd, e->d_name, link, sizeof(link) - 1);
    if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']') continue;
    link[n - 1] = '\0';
    out.push_back({strtod(link + 8, nullptr), pid, tid, static_cast<int32_t>(atoi(e->d_name))});
  }
  closedir(d);
}

class ScanWorker : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, std::string root, bool threads)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), root_(std::move(root)), threads_(threads) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    DIR* d = opendir(root_.c_str());
    if (d == nullptr) {
      err_ = errno;
      return;
    }
    while (struct dirent* e = readdir(d)) {
      if (!IsNumber(e->d_name)) continue;
      int32_t pid = atoi(e->d_name);
      std::string procDir = root_ + "/" + e->d_name;
      if (!threads_) {
        WalkFds(procDir + "/fd", pid, 0, entries_);
        continue;
      }
      DIR* t = opendir((procDir + "/task").c_str());
      if (t == nullptr) continue;
      while (struct dirent* te = readdir(t)) {
        if (IsNumber(te->d_name)) WalkFds(procDir + "/task/" + te->d_name + "/fd", pid, atoi(te->d_name), entries_);
      }
      closedir(t);
    }
    closedir(d);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      Napi::Error e = Napi::Error::New(env, std::string("opendir ") + uv_err_name(-err_) + " (" + strerror(err_) + "): " + root_);
      e.Set("code", Napi::String::New(env, uv_err_name(-err_)));
      e.Set("errno", Napi::Number::New(env, -err_));
      e.Set("syscall", Napi::String::New(env, "opendir"));
      deferred_.Reject(e.Value());
      return;
    }
    size_t n = entries_.size();
    Napi::Float64Array inodes = Napi::Float64Array::New(env, n);
    Napi::Int32Array pids = Napi::Int32Array::New(env, n);
    Napi::Int32Array tids = Napi::Int32Array::New(env, n);
    Napi::Int32Array fds = Napi::Int32Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      inodes[i] = entries_[i].inode;
      pids[i] = entries_[i].pid;
      tids[i] = entries_[i].tid;
      fds[i] = entries_[i].fd;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("inodes", inodes);
    out.Set("pids", pids);
    out.Set("tids", tids);
    out.Set("fds", fds);
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string root_;
  bool threads_;
  int err_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace

// scanProcSockets(procRoot: string, threads: boolean): Promise<{ inodes, pids, tids, fds }>
Napi::Value ScanProcSockets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean()) {
    throw Napi::TypeError::New(env, "scanProcSockets(procRoot: string, threads: boolean)");
  }
  std::string root = info[0].As<Napi::String>().Utf8Value();
  if (root.empty() || root.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(env, "The \"procRoot\" argument must be a non-empty path without NUL bytes");
  }
  ScanWorker* w = new ScanWorker(env, root, info[1].As<Napi::Boolean>().Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}
