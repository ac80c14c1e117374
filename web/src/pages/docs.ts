// The API reference: Swagger UI (from npm, shipped in the build, loaded only on this page)
// rendering GET /api/openapi.json. "Try it out" calls go out with the signed-in user's token, so
// they can do exactly what the user may do.
import { session } from "../api";
import { el } from "../dom";

export async function docsPage(root: HTMLElement): Promise<() => void> {
  const host = el("div", { class: "swagger" });
  root.append(el("h1", {}, "API reference"), host);
  const [{ default: SwaggerUI }] = await Promise.all([
    import("swagger-ui-dist/swagger-ui-es-bundle.js"),
    import("swagger-ui-dist/swagger-ui.css"),
  ]);
  SwaggerUI({
    url: "/api/openapi.json",
    domNode: host,
    deepLinking: false,
    requestInterceptor: (req) => {
      const { token } = session();
      if (token && new URL(req.url, location.href).origin === location.origin) {
        req.headers["Authorization"] = "Bearer " + token;
      }
      return req;
    },
  });
  return () => {};
}
