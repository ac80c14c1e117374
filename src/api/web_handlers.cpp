// The web dashboard: its built files and application routes, answered by the router's fallback
// (GET and HEAD outside /api/ and /ws/). Like the probes, they need no token and are neither
// rate-limited nor audited row by row: they come from memory, and a page load fetches several.
#include "api/context.hpp"
#include "api/router.hpp"
#include "api/static_files.hpp"
#include "core/error.hpp"

namespace remhart::api {

void add_web_routes(Router& router, const StaticFiles* files) {
  router.set_fallback("/*", Permission::probe, [files](HttpRequest& req, Reply reply) {
    if (!files) {
      throw core::Error(core::ErrorKind::not_found,
                        "no route for " + req.path +
                            " (the dashboard is not built: run make web, or set server.web_dir)");
    }
    const StaticFile* f = files->find(req.path);
    if (!f) throw core::Error(core::ErrorKind::not_found, "no such file");
    HttpResponse r;
    r.content_type = f->content_type;
    r.body = f->body;
    r.headers.emplace_back("Cache-Control", f->cache_control);
    reply(std::move(r));
  });
}

}  // namespace remhart::api
