{
  "targets": [
    {
      "target_name": "sockdiag",
      "sources": ["native/addon.cc", "native/common.cc", "native/channel.cc", "native/procwalk.cc", "native/netfiles.cc", "native/bpf_iter.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
