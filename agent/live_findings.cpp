// Printing findings live and at exit during `tidemark run` (see live_findings.h).
#include "live_findings.h"

#include <cstdio>
#include <ostream>

namespace tidemark::agent {

std::string LiveFindings::one_line(const model::Finding& f) {
    char when[32];
    std::snprintf(when, sizeof when, "%.1f", f.onset_s);
    return std::string("tidemark: [") + model::severity_name(f.severity) + "] " + model::finding_kind_name(f.kind) + ": " +
           f.message + " (t=" + when + " s)";
}

size_t LiveFindings::update(const model::DetectionEngine& engine, std::ostream& err) {
    size_t fresh = 0;
    for (const auto& f : engine.findings()) {
        // Printed once per identity, and again only when its severity rises: a warning that turns
        // into an error (a bounded buffer that starts growing) is news.
        const auto [it, inserted] = seen_.try_emplace(model::finding_key(f), f.severity);
        if (!inserted) {
            if (f.severity <= it->second) continue;
            it->second = f.severity;
        }
        err << one_line(f) << "\n";
        ++fresh;
    }
    if (fresh) err.flush();
    return fresh;
}

void LiveFindings::print_summary(const std::vector<model::Finding>& findings, std::ostream& err) {
    if (findings.empty()) return;
    err << "tidemark: " << findings.size() << (findings.size() == 1 ? " finding:" : " findings:") << "\n";
    for (const auto& f : findings) {
        err << "  " << one_line(f).substr(10) << "\n";  // without the "tidemark: " prefix
        if (f.stream) {
            err << "      stream #" << f.stream->id << " " << f.stream->type;
            if (!f.stream->created_at.empty()) err << " created at " << f.stream->created_at;
            err << "\n";
        }
        if (!f.site.empty()) err << "      offending call: " << f.site << "\n";
        if (!f.fix.empty()) err << "      fix: " << f.fix << "\n";
    }
}

}  // namespace tidemark::agent
