// A finding: what a detector concluded, in the shape PRODUCT.md gives for `report --format json`.
// Detectors (detectors.h) produce them; the report, the gate and the viewer consume them.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tidemark/model/timeline/timeline.h"

namespace tidemark::model {

enum class Severity { Info = 0, Warning = 1, Error = 2 };

inline const char* severity_name(Severity s) {
    switch (s) {
        case Severity::Error: return "error";
        case Severity::Warning: return "warning";
        default: return "info";
    }
}

struct FindingStream {
    StreamId id = 0;
    std::string type;
    std::string created_at;  // "file:line"
};

struct Finding {
    std::string kind;        // stable id: ignored-backpressure, unbounded-readable, no-consumer, …
    Severity severity = Severity::Warning;
    std::string message;     // names the stream and what is wrong
    std::string fix;         // the concrete remedy
    double onset_s = 0;      // trace time when the condition started to hold
    std::vector<std::pair<std::string, double>> evidence;  // the numbers behind it, in order
    std::optional<FindingStream> stream;
    std::string site;                 // the offending call site "file:line" ("" when none)
    std::vector<std::string> frames;  // native findings: top frames
};

}  // namespace tidemark::model
