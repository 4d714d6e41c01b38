// Findings as they appear during `tidemark run`: reads the live DetectionEngine's findings and
// prints each finding the first time it is seen (deduplicated by finding_key), then the list of
// all findings at exit.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "tidemark/model/detect/engine.h"

namespace tidemark::agent {

class LiveFindings {
public:
    // Prints the engine's findings not printed before (or whose severity rose). Returns how many.
    size_t update(const model::DetectionEngine& engine, std::ostream& err);

    // "tidemark: [error] ignored-backpressure: <message> (t=3.2 s)"
    static std::string one_line(const model::Finding& f);
    // The final list: one line per finding plus its site and fix, indented.
    static void print_summary(const std::vector<model::Finding>& findings, std::ostream& err);

private:
    std::map<std::string, model::Severity> seen_;  // finding_key → highest severity printed
};

}  // namespace tidemark::agent
