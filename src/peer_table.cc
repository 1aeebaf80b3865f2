// Copyright 2026 The circuit Authors.
// SPDX-License-Identifier: Apache-2.0

#include "peer_table.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <limits>
#include <new>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "arith.h"
#include "epoch.h"
#include "huge_pages.h"

namespace circuit::internal {

namespace peer_hash_detail {
extern const char kSeedAnchor = 0;
}  // namespace peer_hash_detail

namespace {

constexpr std::size_t kInitialCapacity = 16;
// Up to this many slots (512 KiB) a table is kept at most 3/8 full (1/4
// after growing), past it at most 3/4 (1/2): lookups in a sparser table
// probe fewer slots (about 1.2 against 1.6 on average), which sets of up to
// some 24k peers get for at most 512 KiB; a bigger one keeps its 8 to 16
// bytes of slots per peer.
constexpr std::size_t kSparseSlots = std::size_t{1} << 16;

// Min-heap on era.
struct OlderFirst {
  bool operator()(const std::pair<std::uint64_t, Entry*>& a,
                  const std::pair<std::uint64_t, Entry*>& b) const {
    return a.first > b.first;
  }
};

// EntryPool
//
// Entries come from 64 KiB slabs of cache-line-aligned cells, one cell per
// entry: aligned operator new (glibc's memalign) would waste up to a line
// per entry around each one. Freed cells are kept for reuse and slabs are
// never returned, so the pool holds the largest number of entries ever
// live at once. Process-wide (entries retired through the epoch domain may
// outlive their set); its mutex is a leaf lock.
class EntryPool {
 public:
  static EntryPool& Get() {
    static EntryPool* pool = new EntryPool;  // never destroyed, as the epoch domain
    return *pool;
  }

  EntryPool() { Epoch::LockAroundFork(&mu_); }  // a child can make entries

  // May throw std::bad_alloc.
  void* Allocate() {
    MutexLock lock(&mu_);
    if (free_ == nullptr) RefillLocked();
    Cell* c = free_;
    free_ = c->next;
    return c;
  }

  void Free(void* p) noexcept {
    MutexLock lock(&mu_);
    auto* c = static_cast<Cell*>(p);
    c->next = free_;
    free_ = c;
  }

 private:
  struct Cell {
    Cell* next;
  };
  // Slabs of 64 KiB, and once the pool holds kBigAfter of them, of 8 MiB
  // in huge pages (huge_pages.h): a set of a million peers looks its
  // entries up over 200 MB.
  static constexpr std::size_t kSlabBytes = 64 * 1024;
  static constexpr std::size_t kBigSlabBytes = 8 * 1024 * 1024;
  static constexpr std::size_t kBigAfter = 128;

  void RefillLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    slabs_.reserve(slabs_.size() + 1);  // may throw: nothing changed yet
    const std::size_t bytes =
        slabs_.size() < kBigAfter ? kSlabBytes : kBigSlabBytes;
    void* slab = ::operator new(bytes, std::align_val_t{alignof(Entry)});
    AdviseHugePages(slab, bytes);
    slabs_.push_back(slab);
    // Pushed in reverse, so cells are handed out in address order.
    char* base = static_cast<char*>(slab);
    for (std::size_t i = bytes / sizeof(Entry); i-- > 0;) {
      auto* c = reinterpret_cast<Cell*>(base + i * sizeof(Entry));
      c->next = free_;
      free_ = c;
    }
  }

  Mutex mu_;
  Cell* free_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<void*> slabs_ ABSL_GUARDED_BY(mu_);  // keeps them reachable
};


}  // namespace

// ---------------------------------------------------------------------------
// Entry

// The first cache line: hash, key length, inline key, then the breaker's
// hot fields (Breaker::kHotBytes), which the inline hot path reads through
// a BreakerHot pointer. Breaker's BreakerHot base makes Entry formally not
// standard-layout; offsetof still works for a non-virtual base, as GCC and
// Clang both document.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(Entry, breaker) + Breaker::kHotBytes <= 64);

Entry* Entry::Of(BreakerHot* b) noexcept {
  return reinterpret_cast<Entry*>(
      reinterpret_cast<char*>(static_cast<Breaker*>(b)) -
      offsetof(Entry, breaker));
}
#pragma GCC diagnostic pop

// Declared in circuit/internal/hot_path.h, in its ABI namespace.
inline namespace abi_v1 {
std::string_view PeerOf(const BreakerHot* b) noexcept {
  return Entry::Of(const_cast<BreakerHot*>(b))->key();
}
}  // namespace abi_v1

Entry::Entry(std::string_view key, std::uint64_t key_hash, const Policy* policy)
    : hash(key_hash), key_len(static_cast<std::uint32_t>(key.size())),
      breaker(policy, StableHash(key)), era(0) {
  if (key.size() <= kInlineKey) {
    std::memcpy(key_bytes, key.data(), key.size());
  } else {
    char* heap = new char[key.size()];
    std::memcpy(heap, key.data(), key.size());
    std::memcpy(key_bytes, &heap, sizeof heap);
  }
}

Entry::~Entry() {
  if (key_len > kInlineKey) delete[] heap_key();
}

Entry* Entry::Create(std::string_view key, std::uint64_t hash,
                     const Policy* policy) {
  EntryPool& pool = EntryPool::Get();
  void* cell = pool.Allocate();
  Entry* e;
  try {
    e = new (cell) Entry(key, hash, policy);
  } catch (...) {
    pool.Free(cell);
    throw;
  }
  try {
    e->breaker.SizeHistory();  // not yet in the table: no lock
  } catch (...) {
    Destroy(e);
    throw;
  }
  return e;
}

void Entry::Destroy(void* entry) noexcept {
  static_cast<Entry*>(entry)->~Entry();
  EntryPool::Get().Free(entry);
}

// ---------------------------------------------------------------------------
// PeerTable

PeerTable::Table::Table(std::size_t slots_wanted)
    : capacity(slots_wanted),
      slots(new std::atomic<std::uintptr_t>[slots_wanted]) {
  AdviseHugePages(slots.get(), capacity * sizeof(slots[0]));
  for (std::size_t i = 0; i < capacity; ++i) {
    slots[i].store(0, std::memory_order_relaxed);
  }
}

PeerTable::PeerTable() : table_(new Table(kInitialCapacity)) {}

PeerTable::~PeerTable() {
  Table* t = table_.load(std::memory_order_acquire);
  std::vector<Entry*> entries;
  for (std::size_t i = 0; i < t->capacity; ++i) {
    std::uintptr_t v = t->slots[i].load(std::memory_order_relaxed);
    if (v == 0 || v == kTombstone) continue;
    try {
      entries.push_back(Untag(v));
    } catch (const std::bad_alloc&) {
      Entry::Destroy(Untag(v));  // no memory to sort: freed as found
    }
  }
  delete t;
  // Freed from the highest address down: the pool hands cells (and the
  // counter ids their breakers release) out last-freed first, so the next
  // set gets them in address order, as from a fresh slab, and not in this
  // table's hash order. A set walked in the order its peers came then reads
  // its entries one after the other, which the hardware prefetches.
  std::sort(entries.begin(), entries.end(), std::greater<>());
  for (Entry* e : entries) Entry::Destroy(e);
}

void PeerTable::DeleteTable(void* t) noexcept { delete static_cast<Table*>(t); }

Entry* PeerTable::Insert(std::string_view key, std::uint64_t hash,
                         const Policy* policy, bool* created) {
  MutexLock lock(&mu_);
  return InsertLocked(key, hash, policy, created);
}

Entry* PeerTable::AcquireHandle(std::string_view key, std::uint64_t hash,
                                const Policy* policy, bool* created) {
  MutexLock lock(&mu_);
  bool made = false;
  Entry* e = InsertLocked(key, hash, policy, &made);
  if (created != nullptr) *created = made;
  e->handles.fetch_add(1, std::memory_order_relaxed);
  return e;
}

Entry* PeerTable::InsertLocked(std::string_view key, std::uint64_t hash,
                               const Policy* policy, bool* created) {
  *created = false;
  if (Entry* e = Find(key, hash)) return e;
  // Keep the load (live + tombstones) at most 3/4 so probes always end, and
  // at most 3/8 while the slots fit in kSparseSlots (see there).
  Table* t = table_.load(std::memory_order_relaxed);
  const std::size_t max_eighths = t->capacity <= kSparseSlots ? 3 : 6;
  if ((used_ + 1) * 8 > t->capacity * max_eighths) {
    GrowLocked();
    t = table_.load(std::memory_order_relaxed);
  }
  Entry* e = Entry::Create(key, hash, policy);
  if ((reinterpret_cast<std::uintptr_t>(e) & ~kPointerMask) != 0) {
    // Cannot happen with 48-bit user address spaces (x86-64, AArch64 Linux).
    Entry::Destroy(e);
    throw std::bad_alloc();
  }
  // The first free slot of the probe chain, a tombstone included: the key
  // is not in the table (Find above), so no later slot of the chain can
  // hold it, and reusing tombstones keeps a churning table from filling up
  // with them (each rehash touches every entry).
  std::size_t i = t->Home(hash);
  std::uintptr_t free_slot;
  while ((free_slot = t->slots[i].load(std::memory_order_relaxed)) != 0 &&
         free_slot != kTombstone) {
    i = t->Next(i);
  }
  if (evicting_) {
    std::uint64_t era = era_.fetch_add(1, std::memory_order_relaxed) + 1;
    e->era.store(era, std::memory_order_relaxed);
    try {
      ReserveQueueLocked();
    } catch (...) {
      Entry::Destroy(e);
      throw;
    }
    QueueLocked(e, era);
  }
  t->slots[i].store(Tagged(e, hash), std::memory_order_release);  // publishes
  if (free_slot == 0) ++used_;  // a reused tombstone was counted already
  size_.fetch_add(1, std::memory_order_relaxed);
  *created = true;
  return e;
}

void PeerTable::GrowLocked() {
  Table* old = table_.load(std::memory_order_relaxed);
  std::size_t live = size_.load(std::memory_order_relaxed);
  // Load 1/4 after (sparse) or 1/2, so the next growth is as many inserts
  // away as there are entries. A table too big to stay sparse is made
  // bigger than kSparseSlots, so that the 3/4 bound is the one it keeps.
  const std::size_t sparse = (live + 1) * 4;
  auto* fresh = new Table(
      sparse <= kSparseSlots
          ? std::max(kInitialCapacity, sparse)
          : std::max(kSparseSlots + 1, (live + 1) * 2));
  // Each move reads its entry's hash, a miss per entry in a big table: the
  // entries some slots ahead are fetched meanwhile, so the misses overlap.
  constexpr std::size_t kAhead = 8;
  for (std::size_t i = 0; i < old->capacity; ++i) {
    if (i + kAhead < old->capacity) {
      std::uintptr_t ahead =
          old->slots[i + kAhead].load(std::memory_order_relaxed);
      if (ahead > kTombstone) __builtin_prefetch(Untag(ahead));
    }
    std::uintptr_t v = old->slots[i].load(std::memory_order_relaxed);
    if (v == 0 || v == kTombstone) continue;
    std::size_t j = fresh->Home(Untag(v)->hash);
    while (fresh->slots[j].load(std::memory_order_relaxed) != 0) {
      j = fresh->Next(j);
    }
    fresh->slots[j].store(v, std::memory_order_relaxed);
  }
  used_ = live;
  table_.store(fresh, std::memory_order_release);
  Epoch::Retire(old, &DeleteTable);  // readers may still probe it
  // Old tables add up to as much as the new one: free them without waiting
  // for the domain's batch (growth is rare, so the barrier is cheap here).
  Epoch::TryReclaim();
}

bool PeerTable::RetireLocked(Entry* e) {
  // Acquire: the last holder's release of its handle happens before the
  // entry is retired, hence before its memory is freed and reused. No handle
  // can appear meanwhile: new ones are counted under this mutex, and copies
  // only while one exists.
  return e->handles.load(std::memory_order_acquire) == 0 &&
         e->breaker.Retire();
}

void PeerTable::UnlinkLocked(Entry* e) {
  Table* t = table_.load(std::memory_order_relaxed);
  for (std::size_t i = t->Home(e->hash);; i = t->Next(i)) {
    std::uintptr_t x = t->slots[i].load(std::memory_order_relaxed);
    if (x == 0) return;  // not in the table (cannot happen)
    if (x != kTombstone && Untag(x) == e) {
      if (t->slots[t->Next(i)].load(std::memory_order_relaxed) != 0) {
        // A tombstone, not null: later keys of this probe chain stay
        // reachable.
        t->slots[i].store(kTombstone, std::memory_order_release);
        break;
      }
      // No probe chain goes on past an empty slot, so none needs this one,
      // nor the tombstones right before it: empty them all, which puts off
      // the rehash that a table full of tombstones needs.
      for (std::size_t j = i;; j = t->Prev(j)) {
        t->slots[j].store(0, std::memory_order_release);
        --used_;
        if (t->slots[t->Prev(j)].load(std::memory_order_relaxed) !=
            kTombstone) {
          break;
        }
      }
      break;
    }
  }
  e->unlinked = true;
  size_.fetch_sub(1, std::memory_order_relaxed);
  Epoch::Retire(e, &Entry::Destroy);
}

void PeerTable::ReserveQueueLocked() {
  const std::size_t cells = fifo_.size();
  if (QueuedLocked() + 1 <= cells) return;
  std::vector<std::pair<std::uint64_t, Entry*>> ring(std::max<std::size_t>(
      kInitialCapacity, 2 * (QueuedLocked() + 1)));
  for (std::size_t i = 0; i < fifo_count_; ++i) {
    ring[i] = fifo_[(fifo_head_ + i) % cells];
  }
  fifo_.swap(ring);
  fifo_head_ = 0;
}

void PeerTable::QueueLocked(Entry* e, std::uint64_t era) noexcept {
  e->queued_era = era;
  const std::size_t cells = fifo_.size();
  if (fifo_count_ != 0) {
    const std::uint64_t back = fifo_[(fifo_head_ + fifo_count_ - 1) % cells].first;
    if (era < back) {
      try {
        older_.emplace_back(era, e);
        std::push_heap(older_.begin(), older_.end(), OlderFirst{});
        return;
      } catch (const std::bad_alloc&) {
        era = back;  // no memory for the heap: queued a little late
        e->queued_era = era;
      }
    }
  }
  fifo_[(fifo_head_ + fifo_count_) % cells] = {era, e};
  ++fifo_count_;
}

std::uint64_t PeerTable::OldestEraLocked() const {
  std::uint64_t oldest = std::numeric_limits<std::uint64_t>::max();
  if (fifo_count_ != 0) oldest = fifo_[fifo_head_].first;
  if (!older_.empty()) oldest = std::min(oldest, older_.front().first);
  return oldest;
}

bool PeerTable::PopOldestLocked(std::uint64_t* era, Entry** e) {
  if (!older_.empty() &&
      (fifo_count_ == 0 || older_.front().first < fifo_[fifo_head_].first)) {
    std::pop_heap(older_.begin(), older_.end(), OlderFirst{});
    *era = older_.back().first;
    *e = older_.back().second;
    older_.pop_back();
    return true;
  }
  if (fifo_count_ == 0) return false;
  *era = fifo_[fifo_head_].first;
  *e = fifo_[fifo_head_].second;
  fifo_head_ = fifo_head_ + 1 == fifo_.size() ? 0 : fifo_head_ + 1;
  --fifo_count_;
  return true;
}

std::size_t PeerTable::EvictOverCap(std::size_t cap, const Entry* keep) {
  MutexLock lock(&mu_);
  std::size_t dropped = 0;
  // Each entry is looked at a bounded number of times per call, so a table
  // full of open peers cannot spin here.
  std::size_t budget = 2 * QueuedLocked() + 1;
  std::uint64_t now_era = era_.load(std::memory_order_relaxed);
  while (size_.load(std::memory_order_relaxed) > cap && budget-- > 0) {
    std::uint64_t era;
    Entry* e;
    if (!PopOldestLocked(&era, &e)) break;
    std::uint64_t stamp = e->era.load(std::memory_order_relaxed);
    if (stamp > era) {
      QueueLocked(e, stamp);  // used since it was queued
    } else if (e != keep && RetireLocked(e)) {
      UnlinkLocked(e);
      ++dropped;
    } else {
      QueueLocked(e, now_era);  // busy (open, handled): look again later
    }
  }
  return dropped;
}

std::size_t PeerTable::SweepIdle(std::int64_t now_ns, std::int64_t idle_ns) {
  MutexLock lock(&mu_);
  // A checkpoint: entries stamped before this era were last used before now.
  if (checkpoints_.empty() ||
      SatSub(now_ns, checkpoints_.back().second) >=
          std::max<std::int64_t>(1, idle_ns / 8)) {
    std::uint64_t era = era_.fetch_add(1, std::memory_order_relaxed) + 1;
    checkpoints_.emplace_back(era, now_ns);
  }
  // The newest checkpoint at least idle_ns old gives the cut-off era.
  std::uint64_t cut = 0;
  const std::int64_t cutoff = SatSub(now_ns, idle_ns);
  while (!checkpoints_.empty() && checkpoints_.front().second <= cutoff) {
    cut = checkpoints_.front().first;
    if (checkpoints_.size() >= 2 && checkpoints_[1].second <= cutoff) {
      checkpoints_.pop_front();
      continue;
    }
    break;
  }
  if (cut == 0) return 0;
  std::size_t dropped = 0;
  std::size_t budget = 2 * QueuedLocked() + 1;
  std::uint64_t now_era = era_.load(std::memory_order_relaxed);
  while (OldestEraLocked() < cut && budget-- > 0) {
    std::uint64_t era;
    Entry* e;
    PopOldestLocked(&era, &e);
    std::uint64_t stamp = e->era.load(std::memory_order_relaxed);
    if (stamp > era) {
      QueueLocked(e, stamp);
    } else if (RetireLocked(e)) {
      UnlinkLocked(e);
      ++dropped;
    } else {
      QueueLocked(e, now_era);
    }
  }
  return dropped;
}

}  // namespace circuit::internal
