#pragma once
// The model registry: versioned artefacts with their cards in an object store — the data
// directory's `models/` by default, the shared database's object table when replicas share one.
//   <name>/<version>/model.json   the trees as XGBoost JSON (readable by Python xgboost); none
//                                 for a computed model
//   <name>/<version>/card.json    the model card, with the parameters serving needs; a version
//                                 exists once its card does
//   _active/<name>                the active version of <name>, as decimal text
// A version number is claimed by creating its first object (ObjectStore::put_new), so
// registries on several replicas never publish two models under one version; activating an
// older version is the roll-back. Each model's activation is an object of its own: two replicas
// activating two models never undo each other.
#include <array>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analytics/catalogue.hpp"
#include "analytics/training.hpp"
#include "core/object_store.hpp"
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
  /// The registry's objects are those of `objects` under `prefix` (empty, or ending in '/').
  /// Takes over the activations of an older registry (one `active.json` for all models).
  /// Throws what the object store throws.
  explicit ModelRegistry(std::shared_ptr<core::ObjectStore> objects, std::string prefix = {});

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
  /// A digest of every activation (names, sizes, times: one listing): it changes when any
  /// registry on the same objects activates or publishes an active version.
  std::string activation_stamp() const;

  /// Where the artefacts are, for logs.
  std::string where() const;

 private:
  std::string version_dir(const std::string& name, int version) const;
  /// Complete versions (with a card), ascending; `highest_claimed` gets the highest number any
  /// object of `name` uses.
  std::vector<int> versions(const std::string& name, int* highest_claimed = nullptr) const;
  void set_active(const std::string& name, int version);
  void adopt_legacy_activations();

  std::shared_ptr<core::ObjectStore> objects_;
  std::string prefix_;
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
