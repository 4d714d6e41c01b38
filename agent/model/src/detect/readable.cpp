// Readable-side detectors: unbounded-readable (push() keeps adding after it returned false, its
// buffer far past readableHighWaterMark) and no-consumer (a readable holds data with
// readableFlowing === null — nothing ever consumed it — beyond the grace period; an error when
// its buffer keeps climbing, a warning when it filled up and stopped).
#include <cstdio>

#include "detect/util.h"

namespace tidemark::model::detail {
namespace {

uint64_t pushes_after_false(const proto::StreamSample& s) { return s.pushes_after_false; }

constexpr const char* kUnboundedFix =
    "Stop producing when push() returns false and produce again only when _read() is called: "
    "pause the underlying source (socket.pause(), unsubscribe, stop the timer) and resume it from "
    "_read(). If you cannot pause the source, bound it (drop or coalesce) instead of buffering.";

constexpr const char* kNoConsumerFix =
    "Give the readable a consumer — pipeline(readable, destination), a 'data' handler, or "
    "`for await (const chunk of readable)` — or destroy() it when its data is not needed. A "
    "producer pushing into it must stop when push() returns false.";

// A queue a native program registered (tidemark/native_streams.h): the same judgement in its words.
constexpr const char* kNativeUnboundedFix =
    "When the queue says it is full, stop the source — stop reading the file or socket, stop the "
    "timer — until the consumer has read the queue below its highWaterMark (and report each read with "
    "tidemark_stream_read). If the source cannot be paused, bound it (drop or coalesce) instead of "
    "queueing more; a consumer that pauses the queue must resume it.";

constexpr const char* kNativeNoConsumerFix =
    "Attach a consumer that reads the queue (reporting each read with tidemark_stream_read and its "
    "state with tidemark_stream_set_flowing), or close the queue when its data is not needed. A "
    "source pushing into it must stop when it says it is full.";

bool is_native(const StreamInfo& s) { return (s.kind & proto::kKindRegistered) != 0; }

bool never_consumed(const StreamInfo& s, const Run& r) {
    for (size_t k = r.first; k <= r.last; ++k)
        if (s.samples[k].s.flowing() != proto::Flowing::Null) return false;
    return true;
}

void unbounded_readable(const Timeline& timeline, const StreamInfo& s, const DetectorOptions& options,
                        const std::vector<ChainView>& chain_views, std::vector<Finding>& out) {
    const CallSiteCount* site = user_call_site(s, proto::CallSiteKind::PushAfterFalse);
    if (!site) return;
    const auto o = find_overfill(s, Side::Readable, observed_until(timeline, s), options, &pushes_after_false,
                                 site, [](const StreamInfo& st, const Run& r) { return !never_consumed(st, r); });
    if (!o) return;
    const bool objects = side_object_mode(s, Side::Readable);
    const uint64_t hwm = side_hwm(s, Side::Readable);
    // Bursts vs unbounded. A parser pushes one input's worth of tokens far past its mark, then its
    // consumer drains it before the next input: the buffer returns to its highWaterMark between
    // inputs and does not climb across them. Unbounded means it keeps climbing: a rising trend
    // (lower bound > 0) whose rise over an episode is at least half that episode's peak. A buffer that
    // neither climbs nor ever drains stays a warning (a producer matched to its consumer, ignoring
    // false); one that drains between inputs is a burst and is not reported.
    const bool climbs = o->climbed;  // judged per episode (find_overfill)
    if (!climbs) {
        bool drained_between = false;
        for (const StreamPoint& pt : s.samples)
            if (pt.t_s > o->onset_s && pt.t_s < o->end_s && pt.s.readable_length <= hwm) {
                drained_between = true;
                break;
            }
        if (drained_between || !o->open) return;
    }
    const double ratio = static_cast<double>(o->peak) / static_cast<double>(hwm);
    const proto::Flowing flowing = s.samples.back().s.flowing();
    Finding f;
    f.kind = FindingKind::UnboundedReadable;
    f.severity = climbs ? Severity::Error : Severity::Warning;
    f.onset_s = o->onset_s;
    f.stream = stream_ref(s);
    set_site(f, *site);
    char ratio_text[32];
    std::snprintf(ratio_text, sizeof ratio_text, "%.0f", ratio);
    const bool native = is_native(s);
    f.message = (native ? "Pushes kept coming into the native queue " + stream_label(s) + " after it said it was full, from "
                        : "push() kept adding to " + stream_label(s) + " after it returned false, from ") +
                site_words(*site) + ": its buffer reached " + amount(static_cast<double>(o->peak), objects) + ", " +
                ratio_text + "x its highWaterMark of " + amount(static_cast<double>(hwm), objects);
    if (o->still_growing) f.message += ", and is still growing (" + amount(o->slope, objects) + "/s)";
    else if (o->growing)
        f.message += std::string(", growing ") + amount(o->slope, objects) + "/s while the pushes continued" +
                     (o->open ? "; it is still that full" : "; it has drained since");
    else if (!o->open) f.message += ", then drained";
    f.message += "; " + std::to_string(o->offending) + (native ? " pushes after full" : " pushes after false");
    f.message += flowing == proto::Flowing::Paused
                     ? (native ? " while its consumer has it paused (TIDEMARK_FLOWING_PAUSED)."
                               : " while its consumer has it paused (readableFlowing === false).")
                     : " while its consumer reads slower than it is fed.";
    if (const std::string c = chain_sentence(timeline, chain_views, s.id); !c.empty()) f.message += " " + c;
    f.fix = native ? kNativeUnboundedFix : kUnboundedFix;
    f.evidence = overfill_evidence(*o, hwm, ratio, objects, "pushes_after_false");
    out.push_back(std::move(f));
}

void no_consumer(const Timeline& timeline, const StreamInfo& s, const DetectorOptions& options,
                 std::vector<Finding>& out) {
    constexpr uint32_t kDone = proto::kFlagDestroyed | proto::kFlagReadableEnded | proto::kFlagClosed;
    const double until = observed_until(timeline, s);
    const uint64_t threshold = overfill_threshold(s, Side::Readable, options);
    for (const Run& r : runs(s, until, [](const proto::StreamSample& x) {
             return x.flowing() == proto::Flowing::Null && x.readable_length > 0 && !(x.flags & kDone);
         })) {
        // Someone calling read() without switching modes still drains it: not "no consumer".
        bool consumed = false;
        uint64_t peak = 0;
        std::optional<double> over_s;
        for (size_t k = r.first; k <= r.last; ++k) {
            const uint64_t len = s.samples[k].s.readable_length;
            if (k > r.first && len < s.samples[k - 1].s.readable_length) consumed = true;
            peak = std::max(peak, len);
            if (!over_s && len >= threshold) over_s = s.samples[k].t_s;
        }
        if (consumed) continue;
        size_t recent = r.first;
        while (recent + 3 <= r.last && s.samples[recent].t_s < r.end_s - 2.0) ++recent;
        double lower = 0;
        const double slope = length_slope(s, Side::Readable, recent, r.last, &lower);
        const bool growing = over_s && r.end_s - *over_s >= options.sustain_s && lower > 0;
        const double held_s = r.end_s - r.start_s;
        if (!growing && held_s < options.grace_s) continue;

        const bool objects = side_object_mode(s, Side::Readable);
        const uint64_t hwm = side_hwm(s, Side::Readable);
        const CallSiteCount* push_site = user_call_site(s, proto::CallSiteKind::PushAfterFalse);
        Finding f;
        f.kind = FindingKind::NoConsumer;
        f.severity = growing ? Severity::Error : Severity::Warning;
        f.onset_s = r.start_s;
        f.stream = stream_ref(s);
        if (push_site) set_site(f, *push_site);
        else f.site = s.site;
        const bool native = is_native(s);
        f.message = (native ? "The native queue " : "") + stream_label(s) + " holds " +
                    amount(static_cast<double>(s.samples[r.last].s.readable_length), objects) +
                    (native ? " and no consumer has ever read from it (its flowing state was never set) — for "
                            : " with readableFlowing === null — nothing has ever consumed it — for ") +
                    seconds(held_s);
        if (growing) {
            char ratio_text[32];
            std::snprintf(ratio_text, sizeof ratio_text, "%.0f", static_cast<double>(peak) / static_cast<double>(hwm));
            f.message += ", and its buffer keeps climbing: " + amount(static_cast<double>(peak), objects) + ", " +
                         ratio_text + "x its highWaterMark, +" + amount(slope, objects) + "/s";
            if (push_site) f.message += ", from pushes at " + site_words(*push_site);
            f.message += ".";
        } else {
            f.message += peak >= hwm ? "; it filled to its highWaterMark (" + amount(static_cast<double>(hwm), objects) +
                                           ") and its source stopped."
                                     : ".";
        }
        f.fix = native ? kNativeNoConsumerFix : kNoConsumerFix;
        const std::string unit = objects ? "_objects" : "_bytes";
        f.evidence = {
            {"buffered_now" + unit, static_cast<double>(s.samples[r.last].s.readable_length)},
            {"peak_buffered" + unit, static_cast<double>(peak)},
            {"high_water_mark" + unit, static_cast<double>(hwm)},
            {"peak_to_hwm_ratio", static_cast<double>(peak) / static_cast<double>(hwm)},
            {"held_s", held_s},
            {"growth" + unit + "_per_s", slope},
            {"pushes_after_false", static_cast<double>(s.samples[r.last].s.pushes_after_false)},
        };
        out.push_back(std::move(f));
        return;  // one finding per stream: the first time it was left unconsumed
    }
}

}  // namespace

void detect_readable_buffers(const Timeline& timeline, const DetectorOptions& options,
                             const std::vector<ChainView>& chain_views, const StreamList& streams,
                             std::vector<Finding>& out) {
    for (const StreamInfo* sp : streams) {
        const StreamInfo& s = *sp;
        if (!s.readable() || s.samples.empty()) continue;
        unbounded_readable(timeline, s, options, chain_views, out);
        no_consumer(timeline, s, options, out);
    }
}

}  // namespace tidemark::model::detail
