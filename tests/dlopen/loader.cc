// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// Loads a plugin that uses circuit with dlopen() from a program that does
// not link libcircuit, and runs it from two threads (see plugin.cc).
//
//   dlopen_loader PLUGIN.so

#include <dlfcn.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
    return 2;
  }
  void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (plugin == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  using Run = int (*)(int, int);
  auto run = reinterpret_cast<Run>(dlsym(plugin, "circuit_plugin_run"));
  if (run == nullptr) {
    std::fprintf(stderr, "dlsym: %s\n", dlerror());
    return 1;
  }
  int status = run(/*threads=*/2, /*calls=*/20000);
  std::printf("dlopen_loader: %s\n", status == 0 ? "ok" : "failed");
  return status;
}
