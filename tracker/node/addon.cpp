// Node-API entry points of the tracker (tidemark_node.node). tracker.js calls these from its own
// JS thread: the main thread and every worker thread load the addon into their own environment,
// and each environment has its own connection, sink and codec (napi instance data), so a worker's
// records never interleave with the main thread's delta state. Every entry point catches
// everything (no C++ exception ever crosses into node) and reports failure as a return value.
// Numeric records arrive in batches as rows of a Float64Array (layout below, mirrored in
// tracker.js) so a whole sweep costs one napi call.
//
// Row layout (kRowWidth doubles):  | type | t_us | f0 … f9 |
//   ProcessSample (3): rss, heap_used, heap_total, external, array_buffers, delay_mean_us, delay_max_us
//   StreamCreated (4): id, kind, type_str, site_str, readable_hwm, writable_hwm
//   StreamSample  (5): id, flags, readable_len, writable_len, bytes_in, bytes_pushed,
//                      writes_after_false, pushes_after_false, write_calls, push_calls
//   StreamEvent   (6): id, kind, other, str
//   CallSite      (8): id, kind, site_str, count
// Aggregate rows (aggregates(), kAggWidth doubles): | t_us | type_str | site_str | kind | created |
//   promoted | retired | site_inferred | bytes_in | bytes_pushed | write_calls | push_calls |
//   peak_readable | peak_writable | readable_hwm | writable_hwm | lifetime buckets × 6 |
#include <node_api.h>
#include <v8.h>

#include <tidemark/protocol.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <new>
#include <string>
#include <unistd.h>

#include "record_sink.h"
#include "transport.h"

namespace tidemark::node {
namespace {

constexpr size_t kRowWidth = 12;
constexpr size_t kAggWidth = 16 + proto::kLifetimeBuckets;
constexpr size_t kDefaultQueueBytes = 8u << 20;
constexpr auto kExitDrainBound = std::chrono::milliseconds(200);

// One per JS environment (main thread, each worker). The transport is never freed: its detached
// sender thread may outlive the environment; a worker that ends leaves a dead, empty transport.
// Garbage collections seen by V8's prologue/epilogue callbacks since the last flush. Written on
// the JS thread inside a collection (no allocation, no JS), read by flush() on the same thread.
// Major collections are kept one by one (up to kMaxMajors per interval, later ones summed into the
// last); minor ones are summed.
struct GcLog {
    static constexpr size_t kMaxMajors = 32;
    v8::Isolate* isolate = nullptr;
    bool observing = false;  // its callbacks are registered (stop() removes them)
    uint64_t start_us = 0;
    uint64_t before = 0;
    bool probe_pending = false;  // a collection the tracker asked for has not completed yet
    bool probe_enabled = false;
    uint64_t floor_total = 0;    // heap + external right after the last major collection
    uint64_t probe_floor = 0;    // floor_total when the probe asked
    // steady-clock µs (gaps and pauses; record times are wall-clock)
    uint64_t last_major_us = 0;
    uint64_t last_probe_us = 0;
    uint64_t probe_gap_us = 0;   // the probe's current gap (backs off while floors hold)
    proto::GcEvent majors[kMaxMajors];
    size_t n_majors = 0;
    proto::GcEvent minor{0, 0, proto::GcKind::Minor, 0};  // count == 0: none since the last flush
};

struct Instance {
    std::string start_error;  // why the last start() returned false
    Transport* transport = nullptr;
    RecordSink* sink = nullptr;
    GcLog* gc = nullptr;
};

Instance* instance(napi_env env) {
    void* data = nullptr;
    if (napi_get_instance_data(env, &data) != napi_ok) return nullptr;
    return static_cast<Instance*>(data);
}

uint64_t wall_us() {
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

std::string read_cmdline() {
    std::string s;
    const int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return s;
    char buf[4096];
    ssize_t n;
    while (s.size() < proto::kMaxStringBytes && (n = ::read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
    ::close(fd);
    while (!s.empty() && s.back() == '\0') s.pop_back();
    for (char& c : s)
        if (c == '\0') c = ' ';
    return s;
}

// ---- argument helpers (all return false on any mismatch) ------------------------------------

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
    size_t argc = want;
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
    return argc >= want;
}

bool get_string(napi_env env, napi_value v, std::string& out) {
    size_t len = 0;
    if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
    if (len > proto::kMaxStringBytes) len = proto::kMaxStringBytes;
    out.resize(len + 1);
    size_t got = 0;
    if (napi_get_value_string_utf8(env, v, out.data(), out.size(), &got) != napi_ok) return false;
    out.resize(got);
    return true;
}

bool get_double(napi_env env, napi_value v, double& out) {
    return napi_get_value_double(env, v, &out) == napi_ok;
}

uint64_t u64(double d) { return d > 0 ? static_cast<uint64_t>(d) : 0; }
uint32_t u32(double d) { return d > 0 && d < 4294967296.0 ? static_cast<uint32_t>(d) : 0; }

uint64_t steady_us() {
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

// GC types by bit, not by name: V8 renamed kGCTypeMinorMarkCompact (bit 1) to
// kGCTypeMinorMarkSweep in newer releases (node 22+).
constexpr unsigned kGcScavenge = 1u << 0, kGcMinorMark = 1u << 1, kGcMajor = 1u << 2;
constexpr auto kGcObserved = static_cast<v8::GCType>(kGcScavenge | kGcMinorMark | kGcMajor);

uint64_t heap_used(v8::Isolate* isolate, uint64_t* external = nullptr) {
    v8::HeapStatistics hs;
    isolate->GetHeapStatistics(&hs);
    if (external) *external = hs.external_memory();
    return hs.used_heap_size();
}

void gc_prologue(v8::Isolate* isolate, v8::GCType, v8::GCCallbackFlags, void* data) {
    auto* log = static_cast<GcLog*>(data);
    log->start_us = steady_us();
    log->before = heap_used(isolate);
}

void gc_epilogue(v8::Isolate* isolate, v8::GCType type, v8::GCCallbackFlags, void* data) {
    auto* log = static_cast<GcLog*>(data);
    const uint64_t now = wall_us();
    const uint64_t steady = steady_us();
    uint64_t external = 0;
    const uint64_t after = heap_used(isolate, &external);
    const uint64_t pause = log->start_us && steady > log->start_us ? steady - log->start_us : 0;
    const uint64_t freed = log->before > after ? log->before - after : 0;
    if (type & kGcMajor) {
        proto::GcEvent* e;
        if (log->n_majors < GcLog::kMaxMajors) {
            e = &log->majors[log->n_majors++];
            *e = proto::GcEvent{};
            e->heap_before = log->before;
            e->count = 0;
        } else {
            e = &log->majors[GcLog::kMaxMajors - 1];
        }
        e->kind = proto::GcKind::Major;
        e->t_us = now;
        e->count += 1;
        e->pause_us += pause;
        e->heap_after = after;
        e->freed_bytes += freed;
        e->external_after = external;
        // Requested: the probe asked within the last 3 s (V8 may ignore a hint).
        const bool requested = log->probe_pending && steady - log->last_probe_us < 3'000'000;
        e->requested = e->requested || requested;
        if (requested) {
            // Back off while what survives stays where it was (a healthy old generation that
            // fills between collections); back to the shortest gap when the floor rose.
            const uint64_t floor = after + external, was = log->probe_floor;
            const bool held = floor < was + std::max<uint64_t>(1u << 20, was / 50);
            log->probe_gap_us = held ? std::min<uint64_t>(log->probe_gap_us * 2, 60'000'000) : 5'000'000;
        }
        log->probe_pending = false;
        log->floor_total = after + external;
        log->last_major_us = steady;
    } else if (type & (kGcScavenge | kGcMinorMark)) {
        proto::GcEvent& m = log->minor;
        if (m.count == 0) {
            m = proto::GcEvent{};
            m.kind = proto::GcKind::Minor;
            m.count = 0;
            m.heap_after = after;
        }
        m.t_us = now;
        m.count += 1;
        m.pause_us += pause;
        m.heap_before = log->before;
        m.heap_after = std::min(m.heap_after, after);
        m.freed_bytes += freed;
        m.external_after = external;
    }
    log->start_us = 0;
}

// The GC probe. Memory that climbs while no major collection runs cannot be told from retained
// memory: a program that allocates Buffers and drops them, with little JS allocation, may see
// no collection at all for minutes, exactly like one that keeps them. When heap + external has
// grown by max(2 MiB, 10 %) over what survived the last major collection, and none has run for
// the probe's gap (5 s, nor has the probe), V8 is asked for one (a moderate memory-pressure
// hint: incremental marking, finished in steps). At most one requested collection per gap, only
// while memory climbs uncollected; the gap doubles (up to 60 s) each time a requested collection
// finds the floor where it was, and returns to 5 s when it rose. Off with --gc-probe off.
void maybe_probe(GcLog* log) {
    const uint64_t now = steady_us(), gap = log->probe_gap_us;
    if (now - log->last_major_us < gap || now - log->last_probe_us < gap) return;
    uint64_t external = 0;
    const uint64_t total = heap_used(log->isolate, &external) + external;
    const uint64_t floor = log->floor_total;
    if (total < floor + std::max<uint64_t>(2u << 20, floor / 10)) return;
    log->last_probe_us = now;
    log->probe_pending = true;
    log->probe_floor = floor;
    log->isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
    log->isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kNone);
}

// Appends the collections logged since the last call to the open batch, then clears the log.
void drain_gc(Instance* in) {
    GcLog* log = in->gc;
    if (!log) return;
    if (log->probe_enabled) maybe_probe(log);
    for (size_t i = 0; i < log->n_majors; ++i) in->sink->add(log->majors[i]);
    log->n_majors = 0;
    if (log->minor.count > 0) {
        in->sink->add(log->minor);
        log->minor.count = 0;
    }
}

napi_value make_bool(napi_env env, bool b) {
    napi_value v = nullptr;
    napi_get_boolean(env, b, &v);
    return v;
}

// Converts one row to a record; false for an unknown row type.
bool row_to_record(const double* row, proto::Record& out) {
    const uint64_t t = u64(row[1]);
    const double* f = row + 2;
    switch (static_cast<int>(row[0])) {
        case 3: out = proto::ProcessSample{t, 0, u64(f[0]), u64(f[1]), u64(f[2]), u64(f[3]), u64(f[4]), u64(f[5]), u64(f[6]), 0}; return true;
        case 4: out = proto::StreamCreated{t, 0, u64(f[0]), u32(f[1]), u32(f[2]), u32(f[3]), u64(f[4]), u64(f[5])}; return true;
        case 5: {
            proto::StreamSample s;
            s.t_us = t; s.id = u64(f[0]); s.flags = u32(f[1]);
            s.readable_length = u64(f[2]); s.writable_length = u64(f[3]);
            s.bytes_in = u64(f[4]); s.bytes_pushed = u64(f[5]);
            s.writes_after_false = u64(f[6]); s.pushes_after_false = u64(f[7]);
            s.write_calls = u64(f[8]); s.push_calls = u64(f[9]);
            out = s;
            return true;
        }
        case 6: {
            const auto kind = static_cast<proto::StreamEventKind>(u32(f[1]));
            if (kind < proto::StreamEventKind::Pipe || kind > proto::StreamEventKind::DrainWait) return false;
            out = proto::StreamEvent{t, u64(f[0]), kind, u64(f[2]), u32(f[3])};
            return true;
        }
        case 8: out = proto::CallSite{t, u64(f[0]), static_cast<proto::CallSiteKind>(u32(f[1])), u32(f[2]), u64(f[3])}; return true;
        default: return false;
    }
}

// Rows of a Float64Array argument: how many whole rows of `width` (at most `count`), and their base.
size_t typed_rows(napi_env env, napi_value v, double count, size_t width, const double*& base) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array || !data)
        return 0;
    base = static_cast<const double*>(data);
    return std::min(static_cast<size_t>(count > 0 ? count : 0), length / width);
}

// ---- entry points -----------------------------------------------------------------------------

// start(socketPath, intervalMs, runtimeVersion, queueBytes, threadId) → true when connected and
// Hello is queued. queueBytes 0 means the default; others are clamped to [64 KiB, 256 MiB].
// threadId is worker_threads.threadId (0 on the main thread).
napi_value start(napi_env env, napi_callback_info info) {
    try {
        napi_value argv[5];
        std::string path, version;
        double interval = 0, queue_bytes = 0, thread_id = 0;
        Instance* in = instance(env);
        // A second start is refused while connected; after stop() (a detach) it connects anew.
        if (!in) return make_bool(env, false);
        in->start_error.clear();
        if (in->transport && in->transport->alive()) {
            in->start_error = "a connection of an earlier start is still up";
            return make_bool(env, false);
        }
        if (!get_args(env, info, 5, argv) || !get_string(env, argv[0], path) ||
            !get_double(env, argv[1], interval) || !get_string(env, argv[2], version) ||
            !get_double(env, argv[3], queue_bytes) || !get_double(env, argv[4], thread_id)) {
            in->start_error = "bad arguments";
            return make_bool(env, false);
        }
        const size_t capacity = queue_bytes <= 0 ? kDefaultQueueBytes
            : static_cast<size_t>(std::clamp(queue_bytes, 65536.0, 268435456.0));
        std::string error;
        Transport* transport = Transport::connect(path, capacity, error);
        if (!transport) {
            in->start_error = error;
            return make_bool(env, false);
        }
        in->transport = transport;  // a stopped predecessor stays allocated (Transport::stop)
        delete in->sink;
        in->sink = new RecordSink(transport);
        proto::Hello hello;
        hello.t_us = wall_us();
        hello.pid = static_cast<uint32_t>(::getpid());
        hello.ppid = static_cast<uint32_t>(::getppid());
        hello.runtime = proto::Runtime::Node;
        hello.interval_ms = u32(interval);
        hello.runtime_version = version;
        hello.cmdline = read_cmdline();
        hello.thread_id = u32(thread_id);
        in->sink->add_unbounded(hello);
        const bool started = transport->start();
        if (!started) in->start_error = "the sender thread did not start";
        return make_bool(env, started);
    } catch (...) {
        return make_bool(env, false);
    }
}

// defineString(id, text)
napi_value define_string(napi_env env, napi_callback_info info) {
    try {
        napi_value argv[2];
        double id = 0;
        proto::StringDef def;
        Instance* in = instance(env);
        if (!in || !in->sink || !get_args(env, info, 2, argv) || !get_double(env, argv[0], id) ||
            !get_string(env, argv[1], def.text))
            return nullptr;
        def.t_us = wall_us();
        def.id = u32(id);
        in->sink->begin();
        in->sink->add(def);
        in->sink->commit();
    } catch (...) {
    }
    return nullptr;
}

// flush(rows: Float64Array, count) → false once the agent is gone for good (tracking may stop).
napi_value flush(napi_env env, napi_callback_info info) {
    try {
        napi_value argv[2];
        double count = 0;
        Instance* in = instance(env);
        if (!in || !in->sink || !get_args(env, info, 2, argv) || !get_double(env, argv[1], count)) return nullptr;
        if (!in->transport->alive()) return make_bool(env, false);
        const double* base = nullptr;
        const size_t rows = typed_rows(env, argv[0], count, kRowWidth, base);
        in->sink->begin();
        // Collections first: the agent judges as records arrive, and a process sample taken
        // after a collection (showing the drop) must not be judged before the collection's
        // record — with the drop and no record of a major collection, a cache that filled
        // and was then collected back to its level looked like retained growth for one tick.
        drain_gc(in);
        proto::Record rec;
        for (size_t i = 0; i < rows; ++i)
            if (row_to_record(base + i * kRowWidth, rec)) in->sink->add(rec);
        in->sink->commit();
        return make_bool(env, in->transport->alive());
    } catch (...) {
    }
    return nullptr;
}

// aggregates(rows: Float64Array, count): StreamAggregate rows (layout at the top).
napi_value aggregates(napi_env env, napi_callback_info info) {
    try {
        napi_value argv[2];
        double count = 0;
        Instance* in = instance(env);
        if (!in || !in->sink || !get_args(env, info, 2, argv) || !get_double(env, argv[1], count)) return nullptr;
        const double* base = nullptr;
        const size_t rows = typed_rows(env, argv[0], count, kAggWidth, base);
        in->sink->begin();
        for (size_t i = 0; i < rows; ++i) {
            const double* f = base + i * kAggWidth;
            proto::StreamAggregate a;
            a.t_us = u64(f[0]); a.type_str = u32(f[1]); a.site_str = u32(f[2]); a.kind = u32(f[3]);
            a.created = u64(f[4]); a.promoted = u64(f[5]); a.retired = u64(f[6]); a.site_inferred = u64(f[7]);
            a.bytes_in = u64(f[8]); a.bytes_pushed = u64(f[9]); a.write_calls = u64(f[10]); a.push_calls = u64(f[11]);
            a.peak_readable_length = u64(f[12]); a.peak_writable_length = u64(f[13]);
            a.readable_hwm = u64(f[14]); a.writable_hwm = u64(f[15]);
            for (int b = 0; b < proto::kLifetimeBuckets; ++b) a.lifetime_hist[b] = u64(f[16 + b]);
            in->sink->add(a);
        }
        in->sink->commit();
    } catch (...) {
    }
    return nullptr;
}

// pipeline(t_us, id, siteStr, stageIds: number[], stageStrs: number[])
napi_value pipeline(napi_env env, napi_callback_info info) {
    try {
        napi_value argv[5];
        double t = 0, id = 0, site = 0;
        Instance* in = instance(env);
        if (!in || !in->sink || !get_args(env, info, 5, argv) || !get_double(env, argv[0], t) ||
            !get_double(env, argv[1], id) || !get_double(env, argv[2], site))
            return nullptr;
        proto::Pipeline p{u64(t), 0, u64(id), u32(site), {}, {}};
        uint32_t n = 0, m = 0;
        if (napi_get_array_length(env, argv[3], &n) != napi_ok || napi_get_array_length(env, argv[4], &m) != napi_ok)
            return nullptr;
        for (uint32_t i = 0; i < n && i < 1024; ++i) {
            napi_value v;
            double stage = 0, str = 0;
            if (napi_get_element(env, argv[3], i, &v) == napi_ok) get_double(env, v, stage);
            if (i < m && napi_get_element(env, argv[4], i, &v) == napi_ok) get_double(env, v, str);
            p.stages.push_back(u64(stage));
            p.stage_strs.push_back(u32(str));
        }
        in->sink->begin();
        in->sink->add(p);
        in->sink->commit();
    } catch (...) {
    }
    return nullptr;
}

// goodbye(t_us, exitCode) → true when everything queued reached the socket within the bound.
napi_value goodbye(napi_env env, napi_callback_info info) {
    try {
        napi_value argv[2];
        double t = 0, code = 0;
        Instance* in = instance(env);
        if (!in || !in->sink || !get_args(env, info, 2, argv) || !get_double(env, argv[0], t) || !get_double(env, argv[1], code))
            return make_bool(env, false);
        const auto start_wait = std::chrono::steady_clock::now();
        in->sink->begin(true, kExitDrainBound / 2);  // also reports drops not yet reported
        in->sink->add(proto::Goodbye{u64(t), 0, static_cast<int32_t>(code)});
        in->sink->commit();
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_wait);
        return make_bool(env, in->transport->drain(kExitDrainBound - std::min(waited, kExitDrainBound)));
    } catch (...) {
        return make_bool(env, false);
    }
}

// observeGc(probe) → true when this thread's isolate now reports its collections (GcEvent records
// at each flush); probe turns the GC probe on (maybe_probe). Called on the main thread only: rss
// and external are process-wide, and the growth detectors judge the main isolate's heap.
napi_value observe_gc(napi_env env, napi_callback_info info) {
    try {
        napi_value argv[1];
        bool probe = false;
        if (get_args(env, info, 1, argv)) napi_get_value_bool(env, argv[0], &probe);
        Instance* in = instance(env);
        if (!in || !in->sink) return make_bool(env, false);
        if (in->gc) {
            GcLog* log = in->gc;
            if (!log->observing) {  // attached again after a detach
                log->probe_enabled = probe;
                log->n_majors = 0;
                log->minor.count = 0;
                log->start_us = 0;
                log->last_major_us = log->last_probe_us = steady_us();
                uint64_t external = 0;
                log->floor_total = heap_used(log->isolate, &external) + external;
                log->isolate->AddGCPrologueCallback(gc_prologue, log, kGcObserved);
                log->isolate->AddGCEpilogueCallback(gc_epilogue, log, kGcObserved);
                log->observing = true;
            }
            return make_bool(env, true);
        }
        v8::Isolate* isolate = v8::Isolate::GetCurrent();
        if (!isolate) return make_bool(env, false);
        auto* log = new (std::nothrow) GcLog();
        if (!log) return make_bool(env, false);
        log->isolate = isolate;
        log->probe_enabled = probe;
        log->last_major_us = log->last_probe_us = steady_us();
        log->probe_gap_us = 5'000'000;
        uint64_t external = 0;
        log->floor_total = heap_used(isolate, &external) + external;
        in->gc = log;
        log->observing = true;
        isolate->AddGCPrologueCallback(gc_prologue, log, kGcObserved);
        isolate->AddGCEpilogueCallback(gc_epilogue, log, kGcObserved);
        // The isolate goes away with the environment: unhook first (the log itself is left, a
        // few hundred bytes, in case a collection is still running its callbacks).
        napi_add_env_cleanup_hook(env, [](void* arg) {
            auto* l = static_cast<GcLog*>(arg);
            if (!l->observing) return;
            l->observing = false;
            l->isolate->RemoveGCPrologueCallback(gc_prologue, l);
            l->isolate->RemoveGCEpilogueCallback(gc_epilogue, l);
        }, log);
        return make_bool(env, true);
    } catch (...) {
        return make_bool(env, false);
    }
}

// stop(): detach (`tidemark attach` ended). Unhooks the GC callbacks and closes the connection;
// start() may connect again later. Main thread only, like start().
napi_value stop(napi_env env, napi_callback_info) {
    try {
        Instance* in = instance(env);
        if (!in) return nullptr;
        if (GcLog* log = in->gc; log && log->observing) {
            log->observing = false;
            log->isolate->RemoveGCPrologueCallback(gc_prologue, log);
            log->isolate->RemoveGCEpilogueCallback(gc_epilogue, log);
        }
        if (in->transport) in->transport->stop();
        delete in->sink;
        in->sink = nullptr;
    } catch (...) {
    }
    return nullptr;
}

// startError() → why the last start() returned false ("" if it did not).
napi_value start_error(napi_env env, napi_callback_info) {
    Instance* in = instance(env);
    napi_value v = nullptr;
    const std::string& e = in ? in->start_error : std::string();
    napi_create_string_utf8(env, e.data(), e.size(), &v);
    return v;
}

// connected() → the connection to the agent is up (false once it closed or after stop()).
napi_value connected(napi_env env, napi_callback_info) {
    Instance* in = instance(env);
    return make_bool(env, in && in->sink && in->transport && in->transport->alive());
}

// dropped() → records shed so far.
napi_value dropped(napi_env env, napi_callback_info) {
    napi_value v = nullptr;
    Instance* in = instance(env);
    napi_create_double(env, in && in->sink ? static_cast<double>(in->sink->dropped()) : 0.0, &v);
    return v;
}

napi_value init(napi_env env, napi_value exports) {
    // The sink outlives the environment on purpose (the transport's thread may still drain it), so
    // no finalizer frees the instance; a worker's Instance is a few bytes.
    if (instance(env) == nullptr) {
        auto* in = new (std::nothrow) Instance();
        if (in) napi_set_instance_data(env, in, nullptr, nullptr);
    }
    const napi_property_descriptor props[] = {
        {"aggregates", nullptr, aggregates, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"start", nullptr, start, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"defineString", nullptr, define_string, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"flush", nullptr, flush, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"pipeline", nullptr, pipeline, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"goodbye", nullptr, goodbye, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"dropped", nullptr, dropped, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"observeGc", nullptr, observe_gc, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"stop", nullptr, stop, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"connected", nullptr, connected, nullptr, nullptr, nullptr, napi_default, nullptr},
        {"startError", nullptr, start_error, nullptr, nullptr, nullptr, napi_default, nullptr},
    };
    napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
    napi_value width = nullptr;
    napi_create_uint32(env, static_cast<uint32_t>(kRowWidth), &width);
    napi_set_named_property(env, exports, "rowWidth", width);
    napi_create_uint32(env, static_cast<uint32_t>(kAggWidth), &width);
    napi_set_named_property(env, exports, "aggregateWidth", width);
    return exports;
}

}  // namespace
}  // namespace tidemark::node

NAPI_MODULE(NODE_GYP_MODULE_NAME, tidemark::node::init)
