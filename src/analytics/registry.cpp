#include "analytics/registry.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "features/features.hpp"
#include "ml/io/xgboost_json.hpp"

namespace remhart::analytics {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

}  // namespace

bool valid_model_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

ModelRegistry::ModelRegistry(fs::path dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
}

std::vector<int> ModelRegistry::versions(const std::string& name) const {
  std::vector<int> out;
  const auto where = dir_ / name;
  if (!valid_model_name(name) || !fs::is_directory(where)) return out;
  for (const auto& e : fs::directory_iterator(where)) {
    const auto s = e.path().filename().string();
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit)) continue;
    if (fs::exists(e.path() / "card.json")) out.push_back(std::stoi(s));
  }
  std::sort(out.begin(), out.end());
  return out;
}

json ModelRegistry::read_active() const {
  const auto p = dir_ / "active.json";
  if (!fs::exists(p)) return json::object();
  auto a = json::parse(read_file(p), nullptr, false);
  return a.is_object() ? a : json::object();
}

void ModelRegistry::write_active(const json& a) {
  const auto tmp = dir_ / "active.json.tmp";
  write_file(tmp, a.dump(2) + "\n");
  fs::rename(tmp, dir_ / "active.json");
}

int ModelRegistry::publish(const TrainedModel& model, core::TimeUs now, bool activate) {
  if (!valid_model_name(model.name)) throw std::invalid_argument("bad model name " + model.name);
  const std::lock_guard lock(mu_);
  const auto existing = versions(model.name);
  const int version = existing.empty() ? 1 : existing.back() + 1;
  auto card = model.card;
  card["name"] = model.name;
  card["module"] = model.module;
  card["version"] = version;
  card["created_at"] = core::format_rfc3339(now);
  card["serving"] = model.serving;
  const auto final_dir = dir_ / model.name / std::to_string(version);
  const auto tmp = dir_ / model.name / (".tmp-" + std::to_string(version));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  if (!model.model_json.empty()) write_file(tmp / "model.json", model.model_json);
  write_file(tmp / "card.json", card.dump(2) + "\n");
  fs::rename(tmp, final_dir);
  if (activate) {
    auto a = read_active();
    a[model.name] = version;
    write_active(a);
  }
  return version;
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir_)) {
    const auto s = e.path().filename().string();
    if (e.is_directory() && valid_model_name(s) && !versions(s).empty()) out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<json> ModelRegistry::cards(const std::string& name) const {
  const std::lock_guard lock(mu_);
  std::vector<json> out;
  const auto a = read_active();
  const auto active = a.contains(name) && a[name].is_number_integer() ? a[name].get<int>() : -1;
  for (int v : versions(name)) {
    auto card =
        json::parse(read_file(dir_ / name / std::to_string(v) / "card.json"), nullptr, false);
    if (!card.is_object()) continue;
    card["version"] = v;
    card["active"] = v == active;
    out.push_back(std::move(card));
  }
  return out;
}

std::optional<int> ModelRegistry::active(const std::string& name) const {
  const std::lock_guard lock(mu_);
  const auto a = read_active();
  if (!a.contains(name) || !a[name].is_number_integer()) return std::nullopt;
  return a[name].get<int>();
}

bool ModelRegistry::activate(const std::string& name, int version) {
  const std::lock_guard lock(mu_);
  const auto v = versions(name);
  if (std::find(v.begin(), v.end(), version) == v.end()) return false;
  auto a = read_active();
  a[name] = version;
  write_active(a);
  return true;
}

std::optional<LoadedModel> ModelRegistry::load_active(const std::string& name) const {
  const auto version = active(name);
  if (!version) return std::nullopt;
  const auto where = dir_ / name / std::to_string(*version);
  if (!fs::exists(where / "card.json")) return std::nullopt;
  LoadedModel m;
  m.name = name;
  m.version = *version;
  m.card = json::parse(read_file(where / "card.json"), nullptr, false);
  if (!m.card.is_object()) throw ml::io::ModelFormatError(name + ": card.json is not JSON");
  m.serving = m.card.value("serving", json::object());
  const auto* slot = find_model(name);
  if (!slot || slot->trees) {
    m.gbt = ml::io::parse_xgboost_json(read_file(where / "model.json"),
                                       slot ? slot->features : features::kFeatureCount);
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
