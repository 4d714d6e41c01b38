// Detectors: rules over a Timeline that name what is wrong, where and since when (docs/DETECTORS.md).
// detect() judges a whole timeline from scratch (streams not folded); the agent, `report` and
// `check` use the incremental DetectionEngine (engine.h), which runs the same rules on what changed
// and keeps what it found about streams that have since been folded.
// chains() is the pipe-chain view the stream detectors quote: for each chain, where the pressure stops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::model {

struct DetectorOptions {
    double grace_s = 3.0;    // how long a condition must hold before it is reported
    double warmup_s = 2.0;   // growth detectors ignore the first warmup_s seconds
    // Further thresholds, with the reasons for their defaults in docs/DETECTORS.md.
    // "Far past the highWaterMark": length >= overfill_factor × hwm and >= hwm + overfill_min_*.
    double overfill_factor = 8.0;
    uint64_t overfill_min_bytes = 1024 * 1024;  // binary streams
    uint64_t overfill_min_objects = 64;         // objectMode streams
    // An overfill must last sustain_s with offending calls (writes/pushes after false) still
    // arriving after half of it, min_offending_calls of them in the episode.
    double sustain_s = 1.0;
    uint64_t min_offending_calls = 8;
    // Growth (Theil–Sen over the samples after warm-up).
    double growth_min_window_s = 3.0;
    double heap_min_slope_bytes_per_s = 512.0 * 1024;
    double heap_min_relative = 0.5;           // growth over the window >= this × the starting level
    double external_min_slope_bytes_per_s = 1024.0 * 1024;
    double external_min_relative = 0.5;
    double growth_min_total_bytes = 16.0 * 1024 * 1024;
    size_t growth_max_points = 160;           // bounds the Theil–Sen cost per call
    // native-leak (docs/DETECTORS.md): a site's live bytes must grow by at least this much over the
    // window, and by native_min_relative × its level at the window's start; the series must rise in
    // at least native_rising_fraction of its time slices.
    double native_min_growth_bytes = 1024.0 * 1024;
    double native_min_relative = 0.25;
    double native_rising_fraction = 0.7;
    size_t native_min_points = 8;             // points of a site's series after warm-up to judge it
    size_t native_max_findings = 5;           // per process, the fastest-growing sites
};

// Runs every detector; the result is sorted most severe first, then by onset.
std::vector<Finding> detect(const Timeline& timeline, const DetectorOptions& options = {});
void sort_findings(std::vector<Finding>& findings);  // most severe first, then by onset

// A stable identity for deduplicating findings across repeated live runs: kind + stream + site.
std::string finding_key(const Finding& f);

// ---- chain view -------------------------------------------------------------------------------

struct ChainStage {
    StreamId id = 0;             // 0 for a pipeline stage that is not a stream (generator, function)
    std::string label;           // "Type (file:line)" or the stage's description
    uint64_t high_water_mark = 0;   // of the side that receives data (writable, else readable)
    uint64_t peak_buffered = 0;     // peak readable + writable length
    bool backed_up = false;      // its buffer reached its highWaterMark (it said "slow down")
    bool overfilled = false;     // its buffer went far past its highWaterMark
};

struct ChainView {
    std::vector<ChainStage> stages;        // source first
    std::optional<uint64_t> pipeline_id;   // set when every link comes from one pipeline() call
    std::string site;                      // that pipeline() call site, when known
    bool uses_pipe = false;                // some link was made by pipe() outside pipeline()
    // The link stages[broken_after] → stages[broken_after + 1] is where the pressure stops: the
    // downstream stage went far past its highWaterMark while the upstream one kept flowing.
    // -1 when no link is broken.
    int broken_after = -1;
    std::string summary;                   // one line a person can read
};

// Every pipe chain (pipe() edges and pipeline() stages, history included), source to sink.
std::vector<ChainView> chains(const Timeline& timeline, const DetectorOptions& options = {});

}  // namespace tidemark::model
