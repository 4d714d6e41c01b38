// The target's table of allocation sites: each distinct stack (a sequence of return addresses) is
// interned once and gets a small site id; the sampler ships a site's frames once (NativeStack) and
// its counters as they change (NativeSites). Lock-free: a new stack claims the next id with one
// fetch_add, writes its frames, then publishes itself in an open-addressed hash of ids with a CAS;
// readers that find a slot compare hash and frames. Two threads interning the same new stack at
// once both claim an id; the loser's id is marked a duplicate (never shipped) and it uses the
// winner's. Fixed capacity, memory from mmap (pages backed as sites appear); when full, intern()
// returns kNoSite and the caller counts the allocation as untracked.
//
// Counters are not here: they live in per-thread blocks (thread_counters.h) so the hot path makes
// no atomic read-modify-write on shared cache lines.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "raw.h"

namespace tidemark::native {

inline constexpr uint32_t kNoSite = 0xFFFFFFFFu;
inline constexpr size_t kMaxDepth = 48;  // frames kept per stack (innermost first)

class SiteTable {
public:
    struct Site {
        uint64_t hash;
        uint32_t depth;
        std::atomic<uint32_t> state;  // 0 being written, 1 published, 2 duplicate (id unused)
        uint64_t frames[kMaxDepth];
    };

    // capacity: max sites (a power of two is not required); the hash has 2× as many slots.
    bool init(uint32_t capacity) {
        capacity_ = capacity;
        slots_n_ = 1;
        while (slots_n_ < 2ull * capacity) slots_n_ <<= 1;
        sites_ = static_cast<Site*>(raw_map(sizeof(Site) * capacity));
        slots_ = static_cast<std::atomic<uint32_t>*>(raw_map(sizeof(std::atomic<uint32_t>) * slots_n_));
        return sites_ && slots_;
    }

    static uint64_t hash_frames(const uint64_t* frames, size_t n) {
        uint64_t h = 0x84222325CBF29CE4ULL ^ n;
        for (size_t i = 0; i < n; ++i) h = mix64(h ^ frames[i]) + i;
        return h | 1;
    }

    // The site id of this stack, interning it when new; kNoSite when the table is full.
    uint32_t intern(const uint64_t* frames, size_t n) {
        if (n > kMaxDepth) n = kMaxDepth;
        const uint64_t h = hash_frames(frames, n);
        uint32_t claimed = kNoSite;
        for (size_t i = h & (slots_n_ - 1), probes = 0; probes < slots_n_; i = (i + 1) & (slots_n_ - 1), ++probes) {
            uint32_t v = slots_[i].load(std::memory_order_acquire);
            if (v == 0) {
                if (claimed == kNoSite) {
                    claimed = count_.fetch_add(1, std::memory_order_relaxed);
                    if (claimed >= capacity_) {
                        count_.store(capacity_, std::memory_order_relaxed);
                        return kNoSite;
                    }
                    Site& s = sites_[claimed];
                    s.hash = h;
                    s.depth = static_cast<uint32_t>(n);
                    std::memcpy(s.frames, frames, n * sizeof(uint64_t));
                    s.state.store(1, std::memory_order_release);
                }
                uint32_t expected = 0;
                if (slots_[i].compare_exchange_strong(expected, claimed + 1, std::memory_order_acq_rel)) return claimed;
                v = expected;  // someone else published here first: compare with theirs
            }
            const Site& s = sites_[v - 1];
            if (s.hash == h && s.depth == n && std::memcmp(s.frames, frames, n * sizeof(uint64_t)) == 0) {
                if (claimed != kNoSite) sites_[claimed].state.store(2, std::memory_order_release);
                return v - 1;
            }
        }
        if (claimed != kNoSite) sites_[claimed].state.store(2, std::memory_order_release);
        return kNoSite;
    }

    // Ids handed out so far (some may be duplicates or still being written: check state).
    uint32_t claimed() const {
        const uint32_t c = count_.load(std::memory_order_acquire);
        return c < capacity_ ? c : capacity_;
    }
    const Site& site(uint32_t id) const { return sites_[id]; }
    uint32_t capacity() const { return capacity_; }

private:
    Site* sites_ = nullptr;
    std::atomic<uint32_t>* slots_ = nullptr;
    uint64_t slots_n_ = 0;
    uint32_t capacity_ = 0;
    std::atomic<uint32_t> count_{0};
};

}  // namespace tidemark::native
