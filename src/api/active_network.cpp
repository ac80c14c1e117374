#include "api/active_network.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/time.hpp"
#include "grid/io/json_network.hpp"
#include "grid/io/matpower.hpp"
#include "grid/powerflow.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

ActiveNetwork::ActiveNetwork(store::NetworkRepository& repository) : repository_(repository) {
  refresh();
}

bool ActiveNetwork::refresh() {
  {
    const auto id = repository_.active_id();
    std::lock_guard lock(mu_);
    if (id == 0 || id == current_.id || id == unreadable_id_) return false;
  }
  const auto v = repository_.active();
  if (!v) return false;
  try {
    Version next{v->id,
                 std::make_shared<const grid::Network>(grid::io::parse_network_json(v->document))};
    std::lock_guard lock(mu_);
    current_ = std::move(next);
  } catch (const std::exception& e) {
    spdlog::error("the stored network model {} cannot be read: {}", v->id, e.what());
    std::lock_guard lock(mu_);
    unreadable_id_ = v->id;  // not read (nor logged) again every round
    return false;
  }
  spdlog::info("network model: version {} is now the active one", v->id);
  return true;
}

void ActiveNetwork::watch(std::chrono::milliseconds every, obs::Counter* failures) {
  watcher_ = std::make_unique<core::Periodic>(
      "rh-networks", every, [this] { refresh(); },
      [failures](const std::string& what) {
        if (failures) failures->inc();
        spdlog::warn("network model: checking for a newer version failed: {}", what);
      });
}

ActiveNetwork::Version ActiveNetwork::current() const {
  std::lock_guard lock(mu_);
  if (!current_.network) {
    throw core::Error(core::ErrorKind::not_found,
                      "no network model yet: POST one to /api/grid/networks");
  }
  return current_;
}

std::shared_ptr<ActiveNetwork::UploadTicket> ActiveNetwork::begin_upload() {
  if (uploading_.exchange(true)) {
    throw core::Error(core::ErrorKind::unavailable, "another network upload is being processed", "",
                      5);
  }
  return std::make_shared<UploadTicket>(uploading_);
}

ActiveNetwork::Uploaded ActiveNetwork::upload(const UploadTicket&, const std::string& format,
                                              const std::string& body,
                                              const std::optional<std::string>& name,
                                              const std::string& uploaded_by) {
  auto net = std::make_shared<grid::Network>();
  try {
    *net = format == "json" ? grid::io::parse_network_json(body)
                            : grid::io::parse_matpower(body, "upload");
    grid::PowerFlow check(*net);  // islands, references: refuse the unsolvable
  } catch (const grid::NetworkError& e) {
    throw grid::NetworkError(e.what(), "body");
  }
  if (name) net->name = *name;
  return install(std::move(net), uploaded_by);
}

std::optional<ActiveNetwork::Uploaded> ActiveNetwork::install_first(
    std::shared_ptr<grid::Network> net, const std::string& uploaded_by) {
  if (net->name.empty()) net->name = "network";
  const auto id = repository_.add_first(net->name, grid::io::network_to_json(*net), uploaded_by,
                                        core::now_us());
  if (!id) {
    refresh();  // another replica's
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  current_ = {*id, net};
  return Uploaded{*id, net};
}

ActiveNetwork::Uploaded ActiveNetwork::install(std::shared_ptr<grid::Network> net,
                                               const std::string& uploaded_by) {
  if (net->name.empty()) net->name = "network";
  const auto id =
      repository_.add(net->name, grid::io::network_to_json(*net), uploaded_by, core::now_us());
  std::lock_guard lock(mu_);
  current_ = {id, net};
  return {id, net};
}

}  // namespace remhart::api
