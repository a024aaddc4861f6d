// readNetFiles: whole files of /proc/net (sockstat, snmp, ...) as a network namespace sees
// them. /proc/net follows the reading thread's namespace only through /proc/thread-self/net,
// so another namespace is read by a short-lived thread that enters it (InNetns): no thread
// of the process ever stays in another namespace, and a pool thread is never moved.

#include "common.h"

#include <fcntl.h>

#include <string>
#include <vector>

namespace {

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
    if (nsPath_.empty() && nsFd_ < 0) {
      failure_ = ReadAll("/proc/self/net/");  // the process's own namespace, as ss reads /proc/net
    } else {
      failure_ = InNetns(nsPath_, nsFd_, [this] { return ReadAll("/proc/thread-self/net/"); });
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_) {
      deferred_.Reject(SystemError(env, failure_).Value());
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
  Failure ReadAll(const char* dir) {
    results_.assign(names_.size(), std::string());
    errors_.assign(names_.size(), 0);
    Fd dfd(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return Failure::Errno("open");
    for (size_t i = 0; i < names_.size(); i++) {
      if (!ReadFileAt(dfd.Get(), names_[i].c_str(), results_[i])) errors_[i] = errno != 0 ? errno : EIO;
    }
    return {};
  }

  Napi::Promise::Deferred deferred_;
  std::string nsPath_;
  int nsFd_;
  std::vector<std::string> names_;
  std::vector<std::string> results_;
  std::vector<int> errors_;
  Failure failure_;
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

}  // namespace

void InitNetFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("readNetFiles", Napi::Function::New(env, ReadNetFiles, "readNetFiles"));
}
