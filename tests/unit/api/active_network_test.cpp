// The active network model follows the stored active version (another replica's upload), and a
// stored version that cannot be read is skipped once, not read again every round.
#include "api/active_network.hpp"

#include <gtest/gtest.h>

#include "demo_twin.hpp"
#include "grid/io/json_network.hpp"
#include "sim/twin.hpp"
#include "store/network_repo.hpp"
#include "testkit.hpp"

namespace remhart::api {
namespace {

// The SQLite repository, counting how often a whole version (its document) is read.
class CountingVersions final : public store::NetworkRepository {
 public:
  explicit CountingVersions(const std::string& path) : real_(path, 5) {}
  std::int64_t add(const std::string& name, const std::string& document,
                   const std::string& uploaded_by, std::int64_t at) override {
    return real_.add(name, document, uploaded_by, at);
  }
  std::optional<std::int64_t> add_first(const std::string& name, const std::string& document,
                                        const std::string& uploaded_by, std::int64_t at) override {
    return real_.add_first(name, document, uploaded_by, at);
  }
  std::vector<store::NetworkVersion> list() override { return real_.list(); }
  std::optional<store::NetworkVersion> active() override {
    ++documents_read;
    return real_.active();
  }
  std::int64_t active_id() override { return real_.active_id(); }
  void activate(std::int64_t id) override { real_.activate(id); }
  int documents_read = 0;

 private:
  store::SqliteNetworkRepository real_;
};

TEST(ActiveNetwork, FollowsTheStoredVersionAndSkipsAnUnreadableOneOnce) {
  testkit::TempDir dir;
  CountingVersions versions(dir.path() + "/db");
  const auto good = grid::io::network_to_json(sim::testing::demo().network);
  versions.add("first", good, "test", 1);
  ActiveNetwork active(versions);
  EXPECT_EQ(active.current().id, 1);
  EXPECT_FALSE(active.refresh());  // nothing new: the document is not read again
  EXPECT_EQ(versions.documents_read, 1);

  versions.add("broken", "{\"buses\": 7}", "another replica", 2);
  EXPECT_FALSE(active.refresh());
  EXPECT_FALSE(active.refresh());
  EXPECT_FALSE(active.refresh());
  EXPECT_EQ(versions.documents_read, 2);  // read (and refused) once
  EXPECT_EQ(active.current().id, 1);      // the last good one stays

  versions.add("third", good, "another replica", 3);
  EXPECT_TRUE(active.refresh());
  EXPECT_EQ(active.current().id, 3);
}

}  // namespace
}  // namespace remhart::api
