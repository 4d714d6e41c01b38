// Rendering the gate's verdict as text, JSON, markdown and JUnit XML (see gate_report.h).
#include "tidemark/model/gate/report.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "tidemark/model/gate/units.h"

namespace tidemark::model {
namespace {

const char* budget_status(const BudgetResult& b) {
    if (!b.judged) return "SKIP";
    return b.passed ? "PASS" : "FAIL";
}

const char* finding_status(const FindingVerdict& f) {
    switch (f.outcome) {
        case FindingOutcome::Fails: return "FAIL";
        case FindingOutcome::Allowed: return "ALLOWED";
        default: return "NOTE";
    }
}

// Where a finding applies, in one line: "at upload.js:42; stream SlowSink created at upload.js:30".
std::string where(const Finding& f) {
    std::string out;
    if (!f.site.empty()) out += "at " + f.site;
    if (f.stream) {
        if (!out.empty()) out += "; ";
        out += "stream " + f.stream->type + " #" + std::to_string(f.stream->id);
        if (!f.stream->created_at.empty()) out += " created at " + f.stream->created_at;
    }
    if (!f.frames.empty()) {
        if (!out.empty()) out += "; ";
        out += "in " + f.frames.front();
    }
    if (!out.empty()) out += "; ";
    out += "since t=" + format_seconds(f.onset_s);
    return out;
}

std::string summary_line(const GateResult& r) {
    std::string s = r.passed() ? "PASSED" : "FAILED";
    s += ": " + std::to_string(r.failures()) + " failure" + (r.failures() == 1 ? "" : "s") + " (" +
         std::to_string(r.budgets.size()) + " budget" + (r.budgets.size() == 1 ? "" : "s") + ", " +
         std::to_string(r.findings.size()) + " finding" + (r.findings.size() == 1 ? "" : "s") +
         "; trace " + format_seconds(r.duration_s) + ", " + std::to_string(r.processes) + " process" +
         (r.processes == 1 ? "" : "es") + ", " + std::to_string(r.samples) + " samples, warm-up " +
         format_seconds(r.warmup_s) + ")";
    return s;
}

std::string case_name(const FindingVerdict& v, std::map<std::string, int>& seen) {
    const Finding& f = v.finding;
    std::string name = finding_kind_name(f.kind);
    if (!f.site.empty()) name += " @ " + f.site;
    else if (f.stream && !f.stream->created_at.empty()) name += " @ " + f.stream->created_at;
    const int n = ++seen[name];
    if (n > 1) name += " (" + std::to_string(n) + ")";
    return name;
}

// Replaces invalid UTF-8 with U+FFFD; keep_xml drops code points XML 1.0 forbids.
std::string clean_utf8(std::string_view in, bool xml) {
    std::string out;
    out.reserve(in.size());
    size_t i = 0;
    while (i < in.size()) {
        const auto c = static_cast<unsigned char>(in[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        bool ok = len != 0 && i + len <= in.size();
        for (size_t k = 1; ok && k < len; ++k) {
            const auto cc = static_cast<unsigned char>(in[i + k]);
            if ((cc >> 6) != 0x2) ok = false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (ok) {
            static constexpr uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) ok = false;
        }
        if (!ok) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        const bool forbidden = xml && ((cp < 0x20 && cp != 0x9 && cp != 0xA && cp != 0xD) ||
                                       cp == 0xFFFE || cp == 0xFFFF);
        if (forbidden) out += "\xEF\xBF\xBD";
        else out.append(in.substr(i, len));
        i += len;
    }
    return out;
}

// Markdown table cell: no line breaks, pipes and HTML escaped, emphasis characters neutralised.
std::string md_cell(std::string_view text) {
    std::string out;
    for (const char c : clean_utf8(text, true)) {
        switch (c) {
            case '|': out += "\\|"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '\n': case '\r': case '\t': out += ' '; break;
            case '*': case '_': case '`': case '[': case ']': case '\\':
                out += '\\';
                out += c;
                break;
            default: out += c;
        }
    }
    return out;
}

nlohmann::json growth_json(const GrowthEstimate& g) {
    return {{"slope_bytes_per_s", g.slope},   {"lower_bytes_per_s", g.lower},
            {"upper_bytes_per_s", g.upper},   {"sen_lower_bytes_per_s", g.sen_lower},
            {"noise_band_bytes", g.noise_band}, {"start_s", g.start_s},
            {"end_s", g.end_s},                {"points", g.points},
            {"judged_on", g.post_gc_floors ? "post_gc_floors" : "samples"}};
}

}  // namespace

std::string xml_escape(std::string_view text) {
    std::string out;
    for (const char c : clean_utf8(text, true)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            case '\n': out += "&#10;"; break;
            case '\r': out += "&#13;"; break;
            case '\t': out += "&#9;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string gate_text(const GateResult& r) {
    std::ostringstream out;
    for (const auto& b : r.budgets) out << budget_status(b) << ' ' << b.name << ": " << b.message << '\n';
    for (const auto& v : r.findings) {
        const Finding& f = v.finding;
        out << finding_status(v) << ' ' << finding_kind_name(f.kind) << " (" << severity_name(f.severity) << "): " << f.message
            << "\n    " << where(f) << '\n';
        if (v.outcome == FindingOutcome::Fails && !f.fix.empty()) out << "    fix: " << f.fix << '\n';
        if (v.outcome != FindingOutcome::Fails) out << "    " << v.reason << '\n';
    }
    if (r.findings.empty()) out << "PASS findings: no findings\n";
    out << "tidemark gate " << summary_line(r) << '\n';
    return clean_utf8(out.str(), false);
}

nlohmann::json gate_json_value(const GateResult& r) {
    nlohmann::json j;
    j["passed"] = r.passed();
    j["failures"] = r.failures();
    j["duration_s"] = r.duration_s;
    j["warmup_s"] = r.warmup_s;
    j["processes"] = r.processes;
    j["samples"] = r.samples;
    j["budgets"] = nlohmann::json::array();
    for (const auto& b : r.budgets) {
        nlohmann::json e = {{"name", b.name},
                            {"status", !b.judged ? "not-judged" : b.passed ? "pass" : "fail"},
                            {"measured", b.measured},
                            {"limit", b.limit},
                            {"unit", b.unit},
                            {"message", b.message}};
        if (b.at_s) e["at_s"] = *b.at_s;
        if (b.pid) e["pid"] = b.pid;
        if (b.growth) e["growth"] = growth_json(*b.growth);
        j["budgets"].push_back(std::move(e));
    }
    j["findings"] = nlohmann::json::array();
    for (const auto& v : r.findings) {
        const Finding& f = v.finding;
        nlohmann::json e = {{"kind", finding_kind_name(f.kind)},
                            {"severity", severity_name(f.severity)},
                            {"outcome", v.outcome == FindingOutcome::Fails     ? "fail"
                                        : v.outcome == FindingOutcome::Allowed ? "allowed"
                                                                               : "not-gating"},
                            {"reason", v.reason},
                            {"message", f.message},
                            {"fix", f.fix},
                            {"onset_s", f.onset_s}};
        nlohmann::json evidence = nlohmann::json::object();
        for (const auto& [k, val] : f.evidence) evidence[k] = val;
        e["evidence"] = std::move(evidence);
        if (!f.site.empty()) e["site"] = f.site;
        if (f.stream) e["stream"] = {{"id", f.stream->id}, {"type", f.stream->type}, {"created_at", f.stream->created_at}};
        if (!f.frames.empty()) e["frames"] = f.frames;
        j["findings"].push_back(std::move(e));
    }
    return j;
}

std::string gate_json(const GateResult& r) {
    return gate_json_value(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string gate_markdown(const GateResult& r) {
    std::ostringstream out;
    out << "## tidemark memory gate: " << (r.passed() ? "✅ passed" : "❌ failed") << "\n\n"
        << md_cell(summary_line(r)) << "\n\n";
    if (!r.budgets.empty()) {
        out << "| | budget | result |\n|---|---|---|\n";
        for (const auto& b : r.budgets)
            out << "| " << (!b.judged ? "⚪" : b.passed ? "✅" : "❌") << " | " << md_cell(b.name) << " | "
                << md_cell(b.message) << " |\n";
        out << '\n';
    }
    if (!r.findings.empty()) {
        out << "| | finding | severity | what | where |\n|---|---|---|---|---|\n";
        for (const auto& v : r.findings) {
            const Finding& f = v.finding;
            const char* icon = v.outcome == FindingOutcome::Fails ? "❌" : v.outcome == FindingOutcome::Allowed ? "☑️" : "ℹ️";
            std::string what = f.message;
            if (v.outcome == FindingOutcome::Fails && !f.fix.empty()) what += " Fix: " + f.fix;
            if (v.outcome != FindingOutcome::Fails) what += " (" + v.reason + ")";
            out << "| " << icon << " | " << md_cell(finding_kind_name(f.kind)) << " | " << severity_name(f.severity) << " | "
                << md_cell(what) << " | " << md_cell(where(f)) << " |\n";
        }
        out << '\n';
    } else {
        out << "No findings.\n";
    }
    return out.str();
}

std::string gate_junit(const GateResult& r) {
    size_t tests = 0, failures = 0, skipped = 0;
    std::ostringstream cases;
    const auto time_attr = [](double s) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", s);
        return std::string(buf);
    };
    for (const auto& b : r.budgets) {
        ++tests;
        cases << "    <testcase classname=\"tidemark.budget\" name=\"" << xml_escape(b.name) << "\" time=\"0\">";
        if (!b.judged) {
            ++skipped;
            cases << "\n      <skipped message=\"" << xml_escape(b.message) << "\"/>\n    ";
        } else if (!b.passed) {
            ++failures;
            cases << "\n      <failure type=\"" << xml_escape(b.name) << "\" message=\"" << xml_escape(b.message)
                  << "\">FAIL " << xml_escape(b.name) << ": " << xml_escape(b.message) << "</failure>\n    ";
        } else {
            cases << "\n      <system-out>PASS " << xml_escape(b.name) << ": " << xml_escape(b.message)
                  << "</system-out>\n    ";
        }
        cases << "</testcase>\n";
    }
    std::map<std::string, int> seen;
    for (const auto& v : r.findings) {
        ++tests;
        const Finding& f = v.finding;
        const std::string detail = f.message + "\n" + where(f) + (f.fix.empty() ? "" : "\nfix: " + f.fix);
        cases << "    <testcase classname=\"tidemark.finding\" name=\"" << xml_escape(case_name(v, seen))
              << "\" time=\"0\">\n";
        if (v.outcome == FindingOutcome::Fails) {
            ++failures;
            cases << "      <failure type=\"" << xml_escape(finding_kind_name(f.kind)) << "\" message=\"" << xml_escape(f.message)
                  << "\">" << xml_escape(detail) << "</failure>\n";
        } else if (v.outcome == FindingOutcome::Allowed) {
            ++skipped;
            cases << "      <skipped message=\"" << xml_escape(v.reason) << "\"/>\n";
        } else {
            cases << "      <system-out>" << xml_escape(detail + "\n" + v.reason) << "</system-out>\n";
        }
        cases << "    </testcase>\n";
    }
    if (r.findings.empty()) {
        ++tests;
        cases << "    <testcase classname=\"tidemark.finding\" name=\"findings\" time=\"0\">\n"
              << "      <system-out>no findings</system-out>\n    </testcase>\n";
    }
    std::ostringstream out;
    const std::string counts = "tests=\"" + std::to_string(tests) + "\" failures=\"" + std::to_string(failures) +
                               "\" errors=\"0\" skipped=\"" + std::to_string(skipped) + "\" time=\"" +
                               time_attr(r.duration_s) + "\"";
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<testsuites name=\"tidemark\" " << counts << ">\n"
        << "  <testsuite name=\"tidemark memory gate\" " << counts << ">\n"
        << cases.str() << "  </testsuite>\n</testsuites>\n";
    return out.str();
}

}  // namespace tidemark::model
