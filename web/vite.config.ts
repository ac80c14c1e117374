import { defineConfig } from "vite";

// Static assets served by remhart: content-hashed files under /assets/, no inline script (the
// server's CSP allows only 'self'), no CDN.
export default defineConfig({
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
