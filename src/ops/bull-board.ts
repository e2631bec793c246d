/**
 * Bull Board mounted on the ops server. Its own module, loaded only when the dashboard is on, so
 * that workers and the CLI do not pay for loading it.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { DASHBOARD_PATH, ROLE_TITLES, type DashboardQueue } from './dashboard.js';
import { scanJobView } from './redact.js';

export async function mountDashboard(app: FastifyInstance, queues: readonly DashboardQueue[]): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  const adapters = queues.map(({ role, queue, shard }) => {
    // Shards share the queue name (under different prefixes): the board tells them apart by its prefix.
    const adapter = new BullMQAdapter(queue, { description: ROLE_TITLES[role], ...(shard !== undefined ? { prefix: `s${shard}/` } : {}) });
    // Scan jobs hold the whole decrypted event: show its ids and shape only. Flags and dead-letter
    // entries carry no content by contract, so they are shown as they are.
    if (role === 'scan') adapter.setFormatter('data', scanJobView);
    return adapter;
  });
  createBullBoard({ queues: adapters, serverAdapter, options: { uiConfig: { boardTitle: 'Vigil queues' } } });
  await app.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
}
