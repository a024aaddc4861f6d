// What every part of the addon shares: its system errors, an owned file descriptor,
// thread creation that fails as an error, and work done inside another network namespace.

#pragma once

#include <napi.h>

#include <errno.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

// A failed system call: its errno and name. err == 0 means nothing failed.
struct Failure {
  int err = 0;
  const char* syscall = "";

  // The call that just failed, with the current errno.
  static Failure Errno(const char* syscall) { return {errno, syscall}; }
  explicit operator bool() const { return err != 0; }
};

// Node's shape of a system error: code ("ENOENT"), errno (negative), syscall, and the
// message "syscall CODE (strerror)[: hint]", which lib/errors.ts fromNativeError parses.
// An EPERM from setns gets its hint here when none is given.
Napi::Error SystemError(Napi::Env env, const Failure& f, const std::string& hint = "");

// An error of the library's own (ERR_SOCKDIAG_*), with that code.
Napi::Error LibraryError(Napi::Env env, const char* code, const std::string& message);

// Owns a file descriptor and closes it once.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(o.Release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int Get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives the descriptor up without closing it (e.g. to fdopendir).
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Starts `fn` on a new thread (named `name` as /proc/PID/task/TID/comm shows it, at most
// 15 characters). A thread that cannot be created is a Failure of pthread_create, never
// std::terminate.
Failure StartThread(std::thread& out, const char* name, std::function<void()> fn);

// Runs `fn` on a short-lived thread that first enters the network namespace at `nsPath`
// (or, when it is empty, the open namespace fd `nsFd`), and waits for it: no thread of
// the process stays in, or has to return from, another namespace. Returns what failed:
// open, setns, pthread_create, or what `fn` returned.
Failure InNetns(const std::string& nsPath, int nsFd, const std::function<Failure()>& fn);

// Reads a whole (small) file relative to a directory fd into `out`; false, with errno
// set, when it cannot be opened or read.
bool ReadFileAt(int dirFd, const char* name, std::string& out);

// The verbs each source file adds to the addon's exports.
void InitChannel(Napi::Env env, Napi::Object exports);
void InitProcWalk(Napi::Env env, Napi::Object exports);
void InitNetFiles(Napi::Env env, Napi::Object exports);
void InitBpfIterator(Napi::Env env, Napi::Object exports);
