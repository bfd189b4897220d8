import type { Job } from 'bullmq';
import { handleJourneyEvents } from '../src/journeys/events.js';
import type { TriggerJobData } from '../src/triggers/events.js';
import { type FireDeps, type FireResult, fireTriggerEvents } from '../src/triggers/fire.js';
import { type ScanResult, scanScheduledTriggers } from '../src/triggers/scan.js';

/** The scan job's id and repeat (BullMQ upsertJobScheduler): scheduled events every 15 minutes. */
export const TRIGGER_SCAN_SCHEDULER = 'trigger-scan';
export const TRIGGER_SCAN_SCHEDULE = { every: 15 * 60 * 1000 } as const;

/**
 * The trigger queue's processor: `events` jobs (purchases, new customers, social messages)
 * fire matching triggers, then enter, wake or exit journeys; the repeatable `scan` job fires the
 * scheduled ones.
 */
export const triggerProcessor =
  (deps: FireDeps) =>
  async (job: Job<TriggerJobData | Record<string, never>>): Promise<FireResult | ScanResult> => {
    if (job.name === 'scan') return scanScheduledTriggers(deps);
    const events = (job.data as TriggerJobData).events ?? [];
    const fired = await fireTriggerEvents(deps, events);
    // The same events enter, wake and exit journeys (each part idempotent, like firing).
    await handleJourneyEvents(deps, events);
    return fired;
  };
