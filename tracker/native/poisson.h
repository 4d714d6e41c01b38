// Byte-based Poisson sampling of allocations (as jemalloc and tcmalloc do): sample points fall on
// the stream of allocated bytes as a Poisson process with mean spacing `interval` bytes, so each
// thread counts down an exponentially distributed number of bytes and the allocation that crosses
// zero is sampled. An allocation of s bytes is then sampled with probability p = 1 - exp(-s / T),
// whatever the sizes around it (memorylessness), and weighting it by 1/p gives unbiased estimates:
// E[sampled · s/p] = s bytes and E[sampled · 1/p] = 1 allocation. Header-only, no allocation.
#pragma once

#include <cmath>
#include <cstdint>

namespace tidemark::native {

// xorshift64*: a fast per-thread generator; never seeded with 0. A plain aggregate (state 0 until
// seeded) so it can live in zero-initialised thread-local storage.
struct Rng {
    uint64_t state;
    void seed(uint64_t s) { state = s ? s : 0x9E3779B97F4A7C15ULL; }
    uint64_t next() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DULL;
    }
    // Uniform in (0, 1].
    double unit() { return (static_cast<double>(next() >> 11) + 1.0) * (1.0 / 9007199254740992.0); }
};

// Bytes until the next sample point: Exp(mean), at least 1.
inline int64_t next_sample_distance(Rng& rng, double mean_bytes) {
    const double d = -std::log(rng.unit()) * mean_bytes;
    return d < 1.0 ? 1 : d > 9.0e18 ? static_cast<int64_t>(9.0e18) : static_cast<int64_t>(d);
}

struct SampleWeight {
    uint64_t bytes = 0;  // estimated bytes this sample stands for (s / p)
    uint32_t count = 0;  // estimated allocations it stands for (1 / p, rounded, >= 1)
};

// The weight of a sampled allocation of `size` bytes under mean interval `mean_bytes`. The count
// 1/p is rounded stochastically with `u` uniform in (0, 1] (floor, plus one with probability of
// the fraction), so integer counts stay unbiased.
inline SampleWeight sample_weight(uint64_t size, double mean_bytes, double u = 1.0) {
    const double s = size == 0 ? 1.0 : static_cast<double>(size);
    const double p = -std::expm1(-s / mean_bytes);  // 1 - exp(-s/T), accurate for small s/T
    SampleWeight w;
    w.bytes = static_cast<uint64_t>(s / p + 0.5);
    const double c = 1.0 / p;
    if (c >= 4.0e9) {
        w.count = 4000000000u;
    } else {
        const double whole = std::floor(c);
        w.count = static_cast<uint32_t>(whole) + (u <= c - whole ? 1u : 0u);
    }
    if (w.count == 0) w.count = 1;
    return w;
}

}  // namespace tidemark::native
