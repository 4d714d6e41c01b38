// The native tracker's state, start-up and the accounting of allocations and frees (tracker.h).
#include "tracker.h"

#include <pthread.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

namespace tidemark::native {

std::atomic<int> g_mode{static_cast<int>(Mode::Off)};
std::atomic<bool> g_attached{false};

__thread ThreadState t_state __attribute__((tls_model("initial-exec")));
Globals* g_globals = nullptr;
const std::atomic<uint8_t>* g_free_filter = nullptr;

namespace {

// Storage for the globals without a constructor of its own running at an unknown time: the hooks
// may be called before this library's constructors run.
alignas(Globals) unsigned char g_storage[sizeof(Globals)];

pthread_key_t g_thread_key;
bool g_thread_key_ok = false;

constexpr uint32_t kSiteCapacity = 1u << 16;
constexpr uint64_t kMaxLiveEntries = 64ull << 20;

// At thread exit: move its counters to the retired block, release its cache.
void on_thread_exit(void*) {
    ThreadState& t = t_state;
    ++t.guard;
    SiteCounter* b = t.counters;
    t.counters = nullptr;
    t.retired = true;
    if (g_globals && b) g_globals->counters.retire_thread(b, t.sites_seen);
    StackCache* c = t.cache;
    t.cache = nullptr;
    if (c) free_stack_cache(c);
    --t.guard;
}

SiteCounter* counters_for(ThreadState& t) {
    if (t.counters) return t.counters;
    if (t.retired || !g_thread_key_ok) return nullptr;
    t.counters = g_globals->counters.register_thread();
    if (t.counters) pthread_setspecific(g_thread_key, &t);  // so on_thread_exit runs
    return t.counters;
}

// Adds count blocks of bytes to one (count, bytes) counter pair of a site: the thread's own
// counters when it has them (plain stores), else the shared row (atomic adds).
void credit(ThreadState& t, uint32_t site, std::atomic<uint64_t> SiteCounter::*n, std::atomic<uint64_t> SiteCounter::*b,
            uint64_t count, uint64_t bytes) {
    if (SiteCounter* c = counters_for(t)) {
        bump(c[site].*n, count);
        bump(c[site].*b, bytes);
        if (site + 1 > t.sites_seen) t.sites_seen = site + 1;
    } else {
        SiteCounter& row = g_globals->counters.shared()[site];
        (row.*n).fetch_add(count, std::memory_order_relaxed);
        (row.*b).fetch_add(bytes, std::memory_order_relaxed);
    }
}

void credit_alloc(ThreadState& t, uint32_t site, uint64_t count, uint64_t bytes) {
    credit(t, site, &SiteCounter::allocs, &SiteCounter::alloc_bytes, count, bytes);
}

void credit_free(ThreadState& t, uint32_t site, uint64_t count, uint64_t bytes) {
    credit(t, site, &SiteCounter::frees, &SiteCounter::freed_bytes, count, bytes);
}

void after_fork_in_child() {
    // The child of a fork without exec is not tracked (docs/NATIVE.md): it runs on the real
    // allocator from here on and never touches a lock another thread may have held at fork.
    g_mode.store(static_cast<int>(Mode::Off), std::memory_order_relaxed);
    sampler_after_fork_in_child();
}

uint64_t parse_bytes(const char* s, uint64_t fallback) {
    if (!s || !*s) return fallback;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    return end && *end == '\0' && v > 0 ? v : fallback;
}

}  // namespace


void init_tracker(uintptr_t arena, size_t arena_bytes) {
    ThreadState& t = t_state;
    ++t.guard;
    const char* socket = std::getenv("TIDEMARK_SOCKET");
    const char* mode_env = std::getenv("TIDEMARK_NATIVE");
    Mode mode = Mode::Off;
    if (mode_env && std::strcmp(mode_env, "full") == 0) mode = Mode::Full;
    else if (mode_env && std::strcmp(mode_env, "sampled") == 0) mode = Mode::Sampled;
    if (!socket || !*socket || mode == Mode::Off) {
        --t.guard;
        return;
    }
    // Claim rule (as the Node tracker's): the first process that loads the library is tracked,
    // and what it exec()s (same pid); its children only with TIDEMARK_FOLLOW_CHILDREN=1.
    const char* follow = std::getenv("TIDEMARK_FOLLOW_CHILDREN");
    if (!(follow && std::strcmp(follow, "1") == 0)) {
        char pid[24];
        std::snprintf(pid, sizeof pid, "%d", static_cast<int>(::getpid()));
        const char* claimed = std::getenv("TIDEMARK_NATIVE_CLAIMED_PID");
        if (claimed && *claimed && std::strcmp(claimed, pid) != 0) {
            --t.guard;
            return;
        }
        ::setenv("TIDEMARK_NATIVE_CLAIMED_PID", pid, 1);
    }
    StartConfig c;
    c.mode = mode;
    c.sample_interval = static_cast<double>(parse_bytes(std::getenv("TIDEMARK_NATIVE_SAMPLE_INTERVAL"), 512 * 1024));
    c.socket = socket;
    c.mode_name = mode_env;
    if (const char* iv = std::getenv("TIDEMARK_INTERVAL_MS")) {
        const long v = std::strtol(iv, nullptr, 10);
        if (v >= 10 && v <= 60000) c.interval_ms = static_cast<uint32_t>(v);
    }
    start_tracking(c, arena, arena_bytes);
    --t.guard;
}

bool start_tracking(const StartConfig& c, uintptr_t arena, size_t arena_bytes) {
    ThreadState& t = t_state;
    ++t.guard;
    const bool again = g_globals != nullptr;  // attached before (attach.cpp): the tables stay
    if (!again) {
        g_globals = new (g_storage) Globals();
        Globals& g = *g_globals;
        if (!g.sites.init(kSiteCapacity) || !g.live.init(kMaxLiveEntries) || !g.counters.init(kSiteCapacity)) {
            g_globals = nullptr;
            --t.guard;
            return false;
        }
        for (uintptr_t a = arena & ~uintptr_t{15}; a < arena + arena_bytes; a += 16) g.live.pin(a);
        g_free_filter = g.live.bits();
        unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
        g_thread_key_ok = pthread_key_create(&g_thread_key, &on_thread_exit) == 0;
        pthread_atfork(nullptr, nullptr, &after_fork_in_child);
    } else {
        // What was tracked in an earlier attach is forgotten: its blocks may have been freed while
        // no hook saw it, so the new session counts from zero (the sampler ships from a baseline).
        g_globals->live.clear();
    }
    g_globals->sample_interval = c.sample_interval;
    if (!start_sampler(c)) {
        --t.guard;
        return false;
    }
    // Allocations before this ran in off mode and gave this thread a countdown that never ends.
    t.countdown = 0;
    g_mode.store(static_cast<int>(c.mode), std::memory_order_release);
    --t.guard;
    return true;
}

void account_alloc(void* ptr, size_t size, uintptr_t ra, uintptr_t sp) {
    if (!ptr) return;
    ThreadState& t = t_state;
    if (t.guard) return;
    const int mode = g_mode.load(std::memory_order_relaxed);
    if (mode == static_cast<int>(Mode::Off)) return;
    ++t.guard;
    Globals& g = *g_globals;
    AddressMap::Entry e{reinterpret_cast<uint64_t>(ptr), size, 0, 1};
    if (mode == static_cast<int>(Mode::Sampled)) {
        // The countdown crossed zero (sampled_skip said so) or was never drawn (a new thread).
        if (t.rng.state == 0) {
            t.rng.seed(mix64(reinterpret_cast<uint64_t>(&t) ^ static_cast<uint64_t>(::clock()) ^
                             (static_cast<uint64_t>(::getpid()) << 32)));
            t.countdown += next_sample_distance(t.rng, g.sample_interval);
            if (t.countdown > 0) {  // the first draw puts the sample point past this allocation
                --t.guard;
                return;
            }
        }
        t.countdown = next_sample_distance(t.rng, g.sample_interval);
        const SampleWeight w = sample_weight(size, g.sample_interval, t.rng.unit());
        e.bytes = w.bytes;
        e.count = w.count;
    }
    if (!t.cache) t.cache = new_stack_cache();
    e.site = capture_site(t.cache, g.sites, ra, sp);
    if (e.site == kNoSite) {
        g.untracked.fetch_add(1, std::memory_order_relaxed);
        --t.guard;
        return;
    }
    AddressMap::Entry old{};
    bool had_old = false;
    if (!g.live.insert(e, &old, &had_old)) {
        g.untracked.fetch_add(1, std::memory_order_relaxed);
        --t.guard;
        return;
    }
    if (had_old) credit_free(t, old.site, old.count, old.bytes);  // freed behind our back
    credit_alloc(t, e.site, e.count, e.bytes);
    --t.guard;
}

void account_free(void* ptr) {
    ThreadState& t = t_state;
    if (t.guard) return;
    const int mode = g_mode.load(std::memory_order_relaxed);
    if (mode == static_cast<int>(Mode::Off)) return;
    Globals& g = *g_globals;
    ++t.guard;
    AddressMap::Entry e{};
    if (g.live.remove(reinterpret_cast<uint64_t>(ptr), &e)) credit_free(t, e.site, e.count, e.bytes);
    --t.guard;
}

}  // namespace tidemark::native
