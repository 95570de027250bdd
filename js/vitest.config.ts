import { defineConfig } from "vitest/config";

export default defineConfig({
  // Round trips of 10M-point selections take seconds on a loaded 2-core machine.
  test: { include: ["src/**/*.test.ts"], environment: "node", testTimeout: 60_000 },
});
