// Budget settings: budget-file JSON, merging with the command line, parsing into Budgets.
#include "tidemark/model/gate/config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tidemark/model/gate/units.h"

namespace tidemark::model {
namespace {

bool is_list_key(const std::string& key) {
    return key == "max-growth" || key == "fail-on" || key == "allow";
}

std::string join(const std::vector<std::string>& xs, const char* sep) {
    std::string out;
    for (const auto& x : xs) out += (out.empty() ? "" : sep) + x;
    return out;
}

// Splits "a, b,c" (or lines: a repeated option joined by CLI11) into trimmed non-empty parts.
std::vector<std::string> split_commas(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ',');
    std::vector<std::string> out;
    std::stringstream in(s);
    std::string part;
    while (std::getline(in, part, ',')) {
        const auto b = part.find_first_not_of(" \t");
        const auto e = part.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
    }
    return out;
}

std::string number_text(double v) {
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    std::ostringstream o;
    o << v;
    return o.str();
}

// One JSON value of key into text values. False with error when the type does not fit.
bool json_values(const std::string& key, const nlohmann::json& v, std::vector<std::string>& out,
                 std::string& error) {
    if (v.is_string()) { out.push_back(v.get<std::string>()); return true; }
    if (v.is_number() && !is_list_key(key) && key != "baseline") {
        const std::string n = number_text(v.get<double>());
        out.push_back(key == "tolerance" ? n + "%" : n);
        return true;
    }
    if (v.is_array() && is_list_key(key)) {
        for (const auto& item : v) {
            if (!item.is_string()) { error = "its list must hold strings"; return false; }
            out.push_back(item.get<std::string>());
        }
        return true;
    }
    if (v.is_object() && key == "max-growth") {
        for (const auto& [metric, rate] : v.items()) {
            if (!rate.is_string()) { error = "each metric's rate must be a string such as \"1MB/min\""; return false; }
            out.push_back(metric + "=" + rate.get<std::string>());
        }
        return true;
    }
    error = "its value has the wrong type (expected " +
            std::string(key == "max-growth" ? "a string like \"2MB/min\" or an object like {\"heap\": \"1MB/min\"}"
                        : is_list_key(key)  ? "a string or an array of strings"
                                            : "a string or a number") + ")";
    return false;
}

bool bad(std::string& error, const GateSetting& s, const std::string& detail) {
    error = s.source + ": " + detail;
    return false;
}

bool check_kind(const std::string& kind, const GateSetting& s, std::string& error, const char* example) {
    const auto& kinds = known_finding_kinds();
    if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end()) return true;
    return bad(error, s, "'" + kind + "' is not a finding kind (known kinds: " + join(kinds, ", ") +
                             "; e.g. " + example + ")");
}

}  // namespace

const std::vector<std::string>& gate_setting_keys() {
    static const std::vector<std::string> keys = {"max-peak-rss", "max-peak-heap", "max-peak-external",
                                                  "max-growth", "max-native-growth", "warmup", "fail-on", "allow",
                                                  "tolerance", "baseline"};
    return keys;
}

bool read_budget_json(std::string_view json_text, const std::string& file_label, GateSettings& out,
                      std::string& error) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::parse_error& e) {
        error = "budget file " + file_label + " is not valid JSON: " + e.what() +
                " (expected an object such as {\"max-peak-rss\": \"256MB\", \"max-growth\": \"2MB/min\"})";
        return false;
    }
    if (!doc.is_object()) {
        error = "budget file " + file_label +
                " must hold a JSON object such as {\"max-peak-rss\": \"256MB\", \"max-growth\": \"2MB/min\"}";
        return false;
    }
    const auto& keys = gate_setting_keys();
    for (const auto& [raw_key, value] : doc.items()) {
        std::string key = raw_key;
        std::replace(key.begin(), key.end(), '_', '-');
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
            error = "budget file " + file_label + ": unknown key \"" + raw_key + "\" (known keys: " +
                    join(keys, ", ") + ")";
            return false;
        }
        GateSetting s;
        s.source = "budget file " + file_label + ", key " + key;
        std::string why;
        if (!json_values(key, value, s.values, why)) {
            error = s.source + ": " + why;
            return false;
        }
        out[key] = std::move(s);
    }
    return true;
}

GateSettings merge_settings(const GateSettings& file, const GateSettings& cli) {
    GateSettings out = file;
    for (const auto& [key, s] : cli) {
        if (key == "allow" && out.count(key)) {
            auto& target = out[key];
            target.values.insert(target.values.end(), s.values.begin(), s.values.end());
            target.source = "--allow";
        } else {
            out[key] = s;
        }
    }
    return out;
}

bool build_budgets(const GateSettings& settings, Budgets& budgets, std::string& baseline_path,
                   std::string& error) {
    Budgets b;
    baseline_path.clear();
    for (const auto& [key, s] : settings) {
        if (s.values.empty()) continue;
        const std::string& first = s.values.front();
        std::string why;
        if (key.rfind("max-peak-", 0) == 0) {
            const auto metric = parse_metric(key.substr(9));
            uint64_t bytes = 0;
            if (!metric || !parse_size(first, bytes, why)) return bad(error, s, why);
            b.max_peak[*metric] = SizeBudget{bytes, first};
        } else if (key == "max-growth") {
            for (const auto& value : s.values)
                for (const auto& part : split_commas(value)) {
                    const auto eq = part.find('=');
                    RateValue rate;
                    const std::string rate_text = eq == std::string::npos ? part : part.substr(eq + 1);
                    if (!parse_rate(rate_text, rate, why)) return bad(error, s, why);
                    const RateBudget rb{rate.bytes_per_s, rate.unit_s, rate.unit_name, rate_text};
                    if (eq == std::string::npos) {
                        for (const Metric m : kAllMetrics) b.max_growth[m] = rb;
                        continue;
                    }
                    const auto metric = parse_metric(part.substr(0, eq));
                    if (!metric)
                        return bad(error, s, "'" + part.substr(0, eq) +
                                                 "' is not a metric (use rss, heap or external, e.g. heap=1MB/min)");
                    b.max_growth[*metric] = rb;
                }
        } else if (key == "max-native-growth") {
            RateValue rate;
            if (!parse_rate(first, rate, why)) return bad(error, s, why);
            b.max_native_growth = RateBudget{rate.bytes_per_s, rate.unit_s, rate.unit_name, first};
        } else if (key == "warmup") {
            if (!parse_duration(first, b.warmup_s, why)) return bad(error, s, why);
        } else if (key == "tolerance") {
            if (!parse_percent(first, b.tolerance, why)) return bad(error, s, why);
        } else if (key == "fail-on") {
            for (const auto& value : s.values)
                for (const auto& kind : split_commas(value)) {
                    if (kind == "none") b.fail_on_none = true;
                    else if (kind == "error") continue;  // the default, spelled out
                    else if (!check_kind(kind, s, error, "--fail-on ignored-backpressure,heap-growth")) return false;
                    else b.fail_on.push_back(kind);
                }
            if (b.fail_on_none && !b.fail_on.empty())
                return bad(error, s, "'none' cannot be combined with finding kinds (e.g. --fail-on none, or "
                                     "--fail-on ignored-backpressure,heap-growth)");
        } else if (key == "allow") {
            for (const auto& value : s.values) {
                const auto at = value.find('@');
                AllowRule rule{value.substr(0, at), at == std::string::npos ? "" : value.substr(at + 1), value};
                if (!check_kind(rule.kind, s, error, "--allow no-consumer@src/cache.js:40")) return false;
                if (at != std::string::npos && rule.site.empty())
                    return bad(error, s, "'" + value + "' has nothing after @ (e.g. no-consumer@src/cache.js:40)");
                b.allow.push_back(std::move(rule));
            }
        } else if (key == "baseline") {
            baseline_path = first;
        } else {
            error = s.source + ": unknown setting (known: " + join(gate_setting_keys(), ", ") + ")";
            return false;
        }
    }
    budgets = std::move(b);
    return true;
}

}  // namespace tidemark::model
