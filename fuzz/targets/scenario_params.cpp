// A simulation run's scenario parameters (JSON) against the demo twin.
#include <nlohmann/json.hpp>

#include "core/json_depth.hpp"
#include "fuzz.hpp"
#include "sim/io/scenario_json.hpp"
#include "sim/io/twin_json.hpp"
#include "sim/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto twin =
      remhart::sim::io::read_twin_file(REMHART_SOURCE_DIR "/share/twins/demo-feeder.json");
  const auto text = remhart::fuzz::text(data, size);
  if (remhart::core::json_too_deep(text)) return 0;  // refused before parsing, as the API does
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    const auto params = remhart::sim::io::parse_scenario_params(j, twin);
    for (const char* id : {"normal_day", "voltage_sag", "custom"}) {
      try {
        (void)remhart::sim::build_scenario(id, params, twin);
      } catch (const remhart::sim::ParamError&) {
      }
    }
  } catch (const remhart::sim::ParamError&) {
  }
  return 0;
}
