// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0
//
// The keyed table of breakers.
//
// Lookups take no lock and write nothing shared: an open-addressing table of
// atomic entry pointers, probed linearly, with the full hash kept in each
// entry next to its key and state word (one cache line for a short key).
// Inserts, evictions and resizes serialise on one mutex; a replaced table
// and an unlinked entry are handed to the epoch domain (epoch.h), so a
// reader that pinned before they were unlinked can still use them. Entry
// addresses are stable for as long as a reader is pinned.
//
// Eviction keeps the table under `max_peers` (least recently used first) and
// drops closed peers idle for longer than the idle timeout. An entry goes
// only if no handle holds it and its breaker is closed, and it retires the
// breaker (Breaker::Retire) before unlinking it, under the table mutex: a
// call still holding the entry then records its outcome on the peer's live
// entry, and a lookup under the mutex never finds a retired entry. Recency is kept
// without writes on the hot path: an admission stamps its entry with the
// table's current "era" only when the stamp differs, and the era moves only
// when a peer is inserted or a sweep runs. A queue orders entries by the
// era they were queued with; a popped entry whose stamp is newer is
// requeued, so the first evictable entry found is the least recently used.
// The queue is a FIFO of entries queued with the current era (new peers,
// busy ones looked at again), which arrive in era order, and a min-heap of
// the rest (requeued with an older stamp): popping takes the older of the
// two fronts, so admitting a new peer under max_peers walks no heap unless
// older peers were used since they were queued.

#ifndef CIRCUIT_SRC_PEER_TABLE_H_
#define CIRCUIT_SRC_PEER_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "breaker.h"
#include "messages.h"
#include "peer_hash.h"
#include "sync.h"

namespace circuit::internal {

// Entry
//
// One tracked peer: three cache lines, aligned. The first holds all that a
// lookup and a closed-state call touch: the hash, the key (when it fits
// inline) and the breaker's hot fields (state word, counter id, failure run
// and fast policy bits; BreakerHot in circuit/internal/hot_path.h). The
// second holds what a rejection reads (open deadline, rejection status).
struct alignas(64) Entry {
  static constexpr std::uint32_t kInlineKey = 28;

  std::uint64_t hash;
  std::uint32_t key_len;
  // The key when it fits, else a pointer to it on the heap (read and
  // written with memcpy, so the array keeps 4-byte alignment and the
  // breaker starts at offset 40).
  char key_bytes[kInlineKey];
  Breaker breaker;  // at offset 40: its first 24 bytes end the first line

  std::atomic<std::uint64_t> era;  // recency stamp; see the file comment
  // PeerHandles. Raised under the table mutex, or by a holder copying its
  // handle; lowered by a holder with release, which eviction's acquire load
  // pairs with (the entry's memory is reused after eviction).
  std::atomic<std::uint32_t> handles{0};
  bool unlinked = false;                     // table mutex
  std::uint64_t queued_era = 0;              // table mutex

  // Entry::Matches()
  //
  // Whether this is the entry of `k`, whose hash is `h`. Inline keys are
  // compared in overlapping 8-byte words rather than through memcmp: a
  // lookup by peer id pays this on every call.
  template <bool kShort = false>
  bool Matches(std::string_view k, std::uint64_t h) const noexcept {
    if (hash != h || key_len != k.size()) return false;
    if (!kShort && key_len > kInlineKey) [[unlikely]] {
      return std::memcmp(heap_key(), k.data(), key_len) == 0;
    }
    return ShortEquals(key_bytes, k.data(), key_len);
  }

  std::string_view key() const noexcept {
    if (key_len <= kInlineKey) [[likely]] return {key_bytes, key_len};
    return {heap_key(), key_len};
  }
  char* heap_key() const noexcept {
    char* p;
    std::memcpy(&p, key_bytes, sizeof p);
    return p;
  }

  // Whether the `n` bytes at `a` and `b` are equal, for 0 < n <= 32.
  static bool ShortEquals(const char* a, const char* b, std::size_t n) noexcept {
    auto load8 = [](const char* p) {
      std::uint64_t v;
      std::memcpy(&v, p, 8);
      return v;
    };
    auto load4 = [](const char* p) {
      std::uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    };
    if (n >= 8) {
      // The first and last 8 bytes (overlapping below 16), and up to 32 the
      // 8 after the first and before the last: no loop.
      std::uint64_t diff =
          (load8(a) ^ load8(b)) | (load8(a + n - 8) ^ load8(b + n - 8));
      if (n > 16) {
        diff |= (load8(a + 8) ^ load8(b + 8)) |
                (load8(a + n - 16) ^ load8(b + n - 16));
      }
      return diff == 0;
    }
    if (n >= 4) {
      return ((load4(a) ^ load4(b)) | (load4(a + n - 4) ^ load4(b + n - 4))) ==
             0;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] &&
                      a[n - 1] == b[n - 1]);
  }

  // The status rejections of this peer return, built once.
  const absl::Status& RejectionStatus() {
    if (const absl::Status* kept = breaker.rejection_status()) [[likely]] {
      return *kept;
    }
    return breaker.KeepRejectionStatus(
        absl::UnavailableError(OpenCircuitMessage(key())));
  }

  // Entry::Create()
  //
  // May throw std::bad_alloc.
  // Entry::Of()
  //
  // The entry whose breaker's hot fields are `b` (contexts and handles hold
  // only those).
  static Entry* Of(BreakerHot* b) noexcept;

  static Entry* Create(std::string_view key, std::uint64_t hash,
                       const Policy* policy);
  static void Destroy(void* entry) noexcept;

 private:
  Entry(std::string_view key, std::uint64_t key_hash, const Policy* policy);
  ~Entry();
};

class PeerTable {
 public:
  PeerTable();
  ~PeerTable();  // frees every entry: no reader may remain
  PeerTable(const PeerTable&) = delete;
  PeerTable& operator=(const PeerTable&) = delete;

  static std::uint64_t Hash(std::string_view key) noexcept;

  // PeerTable::Find()
  //
  // The entry for `key`, or null. Lock-free. REQUIRES: the caller is pinned.
  ABSL_ATTRIBUTE_ALWAYS_INLINE Entry* Find(std::string_view key,
                                           std::uint64_t hash) const noexcept {
    return Lookup<false>(key, hash);
  }
  // As Find for a key of at most Entry::kInlineKey bytes (REQUIRED): its
  // entry keeps it inline, so the comparison never leaves the entry's first
  // line and the lookup calls nothing.
  ABSL_ATTRIBUTE_ALWAYS_INLINE Entry* FindShort(
      std::string_view key, std::uint64_t hash) const noexcept {
    return Lookup<true>(key, hash);
  }

  // PeerTable::Insert()
  //
  // The entry for `key`, inserting a new one with `policy` if there is none
  // (`*created` says which); never a retired one. May throw std::bad_alloc.
  // REQUIRES: pinned.
  Entry* Insert(std::string_view key, std::uint64_t hash, const Policy* policy,
                bool* created);

  // PeerTable::Touch()
  //
  // Marks `e` used now (for LRU / idle eviction); writes only if the era
  // moved since its last use.
  void Touch(Entry* e) const noexcept {
    if (!evicting_) return;  // recency is kept only for eviction
    std::uint64_t era = era_.load(std::memory_order_relaxed);
    if (e->era.load(std::memory_order_relaxed) != era) {
      e->era.store(era, std::memory_order_relaxed);
    }
  }

  // PeerTable::AcquireHandle()
  //
  // Counts a handle on the entry for `key` (inserting it as Insert does,
  // setting `*created` when given), so eviction skips it. REQUIRES: pinned.
  Entry* AcquireHandle(std::string_view key, std::uint64_t hash,
                       const Policy* policy, bool* created = nullptr);

  // PeerTable::EvictOverCap()
  //
  // Drops least recently used evictable entries other than `keep` (the peer
  // being admitted) until at most `cap` remain, or none is evictable.
  // Returns how many it dropped.
  std::size_t EvictOverCap(std::size_t cap, const Entry* keep);

  // PeerTable::SweepIdle()
  //
  // Drops evictable entries unused since before `now_ns - idle_ns`. Returns
  // how many it dropped.
  std::size_t SweepIdle(std::int64_t now_ns, std::int64_t idle_ns);

  std::size_t size() const noexcept {
    return size_.load(std::memory_order_relaxed);
  }

  // Slots taken by entries and tombstones (what decides the next rehash),
  // and slots in all.
  std::size_t SlotsInUse() const {
    MutexLock lock(&mu_);
    return used_;
  }
  std::size_t Capacity() const noexcept {
    return table_.load(std::memory_order_acquire)->capacity;
  }

  // PeerTable::ForEach()
  //
  // Calls `f(Entry*)` for every entry in the current table, but retired ones
  // (being unlinked). REQUIRES: pinned.
  template <class F>
  void ForEach(F&& f) const {
    const Table* t = table_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < t->capacity; ++i) {
      std::uintptr_t v = t->slots[i].load(std::memory_order_acquire);
      if (v == 0 || v == kTombstone) continue;
      Entry* e = Untag(v);
      if (!e->breaker.IsRetired()) f(e);
    }
  }

  // Whether eviction bookkeeping (eras, the heap) is on.
  void EnableEviction() noexcept { evicting_ = true; }

 private:
  // Find and FindShort: kShort when the key is known to be inline.
  template <bool kShort>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Entry* Lookup(std::string_view key,
                                             std::uint64_t hash) const noexcept;

  // A slot holds an entry pointer with a tag from its hash in the top 16
  // bits (user-space pointers use at most 48), so a probe skips other keys
  // without touching their entries. 0 is empty; kTombstone (tag 0) a
  // removed entry, kept so later keys of its probe chain stay reachable.
  // The home slot comes from the hash's high bits (Table::Home), the tag
  // from its low bits, so neighbours in a probe chain have unrelated tags.
  static constexpr std::uintptr_t kTombstone = 1;
  static constexpr int kTagShift = 48;
  static constexpr std::uintptr_t kPointerMask =
      (std::uintptr_t{1} << kTagShift) - 1;
  // Never 0, so a tombstone never matches.
  static std::uintptr_t Tag(std::uint64_t hash) noexcept {
    return static_cast<std::uintptr_t>((hash & 0x7FFF) | 0x8000) << kTagShift;
  }
  static std::uintptr_t Tagged(Entry* e, std::uint64_t hash) noexcept {
    return reinterpret_cast<std::uintptr_t>(e) | Tag(hash);
  }
  static Entry* Untag(std::uintptr_t v) noexcept {
    return reinterpret_cast<Entry*>(v & kPointerMask);
  }

  // Any capacity, not only powers of two, so that growth keeps the load
  // between 1/2 and 3/4 (8 to 16 bytes of slots per peer).
  struct Table {
    explicit Table(std::size_t slots_wanted);
    std::size_t Home(std::uint64_t hash) const noexcept {
      // hash * capacity / 2^64: a multiply instead of a division.
      __extension__ using U128 = unsigned __int128;
      return static_cast<std::size_t>((static_cast<U128>(hash) * capacity) >>
                                      64);
    }
    std::size_t Next(std::size_t i) const noexcept {
      return i + 1 == capacity ? 0 : i + 1;
    }
    std::size_t Prev(std::size_t i) const noexcept {
      return (i == 0 ? capacity : i) - 1;
    }
    std::size_t capacity;
    std::unique_ptr<std::atomic<std::uintptr_t>[]> slots;
  };
  static void DeleteTable(void* t) noexcept;

  Entry* InsertLocked(std::string_view key, std::uint64_t hash,
                      const Policy* policy, bool* created)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void GrowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When `e` may go (no handle, closed), retires its breaker and returns
  // true; otherwise false.
  bool RetireLocked(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnlinkLocked(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes room in the queue for one more entry. May throw std::bad_alloc.
  void ReserveQueueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `e` with `era`. Never allocates but for the heap; should that
  // fail, queues `e` in the FIFO at its back's era instead (a little later
  // than due, never lost). REQUIRES: ReserveQueueLocked since the queue
  // last grew.
  void QueueLocked(Entry* e, std::uint64_t era) noexcept
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Pops the queue's oldest; false when empty.
  bool PopOldestLocked(std::uint64_t* era, Entry** e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The era of the queue's oldest; UINT64_MAX when empty.
  std::uint64_t OldestEraLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::size_t QueuedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return fifo_count_ + older_.size();
  }

  // Read without the lock by Find and Touch.
  std::atomic<Table*> table_;
  std::atomic<std::uint64_t> era_{1};
  std::atomic<std::size_t> size_{0};  // readers: size()
  bool evicting_ = false;             // set before the table is shared

  // Protected by mu_.
  mutable Mutex mu_;
  std::size_t used_ ABSL_GUARDED_BY(mu_) = 0;  // live + tombstones
  // The eviction queue (see the file comment): (era queued with, entry).
  // The FIFO is a ring of `fifo_.size()` cells, `fifo_count_` of them used
  // from `fifo_head_`, in era order; it has a cell for every queued entry,
  // so a requeue never allocates. `older_` is a min-heap.
  std::vector<std::pair<std::uint64_t, Entry*>> fifo_ ABSL_GUARDED_BY(mu_);
  std::size_t fifo_head_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t fifo_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<std::uint64_t, Entry*>> older_ ABSL_GUARDED_BY(mu_);
  // (era, time) at each idle sweep, oldest first.
  std::deque<std::pair<std::uint64_t, std::int64_t>> checkpoints_
      ABSL_GUARDED_BY(mu_);
};

// Inline: on every admission by peer id.
inline std::uint64_t PeerTable::Hash(std::string_view key) noexcept {
  return PeerHash(key);
}

template <bool kShort>
inline Entry* PeerTable::Lookup(std::string_view key,
                                std::uint64_t hash) const noexcept {
  const Table* t = table_.load(std::memory_order_acquire);
  const std::uintptr_t tag = Tag(hash);
  for (std::size_t i = t->Home(hash);; i = t->Next(i)) {
    std::uintptr_t v = t->slots[i].load(std::memory_order_acquire);
    if (v == 0) return nullptr;
    // With the tag's bits cleared by xor: no mask to hold in a register.
    const std::uintptr_t untagged = v ^ tag;
    if ((untagged >> kTagShift) != 0) continue;  // another key, or a tombstone
    Entry* e = reinterpret_cast<Entry*>(untagged);
    if (e->template Matches<kShort>(key, hash)) return e;
  }
}

}  // namespace circuit::internal

#endif  // CIRCUIT_SRC_PEER_TABLE_H_
