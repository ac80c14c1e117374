#pragma once
// Where the data shipped with REMHART (the demo twin, the example configuration) is found, so a
// copied or installed binary works without the source tree it was built from.
#include <string>

namespace remhart::app {

/// The first of: `$REMHART_SHARE_DIR`; `<exe dir>/../share/remhart` (installed: bin/remhart);
/// `<exe dir>/../share` (run from a build directory of the source tree) — that holds
/// `twins/demo-feeder.json`. Throws std::runtime_error naming every place it looked.
std::string share_dir();

/// `share_dir()/twins/demo-feeder.json`.
std::string demo_twin_path();

/// The dashboard's built files beside the executable: `<exe dir>/../share/remhart/web`
/// (installed) or `<exe dir>/../web/dist` (a build directory of the source tree, after
/// `make web`); empty when neither holds an index.html.
std::string web_dir();

}  // namespace remhart::app
