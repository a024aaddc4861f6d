// The addon's exports: the netlink channel (channel.cc) and the /proc and BPF verbs
// (procwalk.cc, netfiles.cc, bpf_iter.cc). Their TypeScript surface is lib/netlink/addon.ts.

#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitChannel(env, exports);
  InitProcWalk(env, exports);
  InitNetFiles(env, exports);
  InitBpfIterator(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(sockdiag, Init)
