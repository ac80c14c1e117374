#include "analytics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "features/features.hpp"
#include "ml/io/xgboost_json.hpp"

namespace remhart::analytics {

using nlohmann::json;

namespace {

constexpr std::string_view kActive = "_active/";

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span(text));
}

std::optional<std::string> read_text(const core::ObjectStore& objects, const std::string& name) {
  auto b = objects.get(name);
  if (!b) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(b->data()), b->size());
}

// A version number as an object name segment holds it: 1–9 digits.
std::optional<int> parse_version(std::string_view s) {
  int v = 0;
  if (s.empty() || s.size() > 9) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1) return std::nullopt;
  return v;
}

}  // namespace

bool valid_model_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

ModelRegistry::ModelRegistry(std::shared_ptr<core::ObjectStore> objects, std::string prefix)
    : objects_(std::move(objects)), prefix_(std::move(prefix)) {
  if (!prefix_.empty() && prefix_.back() != '/') prefix_ += '/';
  adopt_legacy_activations();
}

std::string ModelRegistry::where() const {
  return objects_->where() + " (" + prefix_ + ")";
}

std::string ModelRegistry::version_dir(const std::string& name, int version) const {
  return prefix_ + name + "/" + std::to_string(version) + "/";
}

// Registries before the object store kept every activation in one `active.json`.
void ModelRegistry::adopt_legacy_activations() {
  const auto legacy = read_text(*objects_, prefix_ + "active.json");
  if (!legacy) return;
  const auto a = json::parse(*legacy, nullptr, false);
  if (a.is_object()) {
    for (const auto& [name, v] : a.items()) {
      if (valid_model_name(name) && v.is_number_integer() && !active(name)) {
        set_active(name, v.get<int>());
      }
    }
  }
  objects_->remove(prefix_ + "active.json");
}

std::vector<int> ModelRegistry::versions(const std::string& name, int* highest_claimed) const {
  std::vector<int> out;
  if (highest_claimed) *highest_claimed = 0;
  if (!valid_model_name(name)) return out;
  const auto base = prefix_ + name + "/";
  for (const auto& o : objects_->list(base)) {
    const std::string_view rest = std::string_view(o.name).substr(base.size());
    const auto slash = rest.find('/');
    const auto v = parse_version(rest.substr(0, slash));
    if (!v || slash == std::string_view::npos) continue;
    if (highest_claimed) *highest_claimed = std::max(*highest_claimed, *v);
    if (rest.substr(slash + 1) == "card.json") out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ModelRegistry::set_active(const std::string& name, int version) {
  objects_->put(prefix_ + std::string(kActive) + name, bytes(std::to_string(version)));
}

int ModelRegistry::publish(const TrainedModel& model, core::TimeUs now, bool activate) {
  if (!valid_model_name(model.name)) throw std::invalid_argument("bad model name " + model.name);
  // Another replica may claim the number between the listing and the claim: then the next.
  for (int attempt = 0; attempt < 64; ++attempt) {
    int highest = 0;
    versions(model.name, &highest);
    const int version = highest + 1;
    auto card = model.card;
    card["name"] = model.name;
    card["module"] = model.module;
    card["version"] = version;
    card["created_at"] = core::format_rfc3339(now);
    card["serving"] = model.serving;
    const auto card_text = card.dump(2) + "\n";
    const auto dir = version_dir(model.name, version);
    if (model.model_json.empty()) {
      if (!objects_->put_new(dir + "card.json", bytes(card_text))) continue;
    } else {
      // The trees claim the number; the card, written last, completes the version.
      if (!objects_->put_new(dir + "model.json", bytes(model.model_json))) continue;
      objects_->put(dir + "card.json", bytes(card_text));
    }
    if (activate) set_active(model.name, version);
    return version;
  }
  throw std::runtime_error("model " + model.name + ": no free version number after 64 attempts");
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& o : objects_->list(prefix_)) {
    // <name>/<version>/card.json
    const std::string_view rest = std::string_view(o.name).substr(prefix_.size());
    const auto a = rest.find('/');
    if (a == std::string_view::npos) continue;
    const auto b = rest.find('/', a + 1);
    if (b == std::string_view::npos || rest.substr(b + 1) != "card.json" ||
        !parse_version(rest.substr(a + 1, b - a - 1))) {
      continue;
    }
    const std::string name(rest.substr(0, a));
    if (valid_model_name(name) && (out.empty() || out.back() != name)) out.push_back(name);
  }
  return out;  // the listing is sorted by name
}

std::vector<json> ModelRegistry::cards(const std::string& name) const {
  std::vector<json> out;
  const auto active_version = active(name).value_or(-1);
  for (int v : versions(name)) {
    const auto text = read_text(*objects_, version_dir(name, v) + "card.json");
    auto card = text ? json::parse(*text, nullptr, false) : json();
    if (!card.is_object()) continue;
    card["version"] = v;
    card["active"] = v == active_version;
    out.push_back(std::move(card));
  }
  return out;
}

std::optional<int> ModelRegistry::active(const std::string& name) const {
  if (!valid_model_name(name)) return std::nullopt;
  const auto text = read_text(*objects_, prefix_ + std::string(kActive) + name);
  return text ? parse_version(*text) : std::nullopt;
}

bool ModelRegistry::activate(const std::string& name, int version) {
  const auto v = versions(name);
  if (std::find(v.begin(), v.end(), version) == v.end()) return false;
  set_active(name, version);
  return true;
}

std::string ModelRegistry::activation_stamp() const {
  std::string stamp;
  for (const auto& o : objects_->list(prefix_ + std::string(kActive))) {
    stamp += o.name + ':' + std::to_string(o.size) + ':' + std::to_string(o.modified) + '\n';
  }
  return stamp;
}

std::optional<LoadedModel> ModelRegistry::load_active(const std::string& name) const {
  const auto version = active(name);
  if (!version) return std::nullopt;
  const auto dir = version_dir(name, *version);
  const auto card = read_text(*objects_, dir + "card.json");
  if (!card) return std::nullopt;
  LoadedModel m;
  m.name = name;
  m.version = *version;
  m.card = json::parse(*card, nullptr, false);
  if (!m.card.is_object()) throw ml::io::ModelFormatError(name + ": card.json is not JSON");
  m.serving = m.card.value("serving", json::object());
  const auto* slot = find_model(name);
  if (!slot || slot->trees) {
    const auto trees = read_text(*objects_, dir + "model.json");
    if (!trees) throw ml::io::ModelFormatError(name + ": model.json is missing");
    m.gbt = ml::io::parse_xgboost_json(*trees, slot ? slot->features : features::kFeatureCount);
  }
  return m;
}

TrainedModel import_model(const ModelInfo& slot, std::string model_json, double threshold,
                          const std::string& imported_by) {
  using ml::io::ModelFormatError;
  if (!slot.trees) {
    throw ModelFormatError(std::string(slot.name) +
                           " is computed, not a tree model: nothing to import");
  }
  auto gbt = ml::io::parse_xgboost_json(model_json, slot.features);
  if (gbt.objective != slot.objective || gbt.num_class != slot.num_class) {
    throw ModelFormatError("learner.objective: " + std::string(slot.name) + " takes " +
                           (slot.objective == ml::Objective::regression        ? "a regression"
                            : slot.objective == ml::Objective::binary_logistic ? "binary:logistic"
                                                                               : "multi:softprob") +
                           (slot.num_class > 1
                                ? " model of " + std::to_string(slot.num_class) + " classes"
                                : " model"));
  }
  std::vector<std::string_view> names;
  if (slot.id == ModelId::load_forecast) {
    for (auto n : forecast_feature_names()) names.push_back(n);
  } else {
    for (const auto& d : features::feature_defs()) names.push_back(d.name);
  }
  if (gbt.feature_names.size() != names.size()) {
    throw ModelFormatError("learner.feature_names: the model must name our " +
                           std::to_string(names.size()) + " features, in order");
  }
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (gbt.feature_names[k] != names[k]) {
      throw ModelFormatError("learner.feature_names[" + std::to_string(k) + "]: expected '" +
                             std::string(names[k]) + "', got '" + gbt.feature_names[k] + "'");
    }
  }
  TrainedModel m;
  m.name = slot.name;
  m.module = slot.module;
  m.model_json = std::move(model_json);
  m.gbt = std::move(gbt);
  if (slot.objective == ml::Objective::binary_logistic)
    m.serving = {{"threshold", threshold}};
  else
    m.serving = json::object();
  m.card = {{"algorithm", "gradient-boosted trees (XGBoost JSON, imported)"},
            {"imported_by", imported_by},
            {"features", {{"count", slot.features}}},
            {"data", "trained elsewhere: not scored here"},
            {"metrics", json::object()},
            {"baseline", json::object()},
            {"targets", json::array()}};
  return m;
}

std::size_t ActiveModels::count() const {
  return static_cast<std::size_t>(
      std::count_if(models.begin(), models.end(), [](const auto& m) { return m.has_value(); }));
}

ActiveModels load_active_models(const ModelRegistry& registry, std::vector<std::string>* problems) {
  ActiveModels m;
  for (const auto& info : kModels) {
    try {
      m.models[static_cast<std::size_t>(info.id)] = registry.load_active(std::string(info.name));
    } catch (const std::exception& e) {
      if (problems) problems->push_back(std::string(info.name) + ": " + e.what());
    }
  }
  return m;
}

}  // namespace remhart::analytics
