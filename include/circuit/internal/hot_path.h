// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The closed-state hot path, inline in the caller. Not API: everything under
// circuit/internal/ may change without notice.
//
// A call to a closed peer is a handful of loads and stores: one acquire load
// of the breaker's state word at admission, and at settling a second load
// of it, one store to this thread's success count and two to its epoch
// record. Out of line that is dwarfed by two calls into the shared library
// and the return of a `Context` through memory, so `PeerHandle::context()`
// and the settling of a context run these inline, as the first step of the
// library's admission and settle engines (src/set_core.h), and call into
// the library only when the breaker is anything but plainly closed (open,
// half-open, a failure run to reset, the slow-call rule on), when the set
// has listeners or evicts peers, or when an exception is escaping.
//
// What the inline code reads are the named types below, never an offset
// into a library-private struct. They live in an ABI-versioned inline
// namespace: a change to any of them renames the namespace, so code built
// against other headers fails to link (`tl_record` and the functions below
// carry the name) instead of reading the wrong bytes.
//
// The thread record is reached through initial-exec TLS: one %fs-relative
// load, where the default model calls __tls_get_addr on every access. A
// library loaded with dlopen() gets such TLS from glibc's static TLS
// surplus, so libcircuit keeps its own TLS to a few words
// (tests/dlopen checks that a plugin using it loads and runs).

#ifndef CIRCUIT_INTERNAL_HOT_PATH_H_
#define CIRCUIT_INTERNAL_HOT_PATH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "absl/status/status.h"

#include "circuit/state.h"

namespace circuit::internal {
inline namespace abi_v1 {

// ---------------------------------------------------------------------------
// The breaker's state word: state, half-open probes in flight, generation.

namespace word {
inline constexpr std::uint64_t kStateMask = 0x7;
inline constexpr int kProbeShift = 3;
inline constexpr std::uint64_t kProbeMask = 0xFFFFull << kProbeShift;
inline constexpr int kGenShift = 19;

inline State StateOf(std::uint64_t w) {
  return static_cast<State>(w & kStateMask);
}
inline std::uint32_t ProbesOf(std::uint64_t w) {
  return static_cast<std::uint32_t>((w & kProbeMask) >> kProbeShift);
}
inline std::uint64_t GenerationOf(std::uint64_t w) { return w >> kGenShift; }
inline std::uint64_t Make(State s, std::uint32_t probes, std::uint64_t gen) {
  return static_cast<std::uint64_t>(s) |
         (static_cast<std::uint64_t>(probes) << kProbeShift) |
         (gen << kGenShift);
}
// A state value that no public State has: the breaker was dropped from its
// set (src/breaker.h, Breaker::Retire). Neither closed nor disabled, and
// stored with a new generation, so the closed paths below turn every call
// that still holds the breaker to the general path.
inline constexpr std::uint64_t kRetired = 7;
}  // namespace word

// A context's start time when its call was not timed (the slow-call rule was
// off when it was admitted): such a call is never slow. Not 0, which a clock
// may read.
inline constexpr std::int64_t kUntimed = INT64_MIN;

// What a call's outcome counts as; one type for contexts, the set and the
// breaker.
enum class Outcome : std::uint8_t { kSuccess, kFailure, kIgnored };

// BreakerHot
//
// The leading fields of every breaker (the base of src/breaker.h's
// Breaker): all that a closed-state call reads and writes.
struct BreakerHot {
  // Bits of `fast_`: what the closed path must know of the policy.
  static constexpr std::uint8_t kTimesCalls = 1;  // calls are timed
  static constexpr std::uint8_t kRateRules = 2;   // failure/slow-call rate
  static constexpr std::uint8_t kBulkhead = 4;    // max_concurrent_calls on

  // The bulkhead's limit in the fast word when it does not fit there (then
  // it is read from the policy).
  static constexpr std::uint32_t kLimitElsewhere = 0xFFFFFF;

  // The fast word: the fast bits (bits 0-7) and the bulkhead's limit (bits
  // 8-31; kLimitElsewhere when it does not fit).
  static constexpr std::uint32_t FastWord(std::uint8_t fast,
                                          std::int32_t limit) noexcept {
    const auto l = static_cast<std::uint32_t>(limit);
    return fast | ((l < kLimitElsewhere ? l : kLimitElsewhere) << 8);
  }

  BreakerHot(std::uint64_t word, std::uint32_t count_id,
             std::uint32_t fast_word) noexcept
      : word_(word),
        count_id_(count_id),
        run_fast_(static_cast<std::uint64_t>(fast_word) << 32) {}

  // The failure run (consecutive failures while closed).
  std::int32_t consecutive() const noexcept {
    return static_cast<std::int32_t>(
        run_fast_.load(std::memory_order_relaxed) & 0xFFFFFFFFu);
  }
  // The policy's fast bits (kTimesCalls, kRateRules, kBulkhead).
  std::uint8_t fast() const noexcept {
    return static_cast<std::uint8_t>(
        run_fast_.load(std::memory_order_relaxed) >> 32);
  }
  // The bulkhead's limit (kLimitElsewhere: see the policy).
  std::uint32_t slot_limit() const noexcept {
    return static_cast<std::uint32_t>(
        run_fast_.load(std::memory_order_relaxed) >> 40);
  }
  // Setters; REQUIRES: the breaker's lock (the only writers hold it).
  void set_consecutive(std::int32_t run) noexcept {
    std::uint64_t v = run_fast_.load(std::memory_order_relaxed);
    run_fast_.store((v & ~std::uint64_t{0xFFFFFFFFu}) |
                        static_cast<std::uint32_t>(run),
                    std::memory_order_relaxed);
  }
  void set_fast(std::uint32_t fast_word) noexcept {
    std::uint64_t v = run_fast_.load(std::memory_order_relaxed);
    run_fast_.store(
        (v & 0xFFFFFFFFu) | (static_cast<std::uint64_t>(fast_word) << 32),
        std::memory_order_release);
  }

  // BreakerHot::AdmitsClosed()
  //
  // The closed-state admission: when the breaker is closed or disabled, the
  // call need not be timed and there is no bulkhead slot to take, sets
  // `*generation` and returns true (one acquire load of the word).
  // Otherwise returns false having done nothing.
  bool AdmitsClosed(std::uint64_t* generation) const noexcept {
    // The fast bits tested in place (no shift): one test on the hot path.
    constexpr std::uint64_t kTimedOrBulkhead =
        std::uint64_t{kTimesCalls | kBulkhead} << 32;
    std::uint64_t w = word_.load(std::memory_order_acquire);
    State s = word::StateOf(w);
    if ((s != State::kClosed && s != State::kDisabled) ||
        (run_fast_.load(std::memory_order_relaxed) & kTimedOrBulkhead) != 0) {
      return false;
    }
    *generation = word::GenerationOf(w);
    return true;
  }

  // BreakerHot::IsPlainSuccess()
  //
  // Whether a success admitted under `generation` has nothing to do but be
  // counted: closed or disabled, not late, no failure run to reset, no
  // timing or rate rule. A probe never is: it was admitted half-open, and
  // every transition out of half-open starts a new generation. Nor is a call
  // whose breaker was retired since (a new generation too).
  bool IsPlainSuccess(std::uint64_t generation) const noexcept {
    if (run_fast_.load(std::memory_order_relaxed) != 0) return false;
    std::uint64_t w = word_.load(std::memory_order_acquire);
    if (word::GenerationOf(w) != generation) return false;  // late
    State s = word::StateOf(w);
    return s == State::kClosed || s == State::kDisabled;
  }

  std::atomic<std::uint64_t> word_;
  std::uint32_t count_id_;  // counter id: see src/counters.h
  // Bulkhead slots taken (max_concurrent_calls); in the hot line, with the
  // limit, so that a bulkhead costs a closed call no further line.
  std::atomic<std::int32_t> in_flight_{0};
  // The failure run (low 32 bits) and the fast word (bits 32-63): one load
  // tells a closed-state success that it has nothing to reset or record.
  std::atomic<std::uint64_t> run_fast_;
};

// A bit of Ticket::generation: the call holds a bulkhead slot. No breaker
// generation has it (they fit in 45 bits), so the inline settle
// (BreakerHot::IsPlainSuccess) never takes such a ticket, and the general
// one gives the slot back, whatever the breaker's policy is by then.
inline constexpr std::uint64_t kHoldsSlot = std::uint64_t{1} << 63;

// Ticket
//
// An admitted call: what its settle needs.
struct Ticket {
  BreakerHot* breaker = nullptr;  // null: no call (settled or moved from)
  std::uint64_t generation = 0;   // the breaker's state when admitted, and
                                  // kHoldsSlot
  std::int64_t start_ns = kUntimed;  // only read by the slow-call rule
  std::uint32_t pin = 0;          // the reclamation epoch this call pins
  bool probe = false;             // holds a half-open probe slot
};

// CoreHot
//
// What a context and a handle know of their set (the first base of
// src/set_core.h's SetCore): whether calls must take the general path, and
// the out-of-line half of the settle engine.
class CoreHot {
 public:
  static constexpr std::uint8_t kEvicting = 1;   // max_peers or idle_timeout
  static constexpr std::uint8_t kListening = 2;  // a listener was added

  // CoreHot::Settle()
  //
  // Records `outcome` of the call `ticket` admitted and releases its pin.
  virtual void Settle(const Ticket& ticket, Outcome outcome) noexcept = 0;

  // What an exception, and a status, count as in this set.
  virtual Outcome Classify(const std::exception_ptr& e) const noexcept = 0;
  virtual Outcome OutcomeOf(const absl::Status& status) const noexcept = 0;

  // Bits above; any of them sends every call down the general path.
  std::atomic<std::uint8_t> general{0};

 protected:
  ~CoreHot() = default;
};

// The peer id of the breaker `b` (defined by the peer table).
std::string_view PeerOf(const BreakerHot* b) noexcept;

// ---------------------------------------------------------------------------
// The calling thread's epoch record (src/epoch.h) and success counts
// (src/counters.h).

// libstdc++'s per-thread exception globals, whose layout the Itanium C++
// ABI fixes: {caughtExceptions, uncaughtExceptions}.
struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

struct ThreadHot {
  // Pins and unpins per epoch parity; written only by the owning thread.
  std::atomic<std::uint64_t> pins[2] = {0, 0};
  std::atomic<std::uint64_t> unpins[2] = {0, 0};
  // The owner's view of its success counts, indexed by a breaker's
  // count_id_ (written only by the owner).
  std::atomic<std::uint64_t>* counts_data = nullptr;
  std::uint32_t counts_size = 0;
  // The owner's exception globals (see UncaughtExceptions).
  const EhGlobals* eh = nullptr;
};

namespace epoch_detail {
// The epoch (its parity is what a pin records) and, in bit 63, whether
// membarrier(2) is registered: readers then need only a compiler barrier
// (see src/epoch.h). One word, so that a pin reads both with one load.
extern std::atomic<std::uint64_t> g_epoch;
inline constexpr std::uint64_t kMembarrierBit = std::uint64_t{1} << 63;
// initial-exec: one %fs-relative load, no __tls_get_addr call.
extern __thread ThreadHot* tl_record __attribute__((tls_model("initial-exec")));
ThreadHot* RegisterThread() noexcept;
}  // namespace epoch_detail

inline ThreadHot* ThisThread() noexcept {
  ThreadHot* r = epoch_detail::tl_record;
  if (r == nullptr) [[unlikely]] r = epoch_detail::RegisterThread();
  return r;
}

// Whether ThreadSanitizer instruments this code: it cannot see the
// membarrier(2) handshake, so pins then use read-modify-writes it does see.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
inline constexpr bool kThreadSanitizer = __has_feature(thread_sanitizer);
#else
inline constexpr bool kThreadSanitizer = false;
#endif

// Pins the current epoch for the calling thread, whose record is `r`
// (src/epoch.h); returns the token EpochUnpin takes.
inline std::uint32_t EpochPin(ThreadHot* r) noexcept {
  const std::uint64_t epoch =
      epoch_detail::g_epoch.load(std::memory_order_acquire);
  auto parity = static_cast<std::uint32_t>(epoch & 1);
  if constexpr (kThreadSanitizer) {
    r->pins[parity].fetch_add(1, std::memory_order_seq_cst);
    return parity;
  }
  // Only this thread writes its record: a load and a store, no RMW.
  r->pins[parity].store(r->pins[parity].load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  // The reader-side half of the pin/unlink handshake.
  if ((epoch & epoch_detail::kMembarrierBit) != 0) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  return parity;
}

inline std::uint32_t EpochPin() noexcept { return EpochPin(ThisThread()); }

// std::uncaught_exceptions() without its cost. libstdc++ implements it as a
// call to __cxa_get_globals(), which reaches its thread-local block through
// __tls_get_addr: about 6 ns, and a context needs it twice (at birth and
// when it settles). The block's address is stable for the thread's life, so
// the thread's record keeps it.
#if defined(__GLIBCXX__) && defined(__GXX_ABI_VERSION)
inline int UncaughtExceptions(const ThreadHot* r) noexcept {
  return static_cast<int>(r->eh->uncaught_exceptions);
}
#else
inline int UncaughtExceptions(const ThreadHot*) noexcept {
  return std::uncaught_exceptions();
}
#endif

inline int UncaughtExceptions() noexcept {
  return UncaughtExceptions(ThisThread());
}

// Releases a pin; may run on any thread.
inline void EpochUnpin(ThreadHot* r, std::uint32_t token) noexcept {
  // Release: everything done to the pinned objects happens before the
  // reclaimer, which loads this with acquire, frees them.
  r->unpins[token].store(r->unpins[token].load(std::memory_order_relaxed) + 1,
                         std::memory_order_release);
}

inline void EpochUnpin(std::uint32_t token) noexcept {
  EpochUnpin(ThisThread(), token);
}

// Counts a success of `b` in this thread's array `r` (out of line when the
// array must grow; see src/counters.h).
void CountSuccessSlow(BreakerHot* b) noexcept;

// Adds one to `data[id]` when `id < size` (an owner-only array: a plain
// load and store); false when the array must grow first.
inline bool CountOwned(std::atomic<std::uint64_t>* data, std::uint32_t size,
                       std::uint32_t id) noexcept {
  if (id >= size) [[unlikely]] return false;
  data[id].store(data[id].load(std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);
  return true;
}

inline void CountSuccess(ThreadHot* r, BreakerHot* b) noexcept {
  if (!CountOwned(r->counts_data, r->counts_size, b->count_id_)) {
    CountSuccessSlow(b);
  }
}

// ---------------------------------------------------------------------------
// The first steps of the admission and settle engines (src/set_core.h).

// Whether `b` admits a call without the general path (plainly closed, and
// the set neither evicts nor listens); sets `*generation`. Reads the breaker
// without pinning: the caller keeps it alive (a handle, or a pin).
inline bool AdmitsPlainly(const CoreHot* core, const BreakerHot* b,
                          std::uint64_t* generation) noexcept {
  return core->general.load(std::memory_order_relaxed) == 0 &&
         b->AdmitsClosed(generation);
}

// Records the success of `ticket` and releases its pin when that is all
// there is to do (BreakerHot::IsPlainSuccess, and no listener); otherwise
// returns false having done nothing. `r` is the calling thread's record.
inline bool SettlePlainSuccess(ThreadHot* r, const CoreHot* core,
                               const Ticket& ticket) noexcept {
  // Read the ticket before the stores below, which the compiler cannot move
  // it across.
  BreakerHot* const b = ticket.breaker;
  const std::uint32_t pin = ticket.pin;
  if ((core->general.load(std::memory_order_relaxed) & CoreHot::kListening) !=
          0 ||
      !b->IsPlainSuccess(ticket.generation)) {
    return false;
  }
  CountSuccess(r, b);
  EpochUnpin(r, pin);
  return true;
}

}  // namespace abi_v1
}  // namespace circuit::internal

#endif  // CIRCUIT_INTERNAL_HOT_PATH_H_
