// Detectors: rules over a Timeline that name what is wrong, where and since when (docs/DETECTORS.md).
// The same call serves a live session (the agent re-runs it on the growing timeline) and a replay.
// Findings are recomputed from scratch on each call; callers deduplicate with finding_key().
#pragma once

#include <string>
#include <vector>

#include "model/finding.h"
#include "model/timeline.h"

namespace tidemark::model {

struct DetectorOptions {
    double grace_s = 3.0;    // how long a condition must hold before it is reported
    double warmup_s = 2.0;   // growth detectors ignore the first warmup_s seconds
    // Further thresholds live here with documented defaults (docs/DETECTORS.md).
};

// Runs every detector; the result is sorted most severe first, then by onset.
std::vector<Finding> detect(const Timeline& timeline, const DetectorOptions& options = {});

// A stable identity for deduplicating findings across repeated live runs: kind + stream + site.
std::string finding_key(const Finding& f);

}  // namespace tidemark::model
