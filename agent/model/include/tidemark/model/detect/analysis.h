// Analysis: a Timeline and the DetectionEngine that judges it, fed record by record — the one
// object `tidemark run` (live), `report` and `check` (replay) build, so they agree. analyze_trace()
// reads a trace file into one in a single pass with bounded memory (the timeline's Limits).
#pragma once

#include <string>

#include "tidemark/model/detect/engine.h"
#include "tidemark/model/timeline/timeline.h"
#include "tidemark/protocol.h"

namespace tidemark::model {

class Analysis {
public:
    explicit Analysis(const Timeline::Limits& limits = {}, const DetectorOptions& detector = {},
                      const EngineOptions& engine = {})
        : timeline_(limits), engine_(detector, engine) {}

    // Applies one record and runs a detection tick when one is due (record time). Returns true
    // when a tick ran (the live session prints new findings at once).
    bool apply(const proto::Record& record) {
        timeline_.apply(record);
        return engine_.observe(timeline_);
    }
    // The last records are in: a final judgement of everything still listed.
    void finish() { engine_.finish(timeline_); }

    Timeline& timeline() { return timeline_; }
    const Timeline& timeline() const { return timeline_; }
    DetectionEngine& engine() { return engine_; }
    const DetectionEngine& engine() const { return engine_; }
    std::vector<Finding> findings() const { return engine_.findings(); }

private:
    Timeline timeline_;
    DetectionEngine engine_;
};

struct AnalyzedTrace {
    Analysis analysis;
    std::string error;    // non-empty: unreadable or damaged; the analysis holds what was read
    std::string warning;  // non-empty: readable but not cleanly closed (no footer)
    bool truncated = false;
    const Timeline& timeline() const { return analysis.timeline(); }
};

// Reads every record of the trace at `path` into an Analysis, then finish()es it.
AnalyzedTrace analyze_trace(const std::string& path, const Timeline::Limits& limits = {});

}  // namespace tidemark::model
