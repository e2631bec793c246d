/** Start-up report of a classifier: one log line and two metrics, ids and enums only. */
import type { Metrics } from '../adapters/metrics.js';
import type { Logger } from '../logger.js';
import type { RuntimeInfo } from './runtime.js';

export interface ClassifierObservers {
  logger?: Logger;
  metrics?: Metrics;
}

export function reportClassifierLoaded(
  observers: ClassifierObservers,
  model: { modelId: string; modelVersion: string; runtime: RuntimeInfo; loadMs: number },
): void {
  const { runtime } = model;
  observers.metrics?.modelRuntime.set({ backend: runtime.backend, reason: runtime.reason }, 1);
  observers.metrics?.modelLoadSeconds.set({ model: model.modelId }, model.loadMs / 1000);
  observers.logger?.info(
    {
      model: model.modelId,
      modelVersion: model.modelVersion,
      backend: runtime.backend,
      backendReason: runtime.reason,
      simd: runtime.simd,
      runtimeMs: Math.round(runtime.loadMs),
      loadMs: Math.round(model.loadMs),
    },
    `classifier ${model.modelId}@${model.modelVersion} loaded on TF.js ${runtime.backend} (${runtime.detail})`,
  );
}
