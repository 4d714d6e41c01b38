// Primitives the native tracker builds on without touching the allocator it instruments: memory
// straight from the kernel (mmap by syscall, so our own arenas are neither counted by the mmap
// hook nor served by malloc) and a test-and-set spinlock for short critical sections (never held
// across I/O or while unwinding). Header-only and std + Linux only, so unit tests include it too.
#pragma once

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <sched.h>

namespace tidemark::native {

// Zeroed pages from the kernel, or nullptr. Pages are only backed once touched.
inline void* raw_map(size_t bytes) {
    const long r = ::syscall(SYS_mmap, nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == -1) return nullptr;
    return reinterpret_cast<void*>(r);
}
inline void raw_unmap(void* p, size_t bytes) {
    if (p) ::syscall(SYS_munmap, p, bytes);
}

class SpinLock {
public:
    void lock() {
        for (unsigned spins = 0; flag_.exchange(1, std::memory_order_acquire) != 0;) {
            while (flag_.load(std::memory_order_relaxed) != 0) {
                if (++spins < 256) __builtin_ia32_pause();
                else sched_yield();
            }
        }
    }
    bool try_lock() { return flag_.exchange(1, std::memory_order_acquire) == 0; }
    void unlock() { flag_.store(0, std::memory_order_release); }
private:
    std::atomic<uint8_t> flag_{0};
};

class SpinGuard {
public:
    explicit SpinGuard(SpinLock& l) : l_(l) { l_.lock(); }
    ~SpinGuard() { l_.unlock(); }
    SpinGuard(const SpinGuard&) = delete;
    SpinGuard& operator=(const SpinGuard&) = delete;
private:
    SpinLock& l_;
};

inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

}  // namespace tidemark::native
