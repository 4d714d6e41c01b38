// stalled-pipeline: a stream holds data or a pending callback, nothing about it moves for longer
// than the grace period, and its consumer is ready — a deadlock, not a slow consumer. Two shapes:
//  - its own callback is pending (a Transform that never called back) while its readable side is
//    flowing and below its highWaterMark and everything downstream has room; we also require that
//    its readable side was full or paused just before it stopped, or it pushed at least a buffer's
//    worth in the last interval in which it moved (push() returned false and it waits for an event
//    that never comes: the article's LineParser waiting for 'drain');
//  - its readable side holds data, is paused, and every stream it is piped into has drained.
#include <algorithm>

#include "detect/util.h"

namespace tidemark::model::detail {
namespace {

bool moved(const proto::StreamSample& a, const proto::StreamSample& b) {
    return a.bytes_in != b.bytes_in || a.bytes_pushed != b.bytes_pushed || a.write_calls != b.write_calls ||
           a.push_calls != b.push_calls || a.readable_length != b.readable_length ||
           a.writable_length != b.writable_length;
}

constexpr uint32_t kDone = proto::kFlagDestroyed | proto::kFlagClosed | proto::kFlagFinished | proto::kFlagErrored;

std::vector<const StreamInfo*> downstream(const Timeline& timeline, const StreamInfo& s) {
    std::vector<const StreamInfo*> out;
    for (const PipeEdge& e : timeline.edges())
        if (e.src == s.id && !e.unpiped_s)
            if (const StreamInfo* d = timeline.stream(e.dst)) out.push_back(d);
    for (const PipelineInfo& p : timeline.pipelines())
        for (size_t i = 0; i + 1 < p.stages.size(); ++i)
            if (p.stages[i] == s.id && p.stages[i + 1] != 0)
                if (const StreamInfo* d = timeline.stream(p.stages[i + 1]);
                    d && std::find(out.begin(), out.end(), d) == out.end())
                    out.push_back(d);
    return out;
}

bool has_room(const StreamInfo& d) {
    if (d.destroyed_s || d.closed_s || d.error_s || d.gone_s) return false;
    const proto::StreamSample* last = d.last();
    if (!last) return true;
    if (last->flags & (proto::kFlagDestroyed | proto::kFlagClosed)) return false;
    return !(last->flags & proto::kFlagNeedDrain) && last->writable_length < side_hwm(d, Side::Writable);
}

constexpr const char* kFix =
    "Find what this stream is waiting for: a Transform must call its callback for every chunk — "
    "when push() returns false, return and let the stream call _read() (or just call callback(null, "
    "data) and let Transform handle backpressure); never wait for 'drain' on the stream itself, it "
    "cannot fire while your callback is pending. A paused readable must be resume()d when its "
    "destination emits 'drain' — pipeline() does both for you.";

}  // namespace

void detect_stalls(const Timeline& timeline, const DetectorOptions& options, const StreamList& streams,
                   std::vector<Finding>& out) {
    for (const StreamInfo* sp : streams) {
        const StreamInfo& s = *sp;
        const auto& pts = s.samples;
        if (pts.empty()) continue;
        const proto::StreamSample& last = pts.back().s;
        if ((last.flags & kDone) || s.destroyed_s || s.closed_s || s.error_s || s.gone_s || s.finished_s) continue;
        size_t p = pts.size() - 1;
        while (p > 0 && !moved(pts[p - 1].s, pts[p].s)) --p;
        const double stall_start = pts[p].t_s;
        const double stall_s = observed_until(timeline, s) - stall_start;
        if (stall_s < options.grace_s) continue;

        const auto down = downstream(timeline, s);
        const bool down_ready = std::all_of(down.begin(), down.end(), [](const StreamInfo* d) { return has_room(*d); });
        if (!down_ready) continue;
        const uint64_t rhwm = side_hwm(s, Side::Readable);
        std::string why;
        if (s.readable() && s.writable() && (last.flags & proto::kFlagWriting) &&
            last.flowing() == proto::Flowing::Flowing && last.readable_length < rhwm) {
            // Was its readable side full (push() returned false) or paused just before it stopped?
            bool pushed_full = false;
            for (size_t k = p + 1; k-- > 0;) {
                if (pts[k].t_s < stall_start - 2.0) break;
                if (pts[k].s.readable_length >= rhwm || pts[k].s.flowing() == proto::Flowing::Paused) {
                    pushed_full = true;
                    break;
                }
            }
            // The sampler may miss the moment its readable side was full (it can fill and drain
            // within one interval): pushing at least a buffer's worth in the last interval in which
            // it moved is the same evidence — that push returned false, or would have.
            if (!pushed_full && p > 0 && pts[p].s.bytes_pushed - pts[p - 1].s.bytes_pushed >= rhwm) pushed_full = true;
            if (!pushed_full) continue;
            why = "its own write callback has been pending for " + seconds(stall_s) +
                  " although its readable side is flowing and holds " +
                  amount(static_cast<double>(last.readable_length), side_object_mode(s, Side::Readable)) +
                  " (below its highWaterMark) and its destination has room: it stopped right after its "
                  "readable side filled up (push() returned false) and waits for an event that cannot come";
        } else if (s.readable() && last.flowing() == proto::Flowing::Paused && last.readable_length > 0 &&
                   !down.empty() &&
                   std::all_of(down.begin(), down.end(), [](const StreamInfo* d) {
                       return !d->last() || d->last()->writable_length == 0;
                   })) {
            why = "it has been paused for " + seconds(stall_s) + " holding " +
                  amount(static_cast<double>(last.readable_length), side_object_mode(s, Side::Readable)) +
                  " although every destination it is piped into has drained: nothing resumes it";
        } else {
            continue;
        }
        Finding f;
        f.kind = FindingKind::StalledPipeline;
        f.severity = Severity::Error;
        f.onset_s = stall_start;
        f.stream = stream_ref(s);
        f.message = stream_label(s) + " is stalled: " + why + ". This is a deadlock, not a slow consumer.";
        f.fix = kFix;
        f.evidence = {
            {"stalled_s", stall_s},
            {"pending_callback", (last.flags & proto::kFlagWriting) ? 1.0 : 0.0},
            {"buffered_writable", static_cast<double>(last.writable_length)},
            {"buffered_readable", static_cast<double>(last.readable_length)},
            {"readable_high_water_mark", static_cast<double>(rhwm)},
            {"bytes_in", static_cast<double>(last.bytes_in)},
            {"bytes_pushed", static_cast<double>(last.bytes_pushed)},
            {"downstream_streams", static_cast<double>(down.size())},
        };
        out.push_back(std::move(f));
    }
}

}  // namespace tidemark::model::detail
