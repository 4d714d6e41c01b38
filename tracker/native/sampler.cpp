// The native tracker's sampler thread: connects to the agent (TIDEMARK_SOCKET, as the Node front
// end does), sends Hello (runtime native), and every TIDEMARK_INTERVAL_MS ships what changed: the
// module map when dlopen/dlclose changed it (NativeModules), the stacks of new sites (NativeStack,
// once each), the cumulative counters of the sites that moved (NativeSites), NativeStatus and a
// ProcessSample (RSS from /proc/self/statm, native live bytes). Nothing here runs on the target's
// threads except final_flush() at exit.
//
// Never blocks the target: the thread's own allocations pass through untracked (its guard is
// always set), records are encoded allocation-free (tidemark/native_encoder.h) into a fixed mmap'd
// buffer, and the socket is written without blocking; when the buffer is full a record is not
// encoded and is counted in Dropped — stacks and counters are simply retried on the next tick
// (counters are cumulative, so a drop loses resolution, never totals). If the agent goes away the
// tracker turns itself off (hooks pass straight through).
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "streams.h"
#include "tidemark/native_encoder.h"
#include "loaded_range.h"
#include "tracker.h"

namespace tidemark::native {

namespace {

constexpr size_t kOutBytes = 4u << 20;
constexpr size_t kMaxModules = 1024;
constexpr size_t kPathPool = 256 * 1024;
constexpr size_t kSiteBatch = 2048;

struct SamplerState {
    int fd = -1;
    uint32_t interval_ms = 100;
    uint8_t* out_mem = nullptr;
    proto::FixedFrameEncoder* enc = nullptr;
    alignas(proto::FixedFrameEncoder) unsigned char enc_storage[sizeof(proto::FixedFrameEncoder)] = {};
    // What was shipped: stacks of sites below next_stack, and each site's counters as last sent.
    uint32_t next_stack = 0;
    uint64_t (*sent)[4] = nullptr;  // per site: allocs, alloc_bytes, frees, freed_bytes
    uint64_t (*base)[4] = nullptr;  // per site: the counters when this session began (a re-attach)
    proto::NativeSiteCounters* batch = nullptr;
    // Module map.
    unsigned long long modules_adds = 0, modules_subs = 0;
    bool modules_pending = true;
    uint64_t modules_generation = 0;
    proto::FixedFrameEncoder::ModuleView* modules = nullptr;
    size_t module_count = 0;
    char* path_pool = nullptr;
    size_t path_used = 0;
    char exe_path[4096] = {};
    uint64_t dropped = 0, dropped_sent = 0;
    uint64_t live_bytes = 0;
    SpinLock tick_lock;
    std::atomic<bool> stop{false};
    std::atomic<bool> running{false};  // a sampler thread runs
    bool dead = false;
    bool attached = false;   // loaded by `tidemark attach --native`: the session's end gives the slots back
    bool exit_hook = false;  // on_exit registered (once per process)
    // Inside node (it exports N-API): its JS tracker sends the process samples (heap, external,
    // loop delay) and the agent gives them our live bytes (NativeStatus); ours would only say RSS.
    bool in_node = false;
};
constinit SamplerState g_s;

uint64_t wall_us() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

size_t read_file(const char* path, char* buf, size_t cap) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t n = 0;
    while (n + 1 < cap) {
        const ssize_t r = ::read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += static_cast<size_t>(r);
    }
    ::close(fd);
    buf[n] = '\0';
    return n;
}

uint64_t rss_bytes() {
    char buf[128];
    if (read_file("/proc/self/statm", buf, sizeof buf) == 0) return 0;
    const char* p = buf;
    while (*p && *p != ' ') ++p;
    return std::strtoull(p, nullptr, 10) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

void mark_dead() {
    g_s.dead = true;
    g_mode.store(static_cast<int>(Mode::Off), std::memory_order_relaxed);
}

// Writes what the socket takes now (blocking only at exit, bounded by SO_SNDTIMEO).
void pump(bool blocking) {
    proto::FixedFrameEncoder& e = *g_s.enc;
    while (!g_s.dead && e.size() > 0) {
        const ssize_t n = ::send(g_s.fd, e.data(), e.size(), MSG_NOSIGNAL | (blocking ? 0 : MSG_DONTWAIT));
        if (n > 0) {
            e.consume(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        mark_dead();
    }
}

int on_module(dl_phdr_info* info, size_t, void*) {
    if (g_s.module_count >= kMaxModules) return 1;
    uintptr_t lo = 0, hi = 0;
    loaded_range(info, lo, hi);
    if (hi == 0) return 0;
    const char* name = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : (g_s.module_count == 0 ? g_s.exe_path : "");
    const size_t len = std::strlen(name);
    if (g_s.path_used + len + 1 > kPathPool) return 1;
    char* dst = g_s.path_pool + g_s.path_used;
    std::memcpy(dst, name, len + 1);
    g_s.path_used += len + 1;
    auto& m = g_s.modules[g_s.module_count++];
    m.load_bias = info->dlpi_addr;
    m.start = lo;
    m.end = hi;
    m.path = std::string_view(dst, len);
    g_s.modules_adds = info->dlpi_adds;
    g_s.modules_subs = info->dlpi_subs;
    return 0;
}

int probe_modules(dl_phdr_info* info, size_t, void* changed) {
    *static_cast<bool*>(changed) = info->dlpi_adds != g_s.modules_adds || info->dlpi_subs != g_s.modules_subs;
    return 1;  // the counters are the same in every entry: one is enough
}

void refresh_modules() {
    bool changed = false;
    dl_iterate_phdr(&probe_modules, &changed);
    if (!changed && !g_s.modules_pending) return;
    g_s.module_count = 0;
    g_s.path_used = 0;
    dl_iterate_phdr(&on_module, nullptr);
    g_s.modules_pending = true;
    ++g_s.modules_generation;
}

// One tick: encode what changed into the buffer (as far as it fits), then send.
void tick(uint64_t now) {
    proto::FixedFrameEncoder& e = *g_s.enc;
    Globals& g = globals();
    refresh_modules();
    if (g_s.modules_pending) {
        if (e.native_modules(now, g_s.modules_generation, g_s.modules, g_s.module_count)) g_s.modules_pending = false;
        else ++g_s.dropped;
    }
    // New stacks, in id order; a stack is sent once.
    const uint32_t claimed = g.sites.claimed();
    while (g_s.next_stack < claimed) {
        const SiteTable::Site& s = g.sites.site(g_s.next_stack);
        const uint32_t st = s.state.load(std::memory_order_acquire);
        if (st == 0) break;  // still being written: next tick
        if (st == 1 && !e.native_stack(now, g_s.next_stack, s.frames, s.depth)) {
            ++g_s.dropped;
            break;
        }
        ++g_s.next_stack;
    }
    // Counters of the sites that moved (only sites whose stack went out before).
    uint64_t live = 0;
    size_t n = 0;
    bool sites_fit = true;
    g.counters.lock();
    for (uint32_t id = 0; id < g_s.next_stack; ++id) {
        uint64_t c[4];
        g.counters.sum(id, c);
        for (int k = 0; k < 4; ++k) c[k] = c[k] > g_s.base[id][k] ? c[k] - g_s.base[id][k] : 0;
        live += c[1] > c[3] ? c[1] - c[3] : 0;
        uint64_t* last = g_s.sent[id];
        if (c[0] == last[0] && c[2] == last[2] && c[1] == last[1] && c[3] == last[3]) continue;
        if (!sites_fit) continue;
        g_s.batch[n++] = proto::NativeSiteCounters{id, c[0], c[1], c[2], c[3]};
        for (int k = 0; k < 4; ++k) last[k] = c[k];
        if (n == kSiteBatch) {
            if (!e.native_sites(now, g_s.batch, n)) {
                sites_fit = false;
                ++g_s.dropped;
                for (size_t k = 0; k < n; ++k) g_s.sent[g_s.batch[k].site][0] = ~0ull;  // resend next tick
            }
            n = 0;
        }
    }
    g.counters.unlock();
    if (n > 0 && sites_fit && !e.native_sites(now, g_s.batch, n)) {
        ++g_s.dropped;
        for (size_t k = 0; k < n; ++k) g_s.sent[g_s.batch[k].site][0] = ~0ull;
    }
    g_s.live_bytes = live;
    // Registered streams (native_streams.h), once the agent has the module map their call sites
    // are symbolized with.
    if (!g_s.modules_pending) ship_streams(e, now);
    proto::NativeStatus st;
    st.mode = static_cast<proto::NativeMode>(g_mode.load(std::memory_order_relaxed) == 0 ? 0 : g_mode.load(std::memory_order_relaxed));
    st.sample_interval_bytes = st.mode == proto::NativeMode::Sampled ? static_cast<uint64_t>(g.sample_interval) : 0;
    st.live_bytes = live;
    st.mmap_bytes = g.mmap_bytes.load(std::memory_order_relaxed);
    st.munmap_bytes = g.munmap_bytes.load(std::memory_order_relaxed);
    st.mmap_calls = g.mmap_calls.load(std::memory_order_relaxed);
    st.untracked = g.untracked.load(std::memory_order_relaxed);
    st.sites = claimed;
    if (!e.native_status(now, st)) ++g_s.dropped;
    if (!g_s.in_node && !e.process_sample(now, rss_bytes(), live)) ++g_s.dropped;
    if (g_s.dropped != g_s.dropped_sent && e.dropped(now, g_s.dropped)) g_s.dropped_sent = g_s.dropped;
}

void* sampler_main(void*) {
    thread_state().guard = 1;  // everything this thread allocates passes through untracked
    timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!g_s.stop.load(std::memory_order_acquire) && !g_s.dead) {
        next.tv_nsec += static_cast<long>(g_s.interval_ms) * 1000000L;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            ++next.tv_sec;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) == EINTR) {}
        if (g_s.stop.load(std::memory_order_acquire)) break;
        if (!g_s.tick_lock.try_lock()) continue;  // the exiting thread is flushing
        tick(wall_us());
        pump(false);
        g_s.tick_lock.unlock();
    }
    if (g_s.attached && g_s.dead) {
        attach_session_ended();
        ::close(g_s.fd);
        g_s.fd = -1;
    }
    g_s.running.store(false, std::memory_order_release);
    return nullptr;
}

// Connects with a bounded wait (as tracker/node/transport.cpp).
int connect_agent(const char* path) {
    sockaddr_un addr{};
    const size_t len = std::strlen(path);
    if (len == 0 || len >= sizeof(addr.sun_path)) return -1;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path, len);
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

void on_exit_handler(int status, void*) { final_flush(status); }

}  // namespace

bool start_sampler(const StartConfig& c) {
    if (g_s.running.load(std::memory_order_acquire)) return false;  // an earlier session still ends
    g_s.interval_ms = c.interval_ms;
    const uint32_t capacity = globals().sites.capacity();
    if (!g_s.out_mem) {
        g_s.out_mem = static_cast<uint8_t*>(raw_map(kOutBytes));
        g_s.sent = static_cast<uint64_t(*)[4]>(raw_map(sizeof(uint64_t[4]) * capacity));
        g_s.base = static_cast<uint64_t(*)[4]>(raw_map(sizeof(uint64_t[4]) * capacity));
        g_s.batch = static_cast<proto::NativeSiteCounters*>(raw_map(sizeof(proto::NativeSiteCounters) * kSiteBatch));
        g_s.modules = static_cast<proto::FixedFrameEncoder::ModuleView*>(raw_map(sizeof(proto::FixedFrameEncoder::ModuleView) * kMaxModules));
        g_s.path_pool = static_cast<char*>(raw_map(kPathPool));
        if (!g_s.out_mem || !g_s.sent || !g_s.base || !g_s.batch || !g_s.modules || !g_s.path_pool) return false;
    } else {
        // A later attach: a new connection, which gets every stack again and counts from the
        // counters as they are now (what happened between two sessions was not seen).
        Globals& g = globals();
        g.counters.lock();
        for (uint32_t id = 0; id < g.sites.claimed() && id < capacity; ++id) {
            g.counters.sum(id, g_s.base[id]);
            for (int k = 0; k < 4; ++k) g_s.sent[id][k] = 0;
        }
        g.counters.unlock();
        g_s.next_stack = 0;
        g_s.modules_pending = true;
        g_s.dropped = g_s.dropped_sent = 0;
        g_s.live_bytes = 0;
        g.untracked.store(0, std::memory_order_relaxed);
    }
    g_s.enc = new (g_s.enc_storage) proto::FixedFrameEncoder(g_s.out_mem, kOutBytes);
    g_s.in_node = dlsym(RTLD_DEFAULT, "napi_module_register") != nullptr;
    const ssize_t el = ::readlink("/proc/self/exe", g_s.exe_path, sizeof g_s.exe_path - 1);
    g_s.exe_path[el > 0 ? el : 0] = '\0';
    g_s.attached = c.attached;
    g_s.dead = false;
    g_s.stop.store(false, std::memory_order_relaxed);

    g_s.fd = connect_agent(c.socket ? c.socket : "");
    if (g_s.fd < 0) return false;
    char cmdline[4096];
    size_t n = read_file("/proc/self/cmdline", cmdline, sizeof cmdline);
    while (n > 0 && cmdline[n - 1] == '\0') --n;
    for (size_t i = 0; i < n; ++i)
        if (cmdline[i] == '\0') cmdline[i] = ' ';
    char version[64];
    std::snprintf(version, sizeof version, "tidemark-native %s%s", c.mode_name ? c.mode_name : "", c.attached ? " attached" : "");
    g_s.enc->hello(wall_us(), static_cast<uint32_t>(::getpid()), static_cast<uint32_t>(::getppid()),
                   proto::Runtime::Native, g_s.interval_ms, version, std::string_view(cmdline, n));
    pump(true);
    if (g_s.dead) {
        ::close(g_s.fd);
        g_s.fd = -1;
        return false;
    }
    if (!g_s.exit_hook) {
        ::on_exit(&on_exit_handler, nullptr);
        g_s.exit_hook = true;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    g_s.running.store(true, std::memory_order_release);
    const bool ok = pthread_create(&th, &attr, &sampler_main, nullptr) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        g_s.running.store(false, std::memory_order_release);
        ::close(g_s.fd);
        g_s.fd = -1;
        return false;
    }
    return true;
}

bool sampler_running() { return g_s.running.load(std::memory_order_acquire); }

void final_flush(int exit_code) {
    if (g_s.dead || g_s.fd < 0) return;
    ThreadState& t = thread_state();
    ++t.guard;
    // Wait (bounded) for a tick in progress on the sampler thread, then do the last one here.
    bool locked = false;
    for (int i = 0; i < 2000 && !(locked = g_s.tick_lock.try_lock()); ++i) ::usleep(500);
    if (locked) {
        g_s.stop.store(true, std::memory_order_release);
        const uint64_t now = wall_us();
        tick(now);
        g_s.enc->goodbye(now, exit_code);
        pump(true);  // bounded by SO_SNDTIMEO (1 s)
        g_s.tick_lock.unlock();
    }
    --t.guard;
}

void sampler_after_fork_in_child() {
    // Only async-signal-safe work: the child has no sampler thread and must not write into the
    // parent's connection.
    g_s.dead = true;
    if (g_s.fd >= 0) ::close(g_s.fd);
    g_s.fd = -1;
}

}  // namespace tidemark::native
