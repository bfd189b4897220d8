import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A local, append-only journal of the tracking events a server acknowledged, so that an open or
 * a click answered just before the process was killed (SIGKILL, OOM) or while PostgreSQL was
 * down is still stored later. Each event is written (one `write(2)` per event-loop turn) before its response
 * is returned: the kernel keeps the bytes when the process dies (a power loss can lose the last
 * moments; see docs/operations.md). Files are segments `events-{pid}-{n}.ndjson`: at a flush
 * the buffer seals the current one once it holds `segmentBytes` (4 MiB), and deletes sealed ones
 * once everything in them is in PostgreSQL. (Sealing at every flush created and deleted a file
 * some 30 times a second under load: those two syscalls cost more than the flush's insert.) At
 * start, segments of processes that are no longer alive are read back and written again; each
 * event carries a key (`event_key`), so one stored twice, or replayed from a segment whose events
 * were already stored, is kept once.
 */
export class EventSpool {
  private fd: number | undefined;
  private current = '';
  private seq = 0;
  /** Bytes written to the current segment. */
  private bytes = 0;
  /** Segments rotated out whose events may not all be stored yet. */
  private sealed: string[] = [];
  /** Records of this turn of the event loop, written together. */
  private lines: string[] = [];
  private written: Promise<void> | undefined;
  private onWritten: (() => void) | undefined;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  /**
   * Opens the spool of one database under `baseDir` (a subdirectory per DATABASE_URL, so that
   * servers of two installations on one machine never replay each other's events).
   * `segmentBytes` (default 4 MiB) is how much a segment holds before a flush seals it.
   */
  static open(baseDir: string, databaseUrl: string, options: { segmentBytes?: number } = {}): EventSpool {
    const id = createHash('sha256').update(databaseUrl).digest('hex').slice(0, 12);
    const spool = new EventSpool(join(baseDir, id), options.segmentBytes ?? 4 * 1024 * 1024);
    mkdirSync(spool.dir, { recursive: true });
    spool.startSegment();
    return spool;
  }

  /**
   * Appends one record; the promise resolves once the kernel has it. Records appended in the same
   * turn of the event loop share one `write(2)` (a group commit of well under a millisecond):
   * a syscall per request cost as much as the rest of answering a pixel.
   */
  append(record: unknown): Promise<void> {
    if (this.fd === undefined) throw new Error('the tracking spool is closed');
    this.lines.push(JSON.stringify(record));
    if (!this.written) {
      this.written = new Promise((resolve) => {
        this.onWritten = resolve;
      });
      setImmediate(() => this.writePending());
    }
    return this.written;
  }

  private writePending(): void {
    const lines = this.lines;
    const done = this.onWritten;
    this.lines = [];
    this.written = undefined;
    this.onWritten = undefined;
    try {
      if (lines.length > 0 && this.fd !== undefined)
        this.bytes += writeSync(this.fd, `${lines.join('\n')}\n`);
    } finally {
      // A failed write (disk full) still answers: the events are in the in-memory buffer.
      done?.();
    }
  }

  /**
   * Starts a new segment once the current one holds `segmentBytes` (always with `force`): what
   * was appended so far is then in sealed segments, released by `release`. A segment not sealed
   * yet keeps records already stored; replaying them after a crash stores nothing twice.
   */
  rotate(force = false): void {
    if (this.fd === undefined || (!force && this.bytes < this.segmentBytes)) return;
    this.writePending();
    closeSync(this.fd);
    this.sealed.push(this.current);
    this.startSegment();
  }

  /** Deletes the sealed segments: every record in them is stored. */
  release(): void {
    for (const path of this.sealed.splice(0)) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  }

  /** Number of sealed segments still waiting for their events to be stored. */
  get unreleased(): number {
    return this.sealed.length;
  }

  /**
   * The records of segments left by processes that died (their pid is not alive, or is ours
   * from an earlier life). Their files become sealed segments of this process, released once
   * their records are stored.
   */
  adoptOrphans(): unknown[] {
    const records: unknown[] = [];
    for (const name of readdirSync(this.dir)) {
      const match = /^events-(\d+)-\d+\.ndjson$/.exec(name);
      const path = join(this.dir, name);
      if (!match || path === this.current || isAlive(Number(match[1]))) continue;
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          records.push(JSON.parse(line));
        } catch {
          // A line cut short by the kill was never acknowledged: its request had no answer.
        }
      }
      this.sealed.push(path);
    }
    return records;
  }

  close(): void {
    this.writePending();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private startSegment(): void {
    this.current = join(
      this.dir,
      `events-${process.pid}-${Date.now()}${String(this.seq++).padStart(6, '0')}.ndjson`,
    );
    this.fd = openSync(this.current, 'a');
    this.bytes = 0;
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as { code?: string }).code === 'EPERM';
  }
}
