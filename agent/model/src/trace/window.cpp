// Window queries (trace/window.h): seek to the keyframe at or before t0, keep the state holding
// at t0 from the keyframe and the records before t0, bucket the records of [t0, t1].
#include "tidemark/model/trace/window.h"

#include <cmath>
#include <string>

namespace tidemark::model {
namespace {

// Records of several processes reach the file in arrival order, so times are not strictly
// ascending: read this far past t1 before stopping.
constexpr uint64_t kWindowSlackUs = 1'000'000;

Status check_window(double t0_s, double t1_s, double resolution_s, size_t& buckets) {
    if (!(t1_s >= t0_s)) return Status::error("the window ends (t1=" + std::to_string(t1_s) +
                                              " s) before it starts (t0=" + std::to_string(t0_s) + " s)");
    if (!(resolution_s > 0)) return Status::error("the window's resolution must be more than 0 s");
    const double n = std::ceil((t1_s - t0_s) / resolution_s);
    if (n > double(kMaxWindowBuckets))
        return Status::error("a resolution of " + std::to_string(resolution_s) + " s gives over " +
                             std::to_string(kMaxWindowBuckets) + " buckets; choose a coarser one");
    buckets = std::max<size_t>(1, static_cast<size_t>(n));
    return {};
}

// Drives a query: seeks, then hands each record with its time to visit(record, t_us), stopping
// after t1 (plus slack). Returns the reader's error if it met damage.
template <typename Visit>
Status scan_window(TraceReader& reader, double t0_s, double t1_s, Visit&& visit) {
    if (Status s = reader.seek(t0_s); !s) return s;
    const uint64_t start = reader.start_us();
    const double end_us = double(start) + t1_s * 1e6 + double(kWindowSlackUs);
    proto::Record r;
    RecordOrigin origin;
    ReadResult res;
    while ((res = reader.next(r, &origin)) == ReadResult::Record) {
        const uint64_t t = proto::record_time_us(r);
        if (!origin.keyframe && double(t) > end_us) break;
        visit(r, t);
    }
    if (res == ReadResult::Error) return Status::error(reader.error());
    return {};
}

double seconds(uint64_t start_us, uint64_t t) {
    return t >= start_us ? double(t - start_us) / 1e6 : -double(start_us - t) / 1e6;
}

template <typename Bucket>
void lay_out(std::vector<Bucket>& buckets, size_t n, double t0_s, double t1_s, double resolution_s) {
    buckets.assign(n, Bucket{});
    for (size_t i = 0; i < n; ++i) {
        buckets[i].t0_s = t0_s + double(i) * resolution_s;
        buckets[i].t1_s = std::min(t1_s, t0_s + double(i + 1) * resolution_s);
    }
    if (n == 1 && t1_s == t0_s) buckets[0].t1_s = t1_s;
}

// Bucket of trace time t_s in [t0_s, t1_s], or -1 outside.
long bucket_of(double t_s, double t0_s, double t1_s, double resolution_s, size_t n) {
    if (t_s < t0_s || t_s > t1_s) return -1;
    const size_t i = static_cast<size_t>((t_s - t0_s) / resolution_s);
    return static_cast<long>(std::min(i, n - 1));
}

}  // namespace

Status process_series(TraceReader& reader, uint32_t proc, double t0_s, double t1_s, double resolution_s,
                      ProcessSeries& out) {
    out = ProcessSeries{};
    out.proc = proc;
    out.t0_s = t0_s;
    out.t1_s = t1_s;
    out.resolution_s = resolution_s;
    size_t n = 0;
    if (Status s = check_window(t0_s, t1_s, resolution_s, n); !s) return s;
    lay_out(out.buckets, n, t0_s, t1_s, resolution_s);
    std::optional<proto::ProcessSample> before;  // the last sample before t0
    const uint64_t start = reader.start_us();
    Status s = scan_window(reader, t0_s, t1_s, [&](const proto::Record& r, uint64_t t) {
        const auto* p = std::get_if<proto::ProcessSample>(&r);
        if (!p || p->proc != proc) return;
        out.found = true;
        const double t_s = seconds(start, t);
        const long i = bucket_of(t_s, t0_s, t1_s, resolution_s, n);
        if (i < 0) {
            if (t_s < t0_s && (!before || p->t_us >= before->t_us)) before = *p;
            return;
        }
        ProcessBucket& b = out.buckets[size_t(i)];
        auto put = [&](ValueRange& v, uint64_t x) { b.samples ? v.add(x) : v.start(x); };
        put(b.rss_bytes, p->rss_bytes);
        put(b.heap_used_bytes, p->heap_used_bytes);
        put(b.heap_total_bytes, p->heap_total_bytes);
        put(b.external_bytes, p->external_bytes);
        put(b.array_buffers_bytes, p->array_buffers_bytes);
        put(b.loop_delay_mean_us, p->loop_delay_mean_us);
        put(b.loop_delay_max_us, p->loop_delay_max_us);
        ++b.samples;
    });
    // Empty buckets hold the last value before them.
    auto hold = [](ProcessBucket& b, const proto::ProcessSample& p) {
        b.rss_bytes.start(p.rss_bytes);
        b.heap_used_bytes.start(p.heap_used_bytes);
        b.heap_total_bytes.start(p.heap_total_bytes);
        b.external_bytes.start(p.external_bytes);
        b.array_buffers_bytes.start(p.array_buffers_bytes);
        b.loop_delay_mean_us.start(p.loop_delay_mean_us);
        b.loop_delay_max_us.start(p.loop_delay_max_us);
    };
    std::optional<proto::ProcessSample> last = before;
    for (auto& b : out.buckets) {
        if (b.samples) {
            last = proto::ProcessSample{0, proc, b.rss_bytes.last, b.heap_used_bytes.last, b.heap_total_bytes.last,
                                        b.external_bytes.last, b.array_buffers_bytes.last, b.loop_delay_mean_us.last,
                                        b.loop_delay_max_us.last, 0};
        } else if (last) {
            hold(b, *last);
        }
    }
    return s;
}

Status stream_series(TraceReader& reader, uint64_t id, double t0_s, double t1_s, double resolution_s,
                     StreamSeries& out) {
    out = StreamSeries{};
    out.id = id;
    out.t0_s = t0_s;
    out.t1_s = t1_s;
    out.resolution_s = resolution_s;
    size_t n = 0;
    if (Status s = check_window(t0_s, t1_s, resolution_s, n); !s) return s;
    lay_out(out.buckets, n, t0_s, t1_s, resolution_s);
    std::optional<proto::StreamSample> held;  // the state holding now
    long touched = -1;                        // the last bucket a sample went into
    const uint64_t start = reader.start_us();
    auto settle = [&](StreamBucket& b, const proto::StreamSample& s) {
        b.flags = s.flags;
        b.bytes_in = s.bytes_in;
        b.bytes_pushed = s.bytes_pushed;
        b.write_calls = s.write_calls;
        b.push_calls = s.push_calls;
        b.writes_after_false = s.writes_after_false;
        b.pushes_after_false = s.pushes_after_false;
    };
    auto hold = [&](StreamBucket& b, const proto::StreamSample& s) {
        b.alive = true;
        b.readable_length.start(s.readable_length);
        b.writable_length.start(s.writable_length);
        settle(b, s);
    };
    // Buckets (touched, upto) saw no sample: the held state covers them.
    auto fill_until = [&](long upto) {
        for (long i = touched + 1; i < upto; ++i)
            if (held) hold(out.buckets[size_t(i)], *held);
    };
    Status s = scan_window(reader, t0_s, t1_s, [&](const proto::Record& r, uint64_t t) {
        const double t_s = seconds(start, t);
        if (const auto* c = std::get_if<proto::StreamCreated>(&r); c && c->id == id) {
            out.found = true;
            if (t_s <= t1_s) out.created_s = t_s;
            return;
        }
        if (const auto* e = std::get_if<proto::StreamEvent>(&r); e && e->id == id && e->kind == proto::StreamEventKind::Gone) {
            out.found = true;
            if (t_s > t1_s) return;
            out.gone_s = t_s;
            const long i = bucket_of(t_s, t0_s, t1_s, resolution_s, n);
            if (i >= 0) {  // the state held until it went, then nothing
                fill_until(i);
                if (i != touched && held) hold(out.buckets[size_t(i)], *held);
                touched = i;
            }
            held.reset();
            return;
        }
        const auto* x = std::get_if<proto::StreamSample>(&r);
        if (!x || x->id != id) return;
        out.found = true;
        const long i = bucket_of(t_s, t0_s, t1_s, resolution_s, n);
        if (i < 0) {
            if (t_s < t0_s) held = *x;
            return;
        }
        fill_until(i);
        StreamBucket& b = out.buckets[size_t(i)];
        if (i != touched) {
            if (held) hold(b, *held);
            touched = i;
        }
        if (b.alive) {
            b.readable_length.add(x->readable_length);
            b.writable_length.add(x->writable_length);
        } else {
            b.alive = true;
            b.readable_length.start(x->readable_length);
            b.writable_length.start(x->writable_length);
        }
        settle(b, *x);
        ++b.samples;
        held = *x;
    });
    fill_until(long(n));
    return s;
}

}  // namespace tidemark::model
