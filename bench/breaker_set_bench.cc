// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The benchmarks behind DESIGN.md section 5, measured side by side in one
// run so that bench/report.py can state each as a ratio:
//
//   - the floor: `absl::flat_hash_map<std::string, atomic>` heterogeneous
//     find over 10k keys round-robin, plus one atomic load;
//   - the no-lookup floor: the atomic load alone;
//   - the hand-written `std::mutex` + `std::unordered_map<std::string,
//     Breaker>` map a user would write (admit, then record the outcome);
//   - circuit: closed admit + success through `context(peer)` and through
//     `PeerHandle`, a recorded failure, a rejection through `try_context`,
//     and 1 and 2 threads on one hot peer and on 10k peers;
//   - the memory per tracked peer at 1 M peers.
//
// Multi-threaded rows use real time, so their ns/op is wall time per call
// over all threads (the inverse of throughput).
//
// Run: python3 bench/report.py build-bench/bench/breaker_set_bench

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "circuit/circuit.h"

namespace {

constexpr int kPeers = 10000;
constexpr std::size_t kMemoryPeers = 1000000;

// 16-byte peer ids, as a host:port would be.
std::string PeerId(int i) { return absl::StrFormat("svc-%06d.local", i); }

const std::vector<std::string>& Peers() {
  static const std::vector<std::string> peers = [] {
    std::vector<std::string> v;
    v.reserve(kPeers);
    for (int i = 0; i < kPeers; ++i) v.push_back(PeerId(i));
    return v;
  }();
  return peers;
}

// Round-robin index; each thread of a multi-threaded run starts elsewhere.
int StartIndex(const benchmark::State& state) {
  return (state.thread_index() * kPeers) / std::max(1, state.threads());
}

int Next(int i) { return i + 1 == kPeers ? 0 : i + 1; }

// ---------------------------------------------------------------------------
// The floors

// flat_hash_map needs movable values; this is a std::atomic that moves.
struct Cell {
  std::atomic<std::uint64_t> v{0};
  Cell() = default;
  Cell(Cell&& o) noexcept : v(o.v.load(std::memory_order_relaxed)) {}
};

void BM_Floor(benchmark::State& state) {
  absl::flat_hash_map<std::string, Cell> map;
  for (const std::string& p : Peers()) map.try_emplace(p);
  const std::vector<std::string>& peers = Peers();
  int i = 0;
  for (auto _ : state) {
    std::string_view p = peers[i];
    auto it = map.find(absl::string_view(p.data(), p.size()));
    benchmark::DoNotOptimize(it->second.v.load(std::memory_order_acquire));
    i = Next(i);
  }
}
BENCHMARK(BM_Floor);

void BM_NoLookupFloor(benchmark::State& state) {
  std::vector<Cell> cells(kPeers);
  int i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cells[i].v.load(std::memory_order_acquire));
    i = Next(i);
  }
}
BENCHMARK(BM_NoLookupFloor);

// ---------------------------------------------------------------------------
// The hand-written breaker map

// What a user writes in an afternoon: one mutex around an unordered_map of
// small breakers, with heterogeneous lookup so a hit does not allocate.
class HandWrittenMap {
 public:
  struct Breaker {
    bool open = false;
    int failures = 0;
    std::int64_t opened_at_ns = 0;
    std::uint64_t successes = 0;
  };

  // Null when rejected.
  Breaker* Admit(std::string_view peer) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(peer);
    if (it == map_.end()) it = map_.emplace(std::string(peer), Breaker{}).first;
    Breaker& b = it->second;
    if (b.open) {
      std::int64_t now = NowNs();
      if (now - b.opened_at_ns < kResetNs) return nullptr;
      b.open = false;
      b.failures = 0;
    }
    return &b;
  }

  void Success(Breaker* b) {
    std::lock_guard<std::mutex> lock(mu_);
    b->failures = 0;
    ++b->successes;
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  static constexpr std::int64_t kResetNs = 10'000'000'000;
  static std::int64_t NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  std::mutex mu_;
  std::unordered_map<std::string, Breaker, Hash, std::equal_to<>> map_;
};

HandWrittenMap& SharedHandWritten() {
  static HandWrittenMap* m = [] {
    auto* map = new HandWrittenMap;
    for (const std::string& p : Peers()) map->Success(map->Admit(p));
    return map;
  }();
  return *m;
}

void BM_HandWritten(benchmark::State& state) {
  HandWrittenMap& map = SharedHandWritten();
  const std::vector<std::string>& peers = Peers();
  int i = StartIndex(state);
  for (auto _ : state) {
    HandWrittenMap::Breaker* b = map.Admit(peers[i]);
    benchmark::DoNotOptimize(b);
    map.Success(b);
    i = Next(i);
  }
}
BENCHMARK(BM_HandWritten)->Threads(1)->Threads(2)->UseRealTime();

void BM_HandWrittenHotPeer(benchmark::State& state) {
  HandWrittenMap& map = SharedHandWritten();
  const std::string& peer = Peers()[0];
  for (auto _ : state) {
    HandWrittenMap::Breaker* b = map.Admit(peer);
    benchmark::DoNotOptimize(b);
    map.Success(b);
  }
}
BENCHMARK(BM_HandWrittenHotPeer)->Threads(1)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------
// circuit

// A set that already tracks the 10k peers (shared by every thread of a run).
circuit::CircuitBreakerSet& SharedSet() {
  static circuit::CircuitBreakerSet* set = [] {
    auto* s = new circuit::CircuitBreakerSet;
    for (const std::string& p : Peers()) s->context(p).succeed();
    return s;
  }();
  return *set;
}

void BM_Context(benchmark::State& state) {
  circuit::CircuitBreakerSet& set = SharedSet();
  const std::vector<std::string>& peers = Peers();
  int i = StartIndex(state);
  for (auto _ : state) {
    circuit::Context ctx = set.context(peers[i]);
    benchmark::DoNotOptimize(ctx);
    i = Next(i);
  }  // the destructor records the success
}
BENCHMARK(BM_Context)->Threads(1)->Threads(2)->UseRealTime();

void BM_ContextHotPeer(benchmark::State& state) {
  circuit::CircuitBreakerSet& set = SharedSet();
  const std::string& peer = Peers()[0];
  for (auto _ : state) {
    circuit::Context ctx = set.context(peer);
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_ContextHotPeer)->Threads(1)->Threads(2)->UseRealTime();

void BM_Call(benchmark::State& state) {
  circuit::CircuitBreakerSet& set = SharedSet();
  const std::vector<std::string>& peers = Peers();
  int i = 0;
  for (auto _ : state) {
    int r = set.call(peers[i], [] { return 1; });
    benchmark::DoNotOptimize(r);
    i = Next(i);
  }
}
BENCHMARK(BM_Call);

const std::vector<circuit::PeerHandle>& SharedHandles() {
  static const std::vector<circuit::PeerHandle>* handles = [] {
    auto* v = new std::vector<circuit::PeerHandle>;
    v->reserve(kPeers);
    for (const std::string& p : Peers()) v->push_back(SharedSet().handle(p));
    return v;
  }();
  return *handles;
}

void BM_Handle(benchmark::State& state) {
  const std::vector<circuit::PeerHandle>& handles = SharedHandles();
  int i = StartIndex(state);
  for (auto _ : state) {
    circuit::Context ctx = handles[i].context();
    benchmark::DoNotOptimize(ctx);
    i = Next(i);
  }
}
BENCHMARK(BM_Handle)->Threads(1)->Threads(2)->UseRealTime();

void BM_HandleHotPeer(benchmark::State& state) {
  const circuit::PeerHandle& handle = SharedHandles()[0];
  for (auto _ : state) {
    circuit::Context ctx = handle.context();
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_HandleHotPeer)->Threads(1)->Threads(2)->UseRealTime();

// A recorded failure on breakers that never trip (window rule off).
void BM_RecordedFailure(benchmark::State& state) {
  circuit::SetOptions options;
  options.defaults.max_failures = circuit::kUnlimited;
  circuit::CircuitBreakerSet set(options);
  const std::vector<std::string>& peers = Peers();
  for (const std::string& p : peers) set.context(p).succeed();
  int i = 0;
  for (auto _ : state) {
    circuit::Context ctx = set.context(peers[i]);
    ctx.fail();
    i = Next(i);
  }
}
BENCHMARK(BM_RecordedFailure);

// Rejections of open peers (open for an hour), 10k peers round-robin, after
// each peer's first rejection.
void BM_Rejection(benchmark::State& state) {
  circuit::SetOptions options;
  options.defaults.reset_timeout = absl::Hours(1);
  circuit::CircuitBreakerSet set(options);
  const std::vector<std::string>& peers = Peers();
  for (const std::string& p : peers) {
    set.open(p);
    benchmark::DoNotOptimize(set.try_context(p));
  }
  int i = 0;
  for (auto _ : state) {
    absl::StatusOr<circuit::Context> r = set.try_context(peers[i]);
    benchmark::DoNotOptimize(r);
    i = Next(i);
  }
}
BENCHMARK(BM_Rejection);

// Rejections of one open peer: the usual shape, every call to a peer that
// is down rejected.
void BM_RejectionOnePeer(benchmark::State& state) {
  circuit::SetOptions options;
  options.defaults.reset_timeout = absl::Hours(1);
  circuit::CircuitBreakerSet set(options);
  const std::string& peer = Peers()[0];
  set.open(peer);
  benchmark::DoNotOptimize(set.try_context(peer));
  for (auto _ : state) {
    absl::StatusOr<circuit::Context> r = set.try_context(peer);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_RejectionOnePeer);

// The same rejection, thrown as CircuitOpenError by context() (for
// reference: exceptions cost microseconds, hence try_context).
void BM_RejectionThrown(benchmark::State& state) {
  circuit::SetOptions options;
  options.defaults.reset_timeout = absl::Hours(1);
  circuit::CircuitBreakerSet set(options);
  const std::string& peer = Peers()[0];
  set.open(peer);
  for (auto _ : state) {
    try {
      circuit::Context ctx = set.context(peer);
      benchmark::DoNotOptimize(ctx);
    } catch (const circuit::CircuitOpenError& e) {
      benchmark::DoNotOptimize(&e);
    }
  }
}
BENCHMARK(BM_RejectionThrown);

// ---------------------------------------------------------------------------
// Memory per tracked peer

std::int64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * 4096;
}

// Bytes the allocator hands out (and RSS) per peer, at 1 M peers with
// 16-byte ids, once the set has settled: peers that only succeeded (arg 0),
// and peers that each recorded a failure, which gives them a failure
// history (arg 1). Entries come from a process-wide pool that keeps freed
// cells, so run each alone in a fresh process (report.py does:
// --benchmark_filter=BM_MemoryPerPeer/0, then /1).
void BM_MemoryPerPeer(benchmark::State& state) {
  const bool failed = state.range(0) != 0;
  for (auto _ : state) {
    malloc_trim(0);
    struct mallinfo2 before = mallinfo2();
    std::int64_t rss_before = RssBytes();
    auto set = std::make_unique<circuit::CircuitBreakerSet>();
    char id[32];
    for (std::size_t i = 0; i < kMemoryPeers; ++i) {
      std::snprintf(id, sizeof id, "peer-%011zu", i);  // 16 bytes
      circuit::Context ctx = set->context(std::string_view(id, 16));
      if (failed) ctx.fail();
    }
    // sweep() lets the epoch domain free the tables replaced while growing
    // (twice: a retired object is freed one grace period later).
    set->sweep();
    set->sweep();
    struct mallinfo2 after = mallinfo2();
    std::int64_t rss_after = RssBytes();
    // Bytes handed out by malloc (including mmapped blocks).
    double heap = static_cast<double>((after.uordblks + after.hblkhd) -
                                      (before.uordblks + before.hblkhd)) /
                  static_cast<double>(kMemoryPeers);
    double rss = static_cast<double>(rss_after - rss_before) /
                 static_cast<double>(kMemoryPeers);
    state.counters["peers"] = static_cast<double>(set->size());
    state.counters["heap_bytes_per_peer"] = heap;
    state.counters["heap_bytes_per_peer_minus_key"] = heap - 16;
    state.counters["rss_bytes_per_peer"] = rss;
    state.counters["key_bytes"] = 16;
    state.PauseTiming();
    set.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MemoryPerPeer)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
