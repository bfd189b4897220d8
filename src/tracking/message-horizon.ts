/**
 * The highest message id known to exist, so that a verified tracking token can be answered before
 * its message is read. Message ids come from one identity column, a ledger row is deleted only
 * with its customer, and a token is signed only for a row the sender rendered: a verified token
 * whose id is at or below the highest id names a message that exists (or whose customer was
 * deleted since, and then its event is dropped when the buffer resolves it, as before). A token
 * above the horizon (a message sent after the last reading, or a signed id that never existed)
 * takes the lookup first, and asks for a new reading, at most one at a time and one per
 * `minIntervalMs`, so that an unknown id costs one primary-key read, not one per request.
 */
export class MessageHorizon {
  private highest = 0;
  private reading = false;
  private lastRead = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly read: () => Promise<number>,
    private readonly minIntervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `id` is known to name a message; if not, a new reading is started when due. */
  covers(id: number): boolean {
    // Identity ids start at 1: a signed 0 never names a message.
    if (id >= 1 && id <= this.highest) return true;
    this.refresh();
    return false;
  }

  /** An id seen in a row read from `messages` (the lookup's answers move the horizon too). */
  learn(id: number): void {
    if (id > this.highest) this.highest = id;
  }

  /** The interval runs from the end of a reading, so a slow one is not followed by another at once. */
  private done(): void {
    this.reading = false;
    this.lastRead = this.now();
  }

  private refresh(): void {
    const now = this.now();
    if (this.reading || now - this.lastRead < this.minIntervalMs) return;
    this.reading = true;
    this.lastRead = now;
    this.read().then(
      (highest) => {
        this.learn(highest);
        this.done();
      },
      // The database cannot be read: the lookup path answers (and defers) until it can.
      () => this.done(),
    );
  }
}
