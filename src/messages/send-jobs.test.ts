import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchJobId, jobCoverage, sendBatchJobs, sendJobId } from './send-jobs.js';

const sortedIds = fc
  .uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: 300 })
  .map((ids) => ids.sort((a, b) => a - b));

describe('batch send jobs', () => {
  it('hand over every row exactly once, at most `size` a job, each job named by its rows', () => {
    fc.assert(
      fc.property(sortedIds, fc.integer({ min: 1, max: 80 }), (ids, size) => {
        const jobs = sendBatchJobs(7, ids, size);
        const rows = jobs.flatMap((j) => {
          const data = j.data as { message_ids?: number[]; message_id?: number };
          return data.message_ids ?? [data.message_id!];
        });
        expect(rows).toEqual(ids);
        for (const j of jobs) {
          const data = j.data as { message_ids?: number[]; message_id?: number };
          if (size === 1) expect(j.opts!.jobId).toBe(sendJobId(data.message_id!));
          else {
            expect(data.message_ids!.length).toBeLessThanOrEqual(size);
            expect(j.opts!.jobId).toBe(batchJobId(data.message_ids!));
          }
        }
      }),
    );
  });

  it('read from the live job ids alone: every row of a live job is covered, and counted once', () => {
    fc.assert(
      fc.property(
        sortedIds,
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (ids, size, probe) => {
          const jobs = sendBatchJobs(7, ids, size).map((j) => j.opts!.jobId!);
          const live = jobCoverage(jobs);
          expect(live.messages).toBe(ids.length);
          for (const id of ids) expect(live.covers(id)).toBe(true);
          // Outside every job's range, nothing is covered.
          if (ids.length === 0 || probe < ids[0]! || probe > ids[ids.length - 1]!)
            expect(live.covers(probe)).toBe(false);
        },
      ),
    );
  });

  it('count a message job as one row and ignore ids of other kinds for coverage', () => {
    const live = jobCoverage(['m5', 'b10-19-8', 'other']);
    expect(live.messages).toBe(10);
    expect([5, 10, 15, 19].map(live.covers)).toEqual([true, true, true, true]);
    expect([4, 9, 20].map(live.covers)).toEqual([false, false, false]);
  });
});
