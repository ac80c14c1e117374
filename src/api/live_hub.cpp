#include "api/live_hub.hpp"

#include <nlohmann/json.hpp>

#include "api/json_out.hpp"
#include "core/json_depth.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

bool Subscription::wants_device(const std::string& device, const store::DeviceMap& devs) const {
  if (all_devices) return !excluded.count(device);
  if (devices.count(device)) return true;
  if (sites.empty()) return false;
  const auto it = devs.find(device);
  return it != devs.end() && sites.count(it->second.site);
}

ClientCommand apply_client_message(std::string_view text, Subscription& sub) {
  using Kind = ClientCommand::Kind;
  if (core::json_too_deep(text)) return {Kind::error, "message nested too deeply", {}};
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return {Kind::error, "message must be a JSON object", {}};
  // A field of the wrong type is an error message, never an exception: this runs on an I/O
  // thread for any connected client (`{"type":1}` ended the server — found by fuzzing).
  const auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string()) {
    return {Kind::error, "type must be a string", {}};
  }
  const auto type = type_it->get<std::string>();
  if (type == "auth") {
    const auto it = j.find("token");
    if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
      return {Kind::error, "auth needs a token string", {}};
    }
    return {Kind::auth, {}, it->get<std::string>()};
  }
  if (type == "ping") return {Kind::ping, {}, {}};
  if (type != "subscribe" && type != "unsubscribe") {
    return {Kind::error, "unknown message type '" + type + "'", {}};
  }
  auto strings = [&](const char* key, std::set<std::string>& out) -> std::optional<std::string> {
    if (!j.contains(key)) return std::nullopt;
    const auto& a = j[key];
    if (!a.is_array()) return std::string(key) + " must be an array of strings";
    out.clear();
    for (const auto& e : a) {
      if (!e.is_string()) return std::string(key) + " must be an array of strings";
      out.insert(e.get<std::string>());
    }
    return std::nullopt;
  };
  std::set<std::string> devices, sites, types;
  for (auto [key, set] : {std::pair{"devices", &devices}, {"sites", &sites}, {"types", &types}}) {
    if (auto err = strings(key, *set)) return {Kind::error, *err, {}};
  }
  // Changes go to a copy, kept only when the whole message is valid: a rejected subscribe
  // changes nothing.
  Subscription next = sub;
  if (type == "subscribe") {
    if (j.contains("devices") || j.contains("sites")) {
      if (next.all_devices) {
        next.all_devices = false;
        next.excluded.clear();
      }
      next.devices.insert(devices.begin(), devices.end());
      next.sites.insert(sites.begin(), sites.end());
    }
    if (j.contains("types")) next.types = types;
    if (j.contains("origin")) {
      if (!j["origin"].is_string() || !core::valid_origin(j["origin"].get<std::string>())) {
        return {Kind::error, "origin must be \"real\" or \"sim:<run>\"", {}};
      }
      next.origin = j["origin"].get<std::string>();
    }
    if (j.contains("max_rate_hz")) {
      if (!j["max_rate_hz"].is_number() || j["max_rate_hz"].get<double>() < 0) {
        return {Kind::error, "max_rate_hz must be a non-negative number", {}};
      }
      next.max_rate_hz = j["max_rate_hz"].get<double>();
    }
    sub = std::move(next);
    return {Kind::subscribe, {}, {}};
  }
  for (const auto& d : devices) {
    if (next.all_devices) {
      next.excluded.insert(d);
    } else {
      next.devices.erase(d);
    }
  }
  for (const auto& s : sites) next.sites.erase(s);
  for (const auto& t : types) next.types.erase(t);
  sub = std::move(next);
  return {Kind::unsubscribe, {}, {}};
}

// ---- Outbox -----------------------------------------------------------------------------------

void Outbox::set_rate(double hz) {
  min_gap_ =
      hz > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / hz))
             : Clock::duration::zero();
}

std::size_t Outbox::enqueue(std::shared_ptr<const std::string> msg) {
  std::size_t dropped = 0;
  while (!queue_.empty() && (queue_.size() >= limit_ || bytes_ + msg->size() > byte_limit_)) {
    bytes_ -= queue_.front()->size();
    queue_.pop_front();
    ++dropped;
  }
  bytes_ += msg->size();
  queue_.push_back(std::move(msg));
  return dropped;
}

std::size_t Outbox::push(const std::string& key, std::shared_ptr<const std::string> msg,
                         Clock::time_point now) {
  if (min_gap_ == Clock::duration::zero()) return enqueue(std::move(msg));
  auto [it, first] = last_sent_.try_emplace(key, now);
  if (first || now - it->second >= min_gap_) {
    it->second = now;
    pending_.erase(key);
    return enqueue(std::move(msg));
  }
  pending_[key] = Pending{std::move(msg), it->second + min_gap_};
  return 0;
}

std::size_t Outbox::release_due(Clock::time_point now) {
  std::size_t dropped = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.due <= now) {
      last_sent_[it->first] = now;
      dropped += enqueue(std::move(it->second.msg));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::optional<Outbox::Clock::time_point> Outbox::next_due() const {
  std::optional<Clock::time_point> best;
  for (const auto& [key, p] : pending_) {
    if (!best || p.due < *best) best = p.due;
  }
  return best;
}

std::shared_ptr<const std::string> Outbox::pop() {
  if (queue_.empty()) return nullptr;
  auto m = std::move(queue_.front());
  queue_.pop_front();
  bytes_ -= m->size();
  return m;
}

// ---- LiveHub ----------------------------------------------------------------------------------

LiveHub::LiveHub(store::Store& store, obs::Registry* metrics) : store_(store) {
  if (metrics) {
    dropped_ = &metrics->counter("remhart_ws_dropped_total",
                                 "Live messages dropped for slow WebSocket clients");
    sent_ = &metrics->counter("remhart_ws_messages_total", "Live messages queued to clients");
    metrics->gauge_fn("remhart_ws_connections", "Open WebSocket connections",
                      [this] { return static_cast<double>(clients()); });
  }
}

void LiveHub::index(std::uint64_t id, const Subscription& sub) {
  if (sub.all_devices || !sub.sites.empty()) wildcard_.push_back(id);
  if (!sub.all_devices) {
    for (const auto& d : sub.devices) by_device_[d].push_back(id);
  }
}

void LiveHub::unindex(std::uint64_t id, const Subscription& sub) {
  std::erase(wildcard_, id);
  if (!sub.all_devices) {
    for (const auto& d : sub.devices) {
      const auto it = by_device_.find(d);
      if (it == by_device_.end()) continue;
      std::erase(it->second, id);
      if (it->second.empty()) by_device_.erase(it);
    }
  }
}

std::uint64_t LiveHub::add(std::weak_ptr<LiveClient> client) {
  std::lock_guard lock(mu_);
  const auto id = next_id_++;
  auto& e = clients_[id] = Entry{std::move(client), Subscription{}};
  index(id, e.sub);
  return id;
}

void LiveHub::remove(std::uint64_t id) {
  std::lock_guard lock(mu_);
  const auto it = clients_.find(id);
  if (it == clients_.end()) return;
  unindex(id, it->second.sub);
  clients_.erase(it);
}

void LiveHub::update(std::uint64_t id, const Subscription& sub) {
  std::lock_guard lock(mu_);
  const auto it = clients_.find(id);
  if (it == clients_.end()) return;
  unindex(id, it->second.sub);
  it->second.sub = sub;
  index(id, sub);
}

std::size_t LiveHub::clients() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

std::string LiveHub::snapshot(const Subscription& sub) const {
  const auto devices = store_.devices();
  std::string out = "{\"type\":\"snapshot\",\"data\":[";
  bool first = true;
  if (sub.types.count("measurement")) {
    for (const auto& s : store_.latest_all(sub.origin)) {
      if (!sub.wants_device(s.device, *devices)) continue;
      if (!first) out.push_back(',');
      first = false;
      append_sample_json(out, s.device, s.origin, s.record);
    }
  }
  out += "]}";
  return out;
}

void LiveHub::publish(const std::vector<store::StoredSample>& samples) {
  // Collect each client's messages first, then hand each client one batch.
  std::unordered_map<std::uint64_t,
                     std::pair<std::shared_ptr<LiveClient>, std::vector<LiveMessage>>>
      out;
  std::size_t sent = 0;
  {
    std::lock_guard lock(mu_);
    if (clients_.empty()) return;
    out.reserve(clients_.size());
    const auto devices = store_.devices();
    for (const auto& s : samples) {
      std::shared_ptr<const std::string> text;  // serialised once, on first use
      auto send = [&](std::uint64_t id, const Entry& e) {
        if (e.sub.origin != s.origin || !e.sub.types.count("measurement")) return;
        auto& slot = out[id];
        if (!slot.first) {
          slot.first = e.client.lock();
          if (!slot.first) return;
        }
        if (!text) {
          std::string m = "{\"type\":\"measurement\",\"data\":";
          append_sample_json(m, s.device, s.origin, s.record);
          m.push_back('}');
          text = std::make_shared<const std::string>(std::move(m));
        }
        slot.second.push_back({s.device, text});
        ++sent;
      };
      if (const auto it = by_device_.find(s.device); it != by_device_.end()) {
        for (auto id : it->second) send(id, clients_.at(id));
      }
      for (auto id : wildcard_) {
        const Entry& e = clients_.at(id);
        // Clients that also named the device were served through by_device_.
        if (!e.sub.all_devices && e.sub.devices.count(s.device)) continue;
        if (e.sub.wants_device(s.device, *devices)) send(id, e);
      }
    }
  }
  for (auto& [id, entry] : out) {
    if (entry.first && !entry.second.empty()) entry.first->deliver(std::move(entry.second));
  }
  if (sent_) sent_->inc(sent);
}

void LiveHub::broadcast(const std::string& type, const std::string& key, const std::string& data) {
  auto text =
      std::make_shared<const std::string>("{\"type\":\"" + type + "\",\"data\":" + data + "}");
  std::vector<std::shared_ptr<LiveClient>> to;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : clients_) {
      if (!e.sub.types.count(type)) continue;
      if (auto c = e.client.lock()) to.push_back(std::move(c));
    }
  }
  for (auto& c : to) c->deliver({LiveMessage{key, text}});
  if (sent_) sent_->inc(to.size());
}

}  // namespace remhart::api
