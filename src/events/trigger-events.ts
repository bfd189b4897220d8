import type { Db } from '../db/sql.js';
import { customTriggerEvents } from '../triggers/custom-events.js';
import { customerCreatedTriggerEvents, type TriggerEvent } from '../triggers/events.js';
import type { Ingested } from './ingest.js';

/** The trigger events of an ingested batch: its new leads (customer_created) and its new events. */
export async function ingestTriggerEvents(db: Db, ingested: Ingested): Promise<TriggerEvent[]> {
  return [
    ...(await customerCreatedTriggerEvents(db, ingested.leads)),
    ...(await customTriggerEvents(db, ingested.created)),
  ];
}
