// Bundle the widget front end into galwidget/static/widget.js (ESM) and widget.css, and the
// saved-page front end into standalone.js (+ standalone.css, the same rules).
import { build } from "esbuild";

await build({
  // standalone: the same front end on a static model, inlined by galwidget/html.py (save_html).
  entryPoints: { widget: "src/widget.ts", standalone: "src/standalone.ts" },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  outdir: "../galwidget/static",
  logLevel: "info",
  legalComments: "none",
});
