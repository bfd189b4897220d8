import type { Db } from '../db/sql.js';
import { customerCreatedTriggerEvents, type TriggerEvent } from '../triggers/events.js';
import type { Ingested } from './ingest.js';

/** The trigger events of an ingested batch: its new leads (customer_created). */
export async function ingestTriggerEvents(db: Db, ingested: Ingested): Promise<TriggerEvent[]> {
  return customerCreatedTriggerEvents(db, ingested.leads);
}
