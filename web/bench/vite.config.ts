import { defineConfig } from "vite";

// The chart-pan benchmark page, built into a temporary directory by web/bench/dashboard.mjs.
export default defineConfig({
  root: new URL("./chart", import.meta.url).pathname,
  logLevel: "error",
  build: { emptyOutDir: true, target: "es2022", modulePreload: { polyfill: false } },
});
