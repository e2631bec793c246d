import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ when it is older than src/: CLI and worker tests run the compiled code.
    globalSetup: ['test/setup/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests share one Redis and spawn worker processes; two cores do not reward more forks.
    maxWorkers: 2,
    // Worker and CLI processes the tests start load no image model unless a test asks for one: the
    // classifier tests do, with their own settings, so every other test is spared a TF.js start-up.
    env: { VIGIL_IMAGE_MODEL: '' },
  },
});
