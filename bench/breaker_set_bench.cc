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
//   - at scale: `context(peer)` over 10k and 1 M peers in random order,
//     each against the floor over the same keys in the same order; a
//     never-seen peer admitted into a set held at `max_peers` = 10k and
//     1 M, against an absl insert + erase of the oldest key at that size;
//   - the memory per tracked peer at 1 M peers.
//
// The 1 M-peer sets, maps and key lists are built once per process (on
// first use) and shared by every repetition.
//
// Multi-threaded rows use real time, so their ns/op is wall time per call
// over all threads (the inverse of throughput).
//
// Run: python3 bench/report.py build-bench/bench/breaker_set_bench

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// A refusal's record: a cell and the peer's status, built once.
struct Refusal {
  Cell cell;
  absl::Status status;
};

// A breaker-sized record that keeps its address, with the state and the
// status in its first line.
struct alignas(64) StableRecord {
  Cell cell;
  absl::Status status;
  char rest[192 - sizeof(Cell) - sizeof(absl::Status)];
};

// The floors' maps over Peers(), built once, before any benchmark runs
// (FloorMaps in main): every repetition of a floor reads the same memory,
// laid out in the order the keys came, as a set's is. Built anew in each
// repetition, a map's keys and values would come from what the last one
// freed, in its hash order.
struct FloorMaps {
  absl::flat_hash_map<std::string, Cell> plain;
  std::vector<Cell> cells;  // the stable map's values, in key order
  absl::flat_hash_map<std::string, Cell*> stable;
  absl::flat_hash_map<std::string, Refusal> refusals;
  std::vector<StableRecord> records;  // in key order
  absl::flat_hash_map<std::string, StableRecord*> stable_refusals;
};

const FloorMaps& TheFloorMaps() {
  static const FloorMaps* const maps = [] {
    auto* m = new FloorMaps;
    const std::vector<std::string>& peers = Peers();
    m->cells = std::vector<Cell>(peers.size());
    m->records = std::vector<StableRecord>(peers.size());
    // One map at a time: each one's keys (and statuses) are allocated one
    // after the other, not interleaved with the other maps'.
    for (const std::string& p : peers) m->plain.try_emplace(p);
    for (std::size_t i = 0; i < peers.size(); ++i) {
      m->stable.try_emplace(peers[i], &m->cells[i]);
    }
    for (const std::string& p : peers) {
      m->refusals.try_emplace(p,
                              Refusal{{}, absl::UnavailableError(p + " is open")});
    }
    for (std::size_t i = 0; i < peers.size(); ++i) {
      m->records[i].status = absl::UnavailableError(peers[i] + " is open");
      m->stable_refusals.try_emplace(peers[i], &m->records[i]);
    }
    return m;
  }();
  return *maps;
}

// The floors' loop: finds the peers round-robin in `map` and hands each
// one's value to `use`.
template <class Map, class Use>
[[gnu::always_inline]] inline void FindRoundRobin(benchmark::State& state, const Map& map, Use use) {
  const std::vector<std::string>& peers = Peers();
  int i = 0;
  for (auto _ : state) {
    std::string_view p = peers[i];
    use(map.find(absl::string_view(p.data(), p.size()))->second);
    i = Next(i);
  }
}

// A refusal's floor work on its record (Refusal or StableRecord): the state
// loaded, and the peer's status returned in a StatusOr and dropped, which
// adds to and takes from the status's shared reference count.
template <class Record>
[[gnu::always_inline]] inline void Refuse(const Record& r) {
  benchmark::DoNotOptimize(r.cell.v.load(std::memory_order_acquire));
  absl::StatusOr<int> result = r.status;
  benchmark::DoNotOptimize(result);
}

void BM_Floor(benchmark::State& state) {
  FindRoundRobin(state, TheFloorMaps().plain, [](const Cell& c) {
    benchmark::DoNotOptimize(c.v.load(std::memory_order_acquire));
  });
}
BENCHMARK(BM_Floor);

// The floor of a table whose entries keep their address while others come
// and go, as breakers must (handles and in-flight calls hold them): the same
// find, and the load through one more pointer.
void BM_StableFloor(benchmark::State& state) {
  FindRoundRobin(state, TheFloorMaps().stable, [](const Cell* c) {
    benchmark::DoNotOptimize(c->v.load(std::memory_order_acquire));
  });
}
BENCHMARK(BM_StableFloor);

// The floor of a refusal that names its peer in an absl::Status: the floor's
// find, and the peer's status (built once) handed out (Refuse).
void BM_StatusFloor(benchmark::State& state) {
  FindRoundRobin(state, TheFloorMaps().refusals,
                 [](const Refusal& r) { Refuse(r); });
}
BENCHMARK(BM_StatusFloor);

// The same refusal of one key, over and over: the floor of BM_RejectionOnePeer.
void BM_StatusFloorOnePeer(benchmark::State& state) {
  const auto& map = TheFloorMaps().refusals;
  const std::string& p = Peers()[0];
  for (auto _ : state) {
    Refuse(map.find(absl::string_view(p.data(), p.size()))->second);
  }
}
BENCHMARK(BM_StatusFloorOnePeer);

// The same refusal through entries that keep their address (as BM_StableFloor
// to BM_Floor), each a breaker's size with the state and the status in its
// first line: what a rejection by peer id costs at least in a table whose
// breakers do not move.
void BM_StableStatusFloor(benchmark::State& state) {
  FindRoundRobin(state, TheFloorMaps().stable_refusals,
                 [](const StableRecord* r) { Refuse(*r); });
}
BENCHMARK(BM_StableStatusFloor);

// One read of CLOCK_MONOTONIC_COARSE: a rejection must know that its
// peer's open period has not ended, and this is the cheapest clock that
// tells it.
void BM_CoarseClock(benchmark::State& state) {
  for (auto _ : state) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_CoarseClock);

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

  // Counts a failure; trips at kTripAfter in a row, which the benchmarks
  // never reach (the same shape as circuit's never-tripping failure row).
  void Failure(Breaker* b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (++b->failures >= kTripAfter) {
      b->open = true;
      b->opened_at_ns = NowNs();
    }
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  static constexpr std::int64_t kResetNs = 10'000'000'000;
  static constexpr int kTripAfter = std::numeric_limits<int>::max();
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

// Admit, then a recorded failure that does not trip, 10k peers round-robin
// (against BM_RecordedFailure).
// Its own map (failures pile up in it), made once as the shared one is.
HandWrittenMap& FailureHandWritten() {
  static HandWrittenMap* m = [] {
    auto* map = new HandWrittenMap;
    for (const std::string& p : Peers()) map->Success(map->Admit(p));
    return map;
  }();
  return *m;
}

void BM_HandWrittenFailure(benchmark::State& state) {
  HandWrittenMap& map = FailureHandWritten();
  const std::vector<std::string>& peers = Peers();
  int i = 0;
  for (auto _ : state) {
    HandWrittenMap::Breaker* b = map.Admit(peers[i]);
    benchmark::DoNotOptimize(b);
    map.Failure(b);
    i = Next(i);
  }
}
BENCHMARK(BM_HandWrittenFailure);

// ---------------------------------------------------------------------------
// circuit

// A set made with `options` that already tracks the 10k peers.
circuit::CircuitBreakerSet* SetOfPeers(const circuit::SetOptions& options) {
  auto* s = new circuit::CircuitBreakerSet(options);
  for (const std::string& p : Peers()) s->context(p).succeed();
  return s;
}

// Handles to the 10k peers of `set`, in the order of Peers().
std::vector<circuit::PeerHandle>* HandlesOf(circuit::CircuitBreakerSet& set) {
  auto* v = new std::vector<circuit::PeerHandle>;
  v->reserve(kPeers);
  for (const std::string& p : Peers()) v->push_back(set.handle(p));
  return v;
}

// Closed admit + success through `context(peer)`, the 10k peers
// round-robin; and through handles.
[[gnu::always_inline]] inline void ContextRoundRobin(
    benchmark::State& state, circuit::CircuitBreakerSet& set) {
  const std::vector<std::string>& peers = Peers();
  int i = StartIndex(state);
  for (auto _ : state) {
    circuit::Context ctx = set.context(peers[i]);
    benchmark::DoNotOptimize(ctx);
    i = Next(i);
  }  // the destructor records the success
}
[[gnu::always_inline]] inline void HandleRoundRobin(
    benchmark::State& state, const std::vector<circuit::PeerHandle>& handles) {
  int i = StartIndex(state);
  for (auto _ : state) {
    circuit::Context ctx = handles[i].context();
    benchmark::DoNotOptimize(ctx);
    i = Next(i);
  }
}

// The sets of the 10k peers (shared by every thread of a run), without and
// with a bulkhead (see BM_ContextBulkhead). Both are made together, by
// whichever row needs one first: their entries then come from the pool in
// the same state, in creation order, whatever rows ran before (a set made
// after the new-peer rows would get their freed entries, in no order).
struct HotSets {
  circuit::CircuitBreakerSet* plain;
  circuit::CircuitBreakerSet* bulkhead;
};
const HotSets& TheHotSets() {
  static const HotSets sets = [] {
    HotSets s;
    s.plain = SetOfPeers({});
    circuit::SetOptions o;
    o.defaults.max_concurrent_calls = 1000;  // never reached
    s.bulkhead = SetOfPeers(o);
    return s;
  }();
  return sets;
}

circuit::CircuitBreakerSet& SharedSet() { return *TheHotSets().plain; }

void BM_Context(benchmark::State& state) {
  ContextRoundRobin(state, SharedSet());
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
  static const std::vector<circuit::PeerHandle>* handles =
      HandlesOf(SharedSet());
  return *handles;
}

void BM_Handle(benchmark::State& state) {
  HandleRoundRobin(state, SharedHandles());
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
// Its own set, made once as the hot ones are.
circuit::CircuitBreakerSet& FailureSet() {
  static circuit::CircuitBreakerSet* const set = [] {
    circuit::SetOptions options;
    options.defaults.max_failures = circuit::kUnlimited;
    return SetOfPeers(options);
  }();
  return *set;
}

void BM_RecordedFailure(benchmark::State& state) {
  circuit::CircuitBreakerSet& set = FailureSet();
  const std::vector<std::string>& peers = Peers();
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
// Every peer open (and its rejection status built), made once as the hot
// sets are.
circuit::CircuitBreakerSet& OpenSet() {
  static circuit::CircuitBreakerSet* const set = [] {
    circuit::SetOptions options;
    options.defaults.reset_timeout = absl::Hours(1);
    auto* s = new circuit::CircuitBreakerSet(options);
    for (const std::string& p : Peers()) {
      s->open(p);
      benchmark::DoNotOptimize(s->try_context(p));
    }
    return s;
  }();
  return *set;
}

void BM_Rejection(benchmark::State& state) {
  circuit::CircuitBreakerSet& set = OpenSet();
  const std::vector<std::string>& peers = Peers();
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
// At scale: random-order lookups over 10k and 1 M peers, and new peers
// admitted into a set held at max_peers. Each size is an argument; the keys,
// sets and maps of a size are built on first use and kept for the process.

constexpr std::int64_t kScaleSizes[] = {10000, 1000000};

// `n` distinct 16-byte peer ids, in insertion order.
const std::vector<std::string>& ScaleKeys(std::int64_t n) {
  static std::unordered_map<std::int64_t, std::vector<std::string>> keys;
  std::vector<std::string>& v = keys[n];
  if (v.empty()) {
    v.reserve(static_cast<std::size_t>(n));
    char id[32];
    for (std::int64_t i = 0; i < n; ++i) {
      std::snprintf(id, sizeof id, "svc-%06lld.local", static_cast<long long>(i));
      v.emplace_back(id, 16);
    }
  }
  return v;
}

// The same keys shuffled (a fixed seed), stored in that order so that the
// benchmark loop reads them sequentially and only the lookup is random.
const std::vector<std::string>& ShuffledKeys(std::int64_t n) {
  static std::unordered_map<std::int64_t, std::vector<std::string>> keys;
  std::vector<std::string>& v = keys[n];
  if (v.empty()) {
    v = ScaleKeys(n);
    std::mt19937_64 rng(42);
    std::shuffle(v.begin(), v.end(), rng);
  }
  return v;
}

absl::flat_hash_map<std::string, Cell>& ScaleFloorMap(std::int64_t n) {
  static std::unordered_map<std::int64_t,
                            absl::flat_hash_map<std::string, Cell>> maps;
  absl::flat_hash_map<std::string, Cell>& m = maps[n];
  if (m.empty()) {
    for (const std::string& k : ScaleKeys(n)) m.try_emplace(k);
  }
  return m;
}

circuit::CircuitBreakerSet& ScaleSet(std::int64_t n) {
  static std::unordered_map<std::int64_t,
                            std::unique_ptr<circuit::CircuitBreakerSet>> sets;
  std::unique_ptr<circuit::CircuitBreakerSet>& s = sets[n];
  if (!s) {
    s = std::make_unique<circuit::CircuitBreakerSet>();
    for (const std::string& k : ScaleKeys(n)) s->context(k).succeed();
  }
  return *s;
}

// The floor over `n` keys, visited in the shuffled order.
void BM_FloorRandom(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  absl::flat_hash_map<std::string, Cell>& map = ScaleFloorMap(n);
  const std::vector<std::string>& keys = ShuffledKeys(n);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& p = keys[i];
    auto it = map.find(absl::string_view(p.data(), p.size()));
    benchmark::DoNotOptimize(it->second.v.load(std::memory_order_acquire));
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_FloorRandom)->Arg(kScaleSizes[0])->Arg(kScaleSizes[1]);

// The same find over the same keys in the same order, where each key's value
// is a record of a breaker's size (192 bytes, cache-line aligned, made in
// key order as the entry pool makes entries) that the map points to: the
// least a table can cost whose entries keep their address and hold what a
// breaker holds. What a set adds over this is its own work per call.
struct alignas(64) BreakerSized {
  std::atomic<std::uint64_t> v{0};
  char rest[184];
};
static_assert(sizeof(BreakerSized) == 192);

absl::flat_hash_map<std::string, BreakerSized*>& ScaleStableMap(
    std::int64_t n) {
  static std::unordered_map<std::int64_t,
                            absl::flat_hash_map<std::string, BreakerSized*>>
      maps;
  static std::vector<std::unique_ptr<BreakerSized[]>> records;
  absl::flat_hash_map<std::string, BreakerSized*>& m = maps[n];
  if (m.empty()) {
    const std::vector<std::string>& keys = ScaleKeys(n);
    records.emplace_back(new BreakerSized[keys.size()]);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      m.try_emplace(keys[i], &records.back()[i]);
    }
  }
  return m;
}

void BM_StableFloorRandom(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  absl::flat_hash_map<std::string, BreakerSized*>& map = ScaleStableMap(n);
  const std::vector<std::string>& keys = ShuffledKeys(n);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& p = keys[i];
    auto it = map.find(absl::string_view(p.data(), p.size()));
    benchmark::DoNotOptimize(it->second->v.load(std::memory_order_acquire));
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_StableFloorRandom)->Arg(kScaleSizes[0])->Arg(kScaleSizes[1]);

// Closed admit + success through `context(peer)` over the same keys in the
// same order.
void BM_ContextRandom(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  circuit::CircuitBreakerSet& set = ScaleSet(n);
  const std::vector<std::string>& keys = ShuffledKeys(n);
  std::size_t i = 0;
  for (auto _ : state) {
    circuit::Context ctx = set.context(keys[i]);
    benchmark::DoNotOptimize(ctx);
    if (++i == keys.size()) i = 0;
  }
}
BENCHMARK(BM_ContextRandom)->Arg(kScaleSizes[0])->Arg(kScaleSizes[1]);

// Never-seen 16-byte peer ids: "new-" and 12 hex digits of a counter that
// runs on across repetitions.
class NewPeers {
 public:
  std::string_view Next() {
    std::uint64_t v = next_++;
    std::memcpy(id_, "new-", 4);
    for (int d = 15; d >= 4; --d) {
      id_[d] = "0123456789abcdef"[v & 15];
      v >>= 4;
    }
    return {id_, 16};
  }

 private:
  std::uint64_t next_ = 0;
  char id_[16];
};

// A set held at max_peers = n: filled with n peers, so every admission of
// a new peer evicts the least recently used one.
struct CappedSet {
  std::unique_ptr<circuit::CircuitBreakerSet> set;
  NewPeers fresh;
};

CappedSet& ScaleCappedSet(std::int64_t n) {
  static std::unordered_map<std::int64_t, CappedSet> sets;
  CappedSet& c = sets[n];
  if (!c.set) {
    circuit::SetOptions options;
    options.max_peers = static_cast<std::size_t>(n);
    c.set = std::make_unique<circuit::CircuitBreakerSet>(options);
    for (const std::string& k : ScaleKeys(n)) c.set->context(k).succeed();
  }
  return c;
}

void BM_AdmitNewPeer(benchmark::State& state) {
  CappedSet& c = ScaleCappedSet(state.range(0));
  for (auto _ : state) {
    circuit::Context ctx = c.set->context(c.fresh.Next());
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_AdmitNewPeer)->Arg(kScaleSizes[0])->Arg(kScaleSizes[1]);

// The baseline: an absl::flat_hash_map of n keys, each new key inserted and
// the oldest erased (a ring of the keys in insertion order).
struct CappedMap {
  absl::flat_hash_map<std::string, Cell> map;
  std::vector<std::string> ring;  // oldest at `oldest`
  std::size_t oldest = 0;
  NewPeers fresh;
};

CappedMap& ScaleCappedMap(std::int64_t n) {
  static std::unordered_map<std::int64_t, CappedMap> maps;
  CappedMap& c = maps[n];
  if (c.ring.empty()) {
    c.ring = ScaleKeys(n);
    for (const std::string& k : c.ring) c.map.try_emplace(k);
  }
  return c;
}

void BM_AbslInsertEraseOldest(benchmark::State& state) {
  CappedMap& c = ScaleCappedMap(state.range(0));
  for (auto _ : state) {
    std::string_view k = c.fresh.Next();
    auto it = c.map.try_emplace(absl::string_view(k.data(), k.size())).first;
    benchmark::DoNotOptimize(it->second.v.load(std::memory_order_acquire));
    std::string& old = c.ring[c.oldest];
    c.map.erase(absl::string_view(old.data(), old.size()));
    old.assign(k.data(), k.size());
    if (++c.oldest == c.ring.size()) c.oldest = 0;
  }
}
BENCHMARK(BM_AbslInsertEraseOldest)->Arg(kScaleSizes[0])->Arg(kScaleSizes[1]);

// ---------------------------------------------------------------------------
// Bulkhead (BreakerOptions::max_concurrent_calls) on and off
//
// Closed admit + success through `context(peer)` over the same 10k peers as
// BM_Context, with every peer's bulkhead on (a limit the calls never reach),
// for the DESIGN.md section 5 target "max_concurrent_calls on <= 1.3 x off";
// and the same through a handle, against BM_Handle.

circuit::CircuitBreakerSet& BulkheadSet() { return *TheHotSets().bulkhead; }

void BM_ContextBulkhead(benchmark::State& state) {
  ContextRoundRobin(state, BulkheadSet());
}
BENCHMARK(BM_ContextBulkhead)->Threads(1)->Threads(2)->UseRealTime();

// context(peer) in a set that keeps recency for eviction (max_peers, never
// reached here): the general path's closed admission.
void BM_ContextCapped(benchmark::State& state) {
  static circuit::CircuitBreakerSet* const set = [] {
    circuit::SetOptions o;
    o.max_peers = 1000000;
    return SetOfPeers(o);
  }();
  ContextRoundRobin(state, *set);
}
BENCHMARK(BM_ContextCapped);

void BM_HandleBulkhead(benchmark::State& state) {
  static const std::vector<circuit::PeerHandle>* handles =
      HandlesOf(BulkheadSet());
  HandleRoundRobin(state, *handles);
}
BENCHMARK(BM_HandleBulkhead)->Threads(1)->UseRealTime();

// The floor of any exact shared bulkhead: one locked increment to take a
// slot and one locked decrement to give it back, on a line already in the
// cache. What BM_ContextBulkhead adds over BM_Context is set against it.
void BM_SlotFloor(benchmark::State& state) {
  static std::atomic<std::int32_t> slots{0};
  for (auto _ : state) {
    benchmark::DoNotOptimize(slots.fetch_add(1, std::memory_order_acq_rel));
    slots.fetch_sub(1, std::memory_order_acq_rel);
  }
}
BENCHMARK(BM_SlotFloor);

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

// Fixed-iteration copies of the rows that DESIGN.md section 5 sets a
// target for, registered as "fixed/<name>" when BENCH_FIXED_ITERATIONS is
// set: run one under valgrind at N and at 2N iterations, and the difference
// of the totals over N is the cost of one iteration, setup excluded
// (bench/profile.sh does this).
void RegisterFixed(benchmark::IterationCount n) {
  using Fn = void (*)(benchmark::State&);
  const struct {
    const char* name;
    Fn fn;
    bool scaled;  // takes a size argument
  } rows[] = {
      {"BM_Floor", BM_Floor, false},
      {"BM_StableFloor", BM_StableFloor, false},
      {"BM_StatusFloor", BM_StatusFloor, false},
      {"BM_StableStatusFloor", BM_StableStatusFloor, false},
      {"BM_StatusFloorOnePeer", BM_StatusFloorOnePeer, false},
      {"BM_Context", BM_Context, false},
      {"BM_Handle", BM_Handle, false},
      {"BM_HandWrittenFailure", BM_HandWrittenFailure, false},
      {"BM_RecordedFailure", BM_RecordedFailure, false},
      {"BM_Rejection", BM_Rejection, false},
      {"BM_RejectionOnePeer", BM_RejectionOnePeer, false},
      {"BM_FloorRandom", BM_FloorRandom, true},
      {"BM_StableFloorRandom", BM_StableFloorRandom, true},
      {"BM_ContextRandom", BM_ContextRandom, true},
      {"BM_AbslInsertEraseOldest", BM_AbslInsertEraseOldest, true},
      {"BM_AdmitNewPeer", BM_AdmitNewPeer, true},
  };
  for (const auto& row : rows) {
    std::string name = std::string("fixed/") + row.name;
    if (!row.scaled) {
      benchmark::RegisterBenchmark(name.c_str(), row.fn)->Iterations(n);
      continue;
    }
    for (std::int64_t size : kScaleSizes) {
      benchmark::RegisterBenchmark(name.c_str(), row.fn)
          ->Arg(size)
          ->Iterations(n);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* n = std::getenv("BENCH_FIXED_ITERATIONS")) {
    RegisterFixed(std::atoll(n));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The shared 10k fixtures, made first, on a fresh heap, in the same order
  // in every run: no row's memory depends on which rows ran before it.
  TheFloorMaps();
  SharedHandWritten();
  FailureHandWritten();
  TheHotSets();
  FailureSet();
  OpenSet();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
