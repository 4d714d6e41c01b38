// The gate's verdict in four forms: a human summary for the terminal and CI log, JSON for tools,
// markdown for a CI job page (GitHub step summary), and JUnit XML (one test case per budget and
// per finding) for CI test reports. All text from the target (stream names, error messages, paths)
// is escaped for the form it lands in, and invalid UTF-8 is replaced, so the XML always parses.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tidemark/model/gate/gate.h"

namespace tidemark::model {

std::string gate_text(const GateResult& result);
nlohmann::json gate_json_value(const GateResult& result);
std::string gate_json(const GateResult& result);  // pretty, ends in \n
std::string gate_markdown(const GateResult& result);
std::string gate_junit(const GateResult& result);

// Exposed for tests: text made safe for XML character data and attribute values (escapes
// & < > " ', drops characters XML 1.0 forbids, replaces invalid UTF-8 with U+FFFD).
std::string xml_escape(std::string_view text);

}  // namespace tidemark::model
