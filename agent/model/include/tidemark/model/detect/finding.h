// A finding: what a detector concluded, in the shape PRODUCT.md gives for `report --format json`.
// Detectors (detectors.h) produce them; the report, the gate and the viewer consume them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

// The finding kinds PRODUCT.md defines: the one list every front end uses. Their names (the
// stable ids in reports, `--fail-on` and `--allow`) come from finding_kind_name().
enum class FindingKind : uint8_t {
    IgnoredBackpressure,
    UnboundedReadable,
    NoConsumer,
    StalledPipeline,
    LeftOpenAfterError,
    ExternalGrowth,
    HeapGrowth,
    NativeLeak,
};

inline constexpr std::array<FindingKind, 8> kFindingKinds = {
    FindingKind::IgnoredBackpressure, FindingKind::UnboundedReadable, FindingKind::NoConsumer,
    FindingKind::StalledPipeline,     FindingKind::LeftOpenAfterError, FindingKind::ExternalGrowth,
    FindingKind::HeapGrowth,          FindingKind::NativeLeak};

constexpr const char* finding_kind_name(FindingKind k) {
    switch (k) {
        case FindingKind::IgnoredBackpressure: return "ignored-backpressure";
        case FindingKind::UnboundedReadable: return "unbounded-readable";
        case FindingKind::NoConsumer: return "no-consumer";
        case FindingKind::StalledPipeline: return "stalled-pipeline";
        case FindingKind::LeftOpenAfterError: return "left-open-after-error";
        case FindingKind::ExternalGrowth: return "external-growth";
        case FindingKind::HeapGrowth: return "heap-growth";
        case FindingKind::NativeLeak: return "native-leak";
    }
    return "?";
}

constexpr std::optional<FindingKind> parse_finding_kind(std::string_view name) {
    for (FindingKind k : kFindingKinds)
        if (name == finding_kind_name(k)) return k;
    return std::nullopt;
}

struct FindingStream {
    StreamId id = 0;
    std::string type;
    std::string created_at;  // "file:line"
};

struct Finding {
    FindingKind kind = FindingKind::IgnoredBackpressure;
    Severity severity = Severity::Warning;
    std::string message;     // names the stream and what is wrong
    std::string fix;         // the concrete remedy
    double onset_s = 0;      // trace time when the condition started to hold
    std::vector<std::pair<std::string, double>> evidence;  // the numbers behind it, in order
    std::optional<FindingStream> stream;
    std::string site;                 // the offending call site "file:line" ("" when none): the app's own frame
    std::string site_via;             // the library frame the call went through ("ws/lib/sender.js:569"), if any
    std::vector<std::string> frames;  // native findings: top frames
};

}  // namespace tidemark::model
