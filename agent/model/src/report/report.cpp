// Report content shared by every format (report.h): per-process summaries, the JSON object that
// PRODUCT.md specifies for `report --format json`, and the JUnit rendering of findings. The text
// and Markdown renderings live in report_text.cpp and read the same summaries.
#include "tidemark/model/report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/util.h"

namespace tidemark::model {


ProcessSummary summarize_process(const Timeline& timeline, const ProcessInfo& p) {
    ProcessSummary s;
    s.proc = p.proc;
    s.pid = p.pid;
    s.thread_id = p.thread_id;
    s.samples = std::max<uint64_t>(p.sample_count, p.samples.size());  // received, not kept
    s.dropped = p.dropped_records;
    for (const auto& pt : p.samples) {  // a coarsened bucket carries its maxima
        s.peak_rss_bytes = std::max({s.peak_rss_bytes, pt.rss_bytes, pt.rss_max});
        s.peak_heap_used_bytes = std::max({s.peak_heap_used_bytes, pt.heap_used_bytes, pt.heap_used_max});
        s.peak_external_bytes = std::max({s.peak_external_bytes, pt.external_bytes, pt.external_max});
        s.peak_array_buffers_bytes = std::max({s.peak_array_buffers_bytes, pt.array_buffers_bytes, pt.array_buffers_max});
    }
    double end = p.end_s.value_or(p.samples.empty() ? timeline.end_s() : p.samples.back().t_s);
    if (!p.end_s && !p.samples.empty()) end = std::max(end, p.samples.back().t_s);
    s.duration_s = std::max(0.0, end - p.start_s);
    if (s.samples >= 2) {
        s.sampled_s = p.samples.back().t_s - p.samples.front().t_s;
        if (s.sampled_s > 0) s.sample_rate_hz = static_cast<double>(s.samples - 1) / s.sampled_s;
    }
    return s;
}

namespace report_detail {

std::vector<const Finding*> sorted_findings(const std::vector<Finding>& findings) {
    std::vector<const Finding*> v;
    for (const auto& f : findings) v.push_back(&f);
    std::stable_sort(v.begin(), v.end(), [](const Finding* a, const Finding* b) {
        if (a->severity != b->severity) return a->severity > b->severity;
        return a->onset_s < b->onset_s;
    });
    return v;
}

uint64_t peak_buffered(const StreamInfo& s) {
    uint64_t peak = 0;
    for (const auto& pt : s.samples) peak = std::max(peak, pt.s.readable_length + pt.s.writable_length);
    return peak;
}

std::vector<const StreamInfo*> streams_by_peak(const Timeline& timeline) {
    std::vector<std::pair<uint64_t, const StreamInfo*>> v;
    for (const auto& s : timeline.streams()) v.emplace_back(peak_buffered(s), &s);
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<const StreamInfo*> out;
    for (const auto& [peak, s] : v) out.push_back(s);
    return out;
}

std::string stream_state(const StreamInfo& s) {
    if (s.error_s) return "errored";
    if (s.destroyed_s) return "destroyed";
    if (s.gone_s) return "gone";
    if (s.closed_s) return "closed";
    if (s.finished_s && (!s.readable() || s.ended_s)) return "finished";
    if (s.ended_s && !s.writable()) return "ended";
    return "open";
}

std::vector<std::string> flowing_modes(const StreamInfo& s) {
    std::vector<std::string> out;
    if (s.kind != 0 && !s.readable()) return out;  // readableFlowing means nothing for a pure writable
    const char* names[] = {"null", "false", "true"};
    for (int i = 0; i < 3; ++i)
        if (s.flowing_seen & (1u << i)) out.emplace_back(names[i]);
    return out;
}

const ProcessInfo* main_process(const Timeline& timeline) {
    // A worker thread is never the main process, unless nothing else was recorded.
    const ProcessInfo* best = nullptr;
    for (const auto& p : timeline.processes())
        if (!best || (best->worker() && !p.worker()) || (best->worker() == p.worker() && p.proc < best->proc))
            best = &p;
    return best;
}

uint32_t thread_of(const Timeline& timeline, uint32_t proc) {
    const ProcessInfo* p = timeline.process(proc);
    return p ? p->thread_id : 0;
}

const char* stream_api(uint32_t kind) {
    if (kind & proto::kKindWeb) return "web";
    if (kind & proto::kKindUserland) return "readable-stream";
    return "node";
}

std::vector<const StreamAggregateInfo*> aggregates_by_count(const Timeline& timeline) {
    std::vector<const StreamAggregateInfo*> v;
    // An aggregate whose streams all moved to another key (the tracker re-keys http streams to
    // their server's site once it knows it) stands for nothing.
    for (const auto& a : timeline.aggregates())
        if (a.latest.created > 0) v.push_back(&a);
    std::stable_sort(v.begin(), v.end(), [](const StreamAggregateInfo* a, const StreamAggregateInfo* b) {
        return a->latest.created > b->latest.created;
    });
    return v;
}

uint64_t folded_streams(const Timeline& timeline) {
    uint64_t n = 0;
    for (const auto& a : timeline.aggregates())
        if (a.latest.created > a.latest.promoted) n += a.latest.created - a.latest.promoted;
    return n;
}

int median_lifetime_bucket(const proto::StreamAggregate& a) {
    uint64_t total = 0;
    for (uint64_t b : a.lifetime_hist) total += b;
    if (total == 0) return -1;
    uint64_t seen = 0;
    for (int i = 0; i < proto::kLifetimeBuckets; ++i) {
        seen += a.lifetime_hist[i];
        if (seen * 2 >= total) return i;
    }
    return proto::kLifetimeBuckets - 1;
}

const char* lifetime_bucket_label(int bucket) {
    static const char* labels[proto::kLifetimeBuckets] = {"<1 ms", "<10 ms", "<100 ms", "<1 s", "<10 s", ">=10 s"};
    return bucket >= 0 && bucket < proto::kLifetimeBuckets ? labels[bucket] : "-";
}

}  // namespace report_detail

namespace {

using namespace report_detail;

nlohmann::json exit_json(const ProcessInfo& p) {
    if (p.exit_signal) return {{"signal", *p.exit_signal}};
    if (p.exit_code) return {{"code", *p.exit_code}};
    return nullptr;
}

nlohmann::json process_json(const Timeline& timeline, const ProcessInfo& p) {
    const ProcessSummary s = summarize_process(timeline, p);
    const char* runtime = p.runtime == proto::Runtime::Node ? "node"
                          : p.runtime == proto::Runtime::Native ? "native" : "unknown";
    uint64_t peak_native = 0;
    for (const auto& pt : p.samples) peak_native = std::max(peak_native, pt.native_live_bytes);
    // Garbage collections, when the tracker observed them: counts, and the heap / external memory
    // right after the last major one (what survives collection).
    nlohmann::json gc = nullptr;
    if (p.gc_observed) {
        uint64_t pause_us = 0;
        for (const auto& g : p.majors) pause_us += g.pause_us;
        for (const auto& g : p.minors) pause_us += g.pause_us;
        gc = {{"major", p.major_collections},
              {"minor", p.minor_collections},
              {"requested_by_probe", p.requested_collections},
              {"pause_s", static_cast<double>(pause_us) / 1e6}};
        if (!p.majors.empty()) {
            gc["last_major_s"] = p.majors.back().t_s;
            gc["heap_after_last_major_bytes"] = p.majors.back().heap_after;
            gc["external_after_last_major_bytes"] = p.majors.back().external_after;
        }
    }
    return {{"proc", p.proc},
            {"pid", p.pid},
            {"thread", p.thread_id},
            {"ppid", p.ppid},
            {"runtime", runtime},
            {"runtime_version", p.runtime_version},
            {"cmdline", p.cmdline},
            {"start_s", p.start_s},
            {"duration_s", s.duration_s},
            {"samples", s.samples},
            {"sampled_s", s.sampled_s},
            {"sample_rate_hz", s.sample_rate_hz},
            {"peak_rss_bytes", s.peak_rss_bytes},
            {"peak_heap_used_bytes", s.peak_heap_used_bytes},
            {"peak_external_bytes", s.peak_external_bytes},
            {"peak_array_buffers_bytes", s.peak_array_buffers_bytes},
            {"peak_native_live_bytes", peak_native},
            {"exit", exit_json(p)},
            {"gc", gc},
            {"dropped", s.dropped}};
}

nlohmann::json optional_time(const std::optional<double>& t) {
    return t ? nlohmann::json(*t) : nlohmann::json(nullptr);
}

nlohmann::json stream_json(const Timeline& timeline, const StreamInfo& s) {
    nlohmann::json kind = nlohmann::json::array();
    if (s.readable()) kind.push_back("readable");
    if (s.writable()) kind.push_back("writable");
    if (s.kind & proto::kKindReadableObjectMode) kind.push_back("readable-object-mode");
    if (s.kind & proto::kKindWritableObjectMode) kind.push_back("writable-object-mode");
    if (s.kind & proto::kKindHttpOutgoing) kind.push_back("http-outgoing");
    if (s.kind & proto::kKindRegistered) kind.push_back("registered");
    nlohmann::json modes = nlohmann::json::array();
    for (const auto& m : flowing_modes(s)) modes.push_back(m == "null" ? nlohmann::json(nullptr) : nlohmann::json(m == "true"));
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& c : s.call_sites)
        sites.push_back({{"kind", c.kind == proto::CallSiteKind::WriteAfterFalse ? "write-after-false" : "push-after-false"},
                         {"site", c.site}, {"count", c.count}, {"first_s", c.first_s}});
    const proto::StreamSample last = s.last() ? *s.last() : proto::StreamSample{};
    const ProcessInfo* p = timeline.process(s.proc);
    return {{"id", s.id},
            {"pid", p ? p->pid : 0},
            {"thread", p ? p->thread_id : 0},
            {"type", s.type},
            {"kind", kind},
            {"api", stream_api(s.kind)},
            {"created_at", s.site.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.site)},
            {"site_inferred", (s.kind & proto::kKindSiteInferred) != 0},
            {"created_s", s.created_s},
            {"readable_high_water_mark", s.readable_hwm},
            {"writable_high_water_mark", s.writable_hwm},
            {"peak_readable_length", s.peak_readable_length},
            {"peak_writable_length", s.peak_writable_length},
            {"flowing_modes_seen", modes},
            {"writes_after_false", last.writes_after_false},
            {"pushes_after_false", last.pushes_after_false},
            {"write_calls", last.write_calls},
            {"push_calls", last.push_calls},
            {"bytes_in", last.bytes_in},
            {"bytes_pushed", last.bytes_pushed},
            {"piped_to", s.piped_to},
            {"piped_from", s.piped_from},
            {"state", stream_state(s)},
            {"destroyed", s.destroyed_s.has_value()},
            {"destroyed_s", optional_time(s.destroyed_s)},
            {"errored", s.error_s.has_value()},
            {"error", s.error_s ? nlohmann::json(s.error_message) : nlohmann::json(nullptr)},
            {"gone_s", optional_time(s.gone_s)},
            {"call_sites", sites}};
}

nlohmann::json aggregate_json(const Timeline& timeline, const StreamAggregateInfo& a) {
    const proto::StreamAggregate& x = a.latest;
    nlohmann::json hist = nlohmann::json::array();
    for (uint64_t b : x.lifetime_hist) hist.push_back(b);
    const ProcessInfo* p = timeline.process(a.proc);
    return {{"type", a.type},
            {"created_at", a.site.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.site)},
            {"pid", p ? p->pid : 0},
            {"thread", p ? p->thread_id : 0},
            {"api", stream_api(x.kind)},
            {"count", x.created},
            {"tracked", x.promoted},
            {"retired", x.retired},
            {"site_inferred", x.site_inferred},
            {"bytes_in", x.bytes_in},
            {"bytes_pushed", x.bytes_pushed},
            {"write_calls", x.write_calls},
            {"push_calls", x.push_calls},
            {"peak_readable_length", x.peak_readable_length},
            {"peak_writable_length", x.peak_writable_length},
            {"readable_high_water_mark", x.readable_hwm},
            {"writable_high_water_mark", x.writable_hwm},
            {"lifetime_histogram", hist},
            {"first_s", a.first_s},
            {"updated_s", a.updated_s}};
}

nlohmann::json finding_json(const Finding& f) {
    nlohmann::json evidence = nlohmann::json::object();
    for (const auto& [k, v] : f.evidence) {
        // Counts and byte sizes print as integers ("writes_after_false": 616, not 616.0).
        if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15) evidence[k] = static_cast<int64_t>(v);
        else evidence[k] = v;
    }
    nlohmann::json j = {{"kind", finding_kind_name(f.kind)},
                        {"severity", severity_name(f.severity)},
                        {"message", f.message},
                        {"onset_s", f.onset_s},
                        {"evidence", evidence}};
    if (f.stream)
        j["stream"] = {{"id", f.stream->id}, {"type", f.stream->type},
                       {"created_at", f.stream->created_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.stream->created_at)}};
    if (!f.site.empty()) j["site"] = f.site;
    if (!f.site_via.empty()) j["site_via"] = f.site_via;
    if (!f.frames.empty()) j["frames"] = f.frames;
    j["fix"] = f.fix;
    return j;
}

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';
                else out += c;
        }
    }
    return out;
}

}  // namespace

nlohmann::json report_json_value(const Timeline& timeline, const std::vector<Finding>& findings) {
    nlohmann::json j = nlohmann::json::object();
    const ProcessInfo* main = main_process(timeline);
    j["process"] = main ? process_json(timeline, *main) : nlohmann::json(nullptr);
    if (timeline.processes().size() > 1) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& p : timeline.processes()) all.push_back(process_json(timeline, p));
        j["processes"] = all;
    }
    nlohmann::json streams = nlohmann::json::array();
    for (const auto& s : timeline.streams()) streams.push_back(stream_json(timeline, s));
    j["streams"] = streams;
    nlohmann::json aggregates = nlohmann::json::array();
    for (const StreamAggregateInfo* a : aggregates_by_count(timeline)) aggregates.push_back(aggregate_json(timeline, *a));
    j["stream_aggregates"] = aggregates;
    // Tracked streams that retired and were folded past the listed detail, totalled per key.
    nlohmann::json retired = nlohmann::json::array();
    for (const RetiredStreams& r : timeline.retired())
        retired.push_back({{"type", r.type},
                           {"created_at", r.site},
                           {"count", r.count},
                           {"first_created_s", r.first_created_s},
                           {"last_retired_s", r.last_retired_s},
                           {"peak_readable_length", r.peak_readable_length},
                           {"peak_writable_length", r.peak_writable_length},
                           {"bytes_in", r.bytes_in},
                           {"bytes_pushed", r.bytes_pushed},
                           {"writes_after_false", r.writes_after_false},
                           {"pushes_after_false", r.pushes_after_false},
                           {"errored", r.errored},
                           {"mean_lifetime_s", r.count ? r.total_lifetime_s / static_cast<double>(r.count) : 0.0},
                           {"max_lifetime_s", r.max_lifetime_s},
                           {"pid", timeline.process(r.proc) ? timeline.process(r.proc)->pid : 0}});
    j["retired_streams"] = retired;
    j["native"] = native_json(timeline);
    nlohmann::json list = nlohmann::json::array();
    for (const Finding* f : sorted_findings(findings)) list.push_back(finding_json(*f));
    j["findings"] = list;
    nlohmann::json notes = nlohmann::json::array();
    for (const auto& n : timeline.notes()) notes.push_back({{"t_s", n.t_s}, {"text", n.text}});
    nlohmann::json coarsenings = nlohmann::json::array();
    for (const Coarsening& c : timeline.coarsenings())
        coarsenings.push_back({{"t_s", c.t_s},
                               {"estimated_bytes", c.estimated_bytes},
                               {"max_points_per_series", c.max_points},
                               {"retired_streams_listed", c.max_retired_detail}});
    j["trace"] = {{"start_us", timeline.start_us()},
                  {"duration_s", timeline.end_s()},
                  {"notes", notes},
                  {"notes_dropped", timeline.notes_dropped()},
                  {"history",
                   {{"memory_budget_bytes", timeline.limits().budget_bytes},
                    {"estimated_bytes", timeline.estimated_bytes()},
                    {"coarsened", !coarsenings.empty()},
                    {"coarsenings", coarsenings},
                    {"streams_folded_unlisted", timeline.retired_count()}}}};
    return j;
}

std::string report_json(const Timeline& timeline, const std::vector<Finding>& findings) {
    return report_json_value(timeline, findings).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string report_junit(const Timeline& timeline, const std::vector<Finding>& findings) {
    const auto sorted = sorted_findings(findings);
    size_t failures = 0;
    for (const Finding* f : sorted) failures += f->severity == Severity::Error;
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
    out += "  <testsuite name=\"tidemark\" tests=\"" + std::to_string(std::max<size_t>(1, sorted.size())) +
           "\" failures=\"" + std::to_string(failures) + "\" time=\"" + std::to_string(timeline.end_s()) + "\">\n";
    if (sorted.empty())
        out += "    <testcase classname=\"tidemark.findings\" name=\"no findings\"/>\n";
    for (const Finding* f : sorted) {
        std::string name = finding_kind_name(f->kind) + (f->stream ? " " + f->stream->type + "#" + std::to_string(f->stream->id) : "") +
                           (f->site.empty() ? "" : " at " + f->site);
        std::string body = f->message + "\nonset: " + std::to_string(f->onset_s) + " s\n";
        for (const auto& [k, v] : f->evidence) body += k + ": " + std::to_string(v) + "\n";
        body += "fix: " + f->fix + "\n";
        out += "    <testcase classname=\"tidemark.findings." + xml_escape(finding_kind_name(f->kind)) + "\" name=\"" + xml_escape(name) + "\">\n";
        if (f->severity == Severity::Error)
            out += "      <failure type=\"" + xml_escape(finding_kind_name(f->kind)) + "\" message=\"" + xml_escape(f->message) + "\">" +
                   xml_escape(body) + "</failure>\n";
        else
            out += "      <system-out>" + std::string(severity_name(f->severity)) + ": " + xml_escape(body) + "</system-out>\n";
        out += "    </testcase>\n";
    }
    out += "  </testsuite>\n</testsuites>\n";
    return out;
}

}  // namespace tidemark::model
