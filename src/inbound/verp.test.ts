import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dsnRecipients } from './dsn.js';
import { bounceToken, classifyRecipient, returnPathFor, verifyBounceToken } from './verp.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

describe('VERP tokens', () => {
  it('name their message, whatever the case a relay gives the local part', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (id) => {
        const token = bounceToken(SECRET, id);
        expect(verifyBounceToken(SECRET, token)).toBe(id);
        expect(verifyBounceToken(SECRET, token.toUpperCase())).toBe(id);
        expect(classifyRecipient(SECRET, returnPathFor(SECRET, 'b.example', id))).toEqual({
          kind: 'bounce',
          messageId: id,
        });
      }),
    );
  });

  it('refuse any change to a token, and another secret', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.nat(31), fc.nat(15), (id, at, nibble) => {
        const token = bounceToken(SECRET, id);
        const digit = nibble.toString(16);
        fc.pre(token[at] !== digit);
        const tampered = token.slice(0, at) + digit + token.slice(at + 1);
        expect(verifyBounceToken(SECRET, tampered)).toBeNull();
        expect(verifyBounceToken(`${SECRET}x`, token)).toBeNull();
      }),
    );
  });
});

describe('delivery-status fields', () => {
  it('reads each recipient block, with folded diagnostic lines', () => {
    const body = [
      'Reporting-MTA: dns; mx.example',
      '',
      'Final-Recipient: rfc822; a@example.org',
      'Action: failed',
      'Status: 5.1.1 (user unknown)',
      'Diagnostic-Code: smtp; 550 5.1.1 no such',
      '  user here',
      '',
      'Original-Recipient: rfc822;<b@example.org>',
      'Action: delayed',
      'Status: 4.2.2',
    ].join('\r\n');
    expect(dsnRecipients(body)).toEqual([
      {
        recipient: 'a@example.org',
        action: 'failed',
        status: '5.1.1',
        diagnostic: 'smtp; 550 5.1.1 no such user here',
      },
      { recipient: 'b@example.org', action: 'delayed', status: '4.2.2', diagnostic: null },
    ]);
  });
});
