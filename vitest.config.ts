import { defineConfig } from "vitest/config";

/**
 * The test tiers, by folder of `test/`: `npm run test:unit|test:int|test:e2e`
 * runs one (`vitest run --project NAME`), `npm test` all of them. Only the
 * tiers that talk to NATS start the shared nats-server (`globalSetup`).
 * test/unit/test-tiers.unit.spec.ts checks that every spec file is in a tier.
 */
export const TIERS = {
  unit: { dirs: ["unit"], nats: false },
  int: { dirs: ["int", "contract", "agent"], nats: true },
  e2e: { dirs: ["e2e", "fuzz", "chaos"], nats: true },
} as const;

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: Object.entries(TIERS).map(([name, tier]) => ({
      extends: true,
      test: {
        name,
        include: tier.dirs.map((d) => `test/${d}/**/*.spec.ts`),
        ...(tier.nats ? { globalSetup: ["test/support/global-setup.ts"] } : {}),
      },
    })),
  },
});
