// The addon's shared pieces (see common.h).

#include "common.h"

#include <uv.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <system_error>

Napi::Error SystemError(Napi::Env env, const Failure& f, const std::string& hint) {
  const char* code = uv_err_name(-f.err);
  std::string message = std::string(f.syscall) + " " + code + " (" + strerror(f.err) + ")";
  std::string why = hint;
  if (why.empty() && f.err == EPERM && strcmp(f.syscall, "setns") == 0) why = "entering another network namespace needs CAP_SYS_ADMIN";
  if (!why.empty()) message += ": " + why;
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -f.err));
  e.Set("syscall", Napi::String::New(env, f.syscall));
  return e;
}

Napi::Error LibraryError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Failure StartThread(std::thread& out, const char* name, std::function<void()> fn) {
  try {
    out = std::thread([name, fn = std::move(fn)]() {
      pthread_setname_np(pthread_self(), name);
      fn();
    });
  } catch (const std::system_error& e) {
    return {e.code().value() != 0 ? e.code().value() : EAGAIN, "pthread_create"};
  }
  return {};
}

Failure InNetns(const std::string& nsPath, int nsFd, const std::function<Failure()>& fn) {
  Failure result;
  std::thread t;
  Failure started = StartThread(t, "sockdiag-netns", [&]() {
    Fd owned;
    int fd = nsFd;
    if (!nsPath.empty()) {
      owned.Reset(::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC));
      if (!owned) {
        result = Failure::Errno("open");
        return;
      }
      fd = owned.Get();
    }
    if (setns(fd, CLONE_NEWNET) != 0) {
      result = Failure::Errno("setns");
      return;
    }
    owned.Reset();  // the thread is in the namespace now; no nsfs fd is held while fn runs
    result = fn();
  });
  if (started) return started;
  t.join();
  return result;
}

bool ReadFileAt(int dirFd, const char* name, std::string& out) {
  Fd fd(openat(dirFd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  char buf[4096];
  out.clear();
  for (;;) {
    ssize_t n = read(fd.Get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return true;
    if (n < 0) {
      int err = errno;
      fd.Reset();
      errno = err;
      return false;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}
