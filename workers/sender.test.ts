import { describe, expect, it } from 'vitest';
import { messageIdOf, messageIdsOf } from './sender.js';

describe('messageIdOf', () => {
  it('reads the message id from the job data', () => {
    expect(messageIdOf({ id: 'm12', data: { message_id: 12, campaign_id: 3 } })).toBe(12);
  });

  it('falls back to the job id when a wiped Redis left the job without data', () => {
    expect(messageIdOf({ id: 'm4711', data: {} as never })).toBe(4711);
    expect(messageIdOf({ id: 'm9', data: undefined as never })).toBe(9);
  });

  it('names no message for a job that carries neither', () => {
    expect(messageIdOf({ id: 'x1', data: {} as never })).toBeNull();
    expect(messageIdOf({ id: undefined, data: { message_id: Number.NaN } as never })).toBeNull();
  });
});

describe('messageIdsOf', () => {
  it('reads the rows of a batch job, and none of a message job', () => {
    expect(messageIdsOf({ id: 'b3-9-3', data: { message_ids: [3, 5, 9], campaign_id: 1 } })).toEqual([
      3, 5, 9,
    ]);
    expect(messageIdsOf({ id: 'm12', data: { message_id: 12, campaign_id: 3 } })).toBeNull();
  });

  it('names no rows for a batch job a wiped Redis left without data', () => {
    expect(messageIdsOf({ id: 'b3-9-3', data: {} as never })).toEqual([]);
    expect(
      messageIdsOf({ id: 'b3-9-3', data: { message_ids: [3, Number.NaN, -1], campaign_id: 1 } }),
    ).toEqual([3]);
  });
});
