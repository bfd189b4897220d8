import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  messageLinks,
  OFFER_LINK_BASE,
  offerPositionOfLink,
  PRODUCT_LINK_BASE,
  productPositionOfLink,
} from './links.js';
import { signToken, type TokenPurpose, verifyToken } from './tokens.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';

describe('tracking tokens', () => {
  it('round-trips any message id and link index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.integer({ min: 0, max: 0xffff }),
        (id, link) => {
          const token = signToken(SECRET, 'click', { messageId: id, linkIndex: link });
          expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
          expect(verifyToken(SECRET, 'click', token)).toEqual({ messageId: id, linkIndex: link });
        },
      ),
    );
  });

  it('rejects tampering, other purposes, other secrets and garbage', () => {
    const token = signToken(SECRET, 'open', { messageId: 42, linkIndex: 0 });
    const flipped = token[3] === 'A' ? 'B' : 'A';
    expect(verifyToken(SECRET, 'open', token.slice(0, 3) + flipped + token.slice(4))).toBeNull();
    expect(verifyToken(SECRET, 'unsubscribe', token)).toBeNull();
    expect(verifyToken(`${SECRET}x`, 'open', token)).toBeNull();
    for (const bad of ['', 'x', `${token}A`, token.slice(1), '../../etc', '%00'.repeat(20)]) {
      expect(verifyToken(SECRET, 'open', bad)).toBeNull();
    }
  });

  it('builds signed links under PUBLIC_URL', () => {
    const links = messageLinks('https://mail.example.com/', SECRET, 7);
    expect(links.openPixelUrl).toMatch(/^https:\/\/mail\.example\.com\/t\/o\/[\w-]{32}$/);
    expect(links.unsubscribeUrl).toMatch(/^https:\/\/mail\.example\.com\/u\/[\w-]{32}$/);
    const click = links.offerUrl(2).split('/').pop() ?? '';
    const claims = verifyToken(SECRET, 'click', click);
    expect(claims).toEqual({ messageId: 7, linkIndex: OFFER_LINK_BASE + 2 });
    expect(offerPositionOfLink(claims?.linkIndex ?? 0)).toBe(2);
    expect(offerPositionOfLink(1)).toBeNull();
  });

  it('numbers product links apart from offer links, each resolving to its own position', () => {
    const links = messageLinks('https://mail.example.com', SECRET, 11);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff - PRODUCT_LINK_BASE }), (position) => {
        const token = links.productUrl(position, 'https://shop.example/p').split('/t/c/')[1]!;
        const claims = verifyToken(SECRET, 'click', token);
        expect(claims).toMatchObject({ messageId: 11, target: 'https://shop.example/p' });
        expect(productPositionOfLink(claims!.linkIndex)).toBe(position);
        expect(offerPositionOfLink(claims!.linkIndex)).toBeNull();
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (link) => {
        // A link is an offer's, a product's, or neither: never both.
        expect(offerPositionOfLink(link) !== null && productPositionOfLink(link) !== null).toBe(false);
      }),
    );
  });

  it('carries a signed click target that cannot be changed, added or stripped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.webUrl({ withQueryParameters: true, withFragments: true }),
        fc.webUrl(),
        (id, link, url, other) => {
          const token = signToken(SECRET, 'click', { messageId: id, linkIndex: link, target: url });
          expect(token).toMatch(/^[\w-]{32}\.[\w-]+$/);
          expect(verifyToken(SECRET, 'click', token)).toEqual({
            messageId: id,
            linkIndex: link,
            target: url,
          });
          const [head] = token.split('.');
          // Another target under the same MAC, the MAC without its target, a target on a plain token.
          const swapped = `${head}.${Buffer.from(other).toString('base64url')}`;
          if (other !== url) expect(verifyToken(SECRET, 'click', swapped)).toBeNull();
          expect(verifyToken(SECRET, 'click', head!)).toBeNull();
          const plain = signToken(SECRET, 'click', { messageId: id, linkIndex: link });
          expect(
            verifyToken(SECRET, 'click', `${plain}.${Buffer.from(url).toString('base64url')}`),
          ).toBeNull();
          expect(verifyToken(SECRET, 'open', token)).toBeNull();
        },
      ),
    );
    expect(
      verifyToken(SECRET, 'click', `${signToken(SECRET, 'click', { messageId: 1, linkIndex: 16 })}.`),
    ).toBeNull();
  });

  it('puts the offer target in click links when given', () => {
    const links = messageLinks('https://mail.example.com', SECRET, 9);
    const token = links.offerUrl(0, 'https://shop.example/p?x=1').split('/t/c/')[1]!;
    expect(verifyToken(SECRET, 'click', token)).toEqual({
      messageId: 9,
      linkIndex: OFFER_LINK_BASE,
      target: 'https://shop.example/p?x=1',
    });
  });
  it('signs the bytes createHmac signs, so links already mailed keep verifying', () => {
    // The token as it was built before the keyed states: createHmac per token.
    const reference = (secret: string, purpose: TokenPurpose, id: number, link: number, target?: string) => {
      const body = Buffer.alloc(8);
      body.writeUIntBE(id, 0, 6);
      body.writeUInt16BE(link, 6);
      const hmac = createHmac('sha256', secret).update(`offerflow-token:${purpose}:`).update(body);
      if (target !== undefined) hmac.update('\0target:').update(target);
      const token = Buffer.concat([body, hmac.digest().subarray(0, 16)]).toString('base64url');
      return target === undefined ? token : `${token}.${Buffer.from(target, 'utf8').toString('base64url')}`;
    };
    fc.assert(
      fc.property(
        // Secrets shorter and longer than the 64-byte block, any characters.
        fc.string({ minLength: 1, maxLength: 100, unit: 'binary' }),
        fc.constantFrom<TokenPurpose>('open', 'click', 'unsubscribe', 'web'),
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.option(fc.webUrl(), { nil: undefined }),
        (secret, purpose, id, link, target) => {
          const old = reference(secret, purpose, id, link, target);
          const claims = { messageId: id, linkIndex: link, ...(target !== undefined ? { target } : {}) };
          expect(signToken(secret, purpose, claims)).toBe(old);
          expect(verifyToken(secret, purpose, old)).toEqual(claims);
        },
      ),
    );
  });
});
