// Per-site counters, kept per thread so the allocation hot path makes no atomic read-modify-write
// on a shared cache line: each thread owns a block (one slot per site id, memory from mmap, pages
// backed as its sites appear) that only it writes, with plain relaxed load + store; the sampler sums
// the blocks of all registered threads plus `retired`, where an exiting thread adds its block
// before it unregisters (both under `lock`, which only the sampler and exiting threads take, so
// the sum never counts a thread twice). A thread that finds the registry full, or that has already
// retired (frees during its last TLS destructors), counts into `shared` with atomic adds instead.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "raw.h"

namespace tidemark::native {

struct SiteCounter {
    std::atomic<uint64_t> allocs{0};
    std::atomic<uint64_t> alloc_bytes{0};
    std::atomic<uint64_t> frees{0};
    std::atomic<uint64_t> freed_bytes{0};
};

// Single-writer add: no lock prefix, and the sampler's relaxed loads never see a torn value.
inline void bump(std::atomic<uint64_t>& c, uint64_t v) { c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed); }

class ThreadCounters {
public:
    static constexpr size_t kMaxThreads = 1024;

    bool init(uint32_t sites) {
        sites_ = sites;
        retired_ = new_block();
        shared_ = new_block();
        return retired_ && shared_;
    }

    // A block for the calling thread (nullptr: registry full or out of memory → use shared()).
    SiteCounter* register_thread() {
        SiteCounter* b = new_block();
        if (!b) return nullptr;
        SpinGuard g(lock_);
        for (size_t i = 0; i < kMaxThreads; ++i) {
            if (!blocks_[i]) {
                blocks_[i] = b;
                if (i >= used_) used_ = i + 1;
                return b;
            }
        }
        raw_unmap(b, block_bytes());
        return nullptr;
    }

    // The thread is exiting: its counts move to the retired block; the block is released.
    void retire_thread(SiteCounter* b, uint32_t sites_seen) {
        if (!b) return;
        SpinGuard g(lock_);
        for (uint32_t s = 0; s < sites_seen && s < sites_; ++s) {
            SiteCounter& from = b[s];
            SiteCounter& to = retired_[s];
            bump(to.allocs, from.allocs.load(std::memory_order_relaxed));
            bump(to.alloc_bytes, from.alloc_bytes.load(std::memory_order_relaxed));
            bump(to.frees, from.frees.load(std::memory_order_relaxed));
            bump(to.freed_bytes, from.freed_bytes.load(std::memory_order_relaxed));
        }
        for (size_t i = 0; i < used_; ++i)
            if (blocks_[i] == b) blocks_[i] = nullptr;
        raw_unmap(b, block_bytes());
    }

    SiteCounter* shared() { return shared_; }

    // Sums site s over every block. Call between lock() and unlock().
    void sum(uint32_t s, uint64_t out[4]) const {
        auto add = [&](const SiteCounter& c) {
            out[0] += c.allocs.load(std::memory_order_relaxed);
            out[1] += c.alloc_bytes.load(std::memory_order_relaxed);
            out[2] += c.frees.load(std::memory_order_relaxed);
            out[3] += c.freed_bytes.load(std::memory_order_relaxed);
        };
        out[0] = out[1] = out[2] = out[3] = 0;
        add(retired_[s]);
        add(shared_[s]);
        for (size_t i = 0; i < used_; ++i)
            if (blocks_[i]) add(blocks_[i][s]);
    }
    void lock() { lock_.lock(); }
    void unlock() { lock_.unlock(); }

private:
    size_t block_bytes() const { return sizeof(SiteCounter) * sites_; }
    SiteCounter* new_block() { return static_cast<SiteCounter*>(raw_map(block_bytes())); }

    uint32_t sites_ = 0;
    SpinLock lock_;
    SiteCounter* blocks_[kMaxThreads] = {};
    size_t used_ = 0;
    SiteCounter* retired_ = nullptr;
    SiteCounter* shared_ = nullptr;
};

}  // namespace tidemark::native
