// Bundle the widget front end into galwidget/static/widget.js (ESM) and widget.css.
import { build } from "esbuild";

await build({
  entryPoints: { widget: "src/widget.ts" },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  outdir: "../galwidget/static",
  logLevel: "info",
  legalComments: "none",
});
