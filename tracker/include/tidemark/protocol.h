// tidemark record schema and its binary encoding — the one contract between the tracker (which
// encodes records onto the wire), the agent (which decodes them and re-encodes them into a trace
// file) and tidemark_model (which reads traces). std-only, header-only, exception-free: the tracker
// includes it inside someone else's process.
//
// The same record encoding is used on the wire and inside trace-file chunks; only the framing
// differs (see docs/FORMAT.md). Two versions are kept apart: kWireVersion (tracker ↔ agent) and the
// file format version (tidemark_model's trace_format.h).
//
// Encoding primitives: unsigned LEB128 varints ("uv"), zigzag signed varints ("sv"), strings as
// uv length + bytes. Every record starts with its type byte. Time is carried as a signed delta
// (sv) against the previous record's time in the same Codec, so a stream of records pays ~1-2 bytes
// per timestamp; the first record after a Codec reset carries the absolute time.
//
// StreamSample is delta-encoded against the previous sample of the same stream held by the Codec:
// a field mask says which fields follow; absent fields keep their previous value. A sender may
// always send everything (mask = kAllSampleFields); the decoder does not care.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace tidemark::proto {

inline constexpr uint32_t kWireVersion = 4;  // 2: StreamAggregate, Hello.thread_id, kind bits 6-8
                                             // 3: GcEvent, StreamEvent DrainWait, kind bit 9
                                             // 4: native records (NativeModules … NativeStatus)
// Wire framing: | u32 LE payload length | payload (one encoded record) |. Bigger is hostile.
inline constexpr uint32_t kMaxRecordBytes = 1u << 20;
inline constexpr size_t kMaxStringBytes = 64 * 1024;

enum class RecordType : uint8_t {
    Hello = 1,          // first record of every connection
    StringDef = 2,      // interned string: id → text
    ProcessSample = 3,  // process-wide memory counters
    StreamCreated = 4,  // a stream was constructed
    StreamSample = 5,   // a stream's state (delta-encoded)
    StreamEvent = 6,    // pipe/unpipe/error/destroy/gone…
    Pipeline = 7,       // a pipeline() call and its stages
    CallSite = 8,       // a call site seen for a counted event (write after false, …)
    Dropped = 9,        // cumulative count of records the tracker shed
    Goodbye = 10,       // the tracked process is exiting
    StreamAggregate = 11,  // short-lived streams folded per type and creation site (cumulative)
    GcEvent = 12,       // garbage collections: each major one, minor ones summed per interval
    // Written by the agent only (never on the wire):
    ProcessExit = 32,   // how a process ended, as seen by waitpid / the connection
    AgentNote = 33,     // free text from the agent (warnings)
    // 64..95: native allocation tracking (tracker/native, docs/NATIVE.md). Sites are per process:
    // a site id is the target's index of one interned stack, so (proc, site) is the key.
    NativeModules = 64,  // the loaded modules (load bias, address range, path): for symbolization
    NativeStack = 65,    // site id → raw return addresses, innermost first (sent once per site)
    NativeSites = 66,    // cumulative per-site counters of the sites that changed since the last one
    NativeStatus = 67,   // mode, sampling interval, process-wide native totals
};

enum class Runtime : uint8_t { Unknown = 0, Node = 1, Native = 2 };

// Stream kind bits (StreamCreated::kind).
enum StreamKind : uint32_t {
    kKindReadable = 1u << 0,
    kKindWritable = 1u << 1,
    kKindReadableObjectMode = 1u << 2,
    kKindWritableObjectMode = 1u << 3,
    kKindHttpOutgoing = 1u << 4,  // OutgoingMessage family (ServerResponse, ClientRequest)
    kKindRegistered = 1u << 5,    // a non-Node queue registered through the C API
    kKindWeb = 1u << 6,           // a WHATWG stream (ReadableStream / WritableStream / TransformStream)
    kKindUserland = 1u << 7,      // from the userland `readable-stream` package, not node's own
    kKindSiteInferred = 1u << 8,  // site_str was not captured for this stream: it is the last site
                                  // captured for its constructor (capture budget spent)
    kKindHandle = 1u << 9,        // backed by an OS handle or file (socket, pipe, fs stream): its
                                  // write callbacks wait on the kernel, not on the app
};

// readableFlowing as carried in StreamSample::flags bits 0-1.
enum class Flowing : uint8_t { Null = 0, Paused = 1 /* false */, Flowing = 2 /* true */ };

// StreamSample::flags bits above the flowing field.
enum StreamFlag : uint32_t {
    kFlowingMask = 0x3,
    kFlagNeedDrain = 1u << 2,
    kFlagReadableEnded = 1u << 3,  // 'end' emitted
    kFlagWritableEnded = 1u << 4,  // end() called
    kFlagFinished = 1u << 5,       // 'finish' emitted
    kFlagDestroyed = 1u << 6,
    kFlagErrored = 1u << 7,
    kFlagWriting = 1u << 8,        // a _write/_transform callback is pending
    kFlagClosed = 1u << 9,
};

struct Hello {
    uint64_t t_us = 0;  // wall clock, µs since the Unix epoch
    uint32_t wire_version = kWireVersion;
    uint32_t pid = 0;
    uint32_t ppid = 0;
    Runtime runtime = Runtime::Unknown;
    uint32_t interval_ms = 0;
    std::string runtime_version;
    std::string cmdline;
    uint32_t proc = 0;  // trace-local process index (agent fills it in; 0 on the wire)
    uint32_t thread_id = 0;  // worker_threads threadId; 0 for the main thread (optional trailing field)
};

struct StringDef {
    uint64_t t_us = 0;
    uint32_t id = 0;  // 0 is reserved for "no string"
    std::string text;
};

struct ProcessSample {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    uint64_t rss_bytes = 0;
    uint64_t heap_used_bytes = 0;
    uint64_t heap_total_bytes = 0;
    uint64_t external_bytes = 0;
    uint64_t array_buffers_bytes = 0;
    uint64_t loop_delay_mean_us = 0;  // event-loop delay over the last interval
    uint64_t loop_delay_max_us = 0;
    uint64_t native_live_bytes = 0;   // native tracker's live heap bytes (0 when not tracking)
};

struct StreamCreated {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    uint64_t id = 0;          // unique per process on the wire; unique per trace in a file
    uint32_t kind = 0;        // StreamKind bits
    uint32_t type_str = 0;    // constructor name
    uint32_t site_str = 0;    // creation site "file:line" (first user frame), 0 if unknown
    uint64_t readable_hwm = 0;
    uint64_t writable_hwm = 0;
};

// Fields of StreamSample, in encoding order; bit i of the mask says field i is present.
enum SampleField : uint32_t {
    kFieldFlags = 1u << 0,
    kFieldReadableLength = 1u << 1,
    kFieldWritableLength = 1u << 2,
    kFieldBytesIn = 1u << 3,         // cumulative bytes (or objects) written into the writable side
    kFieldBytesPushed = 1u << 4,     // cumulative bytes (or objects) pushed into the readable side
    kFieldWritesAfterFalse = 1u << 5,
    kFieldPushesAfterFalse = 1u << 6,
    kFieldWriteCalls = 1u << 7,      // cumulative write() calls
    kFieldPushCalls = 1u << 8,       // cumulative push() calls
    kAllSampleFields = (1u << 9) - 1,
};

struct StreamSample {
    uint64_t t_us = 0;
    uint64_t id = 0;
    uint32_t flags = 0;  // Flowing in bits 0-1, StreamFlag bits above
    uint64_t readable_length = 0;
    uint64_t writable_length = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_pushed = 0;
    uint64_t writes_after_false = 0;
    uint64_t pushes_after_false = 0;
    uint64_t write_calls = 0;
    uint64_t push_calls = 0;

    Flowing flowing() const { return static_cast<Flowing>(flags & kFlowingMask); }
};

enum class StreamEventKind : uint8_t {
    Pipe = 1,     // id piped into other
    Unpipe = 2,   // id unpiped from other
    Error = 3,    // 'error' emitted; str = message
    Destroy = 4,  // destroy() called
    Gone = 5,     // garbage-collected (no longer reachable by the tracker)
    End = 6,      // 'end' emitted (readable side done)
    Finish = 7,   // 'finish' emitted (writable side done)
    Close = 8,
    // Someone began waiting for this stream's 'drain' when it cannot come (other = DrainWaitReason,
    // str = the waiting code's call site): while its own write callback is pending (drain follows
    // that callback), or while it is not in needDrain (drain is only emitted after a write
    // returned false).
    DrainWait = 9,
};
enum class DrainWaitReason : uint8_t { OwnCallbackPending = 1, NotNeedDrain = 2 };

struct StreamEvent {
    uint64_t t_us = 0;
    uint64_t id = 0;
    StreamEventKind kind = StreamEventKind::Pipe;
    uint64_t other = 0;    // the other stream (pipe/unpipe), 0 if none
    uint32_t str = 0;      // a string (error message), 0 if none
};

// One pipeline() call. stages[i] is a stream id, or 0 for a stage that is not a stream (a
// generator or function); stage_strs[i] describes it ("async generator", the function's name…).
struct Pipeline {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    uint64_t id = 0;
    uint32_t site_str = 0;
    std::vector<uint64_t> stages;
    std::vector<uint32_t> stage_strs;
};

enum class CallSiteKind : uint8_t { WriteAfterFalse = 1, PushAfterFalse = 2 };

// A call site seen for a counted event on a stream. count = how many of the stream's events this
// site accounts for so far (cumulative; the tracker reports the first few sites per stream).
struct CallSite {
    uint64_t t_us = 0;
    uint64_t id = 0;
    CallSiteKind kind = CallSiteKind::WriteAfterFalse;
    uint32_t site_str = 0;  // "file:line" of the first user frame, or "node:…" when none
    uint64_t count = 0;
};

struct Dropped {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    uint64_t records = 0;  // cumulative
};

struct Goodbye {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    int32_t exit_code = 0;
};

// Streams that were born and retired without anything notable (no write after false, never far
// past their highWaterMark, no error, did not outlive a sampling interval) are not announced one
// by one: the tracker folds them into one aggregate per (type, creation site) and sends the
// cumulative totals of an aggregate whenever they change (at most once per sampling tick). The
// latest record of a key supersedes the earlier ones.
inline constexpr int kLifetimeBuckets = 6;  // lifetime < 1 ms, < 10 ms, < 100 ms, < 1 s, < 10 s, >= 10 s
struct StreamAggregate {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    uint32_t type_str = 0;     // constructor name
    uint32_t site_str = 0;     // creation site "file:line" (for http server streams: the server's site)
    uint32_t kind = 0;         // StreamKind bits (of the first stream folded)
    uint64_t created = 0;      // streams created under this key, promoted ones included
    uint64_t promoted = 0;     // of which tracked individually (they have StreamCreated records)
    uint64_t retired = 0;      // folded here after reaching a terminal state (ended/finished/destroyed)
    uint64_t site_inferred = 0;  // streams whose site was not captured but inferred (budget spent)
    uint64_t bytes_in = 0;       // written into the writable side, summed over the retired ones
    uint64_t bytes_pushed = 0;   // pushed into the readable side, summed over the retired ones
    uint64_t write_calls = 0;
    uint64_t push_calls = 0;
    uint64_t peak_readable_length = 0;  // the largest buffered length seen on any of them
    uint64_t peak_writable_length = 0;
    uint64_t readable_hwm = 0;   // of the first stream folded
    uint64_t writable_hwm = 0;
    uint64_t lifetime_hist[kLifetimeBuckets] = {};  // retired streams by lifetime
};

// Garbage collections of a process's main isolate, observed from V8's GC callbacks. A major
// collection (mark-sweep-compact) is one record: what the heap held just before and just after,
// and external memory after. Minor collections (scavenges) are summed per sampling interval into
// one record: how many, their total pause and bytes freed, and the lowest heap seen right after
// one of them. `requested` marks a major collection the tracker asked V8 for (GcProbe, see
// docs/DETECTORS.md) — its floor is as good as any other.
enum class GcKind : uint8_t { Minor = 1, Major = 2 };
struct GcEvent {
    uint64_t t_us = 0;          // end of the (last) collection
    uint32_t proc = 0;
    GcKind kind = GcKind::Major;
    uint32_t count = 1;
    uint64_t pause_us = 0;      // summed
    uint64_t heap_before = 0;   // heap used just before (for Minor: before the last one)
    uint64_t heap_after = 0;    // heap used just after (for Minor: the lowest after any one)
    uint64_t freed_bytes = 0;   // summed (before - after) over the collections of the record
    uint64_t external_after = 0;
    bool requested = false;
};

struct ProcessExit {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    int32_t code = -1;    // exit status, -1 when killed by a signal or unknown
    int32_t signal = 0;   // terminating signal, 0 when none
};

struct AgentNote {
    uint64_t t_us = 0;
    std::string text;
};

// ---- native allocation tracking (wire version 4) ----------------------------------------------
inline constexpr size_t kMaxNativeModules = 4096;  // per NativeModules record
inline constexpr size_t kMaxNativeFrames = 64;     // per NativeStack record
inline constexpr size_t kMaxNativeSitesPerRecord = 4096;

struct NativeModule {
    uint64_t load_bias = 0;  // added to the ELF file's virtual addresses (dl_iterate_phdr's dlpi_addr)
    uint64_t start = 0;      // lowest address of its PT_LOAD segments (bias included)
    uint64_t end = 0;        // one past the highest
    std::string path;        // absolute path of the ELF file ("" when unknown)
};

// The target's loaded modules, complete each time (a later record replaces the earlier one of the
// same proc); re-sent when dlopen/dlclose changed them. `generation` counts the changes.
struct NativeModules {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    uint64_t generation = 0;
    std::vector<NativeModule> modules;
};

// One interned stack: the site's raw return addresses, innermost (the allocator's caller) first.
struct NativeStack {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    uint32_t site = 0;
    std::vector<uint64_t> frames;
};

// Cumulative counters of one site. In sampled mode they are unbiased estimates (each sampled
// allocation of size s counts s / p bytes and 1 / p allocations, p = 1 - exp(-s / interval)).
struct NativeSiteCounters {
    uint32_t site = 0;
    uint64_t allocs = 0;
    uint64_t alloc_bytes = 0;
    uint64_t frees = 0;
    uint64_t freed_bytes = 0;
    uint64_t live_bytes() const { return alloc_bytes > freed_bytes ? alloc_bytes - freed_bytes : 0; }
};

// The sites whose counters changed since the previous NativeSites of the process (counters are
// cumulative: a later record of a site supersedes the earlier ones, a dropped one loses resolution,
// never totals).
struct NativeSites {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    std::vector<NativeSiteCounters> sites;
};

enum class NativeMode : uint8_t { Off = 0, Sampled = 1, Full = 2 };

struct NativeStatus {
    uint64_t t_us = 0;
    uint32_t proc = 0;
    NativeMode mode = NativeMode::Off;
    uint64_t sample_interval_bytes = 0;  // mean of the exponential intervals (sampled mode)
    uint64_t live_bytes = 0;             // malloc-family bytes live (estimate in sampled mode)
    uint64_t mmap_bytes = 0;             // cumulative bytes mapped by the program's own mmap() calls
    uint64_t munmap_bytes = 0;           // cumulative bytes unmapped by munmap()
    uint64_t mmap_calls = 0;
    uint64_t untracked = 0;              // allocations not attributed (a table was full)
    uint64_t sites = 0;                  // sites interned so far
};

using Record = std::variant<Hello, StringDef, ProcessSample, StreamCreated, StreamSample,
                            StreamEvent, Pipeline, CallSite, Dropped, Goodbye, ProcessExit,
                            AgentNote, StreamAggregate, GcEvent, NativeModules, NativeStack,
                            NativeSites, NativeStatus>;

inline uint64_t record_time_us(const Record& r) {
    return std::visit([](const auto& x) { return x.t_us; }, r);
}

// ---- primitives ----------------------------------------------------------------------------

class Writer {
public:
    explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
    void u8(uint8_t v) { out_.push_back(v); }
    void uv(uint64_t v) {
        while (v >= 0x80) { out_.push_back(static_cast<uint8_t>(v | 0x80)); v >>= 7; }
        out_.push_back(static_cast<uint8_t>(v));
    }
    void sv(int64_t v) { uv((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
    void str(std::string_view s) {
        if (s.size() > kMaxStringBytes) s = s.substr(0, kMaxStringBytes);
        uv(s.size());
        out_.insert(out_.end(), s.begin(), s.end());
    }
private:
    std::vector<uint8_t>& out_;
};

class Reader {
public:
    Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
    bool ok() const { return ok_; }
    bool at_end() const { return p_ == end_; }
    size_t remaining() const { return static_cast<size_t>(end_ - p_); }
    uint8_t u8() {
        if (p_ >= end_) { ok_ = false; return 0; }
        return *p_++;
    }
    uint64_t uv() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ >= end_) { ok_ = false; return 0; }
            uint8_t b = *p_++;
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        ok_ = false;  // more than 10 bytes: not a varint
        return 0;
    }
    uint32_t u32v() {
        uint64_t v = uv();
        if (v > UINT32_MAX) ok_ = false;
        return static_cast<uint32_t>(v);
    }
    int64_t sv() {
        uint64_t v = uv();
        return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
    }
    std::string str() {
        uint64_t n = uv();
        if (!ok_ || n > kMaxStringBytes || n > remaining()) { ok_ = false; return {}; }
        std::string s(reinterpret_cast<const char*>(p_), static_cast<size_t>(n));
        p_ += n;
        return s;
    }
private:
    const uint8_t* p_;
    const uint8_t* end_;
    bool ok_ = true;
};

// ---- record codec --------------------------------------------------------------------------
// A Codec holds the context that makes records small: the previous record's time and the last
// sample of each stream. One Codec per direction per connection; trace files reset it at keyframes.
class Codec {
public:
    void reset() { prev_t_us_ = 0; last_.clear(); }

    // Appends one encoded record to out. For StreamSample the mask of fields to send is computed
    // against the previous sample of that stream (or everything when none or force_full).
    void encode(const Record& r, std::vector<uint8_t>& out, bool force_full = false);

    // Decodes one record from exactly [p, p+n). Returns false on malformed input (error says why).
    bool decode(const uint8_t* p, size_t n, Record& out, std::string& error);

    // Forget a stream's delta state (after Gone).
    void forget(uint64_t stream_id) { last_.erase(stream_id); }

private:
    void put_time(Writer& w, uint64_t t) {
        w.sv(static_cast<int64_t>(t - prev_t_us_));
        prev_t_us_ = t;
    }
    uint64_t get_time(Reader& r) {
        prev_t_us_ = static_cast<uint64_t>(static_cast<int64_t>(prev_t_us_) + r.sv());
        return prev_t_us_;
    }
    uint64_t prev_t_us_ = 0;
    std::unordered_map<uint64_t, StreamSample> last_;
};

// Sample fields as an array, for mask-driven encode/decode.
inline uint64_t* sample_field_ptrs(StreamSample& s, int i) {
    switch (i) {
        case 1: return &s.readable_length;
        case 2: return &s.writable_length;
        case 3: return &s.bytes_in;
        case 4: return &s.bytes_pushed;
        case 5: return &s.writes_after_false;
        case 6: return &s.pushes_after_false;
        case 7: return &s.write_calls;
        case 8: return &s.push_calls;
        default: return nullptr;
    }
}
inline constexpr int kSampleFieldCount = 9;

inline void Codec::encode(const Record& rec, std::vector<uint8_t>& out, bool force_full) {
    Writer w(out);
    switch (rec.index()) {
        case 0: {  // Hello
            //  u8 type=1 | sv dt | uv wire_version | uv pid | uv ppid | u8 runtime | uv interval_ms
            //  | str runtime_version | str cmdline | uv proc | [uv thread_id]
            //  (thread_id is optional: absent in files of wire version 1, read as 0)
            const auto& x = std::get<Hello>(rec);
            w.u8(static_cast<uint8_t>(RecordType::Hello)); put_time(w, x.t_us);
            w.uv(x.wire_version); w.uv(x.pid); w.uv(x.ppid); w.u8(static_cast<uint8_t>(x.runtime));
            w.uv(x.interval_ms); w.str(x.runtime_version); w.str(x.cmdline); w.uv(x.proc);
            if (x.thread_id != 0) w.uv(x.thread_id);
            break;
        }
        case 1: {  // StringDef:  u8 type=2 | sv dt | uv id | str text
            const auto& x = std::get<StringDef>(rec);
            w.u8(static_cast<uint8_t>(RecordType::StringDef)); put_time(w, x.t_us);
            w.uv(x.id); w.str(x.text);
            break;
        }
        case 2: {  // ProcessSample: u8 type=3 | sv dt | uv proc | uv ×8 counters
            const auto& x = std::get<ProcessSample>(rec);
            w.u8(static_cast<uint8_t>(RecordType::ProcessSample)); put_time(w, x.t_us);
            w.uv(x.proc); w.uv(x.rss_bytes); w.uv(x.heap_used_bytes); w.uv(x.heap_total_bytes);
            w.uv(x.external_bytes); w.uv(x.array_buffers_bytes); w.uv(x.loop_delay_mean_us);
            w.uv(x.loop_delay_max_us); w.uv(x.native_live_bytes);
            break;
        }
        case 3: {  // StreamCreated: u8 type=4 | sv dt | uv proc | uv id | uv kind | uv type_str
                   //                | uv site_str | uv readable_hwm | uv writable_hwm
            const auto& x = std::get<StreamCreated>(rec);
            w.u8(static_cast<uint8_t>(RecordType::StreamCreated)); put_time(w, x.t_us);
            w.uv(x.proc); w.uv(x.id); w.uv(x.kind); w.uv(x.type_str); w.uv(x.site_str);
            w.uv(x.readable_hwm); w.uv(x.writable_hwm);
            break;
        }
        case 4: {  // StreamSample: u8 type=5 | sv dt | uv id | uv mask | [uv field]… (mask order)
            auto x = std::get<StreamSample>(rec);
            uint32_t mask = kAllSampleFields;
            auto it = last_.find(x.id);
            if (it != last_.end() && !force_full) {
                mask = 0;
                if (it->second.flags != x.flags) mask |= kFieldFlags;
                for (int i = 1; i < kSampleFieldCount; ++i)
                    if (*sample_field_ptrs(it->second, i) != *sample_field_ptrs(x, i)) mask |= 1u << i;
            }
            w.u8(static_cast<uint8_t>(RecordType::StreamSample)); put_time(w, x.t_us);
            w.uv(x.id); w.uv(mask);
            if (mask & kFieldFlags) w.uv(x.flags);
            for (int i = 1; i < kSampleFieldCount; ++i)
                if (mask & (1u << i)) w.uv(*sample_field_ptrs(x, i));
            last_[x.id] = x;
            break;
        }
        case 5: {  // StreamEvent: u8 type=6 | sv dt | uv id | u8 kind | uv other | uv str
            const auto& x = std::get<StreamEvent>(rec);
            w.u8(static_cast<uint8_t>(RecordType::StreamEvent)); put_time(w, x.t_us);
            w.uv(x.id); w.u8(static_cast<uint8_t>(x.kind)); w.uv(x.other); w.uv(x.str);
            if (x.kind == StreamEventKind::Gone) last_.erase(x.id);
            break;
        }
        case 6: {  // Pipeline: u8 type=7 | sv dt | uv proc | uv id | uv site_str | uv n
                   //           | n × (uv stage id | uv stage str)
            const auto& x = std::get<Pipeline>(rec);
            w.u8(static_cast<uint8_t>(RecordType::Pipeline)); put_time(w, x.t_us);
            w.uv(x.proc); w.uv(x.id); w.uv(x.site_str); w.uv(x.stages.size());
            for (size_t i = 0; i < x.stages.size(); ++i) {
                w.uv(x.stages[i]);
                w.uv(i < x.stage_strs.size() ? x.stage_strs[i] : 0);
            }
            break;
        }
        case 7: {  // CallSite: u8 type=8 | sv dt | uv id | u8 kind | uv site_str | uv count
            const auto& x = std::get<CallSite>(rec);
            w.u8(static_cast<uint8_t>(RecordType::CallSite)); put_time(w, x.t_us);
            w.uv(x.id); w.u8(static_cast<uint8_t>(x.kind)); w.uv(x.site_str); w.uv(x.count);
            break;
        }
        case 8: {  // Dropped: u8 type=9 | sv dt | uv proc | uv records
            const auto& x = std::get<Dropped>(rec);
            w.u8(static_cast<uint8_t>(RecordType::Dropped)); put_time(w, x.t_us);
            w.uv(x.proc); w.uv(x.records);
            break;
        }
        case 9: {  // Goodbye: u8 type=10 | sv dt | uv proc | sv exit_code
            const auto& x = std::get<Goodbye>(rec);
            w.u8(static_cast<uint8_t>(RecordType::Goodbye)); put_time(w, x.t_us);
            w.uv(x.proc); w.sv(x.exit_code);
            break;
        }
        case 10: {  // ProcessExit: u8 type=32 | sv dt | uv proc | sv code | sv signal
            const auto& x = std::get<ProcessExit>(rec);
            w.u8(static_cast<uint8_t>(RecordType::ProcessExit)); put_time(w, x.t_us);
            w.uv(x.proc); w.sv(x.code); w.sv(x.signal);
            break;
        }
        case 11: {  // AgentNote: u8 type=33 | sv dt | str text
            const auto& x = std::get<AgentNote>(rec);
            w.u8(static_cast<uint8_t>(RecordType::AgentNote)); put_time(w, x.t_us);
            w.str(x.text);
            break;
        }
        case 12: {  // StreamAggregate: u8 type=11 | sv dt | uv proc | uv type_str | uv site_str | uv kind
                    //   | uv created | uv promoted | uv retired | uv site_inferred | uv bytes_in
                    //   | uv bytes_pushed | uv write_calls | uv push_calls | uv peak_readable_length
                    //   | uv peak_writable_length | uv readable_hwm | uv writable_hwm
                    //   | uv n (= kLifetimeBuckets) | n × uv lifetime bucket
            const auto& x = std::get<StreamAggregate>(rec);
            w.u8(static_cast<uint8_t>(RecordType::StreamAggregate)); put_time(w, x.t_us);
            w.uv(x.proc); w.uv(x.type_str); w.uv(x.site_str); w.uv(x.kind);
            w.uv(x.created); w.uv(x.promoted); w.uv(x.retired); w.uv(x.site_inferred);
            w.uv(x.bytes_in); w.uv(x.bytes_pushed); w.uv(x.write_calls); w.uv(x.push_calls);
            w.uv(x.peak_readable_length); w.uv(x.peak_writable_length);
            w.uv(x.readable_hwm); w.uv(x.writable_hwm);
            w.uv(kLifetimeBuckets);
            for (uint64_t b : x.lifetime_hist) w.uv(b);
            break;
        }
        case 13: {  // GcEvent: u8 type=12 | sv dt | uv proc | u8 kind | uv count | uv pause_us
                    //   | uv heap_before | uv heap_after | uv freed_bytes | uv external_after | u8 flags
            const auto& x = std::get<GcEvent>(rec);
            w.u8(static_cast<uint8_t>(RecordType::GcEvent)); put_time(w, x.t_us);
            w.uv(x.proc); w.u8(static_cast<uint8_t>(x.kind)); w.uv(x.count); w.uv(x.pause_us);
            w.uv(x.heap_before); w.uv(x.heap_after); w.uv(x.freed_bytes); w.uv(x.external_after);
            w.u8(x.requested ? 1 : 0);
            break;
        }
        case 14: {  // NativeModules: u8 type=64 | sv dt | uv proc | uv generation | uv n
                    //   | n × (uv load_bias | uv start | uv end | str path)
            const auto& x = std::get<NativeModules>(rec);
            w.u8(static_cast<uint8_t>(RecordType::NativeModules)); put_time(w, x.t_us);
            w.uv(x.proc); w.uv(x.generation);
            const size_t n = x.modules.size() < kMaxNativeModules ? x.modules.size() : kMaxNativeModules;
            w.uv(n);
            for (size_t i = 0; i < n; ++i) {
                const auto& m = x.modules[i];
                w.uv(m.load_bias); w.uv(m.start); w.uv(m.end); w.str(m.path);
            }
            break;
        }
        case 15: {  // NativeStack: u8 type=65 | sv dt | uv proc | uv site | uv n | n × sv frame delta
                    //   (each frame as a signed delta against the previous one; the first against 0)
            const auto& x = std::get<NativeStack>(rec);
            w.u8(static_cast<uint8_t>(RecordType::NativeStack)); put_time(w, x.t_us);
            w.uv(x.proc); w.uv(x.site);
            const size_t n = x.frames.size() < kMaxNativeFrames ? x.frames.size() : kMaxNativeFrames;
            w.uv(n);
            uint64_t prev = 0;
            for (size_t i = 0; i < n; ++i) {
                w.sv(static_cast<int64_t>(x.frames[i] - prev));
                prev = x.frames[i];
            }
            break;
        }
        case 16: {  // NativeSites: u8 type=66 | sv dt | uv proc | uv n
                    //   | n × (uv site | uv allocs | uv alloc_bytes | uv frees | uv freed_bytes)
            const auto& x = std::get<NativeSites>(rec);
            w.u8(static_cast<uint8_t>(RecordType::NativeSites)); put_time(w, x.t_us);
            w.uv(x.proc);
            const size_t n = x.sites.size() < kMaxNativeSitesPerRecord ? x.sites.size() : kMaxNativeSitesPerRecord;
            w.uv(n);
            for (size_t i = 0; i < n; ++i) {
                const auto& c = x.sites[i];
                w.uv(c.site); w.uv(c.allocs); w.uv(c.alloc_bytes); w.uv(c.frees); w.uv(c.freed_bytes);
            }
            break;
        }
        case 17: {  // NativeStatus: u8 type=67 | sv dt | uv proc | u8 mode | uv sample_interval_bytes
                    //   | uv live_bytes | uv mmap_bytes | uv munmap_bytes | uv mmap_calls | uv untracked | uv sites
            const auto& x = std::get<NativeStatus>(rec);
            w.u8(static_cast<uint8_t>(RecordType::NativeStatus)); put_time(w, x.t_us);
            w.uv(x.proc); w.u8(static_cast<uint8_t>(x.mode)); w.uv(x.sample_interval_bytes);
            w.uv(x.live_bytes); w.uv(x.mmap_bytes); w.uv(x.munmap_bytes); w.uv(x.mmap_calls);
            w.uv(x.untracked); w.uv(x.sites);
            break;
        }
    }
}

inline bool Codec::decode(const uint8_t* p, size_t n, Record& out, std::string& error) {
    Reader r(p, n);
    const uint8_t type = r.u8();
    if (!r.ok()) { error = "empty record"; return false; }
    const uint64_t saved_t = prev_t_us_;
    switch (static_cast<RecordType>(type)) {
        case RecordType::Hello: {
            Hello x; x.t_us = get_time(r);
            x.wire_version = r.u32v(); x.pid = r.u32v(); x.ppid = r.u32v();
            x.runtime = static_cast<Runtime>(r.u8()); x.interval_ms = r.u32v();
            x.runtime_version = r.str(); x.cmdline = r.str(); x.proc = r.u32v();
            if (r.ok() && !r.at_end()) x.thread_id = r.u32v();
            out = std::move(x);
            break;
        }
        case RecordType::StringDef: {
            StringDef x; x.t_us = get_time(r); x.id = r.u32v(); x.text = r.str();
            out = std::move(x);
            break;
        }
        case RecordType::ProcessSample: {
            ProcessSample x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.rss_bytes = r.uv(); x.heap_used_bytes = r.uv();
            x.heap_total_bytes = r.uv(); x.external_bytes = r.uv(); x.array_buffers_bytes = r.uv();
            x.loop_delay_mean_us = r.uv(); x.loop_delay_max_us = r.uv(); x.native_live_bytes = r.uv();
            out = x;
            break;
        }
        case RecordType::StreamCreated: {
            StreamCreated x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.id = r.uv(); x.kind = r.u32v(); x.type_str = r.u32v();
            x.site_str = r.u32v(); x.readable_hwm = r.uv(); x.writable_hwm = r.uv();
            out = x;
            break;
        }
        case RecordType::StreamSample: {
            StreamSample x; x.t_us = get_time(r);
            x.id = r.uv();
            const uint64_t mask = r.uv();
            if (mask & ~static_cast<uint64_t>(kAllSampleFields)) { error = "stream sample has unknown fields"; prev_t_us_ = saved_t; return false; }
            auto it = last_.find(x.id);
            if (it != last_.end()) {
                const uint64_t t = x.t_us;
                x = it->second;
                x.t_us = t;
            } else if (mask != kAllSampleFields) {
                error = "stream sample for stream " + std::to_string(x.id) + " is a delta with no earlier full sample";
                prev_t_us_ = saved_t;
                return false;
            }
            if (mask & kFieldFlags) x.flags = r.u32v();
            for (int i = 1; i < kSampleFieldCount; ++i)
                if (mask & (1u << i)) *sample_field_ptrs(x, i) = r.uv();
            if (r.ok()) last_[x.id] = x;
            out = x;
            break;
        }
        case RecordType::StreamEvent: {
            StreamEvent x; x.t_us = get_time(r);
            x.id = r.uv(); x.kind = static_cast<StreamEventKind>(r.u8()); x.other = r.uv(); x.str = r.u32v();
            if (x.kind < StreamEventKind::Pipe || x.kind > StreamEventKind::DrainWait) { error = "unknown stream event kind"; prev_t_us_ = saved_t; return false; }
            if (x.kind == StreamEventKind::Gone) last_.erase(x.id);
            out = x;
            break;
        }
        case RecordType::Pipeline: {
            Pipeline x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.id = r.uv(); x.site_str = r.u32v();
            const uint64_t count = r.uv();
            if (count > 1024 || count * 2 > r.remaining()) { error = "pipeline stage count out of range"; prev_t_us_ = saved_t; return false; }
            for (uint64_t i = 0; i < count; ++i) { x.stages.push_back(r.uv()); x.stage_strs.push_back(r.u32v()); }
            out = std::move(x);
            break;
        }
        case RecordType::CallSite: {
            CallSite x; x.t_us = get_time(r);
            x.id = r.uv(); x.kind = static_cast<CallSiteKind>(r.u8()); x.site_str = r.u32v(); x.count = r.uv();
            out = x;
            break;
        }
        case RecordType::Dropped: {
            Dropped x; x.t_us = get_time(r); x.proc = r.u32v(); x.records = r.uv();
            out = x;
            break;
        }
        case RecordType::Goodbye: {
            Goodbye x; x.t_us = get_time(r); x.proc = r.u32v(); x.exit_code = static_cast<int32_t>(r.sv());
            out = x;
            break;
        }
        case RecordType::ProcessExit: {
            ProcessExit x; x.t_us = get_time(r); x.proc = r.u32v();
            x.code = static_cast<int32_t>(r.sv()); x.signal = static_cast<int32_t>(r.sv());
            out = x;
            break;
        }
        case RecordType::AgentNote: {
            AgentNote x; x.t_us = get_time(r); x.text = r.str();
            out = std::move(x);
            break;
        }
        case RecordType::StreamAggregate: {
            StreamAggregate x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.type_str = r.u32v(); x.site_str = r.u32v(); x.kind = r.u32v();
            x.created = r.uv(); x.promoted = r.uv(); x.retired = r.uv(); x.site_inferred = r.uv();
            x.bytes_in = r.uv(); x.bytes_pushed = r.uv(); x.write_calls = r.uv(); x.push_calls = r.uv();
            x.peak_readable_length = r.uv(); x.peak_writable_length = r.uv();
            x.readable_hwm = r.uv(); x.writable_hwm = r.uv();
            const uint64_t buckets = r.uv();
            if (buckets > 64) { error = "stream aggregate has too many lifetime buckets"; prev_t_us_ = saved_t; return false; }
            for (uint64_t i = 0; i < buckets; ++i) {
                const uint64_t b = r.uv();
                if (i < static_cast<uint64_t>(kLifetimeBuckets)) x.lifetime_hist[i] = b;
            }
            out = x;
            break;
        }
        case RecordType::GcEvent: {
            GcEvent x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.kind = static_cast<GcKind>(r.u8()); x.count = r.u32v(); x.pause_us = r.uv();
            x.heap_before = r.uv(); x.heap_after = r.uv(); x.freed_bytes = r.uv(); x.external_after = r.uv();
            x.requested = (r.u8() & 1) != 0;
            if (x.kind != GcKind::Minor && x.kind != GcKind::Major) { error = "unknown gc kind"; prev_t_us_ = saved_t; return false; }
            out = x;
            break;
        }
        case RecordType::NativeModules: {
            NativeModules x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.generation = r.uv();
            const uint64_t count = r.uv();
            if (count > kMaxNativeModules || count * 4 > r.remaining()) { error = "native module count out of range"; prev_t_us_ = saved_t; return false; }
            x.modules.resize(static_cast<size_t>(count));
            for (auto& m : x.modules) { m.load_bias = r.uv(); m.start = r.uv(); m.end = r.uv(); m.path = r.str(); }
            out = std::move(x);
            break;
        }
        case RecordType::NativeStack: {
            NativeStack x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.site = r.u32v();
            const uint64_t count = r.uv();
            if (count > kMaxNativeFrames || count > r.remaining()) { error = "native stack depth out of range"; prev_t_us_ = saved_t; return false; }
            x.frames.resize(static_cast<size_t>(count));
            uint64_t prev = 0;
            for (auto& f : x.frames) { prev += static_cast<uint64_t>(r.sv()); f = prev; }
            out = std::move(x);
            break;
        }
        case RecordType::NativeSites: {
            NativeSites x; x.t_us = get_time(r);
            x.proc = r.u32v();
            const uint64_t count = r.uv();
            if (count > kMaxNativeSitesPerRecord || count * 5 > r.remaining()) { error = "native site count out of range"; prev_t_us_ = saved_t; return false; }
            x.sites.resize(static_cast<size_t>(count));
            for (auto& c : x.sites) { c.site = r.u32v(); c.allocs = r.uv(); c.alloc_bytes = r.uv(); c.frees = r.uv(); c.freed_bytes = r.uv(); }
            out = std::move(x);
            break;
        }
        case RecordType::NativeStatus: {
            NativeStatus x; x.t_us = get_time(r);
            x.proc = r.u32v(); x.mode = static_cast<NativeMode>(r.u8()); x.sample_interval_bytes = r.uv();
            x.live_bytes = r.uv(); x.mmap_bytes = r.uv(); x.munmap_bytes = r.uv(); x.mmap_calls = r.uv();
            x.untracked = r.uv(); x.sites = r.uv();
            if (static_cast<uint8_t>(x.mode) > 2) { error = "unknown native mode"; prev_t_us_ = saved_t; return false; }
            out = x;
            break;
        }
        default:
            error = "unknown record type " + std::to_string(type);
            return false;
    }
    if (!r.ok()) { error = "record of type " + std::to_string(type) + " is truncated or malformed"; prev_t_us_ = saved_t; return false; }
    if (!r.at_end()) { error = "record of type " + std::to_string(type) + " has " + std::to_string(r.remaining()) + " trailing bytes"; prev_t_us_ = saved_t; return false; }
    return true;
}

// Wire framing helper: appends | u32 LE length | record | to out.
inline void frame_record(Codec& codec, const Record& r, std::vector<uint8_t>& out) {
    const size_t at = out.size();
    out.resize(at + 4);
    codec.encode(r, out);
    const uint32_t len = static_cast<uint32_t>(out.size() - at - 4);
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(len >> (8 * i));
}

}  // namespace tidemark::proto
