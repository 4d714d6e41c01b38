// The human renderings of a report (report.h): plain text for the terminal (findings first, most
// severe first, each with its evidence and fix; then the process summary and the stream table)
// and Markdown for a CI job page. Same content and order as the JSON report.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tidemark/model/report/report.h"
#include "report/util.h"

namespace tidemark::model {
namespace {

using namespace report_detail;

std::string fmt_seconds(double t_s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, t_s < 10 ? "%.2f s" : "%.1f s", t_s);
    return buf;
}

std::string fmt_number(double v) {
    char buf[40];
    if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
    else std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

std::string fmt_evidence(const std::string& key, double v) {
    if (key.find("bytes") != std::string::npos) return format_bytes(v);
    return fmt_number(v);
}

std::string fmt_length(uint64_t n, bool object_mode) {
    return object_mode ? std::to_string(n) + " obj" : format_bytes(double(n));
}

std::string exit_text(const ProcessInfo& p) {
    if (p.exit_signal) return "killed by signal " + std::to_string(*p.exit_signal);
    if (p.exit_code) return "exit code " + std::to_string(*p.exit_code);
    return "still running or exit unknown";
}

std::string process_label(const ProcessInfo& p) {
    std::string cmd = p.cmdline.empty() ? "process" : p.cmdline;
    if (cmd.size() > 60) cmd = cmd.substr(0, 57) + "...";
    return cmd + " (pid " + std::to_string(p.pid) + ")";
}

// "Worker thread 2 of pid 321 (node app.js)".
std::string worker_label(const ProcessInfo& p) {
    std::string cmd = p.cmdline;
    if (cmd.size() > 60) cmd = cmd.substr(0, 57) + "...";
    return "worker thread " + std::to_string(p.thread_id) + " of pid " + std::to_string(p.pid) +
           (cmd.empty() ? "" : " (" + cmd + ")");
}

// What follows a stream's type when it lives in a worker thread: " [worker 2]".
std::string worker_suffix(uint32_t thread) {
    return thread ? " [worker " + std::to_string(thread) + "]" : std::string();
}

// "a / b" for a readable/writable pair, "-" for the side a stream does not have (both shown when
// the kind is unknown).
std::string side_pair(uint32_t kind, std::string readable, std::string writable) {
    if (kind != 0 && !(kind & proto::kKindReadable)) readable = "-";
    if (kind != 0 && !(kind & proto::kKindWritable)) writable = "-";
    return readable + " / " + writable;
}

// Left-aligned columns, two spaces of indent, the last column unpadded.
void print_table(std::ostringstream& out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> width;
    for (const auto& r : rows) {
        if (width.size() < r.size()) width.resize(r.size(), 0);
        for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
    }
    for (const auto& r : rows) {
        out << " ";
        for (size_t c = 0; c < r.size(); ++c) {
            out << " " << r[c];
            if (c + 1 < r.size()) out << std::string(width[c] - r[c].size(), ' ');
        }
        out << "\n";
    }
}

struct StreamRow {
    std::string id, type, site, hwm, peak, flowing, waf, piped, state;
};

StreamRow stream_row(const Timeline& timeline, const StreamInfo& s) {
    StreamRow r;
    r.id = std::to_string(s.id);
    r.type = (s.type.empty() ? "?" : s.type) + worker_suffix(thread_of(timeline, s.proc));
    r.site = s.site.empty() ? "-" : s.site;
    if (!s.site.empty() && (s.kind & proto::kKindSiteInferred)) r.site += " (inferred)";
    const bool robj = s.kind & proto::kKindReadableObjectMode, wobj = s.kind & proto::kKindWritableObjectMode;
    auto pair = [&](std::string a, std::string b) {
        if (!s.readable()) a = "-";
        if (!s.writable()) b = "-";
        return a + " / " + b;
    };
    r.hwm = pair(fmt_length(s.readable_hwm, robj), fmt_length(s.writable_hwm, wobj));
    r.peak = pair(fmt_length(s.peak_readable_length, robj), fmt_length(s.peak_writable_length, wobj));
    for (const auto& m : flowing_modes(s)) r.flowing += (r.flowing.empty() ? "" : ",") + m;
    if (r.flowing.empty()) r.flowing = "-";
    const uint64_t waf = s.last() ? s.last()->writes_after_false : 0;
    const uint64_t paf = s.last() ? s.last()->pushes_after_false : 0;
    r.waf = std::to_string(waf) + " / " + std::to_string(paf);
    for (StreamId to : s.piped_to) r.piped += (r.piped.empty() ? "" : ",") + std::to_string(to);
    if (r.piped.empty()) r.piped = "-";
    r.state = stream_state(s);
    return r;
}

const std::vector<std::string> kHeaders = {"ID", "TYPE", "CREATED AT", "HWM R/W", "PEAK R/W",
                                           "FLOWING", "AFTER FALSE W/P", "PIPED TO", "STATE"};

std::vector<std::string> cells(const StreamRow& r) {
    return {r.id, r.type, r.site, r.hwm, r.peak, r.flowing, r.waf, r.piped, r.state};
}

const std::vector<std::string> kAggregateHeaders = {"TYPE", "CREATED AT", "COUNT", "TRACKED",
                                                    "PEAK R/W", "BYTES R/W", "LIFETIME"};

std::vector<std::string> aggregate_cells(const Timeline& timeline, const StreamAggregateInfo& a) {
    const proto::StreamAggregate& x = a.latest;
    const bool robj = x.kind & proto::kKindReadableObjectMode, wobj = x.kind & proto::kKindWritableObjectMode;
    std::string site = a.site.empty() ? "-" : a.site;
    if (x.site_inferred) site += " (site inferred for " + std::to_string(x.site_inferred) + ")";
    return {(a.type.empty() ? "?" : a.type) + worker_suffix(thread_of(timeline, a.proc)),
            site,
            std::to_string(x.created),
            std::to_string(x.promoted),
            side_pair(x.kind, fmt_length(x.peak_readable_length, robj), fmt_length(x.peak_writable_length, wobj)),
            side_pair(x.kind, fmt_length(x.bytes_pushed, robj), fmt_length(x.bytes_in, wobj)),
            lifetime_bucket_label(median_lifetime_bucket(x))};
}

// Aggregates that stand for streams not tracked one by one (the text tables leave out those
// whose every stream is in the Streams table already), by count.
std::vector<const StreamAggregateInfo*> folded_aggregates(const Timeline& timeline) {
    auto all = aggregates_by_count(timeline);
    std::vector<const StreamAggregateInfo*> out;
    for (const auto* a : all)
        if (a->latest.created > a->latest.promoted) out.push_back(a);
    return out;
}

// "Short-lived streams folded by type and site: 3 kinds, 12040 streams"
std::string aggregates_heading(const Timeline& timeline) {
    const uint64_t n = folded_streams(timeline);
    const size_t kinds = folded_aggregates(timeline).size();
    return "Short-lived streams folded by type and site: " + std::to_string(kinds) + (kinds == 1 ? " kind, " : " kinds, ") +
           std::to_string(n) + (n == 1 ? " stream" : " streams");
}

const char* kAggregatesLegend =
    "COUNT created; TRACKED of them also tracked one by one; BYTES R/W pushed / written by the retired "
    "ones; LIFETIME of the median retired one";

}  // namespace

std::string report_text(const Timeline& timeline, const std::vector<Finding>& findings,
                        const ReportOptions& options) {
    std::ostringstream out;
    const ProcessInfo* main = main_process(timeline);
    out << "tidemark report: " << (main ? process_label(*main) : std::string("no process recorded")) << ", "
        << fmt_seconds(timeline.end_s()) << " recorded\n\n";

    const auto sorted = sorted_findings(findings);
    if (sorted.empty()) out << "No findings.\n";
    else out << sorted.size() << (sorted.size() == 1 ? " finding" : " findings") << ", most severe first:\n";
    for (const Finding* f : sorted) {
        std::string sev = severity_name(f->severity);
        std::transform(sev.begin(), sev.end(), sev.begin(), ::toupper);
        out << "\n  " << sev << "  " << finding_kind_name(f->kind) << "  (since " << fmt_seconds(f->onset_s) << ")\n";
        out << "    " << f->message << "\n";
        if (f->stream)
            out << "    stream:   #" << f->stream->id << " " << f->stream->type
                << (f->stream->created_at.empty() ? "" : " created at " + f->stream->created_at) << "\n";
        if (!f->site.empty())
            out << "    site:     " << f->site << (f->site_via.empty() ? "" : "  (via " + f->site_via + ")") << "\n";
        for (size_t i = 0; i < f->frames.size() && i < 8; ++i)
            out << (i == 0 ? "    frames:   " : "              ") << f->frames[i] << "\n";
        if (!f->evidence.empty()) {
            out << "    evidence:";
            for (const auto& [k, v] : f->evidence) out << " " << k << "=" << fmt_evidence(k, v);
            out << "\n";
        }
        if (!f->fix.empty()) out << "    fix:      " << f->fix << "\n";
    }

    for (const auto& p : timeline.processes()) {
        const ProcessSummary s = summarize_process(timeline, p);
        if (p.worker()) {
            // A worker thread's connection: its streams and drops, no memory of its own (memory is
            // process-wide and sampled by the main thread).
            size_t tracked = 0;
            uint64_t folded = 0;
            for (const auto& st : timeline.streams()) tracked += st.proc == p.proc;
            for (const auto& a : timeline.aggregates())
                if (a.proc == p.proc && a.latest.created > a.latest.promoted) folded += a.latest.created - a.latest.promoted;
            std::string label = worker_label(p);
            label[0] = 'W';
            out << "\n" << label << ": " << fmt_seconds(s.duration_s) << ", " << tracked
                << (tracked == 1 ? " stream" : " streams") << " tracked, " << folded << " folded, "
                << exit_text(p) << "\n";
            out << "  memory is sampled by its process (pid " << p.pid << ") | dropped " << s.dropped
                << (s.dropped ? " records (the tracker shed data; figures may be incomplete)" : "") << "\n";
            continue;
        }
        out << "\nProcess " << process_label(p);
        if (!p.runtime_version.empty()) out << ", " << p.runtime_version;
        out << ": " << fmt_seconds(s.duration_s) << ", " << s.samples << " samples";
        if (s.sample_rate_hz > 0) {
            char rate[32];
            std::snprintf(rate, sizeof rate, " (%.1f/s)", s.sample_rate_hz);
            out << rate;
        }
        out << ", " << exit_text(p) << "\n";
        out << "  peak rss " << format_bytes(double(s.peak_rss_bytes)) << " | heap used "
            << format_bytes(double(s.peak_heap_used_bytes)) << " | external " << format_bytes(double(s.peak_external_bytes))
            << " | array buffers " << format_bytes(double(s.peak_array_buffers_bytes)) << " | dropped " << s.dropped
            << (s.dropped ? " records (the tracker shed data; figures may be incomplete)" : "") << "\n";
    }
    for (const auto& n : timeline.notes()) out << "note at " << fmt_seconds(n.t_s) << ": " << n.text << "\n";
    if (timeline.notes_dropped()) out << "(" << timeline.notes_dropped() << " more notes not kept)\n";

    const auto streams = streams_by_peak(timeline);
    out << "\nStreams: " << streams.size() << " seen";
    if (streams.empty()) {
        out << "\n";
    } else {
        out << ", by peak buffered bytes\n";
        std::vector<std::vector<std::string>> rows = {kHeaders};
        const size_t shown = std::min(streams.size(), options.max_streams_text);
        for (size_t i = 0; i < shown; ++i) rows.push_back(cells(stream_row(timeline, *streams[i])));
        print_table(out, rows);
        if (streams.size() > shown) out << "  … " << (streams.size() - shown) << " more\n";
    }

    if (!timeline.retired().empty()) {
        // Tracked streams that retired long ago: totals per type and site, not one row each.
        out << "\nRetired tracked streams no longer listed one by one: " << timeline.retired_count()
            << ", by type and site\n";
        std::vector<std::vector<std::string>> rows = {{"COUNT", "TYPE", "CREATED AT", "PEAK BUFFERED", "WRITES AFTER FALSE",
                                                        "MEAN LIFETIME"}};
        std::vector<const RetiredStreams*> sorted_retired;
        for (const RetiredStreams& r : timeline.retired()) sorted_retired.push_back(&r);
        std::stable_sort(sorted_retired.begin(), sorted_retired.end(),
                         [](const RetiredStreams* a, const RetiredStreams* b) { return a->count > b->count; });
        const size_t shown = std::min(sorted_retired.size(), options.max_aggregates_text);
        for (size_t i = 0; i < shown; ++i) {
            const RetiredStreams& r = *sorted_retired[i];
            rows.push_back({std::to_string(r.count), r.type, r.site.empty() ? "?" : r.site,
                            format_bytes(double(std::max(r.peak_readable_length, r.peak_writable_length))),
                            std::to_string(r.writes_after_false),
                            fmt_seconds(r.count ? r.total_lifetime_s / double(r.count) : 0.0)});
        }
        print_table(out, rows);
        if (sorted_retired.size() > shown) out << "  … and " << (sorted_retired.size() - shown) << " more\n";
    }

    out << native_sites_text(timeline, 10);
    const auto aggregates = folded_aggregates(timeline);
    if (aggregates.empty()) return out.str();
    out << "\n" << aggregates_heading(timeline) << "\n  (" << kAggregatesLegend << ")\n";
    std::vector<std::vector<std::string>> rows = {kAggregateHeaders};
    const size_t shown = std::min(aggregates.size(), options.max_aggregates_text);
    for (size_t i = 0; i < shown; ++i) rows.push_back(aggregate_cells(timeline, *aggregates[i]));
    print_table(out, rows);
    if (aggregates.size() > shown) out << "  … and " << (aggregates.size() - shown) << " more\n";
    return out.str();
}

std::string report_markdown(const Timeline& timeline, const std::vector<Finding>& findings,
                            const ReportOptions& options) {
    std::ostringstream out;
    auto esc = [](std::string s) {
        std::string o;
        for (char c : s) {
            if (c == '|') o += "\\|";
            else if (c == '\n') o += ' ';
            else o += c;
        }
        return o;
    };
    const ProcessInfo* main = main_process(timeline);
    out << "## tidemark report\n\n";
    out << "**" << esc(main ? process_label(*main) : "no process recorded") << "**, " << fmt_seconds(timeline.end_s())
        << " recorded\n\n";
    const auto sorted = sorted_findings(findings);
    out << "### Findings (" << sorted.size() << ")\n\n";
    if (sorted.empty()) out << "No findings.\n\n";
    for (const Finding* f : sorted) {
        const char* icon = f->severity == Severity::Error ? "🔴" : f->severity == Severity::Warning ? "🟠" : "🔵";
        out << "- " << icon << " **" << severity_name(f->severity) << "** `" << finding_kind_name(f->kind) << "` since "
            << fmt_seconds(f->onset_s) << ": " << esc(f->message) << "\n";
        if (f->stream)
            out << "  - stream: #" << f->stream->id << " `" << esc(f->stream->type) << "`"
                << (f->stream->created_at.empty() ? "" : " created at `" + f->stream->created_at + "`") << "\n";
        if (!f->site.empty()) out << "  - site: `" << f->site << "`\n";
        for (size_t i = 0; i < f->frames.size() && i < 8; ++i) out << "  - frame: `" << f->frames[i] << "`\n";
        if (!f->evidence.empty()) {
            out << "  - evidence:";
            for (const auto& [k, v] : f->evidence) out << " " << k << " = " << fmt_evidence(k, v) << ";";
            out << "\n";
        }
        if (!f->fix.empty()) out << "  - fix: " << esc(f->fix) << "\n";
    }
    out << "\n### Processes\n\n| pid | command | duration | samples | peak RSS | peak heap used | peak external | peak array buffers | exit | dropped |\n"
        << "|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& p : timeline.processes()) {
        const ProcessSummary s = summarize_process(timeline, p);
        if (p.worker()) {
            out << "| " << p.pid << " (worker thread " << p.thread_id << ") | `" << esc(p.cmdline) << "` | "
                << fmt_seconds(s.duration_s) << " | - | - | - | - | - | " << exit_text(p) << " | " << s.dropped << " |\n";
            continue;
        }
        out << "| " << p.pid << " | `" << esc(p.cmdline) << "` | " << fmt_seconds(s.duration_s) << " | " << s.samples
            << " | " << format_bytes(double(s.peak_rss_bytes)) << " | " << format_bytes(double(s.peak_heap_used_bytes))
            << " | " << format_bytes(double(s.peak_external_bytes)) << " | "
            << format_bytes(double(s.peak_array_buffers_bytes)) << " | " << exit_text(p) << " | " << s.dropped << " |\n";
    }
    auto table = [&](const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
        out << "|";
        for (const auto& h : headers) out << " " << h << " |";
        out << "\n|";
        for (size_t i = 0; i < headers.size(); ++i) out << "---|";
        out << "\n";
        for (const auto& r : rows) {
            out << "|";
            for (const auto& c : r) out << " " << esc(c) << " |";
            out << "\n";
        }
    };
    const auto streams = streams_by_peak(timeline);
    out << "\n### Streams (" << streams.size() << ", by peak buffered bytes)\n\n";
    if (!streams.empty()) {
        std::vector<std::vector<std::string>> rows;
        const size_t shown = std::min(streams.size(), options.max_streams_text);
        for (size_t i = 0; i < shown; ++i) rows.push_back(cells(stream_row(timeline, *streams[i])));
        table(kHeaders, rows);
        if (streams.size() > shown) out << "\n… " << (streams.size() - shown) << " more\n";
    }
    out << native_sites_text(timeline, 10);
    const auto aggregates = folded_aggregates(timeline);
    if (aggregates.empty()) return out.str();
    out << "\n### " << aggregates_heading(timeline) << "\n\n" << kAggregatesLegend << ".\n\n";
    std::vector<std::vector<std::string>> rows;
    const size_t shown = std::min(aggregates.size(), options.max_aggregates_text);
    for (size_t i = 0; i < shown; ++i) rows.push_back(aggregate_cells(timeline, *aggregates[i]));
    table(kAggregateHeaders, rows);
    if (aggregates.size() > shown) out << "\n… and " << (aggregates.size() - shown) << " more\n";
    return out.str();
}

}  // namespace tidemark::model
