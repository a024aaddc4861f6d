// runBpfIterator: loads a BPF iterator program built in TypeScript (lib/proc/bpf-owners.ts),
// attaches it, and returns every byte it writes: the /proc walk done inside the kernel,
// without a system call per descriptor. Only the bpf() calls and the read loop here.

#include "common.h"

#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>

#include <string>
#include <vector>

namespace {

int Bpf(int cmd, union bpf_attr* attr) { return static_cast<int>(syscall(__NR_bpf, cmd, attr, sizeof(*attr))); }

class BpfIteratorWorker : public Napi::AsyncWorker {
 public:
  BpfIteratorWorker(Napi::Env env, std::vector<uint8_t> insns, uint32_t attachBtfId)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), insns_(std::move(insns)), attachBtfId_(attachBtfId) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    Fd prog = Load(false);
    // The verifier's reasons are only asked for when it refused: logging slows every load.
    if (!prog && (failure_.err == EACCES || failure_.err == EINVAL)) prog = Load(true);
    if (!prog) return;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = prog.Get();
    a.link_create.attach_type = BPF_TRACE_ITER;
    Fd link(Bpf(BPF_LINK_CREATE, &a));
    if (!link) {
      failure_ = Failure::Errno("bpf(BPF_LINK_CREATE)");
      return;
    }
    memset(&a, 0, sizeof a);
    a.iter_create.link_fd = link.Get();
    Fd iter(Bpf(BPF_ITER_CREATE, &a));
    if (!iter) {
      failure_ = Failure::Errno("bpf(BPF_ITER_CREATE)");
      return;
    }
    size_t used = 0;
    out_.resize(1 << 16);
    for (;;) {
      if (out_.size() - used < (1 << 15)) out_.resize(out_.size() * 2);
      ssize_t n = read(iter.Get(), out_.data() + used, out_.size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure_ = Failure::Errno("read");
        break;
      }
      if (n == 0) break;
      used += static_cast<size_t>(n);
    }
    out_.resize(used);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_) {
      deferred_.Reject(SystemError(env, failure_, log_).Value());
      return;
    }
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, out_.data(), out_.size()));
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Fd Load(bool withLog) {
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
    Fd fd(Bpf(BPF_PROG_LOAD, &a));
    if (!fd) {
      failure_ = Failure::Errno("bpf(BPF_PROG_LOAD)");
      // The verifier's last lines say why it refused.
      if (withLog) {
        std::string text(log.data());
        if (text.size() > 600) text = "..." + text.substr(text.size() - 600);
        log_ = text;
      }
    } else {
      failure_ = {};
    }
    return fd;
  }

  Napi::Promise::Deferred deferred_;
  std::vector<uint8_t> insns_;
  uint32_t attachBtfId_;
  std::vector<uint8_t> out_;
  std::string log_;
  Failure failure_;
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

void InitBpfIterator(Napi::Env env, Napi::Object exports) {
  exports.Set("runBpfIterator", Napi::Function::New(env, RunBpfIterator, "runBpfIterator"));
}
