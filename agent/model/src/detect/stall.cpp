// stalled-pipeline: a stream holds data or a pending callback, nothing about it moves for longer
// than the grace period, and its consumer is ready — a deadlock, not a slow consumer. Judged from
// the state it stays in (the last sample, the DrainWait events the tracker records when code
// starts waiting for a 'drain' that cannot come), never from having caught the moment it stopped:
//  - its own write callback is pending (a Writable, a Transform) while its readable side, if any,
//    is below its highWaterMark and everything downstream has room. Not for streams backed by an
//    OS handle or file (sockets, fs streams): their callbacks wait on the kernel. The explanation:
//      * it waits for its own 'drain' (a DrainWait on itself), which cannot come while its
//        callback is pending — drain is emitted only after that callback runs (the article's
//        LineParser);
//      * code waits for 'drain' on another writable that is not in needDrain (a DrainWait on it,
//        still not in needDrain) — drain follows only a write() that returned false;
//      * otherwise, its callback has simply not been called;
//  - its readable side holds data, is paused, and every stream it is piped into has drained.
#include <algorithm>
#include <iterator>

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

constexpr const char* kOwnDrainFix =
    "Do not wait for 'drain' on the stream whose _write/_transform is running: 'drain' is emitted only "
    "after your callback runs. Call callback() (or callback(null, data)) and let the stream call _read() "
    "when its consumer wants more; Transform already holds back while push() returns false.";

constexpr const char* kNotNeededFix =
    "Wait for 'drain' only when write() returned false: `if (!dest.write(chunk)) dest.once('drain', next); "
    "else next();`. 'drain' is emitted only after a write() that returned false has drained, so waiting "
    "for it otherwise (on writableLength > 0, or always) can wait forever. pipeline() does this for you.";

// Its write callbacks wait on the kernel or a peer (a socket, a file, an HTTP/2 stream): a
// long-pending one is a slow peer, not code that forgot to call back. The kind bit comes from the
// tracker; the names cover traces from trackers before it.
bool waits_on_peer(const StreamInfo& s) {
    if (s.kind & (proto::kKindHandle | proto::kKindHttpOutgoing)) return true;
    static constexpr const char* kNames[] = {"Socket", "TLSSocket", "WriteStream", "ReadStream", "SyncWriteStream",
                                             "Http2Stream", "ServerHttp2Stream", "ClientHttp2Stream", "Pipe", "TTY"};
    return std::any_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return s.type == n; });
}

// When the stall began: between the last sample that still moved (or the stream's birth) and the
// first one that did not. A recorded wait explains the stall only if it began in that window
// (give or take a sampling interval): an older wait was resolved, or is about something else.
struct StallWindow {
    double from = 0, to = 0;
    bool contains(double t) const { return t >= from && t <= to; }
};

// A DrainWait on `s` itself made from inside its own _write/_transform, as the stall began.
const DrainWait* own_drain_wait(const StreamInfo& s, const StallWindow& w) {
    const DrainWait* best = nullptr;
    for (const DrainWait& d : s.drain_waits)
        if (d.reason == proto::DrainWaitReason::OwnCallbackPending && w.contains(d.t_s) && (!best || d.t_s > best->t_s))
            best = &d;
    return best;
}

// Another live writable of the same process on which the app began waiting for a 'drain' it
// cannot get as the stall began: not in needDrain when the wait began, and still not now. The
// latest such wait wins.
std::pair<const StreamInfo*, const DrainWait*> waited_on(const Timeline& timeline, const StreamInfo& s, const StallWindow& win) {
    std::pair<const StreamInfo*, const DrainWait*> out{nullptr, nullptr};
    for (const StreamInfo& d : timeline.streams()) {
        if (&d == &s || d.proc != s.proc || d.drain_waits.empty() || d.gone_s || d.destroyed_s || d.folded) continue;
        const proto::StreamSample* last = d.last();
        if (last && (last->flags & (proto::kFlagNeedDrain | proto::kFlagDestroyed | proto::kFlagClosed))) continue;
        for (const DrainWait& w : d.drain_waits) {
            if (w.reason != proto::DrainWaitReason::NotNeedDrain || !win.contains(w.t_s)) continue;
            if (!out.second || w.t_s > out.second->t_s) out = {&d, &w};
        }
    }
    return out;
}

// Was its readable side full (push() returned false) or paused just before it stopped? The
// sampler may miss that moment (it can fill and drain within one interval): pushing at least a
// buffer's worth in the last interval in which it moved is the same evidence.
bool pushed_full(const StreamInfo& s, size_t p, double stall_start, uint64_t rhwm) {
    if (!s.readable()) return false;
    const auto& pts = s.samples;
    for (size_t k = p + 1; k-- > 0;) {
        if (pts[k].t_s < stall_start - 2.0) break;
        if (pts[k].s.readable_length >= rhwm || pts[k].s.flowing() == proto::Flowing::Paused) return true;
    }
    return p > 0 && pts[p].s.bytes_pushed - pts[p - 1].s.bytes_pushed >= rhwm;
}

// A pending callback with nothing else known (no drain wait, no full readable side) must last this
// long: an operation that takes a few seconds (an upload part, a slow API) is not a deadlock.
constexpr double kUncorroboratedGraceS = 5.0;

double interval_s(const Timeline& timeline, const StreamInfo& s) {
    for (const ProcessInfo& p : timeline.processes())
        if (p.proc == s.proc && p.interval_ms > 0) return p.interval_ms / 1000.0;
    return 0.1;
}

std::string site_of(const DrainWait& w) {
    if (w.site.empty()) return "";
    return " at " + (w.via.empty() ? w.site : w.site + " (via " + w.via + ")");
}

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
        std::string why, site;
        const char* fix = kFix;
        bool uncorroborated = false;  // a callback pending, nothing else known: a warning
        double onset = stall_start;   // a recorded wait dates the deadlock to the moment it began
        const bool pending = s.writable() && (last.flags & proto::kFlagWriting) && !waits_on_peer(s);
        const bool readable_free = !s.readable() || (last.readable_length < rhwm &&
                                                      !(last.flowing() == proto::Flowing::Paused && last.readable_length > 0));
        const std::string held = s.readable() ? " while its readable side holds " +
                                                    amount(static_cast<double>(last.readable_length), side_object_mode(s, Side::Readable)) +
                                                    " (below its highWaterMark)" + (down.empty() ? "" : " and its destination has room")
                                              : std::string();
        if (pending && readable_free) {
            const double slack = std::max(0.25, 2.0 * interval_s(timeline, s));
            const StallWindow win{(p > 0 ? pts[p - 1].t_s : s.created_s) - slack, stall_start + slack};
            if (const DrainWait* w = own_drain_wait(s, win)) {
                why = "its write callback has been pending for " + seconds(stall_s) + held + "; it is waiting for its own "
                      "'drain' event" + site_of(*w) + ", which cannot come: 'drain' is emitted only after that callback runs";
                site = w->site;
                fix = kOwnDrainFix;
                if (w->t_s >= s.created_s) onset = std::min(onset, w->t_s);
            } else if (auto [d, dw] = waited_on(timeline, s, win); d) {
                const proto::StreamSample* dl = d->last();
                why = "its write callback has been pending for " + seconds(stall_s) + held + "; code waits for 'drain' on " +
                      stream_label(*d) + site_of(*dw) + ", which cannot come: that stream is not in needDrain (it holds " +
                      amount(dl ? static_cast<double>(dl->writable_length) : 0.0, side_object_mode(*d, Side::Writable)) +
                      ", and its write() returned true), and 'drain' is emitted only after a write() that returned false";
                site = dw->site;
                fix = kNotNeededFix;
                if (dw->t_s >= s.created_s) onset = std::min(onset, dw->t_s);
            } else if (pushed_full(s, p, stall_start, rhwm)) {
                why = "its write callback has been pending for " + seconds(stall_s) + held +
                      "; it stopped right after its readable side filled up (push() returned false) and waits for "
                      "an event that cannot come (typically its own 'drain', which follows only its callback)";
            } else if (stall_s < kUncorroboratedGraceS) {
                continue;  // a callback pending, nothing else known: give it longer
            } else {
                why = "its write callback has not been called for " + seconds(stall_s) + held +
                      ": _write/_transform has not called back for the chunk it was given (a callback forgotten on "
                      "some path, or an operation that never completes), so no further chunk can be written";
                uncorroborated = true;
            }
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
        f.severity = uncorroborated ? Severity::Warning : Severity::Error;
        f.onset_s = onset;
        f.stream = stream_ref(s);
        f.message = stream_label(s) + " is stalled: " + why +
                    (uncorroborated ? ". Nothing moved since: a deadlock, unless that call is still to complete."
                                    : ". This is a deadlock, not a slow consumer.");
        f.fix = fix;
        f.site = site;
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
