// Opening a trace for `report` and `check`: reads it in one pass into an Analysis (bounded
// timeline plus incremental detectors) and turns the model's
// verdict on the file (unreadable, damaged, cut short) into one message saying what was wrong and
// what to do. Shared so both commands word the same problem the same way.
#pragma once

#include <string>

#include "tidemark/model/detect/analysis.h"

namespace tidemark::agent {

struct TraceInput {
    model::AnalyzedTrace loaded;  // the timeline and its findings, read in one pass
    bool anything_readable = false;  // at least one process or stream was read
    std::string problem;             // non-empty: exit 2 after using what was readable
    bool damaged = false;            // the file exists but is damaged or cut short
};

TraceInput load_trace_input(const std::string& path, const model::Timeline::Limits& limits = {});

}  // namespace tidemark::agent
