#pragma once
// The model registry: versioned artefacts with their cards in the data directory.
//   <dir>/<name>/<version>/model.json   the trees as XGBoost JSON (readable by Python xgboost);
//                                       none for a computed model
//   <dir>/<name>/<version>/card.json    the model card, with the parameters serving needs
//   <dir>/active.json                   {"<name>": <version>, …}
// A version is written into a temporary directory and renamed into place, so a reader never
// sees half a version; active.json is replaced the same way. Activating an older version is
// the roll-back.
#include <array>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analytics/catalogue.hpp"
#include "analytics/training.hpp"
#include "core/time.hpp"
#include "ml/gbt.hpp"

namespace remhart::analytics {

/// A model ready to serve.
struct LoadedModel {
  std::string name;
  int version = 0;
  ml::GbtModel gbt;
  nlohmann::json serving;
  nlohmann::json card;
};

class ModelRegistry {
 public:
  explicit ModelRegistry(std::filesystem::path dir);

  /// Stores `model` as the next version of its name (card stamped with version and date);
  /// activates it when `activate`. Returns the version.
  int publish(const TrainedModel& model, core::TimeUs now, bool activate = true);

  /// Names with at least one version, sorted.
  std::vector<std::string> names() const;
  /// Every version's card (with `version`, `created_at`, `active`), oldest first.
  std::vector<nlohmann::json> cards(const std::string& name) const;
  std::optional<int> active(const std::string& name) const;
  /// Makes `version` the active one; false when there is no such version.
  bool activate(const std::string& name, int version);
  /// The active version of `name`, loaded and checked; nullopt when none is active.
  /// Throws ml::io::ModelFormatError for a damaged artefact.
  std::optional<LoadedModel> load_active(const std::string& name) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  nlohmann::json read_active() const;
  void write_active(const nlohmann::json& a);
  std::vector<int> versions(const std::string& name) const;

  std::filesystem::path dir_;
  mutable std::mutex mu_;
};

/// Model names the registry accepts: [a-z0-9-]{1,64}.
bool valid_model_name(std::string_view name);

/// An XGBoost JSON model trained elsewhere, checked against `slot` — its objective and classes,
/// and its feature names, which must be ours in our order (docs/analytics.md's table) — and
/// wrapped with an import card (`threshold`: the decision threshold of binary models). Throws
/// ml::io::ModelFormatError naming the problem.
TrainedModel import_model(const ModelInfo& slot, std::string model_json, double threshold,
                          const std::string& imported_by);

/// The models the registry holds active; a missing or damaged one is absent (and named in
/// `problems`). A computed model's version has no trees: its `gbt` stays empty.
struct ActiveModels {
  std::array<std::optional<LoadedModel>, kModelCount> models;
  const LoadedModel* get(ModelId id) const {
    const auto& m = models[static_cast<std::size_t>(id)];
    return m ? &*m : nullptr;
  }
  std::size_t count() const;
};
ActiveModels load_active_models(const ModelRegistry& registry,
                                std::vector<std::string>* problems = nullptr);

}  // namespace remhart::analytics
