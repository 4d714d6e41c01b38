// `tidemark dump` (dump.h): every record of a trace as one line, with chunk and keyframe markers,
// so a user (or a bug report) can see exactly what a file holds.
#include "tidemark/model/report/dump.h"

#include <cstdio>
#include <ostream>
#include <type_traits>

#include "tidemark/model/trace/reader.h"

namespace tidemark::model {
namespace {

std::string quoted(const std::unordered_map<uint32_t, std::string>& strings, uint32_t id) {
    if (id == 0) return "-";
    auto it = strings.find(id);
    if (it == strings.end()) return "#" + std::to_string(id) + "(undefined)";
    return "\"" + it->second + "\"";
}

std::string flags_text(uint32_t flags) {
    static const char* flowing[] = {"null", "false", "true", "?"};
    std::string s = std::string("flowing=") + flowing[flags & proto::kFlowingMask];
    const std::pair<uint32_t, const char*> bits[] = {
        {proto::kFlagNeedDrain, "needDrain"}, {proto::kFlagReadableEnded, "ended"},
        {proto::kFlagWritableEnded, "endCalled"}, {proto::kFlagFinished, "finished"},
        {proto::kFlagDestroyed, "destroyed"}, {proto::kFlagErrored, "errored"},
        {proto::kFlagWriting, "writing"}, {proto::kFlagClosed, "closed"}};
    for (const auto& [bit, name] : bits)
        if (flags & bit) s += std::string("|") + name;
    return s;
}

// "0x1c3(readable|writable|web|site-inferred)": the bits in hex, then the ones with names.
std::string kind_text(uint32_t kind) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", kind);
    const std::pair<uint32_t, const char*> bits[] = {
        {proto::kKindReadable, "readable"}, {proto::kKindWritable, "writable"},
        {proto::kKindReadableObjectMode, "readableObjectMode"}, {proto::kKindWritableObjectMode, "writableObjectMode"},
        {proto::kKindHttpOutgoing, "http"}, {proto::kKindRegistered, "registered"}, {proto::kKindWeb, "web"},
        {proto::kKindUserland, "readable-stream"}, {proto::kKindSiteInferred, "site-inferred"},
        {proto::kKindHandle, "handle"}};
    std::string names;
    for (const auto& [bit, name] : bits)
        if (kind & bit) names += (names.empty() ? "" : "|") + std::string(name);
    return names.empty() ? std::string(hex) : std::string(hex) + "(" + names + ")";
}

const char* event_name(proto::StreamEventKind k) {
    switch (k) {
        case proto::StreamEventKind::Pipe: return "pipe";
        case proto::StreamEventKind::Unpipe: return "unpipe";
        case proto::StreamEventKind::Error: return "error";
        case proto::StreamEventKind::Destroy: return "destroy";
        case proto::StreamEventKind::Gone: return "gone";
        case proto::StreamEventKind::End: return "end";
        case proto::StreamEventKind::Finish: return "finish";
        case proto::StreamEventKind::Close: return "close";
        case proto::StreamEventKind::DrainWait: return "drain-wait";
    }
    return "?";
}

}  // namespace

std::string format_record(const proto::Record& record, const std::unordered_map<uint32_t, std::string>& strings) {
    using std::to_string;
    return std::visit(
        [&](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, proto::Hello>) {
                return "Hello proc=" + to_string(x.proc) + " pid=" + to_string(x.pid) + " ppid=" + to_string(x.ppid) +
                       " runtime=" + (x.runtime == proto::Runtime::Node ? "node" : x.runtime == proto::Runtime::Native ? "native" : "unknown") +
                       " " + x.runtime_version + " wire=" +
                       to_string(x.wire_version) + " interval_ms=" + to_string(x.interval_ms) +
                       (x.thread_id ? " thread_id=" + to_string(x.thread_id) : std::string()) + " cmdline=\"" +
                       x.cmdline + "\"";
            } else if constexpr (std::is_same_v<T, proto::StringDef>) {
                return "StringDef #" + to_string(x.id) + " = \"" + x.text + "\"";
            } else if constexpr (std::is_same_v<T, proto::ProcessSample>) {
                return "ProcessSample proc=" + to_string(x.proc) + " rss=" + to_string(x.rss_bytes) +
                       " heap_used=" + to_string(x.heap_used_bytes) + " heap_total=" + to_string(x.heap_total_bytes) +
                       " external=" + to_string(x.external_bytes) + " array_buffers=" + to_string(x.array_buffers_bytes) +
                       " loop_delay_us=" + to_string(x.loop_delay_mean_us) + "/" + to_string(x.loop_delay_max_us) +
                       " native_live=" + to_string(x.native_live_bytes);
            } else if constexpr (std::is_same_v<T, proto::StreamCreated>) {
                return "StreamCreated id=" + to_string(x.id) + " proc=" + to_string(x.proc) + " type=" +
                       quoted(strings, x.type_str) + " at=" + quoted(strings, x.site_str) + " kind=" +
                       kind_text(x.kind) + " hwm=" + to_string(x.readable_hwm) + "/" + to_string(x.writable_hwm);
            } else if constexpr (std::is_same_v<T, proto::StreamSample>) {
                return "StreamSample id=" + to_string(x.id) + " " + flags_text(x.flags) + " rlen=" +
                       to_string(x.readable_length) + " wlen=" + to_string(x.writable_length) + " in=" +
                       to_string(x.bytes_in) + " pushed=" + to_string(x.bytes_pushed) + " writes=" +
                       to_string(x.write_calls) + " pushes=" + to_string(x.push_calls) + " writes_after_false=" +
                       to_string(x.writes_after_false) + " pushes_after_false=" + to_string(x.pushes_after_false);
            } else if constexpr (std::is_same_v<T, proto::StreamEvent>) {
                std::string s = "StreamEvent id=" + to_string(x.id) + " " + event_name(x.kind);
                if (x.kind == proto::StreamEventKind::DrainWait)
                    s += x.other == static_cast<uint64_t>(proto::DrainWaitReason::OwnCallbackPending)
                             ? " reason=own-callback-pending" : " reason=not-need-drain";
                else if (x.other) s += " other=" + to_string(x.other);
                if (x.str) s += " " + quoted(strings, x.str);
                return s;
            } else if constexpr (std::is_same_v<T, proto::Pipeline>) {
                std::string s = "Pipeline id=" + to_string(x.id) + " proc=" + to_string(x.proc) + " at=" +
                                quoted(strings, x.site_str) + " stages=[";
                for (size_t i = 0; i < x.stages.size(); ++i) {
                    if (i) s += ", ";
                    s += x.stages[i] ? to_string(x.stages[i])
                                     : quoted(strings, i < x.stage_strs.size() ? x.stage_strs[i] : 0);
                }
                return s + "]";
            } else if constexpr (std::is_same_v<T, proto::CallSite>) {
                return "CallSite id=" + to_string(x.id) +
                       (x.kind == proto::CallSiteKind::WriteAfterFalse ? " write-after-false" : " push-after-false") +
                       " at=" + quoted(strings, x.site_str) + " count=" + to_string(x.count);
            } else if constexpr (std::is_same_v<T, proto::Dropped>) {
                return "Dropped proc=" + to_string(x.proc) + " records=" + to_string(x.records);
            } else if constexpr (std::is_same_v<T, proto::Goodbye>) {
                return "Goodbye proc=" + to_string(x.proc) + " exit_code=" + to_string(x.exit_code);
            } else if constexpr (std::is_same_v<T, proto::ProcessExit>) {
                return "ProcessExit proc=" + to_string(x.proc) + " code=" + to_string(x.code) + " signal=" + to_string(x.signal);
            } else if constexpr (std::is_same_v<T, proto::AgentNote>) {
                return "AgentNote \"" + x.text + "\"";
            } else if constexpr (std::is_same_v<T, proto::StreamAggregate>) {
                std::string s = "StreamAggregate proc=" + to_string(x.proc) + " type=" + quoted(strings, x.type_str) +
                                " at=" + quoted(strings, x.site_str) + " kind=" + kind_text(x.kind) +
                                " created=" + to_string(x.created) + " promoted=" + to_string(x.promoted) +
                                " retired=" + to_string(x.retired) + " site_inferred=" + to_string(x.site_inferred) +
                                " in=" + to_string(x.bytes_in) + " pushed=" + to_string(x.bytes_pushed) +
                                " writes=" + to_string(x.write_calls) + " pushes=" + to_string(x.push_calls) +
                                " peak_rlen=" + to_string(x.peak_readable_length) +
                                " peak_wlen=" + to_string(x.peak_writable_length) + " hwm=" +
                                to_string(x.readable_hwm) + "/" + to_string(x.writable_hwm) + " lifetimes=[";
                for (int i = 0; i < proto::kLifetimeBuckets; ++i) s += (i ? "," : "") + to_string(x.lifetime_hist[i]);
                return s + "]";
            } else if constexpr (std::is_same_v<T, proto::GcEvent>) {
                return std::string("GcEvent proc=") + to_string(x.proc) +
                       (x.kind == proto::GcKind::Major ? " major" : " minor") + " count=" + to_string(x.count) +
                       " pause_us=" + to_string(x.pause_us) + " heap_before=" + to_string(x.heap_before) +
                       " heap_after=" + to_string(x.heap_after) + " freed=" + to_string(x.freed_bytes) +
                       " external_after=" + to_string(x.external_after) + (x.requested ? " requested" : "");
            } else if constexpr (std::is_same_v<T, proto::NativeModules>) {
                std::string s = "NativeModules proc=" + to_string(x.proc) + " generation=" + to_string(x.generation) +
                                " n=" + to_string(x.modules.size());
                char buf[64];
                for (const auto& m : x.modules) {
                    std::snprintf(buf, sizeof buf, " [%#llx-%#llx bias=%#llx ", static_cast<unsigned long long>(m.start),
                                  static_cast<unsigned long long>(m.end), static_cast<unsigned long long>(m.load_bias));
                    s += buf + m.path + "]";
                }
                return s;
            } else if constexpr (std::is_same_v<T, proto::NativeStack>) {
                std::string s = "NativeStack proc=" + to_string(x.proc) + " site=" + to_string(x.site) + " frames=[";
                char buf[24];
                for (size_t i = 0; i < x.frames.size(); ++i) {
                    std::snprintf(buf, sizeof buf, "%s%#llx", i ? " " : "", static_cast<unsigned long long>(x.frames[i]));
                    s += buf;
                }
                return s + "]";
            } else if constexpr (std::is_same_v<T, proto::NativeSites>) {
                std::string s = "NativeSites proc=" + to_string(x.proc) + " n=" + to_string(x.sites.size());
                for (const auto& c : x.sites)
                    s += " [site=" + to_string(c.site) + " allocs=" + to_string(c.allocs) + " bytes=" +
                         to_string(c.alloc_bytes) + " frees=" + to_string(c.frees) + " freed=" + to_string(c.freed_bytes) + "]";
                return s;
            } else if constexpr (std::is_same_v<T, proto::NativeStatus>) {
                const char* mode = x.mode == proto::NativeMode::Full ? "full" : x.mode == proto::NativeMode::Sampled ? "sampled" : "off";
                return "NativeStatus proc=" + to_string(x.proc) + " mode=" + mode + " interval=" +
                       to_string(x.sample_interval_bytes) + " live=" + to_string(x.live_bytes) + " mmap=" +
                       to_string(x.mmap_bytes) + " munmap=" + to_string(x.munmap_bytes) + " mmap_calls=" +
                       to_string(x.mmap_calls) + " untracked=" + to_string(x.untracked) + " sites=" + to_string(x.sites);
            } else {
                static_assert(sizeof(T) == 0, "format_record does not handle this record type");
            }
        },
        record);
}

int dump_trace(const std::string& path, std::ostream& out, std::ostream& err) {
    TraceReader::Options options;
    options.include_keyframes = true;
    auto opened = TraceReader::open(path, options);
    if (!opened.status) {
        err << "tidemark: " << opened.status.message() << "\n";
        return 2;
    }
    TraceReader& reader = *opened.reader;
    out << "# " << path << ": tidemark trace format v" << reader.file_version() << ", " << reader.file_size()
        << " bytes, starts at " << reader.start_us() << " µs since the epoch, "
        << (reader.has_footer() ? "closed cleanly" : "no footer (not closed cleanly)") << ", "
        << reader.keyframes().size() << " keyframes\n";
    std::unordered_map<uint32_t, std::string> strings;
    proto::Record record;
    RecordOrigin origin;
    uint64_t chunk = UINT64_MAX, records = 0;
    ReadResult r;
    char tbuf[48];
    while ((r = reader.next(record, &origin)) == ReadResult::Record) {
        if (origin.chunk_index != chunk || chunk == UINT64_MAX) {
            chunk = origin.chunk_index;
            out << "-- chunk " << origin.chunk_index << " at byte " << origin.chunk_offset << ": "
                << format::chunk_type_name(uint8_t(origin.chunk_type)) << ", " << origin.stored_bytes << " bytes stored"
                << (origin.compressed ? " (zstd, " + std::to_string(origin.raw_bytes) + " unpacked)" : "")
                << (origin.keyframe ? " — state repeated from earlier; a reader may start here" : "") << "\n";
        }
        if (const auto* s = std::get_if<proto::StringDef>(&record)) strings[s->id] = s->text;
        const uint64_t t = proto::record_time_us(record);
        const double t_s = t >= reader.start_us() ? double(t - reader.start_us()) / 1e6 : -double(reader.start_us() - t) / 1e6;
        std::snprintf(tbuf, sizeof tbuf, "%12.6f", t_s);
        out << tbuf << (origin.keyframe ? " K " : "   ") << format_record(record, strings) << "\n";
        ++records;
    }
    out << "# " << records << " records\n";
    if (!reader.warning().empty()) err << "tidemark: warning: " << reader.warning() << "\n";
    if (r == ReadResult::Error) {
        err << "tidemark: " << reader.error() << "\n";
        return 2;
    }
    return 0;
}

}  // namespace tidemark::model
