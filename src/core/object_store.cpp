#include "core/object_store.hpp"

#include <stdexcept>

namespace remhart::core {

void check_object_name(std::string_view name) {
  if (name.empty() || name.size() > 512) {
    throw std::invalid_argument("an object name is 1–512 bytes");
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('/', start), name.size());
    const auto segment = name.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      throw std::invalid_argument("object name '" + std::string(name) +
                                  "' has an empty, '.' or '..' segment");
    }
    for (char c : segment) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
      if (!ok) {
        throw std::invalid_argument("object name '" + std::string(name) +
                                    "' may hold only letters, digits, '.', '_', '-' and '/'");
      }
    }
    start = end + 1;
  }
}

}  // namespace remhart::core
