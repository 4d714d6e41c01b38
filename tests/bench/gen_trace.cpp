// tidemark_gen_trace: writes a realistic long trace with TraceWriter, and benchmarks what a viewer
// does with one (open, extent, seek to every minute, a window query, the stream table). Not a test:
// built with the tests, never run in CI. tests/bench/README.md has the figures and how to run it.
//
//   tidemark_gen_trace [--duration S] [--streams N] [--hot H] [--churn-per-s C] [--seed X] --out FILE
//   tidemark_gen_trace --seek-bench FILE [--cut]
//
// The trace: one node process sampled every 100 ms (a slow heap leak under a GC sawtooth), N live
// streams at any time — H hot ones sampled every interval with their buffers moving, the rest cold
// and sampled round-robin once a minute, as the tracker does — streams retiring (a final sample and
// Gone) and new ones created at the churn rate, pipes and pipelines among them, StreamAggregate
// records for folded short-lived streams, and from t=60 s one writable that ignores backpressure
// (writes after false from a user call site, its buffer climbing far past its highWaterMark).
// Deterministic: the same arguments give the same file.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "tidemark/model/trace/reader.h"
#include "tidemark/model/trace/window.h"
#include "tidemark/model/trace/writer.h"

using namespace tidemark;
using namespace tidemark::model;

namespace {

constexpr uint64_t kStartUs = 1'700'000'000'000'000ull;
constexpr uint64_t kTickUs = 100'000;

struct Args {
    double duration_s = 3600;
    uint64_t streams = 10'000;
    uint64_t hot = 300;
    double churn_per_s = 5;
    uint32_t seed = 1;
    std::string out;
    std::string bench;
    bool cut = false;
};

struct Live {
    proto::StreamSample s;
    uint64_t hwm = 16384;
    bool writable = true;
};

class Generator {
public:
    Generator(const Args& args, TraceWriter& w) : args_(args), w_(w), rng_(args.seed) {}

    bool run() {
        proto::Hello h;
        h.t_us = kStartUs;
        h.pid = 4242;
        h.ppid = 1;
        h.runtime = proto::Runtime::Node;
        h.interval_ms = 100;
        h.runtime_version = "v20.11.0";
        h.cmdline = "node server.js";
        if (!put(h)) return false;
        const char* types[] = {"Socket", "PassThrough", "Transform", "Gzip", "IncomingMessage", "ServerResponse",
                               "ReadStream", "WriteStream"};
        for (const char* t : types) type_ids_.push_back(define(kStartUs, t));
        for (int i = 0; i < 200; ++i)
            site_ids_.push_back(define(kStartUs, "src/handlers/h" + std::to_string(i % 40) + ".js:" + std::to_string(10 + i)));
        bad_site_ = define(kStartUs, "src/export/report.js:88");
        bad_write_site_ = define(kStartUs, "src/export/report.js:131");
        for (int k = 0; k < 5; ++k) aggregates_.push_back(aggregate_key(k));

        slots_.resize(args_.streams);
        for (uint64_t i = 0; i < args_.streams; ++i)
            if (!create(i, kStartUs + i)) return false;
        const uint64_t ticks = uint64_t(args_.duration_s * 10);
        const uint64_t cold = args_.streams > args_.hot ? args_.streams - args_.hot : 0;
        const uint64_t cold_per_tick = std::max<uint64_t>(1, cold / 600);  // each cold stream once a minute
        double churn_due = 0;
        for (uint64_t tick = 1; tick <= ticks; ++tick) {
            const uint64_t t = kStartUs + tick * kTickUs;
            if (!process_sample(t, tick)) return false;
            for (uint64_t i = 0; i < std::min(args_.hot, args_.streams); ++i)
                if (!hot_sample(i, t + 10 + i)) return false;
            for (uint64_t k = 0; k < cold_per_tick && cold; ++k) {
                const uint64_t i = args_.hot + (cold_cursor_++ % cold);
                if (!cold_sample(i, t + 5000 + k)) return false;
            }
            churn_due += args_.churn_per_s / 10;
            for (; churn_due >= 1; churn_due -= 1) {
                const uint64_t i = rng_() % args_.streams;
                if (!retire(i, t + 20'000) || !create(i, t + 20'001)) return false;
            }
            if (tick % 10 == 0 && !aggregates(t + 30'000)) return false;
            if (tick >= 600 && !bad_stream(t + 40'000, tick)) return false;
            if (tick % 3 == 0 && !w_.flush_if_due(t + 50'000).ok()) return false;
        }
        const uint64_t end = kStartUs + (ticks + 1) * kTickUs;
        return put(proto::Goodbye{end, 0, 0}) && put(proto::ProcessExit{end + 1, 0, 0, 0});
    }

    uint64_t created() const { return created_; }
    uint64_t retired() const { return retired_; }
    uint64_t bad_id() const { return bad_id_; }
    uint64_t hot_id() const { return slots_.empty() ? 0 : slots_[0].s.id; }

private:
    bool put(const proto::Record& r) {
        Status s = w_.append(r);
        if (!s) std::fprintf(stderr, "tidemark_gen_trace: %s\n", s.message().c_str());
        return s.ok();
    }
    uint32_t define(uint64_t t, const std::string& text) {
        const uint32_t id = ++next_string_;
        put(proto::StringDef{t, id, text});
        return id;
    }
    proto::StreamAggregate aggregate_key(int k) {
        proto::StreamAggregate a;
        a.proc = 0;
        a.type_str = type_ids_[size_t(4 + k % 2)];
        a.site_str = site_ids_[size_t(k)];
        a.kind = proto::kKindReadable | proto::kKindWritable;
        a.readable_hwm = a.writable_hwm = 16384;
        return a;
    }

    bool create(uint64_t slot, uint64_t t) {
        Live& l = slots_[slot];
        const uint64_t id = next_stream_++;
        const bool pipe_source = slot % 10 == 0 && slot + 1 < slots_.size() && slots_[slot + 1].s.id;
        l = Live{};
        l.writable = rng_() % 4 != 0;
        l.hwm = (rng_() % 3 == 0) ? 65536 : 16384;
        proto::StreamCreated c;
        c.t_us = t;
        c.id = id;
        c.kind = proto::kKindReadable | (l.writable ? uint32_t(proto::kKindWritable) : 0u);
        c.type_str = type_ids_[rng_() % type_ids_.size()];
        c.site_str = site_ids_[rng_() % site_ids_.size()];
        c.readable_hwm = c.writable_hwm = l.hwm;
        if (!put(c)) return false;
        l.s.id = id;
        l.s.t_us = t;
        l.s.flags = uint32_t(proto::Flowing::Flowing);
        if (!put(l.s)) return false;
        ++created_;
        if (pipe_source && !put(proto::StreamEvent{t, id, proto::StreamEventKind::Pipe, slots_[slot + 1].s.id, 0}))
            return false;
        if (created_ % 100 == 0 && slot + 1 < slots_.size() && slots_[slot + 1].s.id) {
            proto::Pipeline p;
            p.t_us = t;
            p.id = created_ / 100;
            p.site_str = c.site_str;
            p.stages = {id, slots_[slot + 1].s.id, 0};
            p.stage_strs = {0, 0, type_ids_[2]};
            if (!put(p)) return false;
        }
        return true;
    }

    bool retire(uint64_t slot, uint64_t t) {
        Live& l = slots_[slot];
        l.s.t_us = t;
        l.s.readable_length = l.s.writable_length = 0;
        l.s.flags = uint32_t(proto::Flowing::Flowing) | proto::kFlagReadableEnded | proto::kFlagFinished |
                    proto::kFlagDestroyed | proto::kFlagClosed;
        ++retired_;
        return put(l.s) && put(proto::StreamEvent{t, l.s.id, proto::StreamEventKind::Close, 0, 0}) &&
               put(proto::StreamEvent{t + 1, l.s.id, proto::StreamEventKind::Gone, 0, 0});
    }

    bool hot_sample(uint64_t slot, uint64_t t) {
        Live& l = slots_[slot];
        const uint64_t chunk = 1 + rng_() % 4096;
        l.s.t_us = t;
        l.s.bytes_pushed += chunk;
        ++l.s.push_calls;
        // The buffer moves around its highWaterMark: filled by pushes, drained by the consumer.
        const int64_t drift = int64_t(rng_() % 8193) - 4096;
        l.s.readable_length = uint64_t(std::clamp<int64_t>(int64_t(l.s.readable_length) + drift, 0, int64_t(l.hwm) * 5 / 4));
        if (l.writable) {
            l.s.bytes_in += chunk;
            ++l.s.write_calls;
            l.s.writable_length = uint64_t(std::clamp<int64_t>(int64_t(l.s.writable_length) - drift, 0, int64_t(l.hwm)));
        }
        return put(l.s);
    }

    bool cold_sample(uint64_t slot, uint64_t t) {
        Live& l = slots_[slot];
        l.s.t_us = t;
        if (rng_() % 10 == 0) {  // now and then a cold stream moved a little
            l.s.bytes_pushed += 512;
            ++l.s.push_calls;
        }
        return put(l.s);
    }

    bool process_sample(uint64_t t, uint64_t tick) {
        const double t_s = double(tick) / 10;
        const uint64_t leak = uint64_t(t_s * 2048);                          // 2 KiB/s never freed
        const uint64_t sawtooth = uint64_t(std::fmod(t_s, 12.0) * 600'000);  // young garbage, collected every 12 s
        proto::ProcessSample p;
        p.t_us = t;
        p.proc = 0;
        p.heap_used_bytes = 60'000'000 + leak + sawtooth;
        p.heap_total_bytes = 90'000'000 + leak;
        p.external_bytes = 8'000'000 + bad_buffered_;
        p.array_buffers_bytes = 4'000'000 + bad_buffered_;
        p.rss_bytes = p.heap_total_bytes + p.external_bytes + 45'000'000;
        p.loop_delay_mean_us = 200 + rng_() % 300;
        p.loop_delay_max_us = p.loop_delay_mean_us + rng_() % 5000;
        return put(p);
    }

    bool aggregates(uint64_t t) {
        for (auto& a : aggregates_) {
            const uint64_t n = 40 + rng_() % 20;  // folded short-lived requests per second
            a.t_us = t;
            a.created += n;
            a.retired += n;
            a.bytes_in += n * 700;
            a.bytes_pushed += n * 1200;
            a.write_calls += n * 2;
            a.push_calls += n * 3;
            a.peak_readable_length = std::max<uint64_t>(a.peak_readable_length, 1000 + rng_() % 8000);
            a.lifetime_hist[1] += n / 2;
            a.lifetime_hist[2] += n - n / 2;
            if (!put(a)) return false;
        }
        return true;
    }

    // A writable whose writer ignores write()'s false: its buffer climbs far past the 16 KiB mark.
    bool bad_stream(uint64_t t, uint64_t tick) {
        if (!bad_id_) {
            bad_id_ = next_stream_++;
            proto::StreamCreated c;
            c.t_us = t;
            c.id = bad_id_;
            c.kind = proto::kKindWritable;
            c.type_str = type_ids_[7];
            c.site_str = bad_site_;
            c.writable_hwm = 16384;
            if (!put(c)) return false;
            bad_.id = bad_id_;
            ++created_;
        }
        bad_buffered_ += 16384;  // 4 writes of 4 KiB a tick; the slow disk drains none of it
        bad_.t_us = t;
        bad_.writable_length = bad_buffered_;
        bad_.bytes_in += 16384;
        bad_.write_calls += 4;
        bad_.writes_after_false += 4;
        bad_.flags = proto::kFlagNeedDrain | proto::kFlagWriting;
        if (!put(bad_)) return false;
        if (tick % 100 == 0)
            return put(proto::CallSite{t, bad_id_, proto::CallSiteKind::WriteAfterFalse, bad_write_site_, bad_.writes_after_false});
        return true;
    }

    const Args& args_;
    TraceWriter& w_;
    std::mt19937_64 rng_;
    std::vector<Live> slots_;
    std::vector<uint32_t> type_ids_, site_ids_;
    std::vector<proto::StreamAggregate> aggregates_;
    uint32_t next_string_ = 0, bad_site_ = 0, bad_write_site_ = 0;
    uint64_t next_stream_ = 1, cold_cursor_ = 0, created_ = 0, retired_ = 0;
    uint64_t bad_id_ = 0, bad_buffered_ = 0;
    proto::StreamSample bad_;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int generate(const Args& args) {
    const auto t0 = std::chrono::steady_clock::now();
    auto created = TraceWriter::create(args.out, kStartUs);
    if (!created.status) {
        std::fprintf(stderr, "tidemark_gen_trace: %s\n", created.status.message().c_str());
        return 2;
    }
    Generator g(args, *created.writer);
    if (!g.run()) return 2;
    if (Status s = created.writer->close(); !s) {
        std::fprintf(stderr, "tidemark_gen_trace: %s\n", s.message().c_str());
        return 2;
    }
    const double secs = ms_since(t0) / 1000;
    std::printf("wrote %s: %.0f s of trace, %llu streams live, %llu created, %llu retired, %llu records, "
                "%llu keyframes, %.1f MiB, in %.1f s; hot stream %llu, backpressure-ignoring stream %llu\n",
                args.out.c_str(), args.duration_s, (unsigned long long)args.streams, (unsigned long long)g.created(),
                (unsigned long long)g.retired(), (unsigned long long)created.writer->records_written(),
                (unsigned long long)created.writer->keyframes_written(),
                double(created.writer->bytes_written()) / (1024.0 * 1024.0), secs, (unsigned long long)g.hot_id(),
                (unsigned long long)g.bad_id());
    return 0;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// seek_exact(t) and reading up to the first record at or after t: what a viewer does to show t.
double timed_seek(TraceReader& reader, double t_s, size_t& state_records) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!reader.seek_exact(t_s).ok()) return -1;
    proto::Record r;
    RecordOrigin origin;
    state_records = 0;
    while (reader.next(r, &origin) == ReadResult::Record) {
        if (!origin.keyframe) break;
        ++state_records;
    }
    return ms_since(t0);
}

int bench_one(const std::string& path, const char* label) {
    auto t0 = std::chrono::steady_clock::now();
    auto opened = TraceReader::open(path);
    if (!opened.status) {
        std::fprintf(stderr, "tidemark_gen_trace: %s\n", opened.status.message().c_str());
        return 2;
    }
    TraceReader& reader = *opened.reader;
    const TraceExtent& e = reader.extent();
    const double open_ms = ms_since(t0);
    std::printf("[%s] %s: %.1f MiB, open + extent %.2f ms: t=%.1f..%.1f s, %s records%s, %zu keyframes\n", label,
                path.c_str(), double(reader.file_size()) / (1024.0 * 1024.0), open_ms, e.first_s, e.last_s,
                e.records ? std::to_string(*e.records).c_str() : "unknown", e.provisional ? " (provisional)" : "",
                reader.keyframes().size());
    std::vector<double> minute_ms, random_ms;
    size_t state = 0, max_state = 0;
    for (double t = std::min(60.0, e.last_s); t <= e.last_s; t += 60) {  // t=0 reads from the start: nothing to fold
        const double ms = timed_seek(reader, t, state);
        if (ms < 0) return 2;
        minute_ms.push_back(ms);
        max_state = std::max(max_state, state);
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 60; ++i) {
        const double t = e.last_s * double(rng() % 100'000) / 100'000.0;
        random_ms.push_back(timed_seek(reader, t, state));
    }
    // The first seek of a process pays for its buffers and zstd context: shown apart.
    const double first_ms = minute_ms.front();
    std::vector<double> warm(minute_ms.begin() + 1, minute_ms.end());
    if (warm.empty()) warm.push_back(first_ms);
    std::printf("[%s] seek_exact to every minute from 1 (%zu seeks): first %.1f ms, then median %.1f ms, max %.1f ms "
                "(state up to %zu records); 60 random times: median %.1f ms, max %.1f ms\n",
                label, minute_ms.size(), first_ms, median(warm), *std::max_element(warm.begin(), warm.end()),
                max_state, median(random_ms), *std::max_element(random_ms.begin(), random_ms.end()));

    const double span = std::min(300.0, e.last_s);
    const double w0 = (e.last_s - span) * double(rng() % 1000) / 1000.0;
    t0 = std::chrono::steady_clock::now();
    ProcessSeries ps;
    if (Status s = process_series(reader, 0, w0, w0 + span, 1.0, ps); !s) {
        std::fprintf(stderr, "tidemark_gen_trace: %s\n", s.message().c_str());
        return 2;
    }
    const double proc_ms = ms_since(t0);
    // The stream with the fullest buffer is the one to chart: take it from the stream table.
    t0 = std::chrono::steady_clock::now();
    StreamTable table;
    if (Status s = reader.read_summaries(table); !s) {
        std::fprintf(stderr, "tidemark_gen_trace: %s\n", s.message().c_str());
        return 2;
    }
    const double table_ms = ms_since(t0);
    uint64_t worst = 0, worst_peak = 0;
    for (const auto& s : table.streams)
        if (s.peak_writable_length > worst_peak) { worst_peak = s.peak_writable_length; worst = s.id; }
    t0 = std::chrono::steady_clock::now();
    StreamSeries ss;
    if (Status s = stream_series(reader, worst, w0, w0 + span, 1.0, ss); !s) {
        std::fprintf(stderr, "tidemark_gen_trace: %s\n", s.message().c_str());
        return 2;
    }
    const double stream_ms = ms_since(t0);
    std::printf("[%s] window t=%.0f..%.0f s at 1 s: process series %.1f ms (%zu buckets, rss %llu..%llu), "
                "stream %llu series %.1f ms (writable %llu..%llu)\n",
                label, w0, w0 + span, proc_ms, ps.buckets.size(), (unsigned long long)ps.buckets.front().rss_bytes.min,
                (unsigned long long)ps.buckets.back().rss_bytes.max, (unsigned long long)worst, stream_ms,
                (unsigned long long)ss.buckets.front().writable_length.min,
                (unsigned long long)ss.buckets.back().writable_length.max);
    size_t live = 0, retired = 0;
    for (const auto& s : table.streams) (s.live ? live : retired)++;
    std::printf("[%s] stream table (read_summaries): %.1f ms, %zu streams (%zu retired, %zu live), %zu aggregates%s%s; "
                "reader totals: %llu chunks loaded, %llu header reads\n",
                label, table_ms, table.streams.size(), retired, live, table.aggregates.size(),
                table.exact ? "" : ", not exact (cut trace)", table.full_pass ? ", full pass" : "",
                (unsigned long long)reader.stats().chunks_loaded, (unsigned long long)reader.stats().header_reads);
    return 0;
}

int seek_bench(const Args& args) {
    if (int rc = bench_one(args.bench, "closed"); rc) return rc;
    if (!args.cut) return 0;
    // The same trace as a killed agent leaves it: no index, no footer.
    const std::string cut = args.bench + ".cut";
    std::error_code ec;
    std::filesystem::copy_file(args.bench, cut, std::filesystem::copy_options::overwrite_existing, ec);
    uint8_t footer[format::kFooterBytes];
    FILE* f = std::fopen(args.bench.c_str(), "rb");
    if (ec || !f || std::fseek(f, -long(sizeof footer), SEEK_END) != 0 || std::fread(footer, 1, sizeof footer, f) != sizeof footer) {
        std::fprintf(stderr, "tidemark_gen_trace: cannot make %s\n", cut.c_str());
        if (f) std::fclose(f);
        return 2;
    }
    std::fclose(f);
    std::filesystem::resize_file(cut, format::get_u64(footer), ec);
    const int rc = ec ? 2 : bench_one(cut, "no footer");
    std::filesystem::remove(cut, ec);
    return rc;
}

int usage() {
    std::fprintf(stderr,
                 "usage: tidemark_gen_trace [--duration S] [--streams N] [--hot H] [--churn-per-s C] [--seed X] --out FILE\n"
                 "       tidemark_gen_trace --seek-bench FILE [--cut]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        if (a == "--cut") { args.cut = true; continue; }
        if (!(v = value())) return usage();
        if (a == "--duration") args.duration_s = std::atof(v);
        else if (a == "--streams") args.streams = std::strtoull(v, nullptr, 10);
        else if (a == "--hot") args.hot = std::strtoull(v, nullptr, 10);
        else if (a == "--churn-per-s") args.churn_per_s = std::atof(v);
        else if (a == "--seed") args.seed = uint32_t(std::strtoul(v, nullptr, 10));
        else if (a == "--out") args.out = v;
        else if (a == "--seek-bench") args.bench = v;
        else return usage();
    }
    if (!args.bench.empty()) return seek_bench(args);
    if (args.out.empty() || args.duration_s <= 0 || args.streams == 0) return usage();
    return generate(args);
}
