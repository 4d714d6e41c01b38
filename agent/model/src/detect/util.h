// Internal helpers shared by the detector files (detectors_*.cpp): reading a stream's sampled
// state as time intervals, "far past the highWaterMark" episodes, user call sites, wording.
// Not part of the model's public interface.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tidemark/model/detect/detectors.h"
#include "tidemark/model/util/bytes.h"
#include "tidemark/model/util/stats.h"

namespace tidemark::model::detail {

enum class Side { Readable, Writable };

// The end of what we can observe about a stream: the trace end, clipped to its process's exit
// and to the moment it was collected.
double observed_until(const Timeline& timeline, const StreamInfo& stream);

uint64_t side_length(const proto::StreamSample& s, Side side);
uint64_t side_hwm(const StreamInfo& stream, Side side);  // the recorded hwm, or Node's default
bool side_object_mode(const StreamInfo& stream, Side side);

// length >= overfill_threshold(...) means "far past the highWaterMark".
uint64_t overfill_threshold(const StreamInfo& stream, Side side, const DetectorOptions& options);

// A maximal run of consecutive points satisfying a predicate. State holds from one point to the
// next, so the run ends at the first point that fails (or at `until` when it lasts to the end).
struct Run {
    size_t first = 0;
    size_t last = 0;      // inclusive
    double start_s = 0;
    double end_s = 0;
    bool open = false;    // still holding at the last point
};
std::vector<Run> runs(const StreamInfo& stream, double until,
                      const std::function<bool(const proto::StreamSample&)>& holds);

// Theil–Sen slope (units per second) of a side's length over the points [first, last].
double length_slope(const StreamInfo& stream, Side side, size_t first, size_t last,
                    double* lower_bound = nullptr);

// The earliest-seen call site of `kind` in user code (never a node: frame); "" when none.
// "file:line", or "file:line (via lib/file.js:line)" when a library stood between.
std::string site_words(const CallSiteCount& c);
// Sets the finding's site (and site_via) from a call site.
void set_site(Finding& f, const CallSiteCount& c);
const CallSiteCount* user_call_site(const StreamInfo& stream, proto::CallSiteKind kind);
bool is_user_site(const std::string& site);

// "Transform LineParser (app.js:12)"-style names and sizes for messages.
std::string stream_label(const StreamInfo& stream);
FindingStream stream_ref(const StreamInfo& stream);
std::string amount(double value, bool object_mode);  // "1.5 MiB" or "1200 objects"
std::string seconds(double s);                       // "2.4 s"

// One sentence placing the stream in its pipe chain, naming the broken link ("" when none).
std::string chain_sentence(const Timeline& timeline, const std::vector<ChainView>& chains,
                           StreamId id);

// Growth rules (heap, external, native sites): both halves of the window must rise at a quarter
// or more of the whole window's Theil–Sen slope, so one step is not read as steady growth.
bool both_halves_rise(const std::vector<stats::TimePoint>& pts, double slope, size_t max_points);
// The onset of a rise of `growth` over the window: the last time the series sat within 10 % of
// that growth above its floor.
double floor_onset(const std::vector<stats::TimePoint>& pts, double growth);

// Per-detector entry points (each appends its findings). The per-stream ones judge only the
// streams they are given (the incremental engine passes the ones that changed, detect() all that
// are not folded); left-open and growth look at the whole timeline.
using StreamList = std::vector<const StreamInfo*>;
void detect_ignored_backpressure(const Timeline&, const DetectorOptions&,
                                 const std::vector<ChainView>&, const StreamList&, std::vector<Finding>&);
void detect_readable_buffers(const Timeline&, const DetectorOptions&,
                             const std::vector<ChainView>&, const StreamList&, std::vector<Finding>&);
void detect_stalls(const Timeline&, const DetectorOptions&, const StreamList&, std::vector<Finding>&);
void detect_left_open(const Timeline&, const DetectorOptions&, std::vector<Finding>&);
void detect_growth(const Timeline&, const DetectorOptions&, std::vector<Finding>&);  // also runs native-leak
void detect_native_leaks(const Timeline&, const DetectorOptions&, std::vector<Finding>&);

}  // namespace tidemark::model::detail

namespace tidemark::model::detail {

// "Far past the highWaterMark, sustained, with offending calls still arriving" on one side of a
// stream (detectors_overfill.cpp). `counter` reads the offending-call counter (writes or pushes
// after false); `eligible` can reject a run (e.g. a readable nobody ever consumed).
struct Overfill {
    double onset_s = 0;          // first offending call of the first qualifying episode
    double detected_s = 0;       // when the rule first held (onset of the run + sustain)
    double end_s = 0;            // end of the latest qualifying episode (or now)
    bool open = false;           // the latest qualifying episode still holds
    bool growing = false;        // its buffer climbed while the offending calls arrived
    bool climbed = false;        // some episode climbed by at least half its own peak while they
                                 // arrived (unbounded, not a burst: unbounded-readable)
    bool still_growing = false;  // the latest episode holds and its buffer is still climbing
    uint64_t peak = 0;           // peak length over all qualifying episodes
    uint64_t now = 0;            // length at the last point
    uint64_t offending = 0;      // offending calls in total (counter at the last point)
    double slope = 0;            // length per second while the offending calls arrived
};
std::optional<Overfill> find_overfill(const StreamInfo& stream, Side side, double until,
                                      const DetectorOptions& options,
                                      uint64_t (*counter)(const proto::StreamSample&),
                                      const CallSiteCount* site,
                                      const std::function<bool(const StreamInfo&, const Run&)>& eligible);

// The evidence both overfill findings carry; offending_name names the counter
// ("writes_after_false" or "pushes_after_false").
std::vector<std::pair<std::string, double>> overfill_evidence(const Overfill& o, uint64_t hwm, double ratio,
                                                              bool objects, const std::string& offending_name);

}  // namespace tidemark::model::detail
