// ignored-backpressure: write() keeps being called on a writable after it returned false and its
// buffer climbs far past writableHighWaterMark, with the offending writes coming from user code.
// Node's http client legitimately writes into its socket after false from node: frames (the
// socket then sits just above its hwm), hence "far past", "sustained" and "user call site".
#include <cstdio>

#include "detect/util.h"

namespace tidemark::model::detail {
namespace {

uint64_t writes_after_false(const proto::StreamSample& s) { return s.writes_after_false; }

constexpr const char* kFix =
    "Respect write()'s return value at the call site: when it returns false, stop writing and "
    "continue on the writable's 'drain' event (pause() the source that feeds you, or "
    "`await once(writable, 'drain')` inside an async loop). Better: connect the streams with "
    "pipeline() from stream/promises, which applies backpressure across the whole chain. In a "
    "Transform that forwards to another writable, call the transform callback only after that "
    "writable has drained.";

constexpr const char* kWebFix =
    "Await writer.ready before each writer.write() (it resolves when desiredSize is positive again), "
    "or connect the streams with readable.pipeTo(writable) / pipeThrough(), which respect the "
    "queuing strategy's highWaterMark for you.";

// A queue a native program registered (tidemark/native_streams.h).
constexpr const char* kNativeFix =
    "When the queue says it is full, stop producing until it has drained below its highWaterMark: "
    "wait on a condition variable the consumer signals (or block, or reject the work upstream) "
    "instead of queueing more. Report each write with tidemark_stream_write(stream, n, full) where "
    "the producer gets the queue's answer.";

}  // namespace

void detect_ignored_backpressure(const Timeline& timeline, const DetectorOptions& options,
                                 const std::vector<ChainView>& chain_views, const StreamList& streams,
                                 std::vector<Finding>& out) {
    for (const StreamInfo* sp : streams) {
        const StreamInfo& s = *sp;
        if (!s.writable() || s.samples.empty()) continue;
        const CallSiteCount* site = user_call_site(s, proto::CallSiteKind::WriteAfterFalse);
        if (!site) continue;  // only node: frames wrote after false (e.g. the http client's socket)
        const double until = observed_until(timeline, s);
        const auto o = find_overfill(s, Side::Writable, until, options, &writes_after_false, site, {});
        if (!o) continue;
        const bool objects = side_object_mode(s, Side::Writable);
        const uint64_t hwm = side_hwm(s, Side::Writable);
        const double ratio = static_cast<double>(o->peak) / static_cast<double>(hwm);

        Finding f;
        f.kind = FindingKind::IgnoredBackpressure;
        f.severity = o->growing ? Severity::Error : Severity::Warning;
        f.onset_s = o->onset_s;
        f.stream = stream_ref(s);
        set_site(f, *site);
        char ratio_text[32];
        std::snprintf(ratio_text, sizeof ratio_text, "%.0f", ratio);
        const bool web = s.kind & proto::kKindWeb;  // WHATWG: no false, a desiredSize <= 0
        const bool native = s.kind & proto::kKindRegistered;
        f.message = (web ? "writer.write() kept being called on " + stream_label(s) +
                               " while its desiredSize was <= 0 (writer.ready not awaited), from "
                     : native ? "Writes kept coming into the native queue " + stream_label(s) + " after it said it was full, from "
                         : "write() kept being called on " + stream_label(s) + " after it returned false, from ") +
                    site_words(*site) + ": its " + (web ? "queue" : "buffer") + " reached " + amount(static_cast<double>(o->peak), objects) +
                    ", " + ratio_text + "x its highWaterMark of " + amount(static_cast<double>(hwm), objects);
        if (o->still_growing)
            f.message += ", and is still growing (" + amount(o->slope, objects) + "/s)";
        else if (o->growing)
            f.message += std::string(", growing ") + amount(o->slope, objects) + "/s while the writes continued" +
                         (o->open ? "; it is still that full" : "; it has drained since");
        else
            f.message += o->open ? ", and stays there" : ", then drained";
        f.message += "; " + std::to_string(o->offending) + (native ? " writes after full." : " writes after false.");
        if (native)
            f.message += " The producer at " + site_words(*site) + " does not wait for the queue to drain.";
        else if (s.piped_from.empty())
            f.message += " Nothing pipes into it: the writes come straight from user code at " + site_words(*site) +
                         ", outside any pipe()/pipeline() backpressure — that is the broken link.";
        else if (const std::string c = chain_sentence(timeline, chain_views, s.id); !c.empty())
            f.message += " " + c;
        f.fix = web ? kWebFix : native ? kNativeFix : kFix;
        f.evidence = overfill_evidence(*o, hwm, ratio, objects, "writes_after_false");
        out.push_back(std::move(f));
    }
}

}  // namespace tidemark::model::detail
