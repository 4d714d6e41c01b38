// DetectionEngine: the detectors run incrementally, for long sessions (docs/DETECTORS.md
// "Incremental detection"). A tick judges only the streams that records touched since the last
// tick, their pipe/pipeline neighbours, and the streams whose state can still turn into a finding
// as time passes (holding data, writing, errored); so the cost of a tick follows what changed, not
// how long the session is. Process-wide rules (heap/external growth, streams left open after an
// error) run every `global_every_s` of trace time over bounded series.
//
// Ticks are driven by record time, not wall-clock time: observe() runs one whenever the
// timeline's end crosses the next tick boundary. Live (`tidemark run`) and replay (`report`,
// `check`) feed the same records in the same order, so they reach identical findings.
//
// What the engine keeps: for each stream, the findings of its latest judgement (a stream judged
// again replaces them, unless its history was coarsened, when a finding is only ever added or
// updated); streams that retired are judged a last time, `linger_s` after they retired, then the
// engine folds them (Timeline::fold) and keeps their findings. It also enforces the timeline's
// memory budget after each tick.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tidemark/model/detect/detectors.h"
#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::model {

struct EngineOptions {
    double tick_s = 0.5;          // trace seconds between ticks
    double global_every_s = 2.0;  // trace seconds between runs of the process-wide rules
    double linger_s = 10.0;       // a retired stream is folded this long after it retired
    // A stream that needs watching (it holds data) but whose state has not changed is judged every
    // tick for `settle_s` after its last change, then every `settled_every_s`: the rules' clocks
    // (grace, sustain) are seconds long, so a state unchanged for longer only ages its finding.
    double settle_s = 10.0;
    double settled_every_s = 5.0;
    // A judgement walks the stream's history (up to Timeline::Limits::max_points points). A stream
    // that changes every tick and has more than `long_history_points` points is judged every
    // `long_history_every_s` instead, so a busy long-lived stream costs a bounded share.
    size_t long_history_points = 256;
    double long_history_every_s = 2.0;
};

struct EngineStats {
    uint64_t ticks = 0;
    uint64_t streams_judged = 0;   // stream judgements, summed over ticks
    uint64_t streams_folded = 0;
    uint64_t global_runs = 0;
};

class DetectionEngine {
public:
    explicit DetectionEngine(const DetectorOptions& detector = {}, const EngineOptions& engine = {});

    // Call after each Timeline::apply; runs a tick when one is due. Returns true when it ran.
    bool observe(Timeline& timeline);
    // One tick now.
    void tick(Timeline& timeline);
    // The end of the records: judges every stream not yet folded and runs the process-wide rules,
    // so the findings equal detect() on the same timeline for every stream still listed.
    void finish(Timeline& timeline);

    // Every finding so far, most severe first, then by onset.
    std::vector<Finding> findings() const;
    // The same, with the process-wide growth rules re-run under other options (the CI gate's
    // warm-up) on the timeline as it is now.
    std::vector<Finding> findings(const Timeline& timeline, const DetectorOptions& growth_options) const;

    const EngineStats& stats() const { return stats_; }
    const DetectorOptions& detector_options() const { return detector_; }

private:
    void judge(Timeline& timeline, const std::vector<StreamId>& ids);
    void run_global(const Timeline& timeline);
    void keep(const Finding& f, bool replace);
    void fold_findings_of_dropped(const Timeline& timeline);
    void append_repeated(std::vector<Finding>& out) const;
    void add_repeated(const Finding& found);
    void append_kept(std::vector<Finding>& out) const;  // every finding but the growth ones

    DetectorOptions detector_;
    EngineOptions engine_;
    EngineStats stats_;
    double next_tick_s_ = 0;
    double next_global_s_ = 0;
    bool started_ = false;
    // Findings about streams, by finding_key; the stream each belongs to, for replacement.
    std::map<std::string, Finding> stream_findings_;
    std::unordered_map<StreamId, std::vector<std::string>> keys_of_stream_;
    std::map<std::string, Finding> latched_findings_;   // left-open-after-error (only added/updated)
    // Findings of streams no longer listed (Timeline::fold past the detail), one per (kind, type,
    // creation site, offending site) with how many streams had it: bounded by the program's code.
    struct Repeated {
        Finding first;      // the first such stream's finding, as it was
        uint64_t streams = 0;
    };
    std::map<std::string, Repeated> repeated_findings_;
    uint64_t dropped_seen_ = 0;  // Timeline::retired_count() when findings were last folded
    std::vector<Finding> growth_findings_;              // replaced on each global run
    std::unordered_map<StreamId, double> watch_;        // id → next time to judge it unchanged
    struct Deferral {
        double next_s = 0;     // not judged again for a change before this
        bool pending = false;  // it changed since it was last judged
    };
    std::unordered_map<StreamId, Deferral> deferred_;   // long-history streams
};

}  // namespace tidemark::model
