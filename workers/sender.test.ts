import { describe, expect, it } from 'vitest';
import { messageIdOf } from './sender.js';

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
